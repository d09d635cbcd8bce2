import * as monaco from "monaco-editor/esm/vs/editor/editor.api.js";
import "monaco-editor/esm/vs/basic-languages/sql/sql.contribution.js";
self.MonacoEnvironment = {getWorker: () => new Worker(URL.createObjectURL(new Blob([""])))};
window.realEditors = Object.assign(window.realEditors || {}, {
  // `global`: as Monaco's AMD build does, window.monaco; a bundled app (webpack, esbuild) has none.
  monaco: (parent, doc, global) => {
    if (global) window.monaco = monaco;
    monaco.editor.create(parent, {value: doc, language: "sql", readOnly: true, minimap: {enabled: false}});
  },
});
