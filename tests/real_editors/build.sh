#!/usr/bin/env bash
# How vendor/ was made: the real editors, from their npm packages, for tests/test_real_editors.py.
# Run it to move to newer releases; it needs node and npm, which the tests themselves do not.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/cm6-entry.js" "$here/monaco-entry.js" "$work/"
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund ace-builds@1.45.2 cm5@npm:codemirror@5.65.21 codemirror@6.0.2 \
  @codemirror/lang-sql@6.10.0 monaco-editor@0.52.2 esbuild@0.28.2
out="$here/vendor"
cp node_modules/ace-builds/src-min-noconflict/ace.js "$out/ace.js"
cp node_modules/cm5/lib/codemirror.js "$out/codemirror5.js"
cp node_modules/cm5/lib/codemirror.css "$out/codemirror5.css"
npx esbuild cm6-entry.js --bundle --minify --format=iife --legal-comments=none \
  --outfile="$out/codemirror6.js"
npx esbuild monaco-entry.js --bundle --minify --format=iife --legal-comments=none \
  --loader:.ttf=dataurl --outdir="$out" --entry-names=monaco
cp node_modules/monaco-editor/ThirdPartyNotices.txt "$out/monaco-ThirdPartyNotices.txt"
{
  echo "# Licences of the editors in vendor/"
  echo
  for p in ace-builds cm5 codemirror monaco-editor; do
    printf '## %s\n\n```\n%s\n```\n\n' "$p" "$(cat "node_modules/$p/LICENSE")"
  done
} > "$out/LICENSES.md"
