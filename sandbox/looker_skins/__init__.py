"""The local Looker's single-page app, in one of several skins (page shapes).

Real Looker instances draw differently (the accessible modern UI, the classic AngularJS Explore,
and any SPA a scraper might meet), so the sandbox can serve each, and the product can be proven
against shapes it was not written for. Every skin draws from the same JSON API, after a fetch, so
the first HTML never carries a query. Each skin is a stylesheet plus scripts in this folder:
`common.js` (config, API, boot, SQL tokens), one editor (`cm5.js`, `ace.js`, `cm6.js` or
`monaco.js`) and the skin's own pages (`accessible.js`, `classic.js`, `bare.js`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SKINS = ("accessible", "classic", "bare")
EDITORS = ("cm6", "monaco")
LINE_HEIGHT_PX = 18  # the accessible skin's CodeMirror-5-like rows

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class _Skin:
    body: str  # what the browser shows before the script has drawn anything
    styles: tuple[str, ...]  # file names; "{editor}" is the `editor` argument of `shell`
    scripts: tuple[str, ...]  # run after common.js, in order
    body_class: str = ""


_SKINS = {
    "accessible": _Skin(
        body='<header>Looker</header><main aria-busy="true">'
        '<div role="progressbar" aria-label="Loading"></div></main>',
        styles=("accessible.css",),
        scripts=("cm5.js", "accessible.js"),
    ),
    "classic": _Skin(
        body='<div class="lk-app ng-scope" ng-app="looker"><div class="lk-header">'
        '<a class="lk-logo" href="/browse">Looker</a><a class="lk-nav-item" href="/browse">'
        'Browse</a><span class="lk-nav-item">Explore</span><span class="lk-nav-item">Develop'
        '</span><span class="lk-nav-item">Admin</span></div><div class="lk-page" ng-view>'
        '<div class="lk-spinner-block"><div class="lk-spinner"></div></div></div></div>',
        styles=("classic.css", "ace.css"),
        scripts=("ace.js", "classic.js"),
        body_class="lk-body",
    ),
    "bare": _Skin(
        body='<div id="root"></div>', styles=("{editor}.css",), scripts=("{editor}.js", "bare.js")
    ),
}


@cache
def _asset(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


def shell(
    *, skin: str, viewer: str, editor: str, expose_editor_model: bool, visible_lines: int
) -> str:
    """The one HTML page of the app in `skin`: a placeholder body and the script that draws it.

    `viewer` ("pre" or "editor") matters to the accessible skin only, `editor` ("cm6" or "monaco")
    to the bare skin only."""
    parts = _SKINS[skin]
    config = json.dumps(
        {
            "viewer": viewer,
            "exposeModel": expose_editor_model,
            "visibleLines": visible_lines,
            "lineHeight": LINE_HEIGHT_PX,
        }
    )
    css = f":root {{ --line-height: {LINE_HEIGHT_PX}px; }}\n" + "".join(
        _asset(name.format(editor=editor)) for name in parts.styles
    )
    js = "".join(_asset(name.format(editor=editor)) for name in ("common.js", *parts.scripts))
    body_class = f' class="{parts.body_class}"' if parts.body_class else ""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Looker</title>"
        f"<style>{css}</style></head><body{body_class}>{parts.body}"
        f'<script type="application/json" id="looker-config">{config}</script>'
        f'<script>(() => {{\n"use strict";\n{js}}})();</script></body></html>\n'
    )
