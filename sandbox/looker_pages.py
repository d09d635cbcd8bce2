"""HTML and JavaScript of the local Looker (an SPA shell) and of its identity provider.

Kept apart from the servers in `sandbox/looker.py` so that each file has one job. The shell never
carries a query: the JavaScript draws every page from the JSON API, as real Looker does, so a
scraper that reads the first HTML finds nothing and must drive a real browser.
"""

from __future__ import annotations

import html
import json

LINE_HEIGHT_PX = 18

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 0; }
header { background: #262d33; color: #fff; padding: 8px 16px; font-weight: 600; }
main { padding: 16px; }
[role=progressbar] { width: 160px; height: 4px; background: #6c43e0; }
[role=tablist] button[aria-selected=true] { border-bottom: 2px solid #6c43e0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
.tile { display: inline-block; border: 1px solid #ccc; margin: 4px; padding: 8px; }
pre[aria-label] { background: #f6f6f6; padding: 8px; }
.CodeMirror { border: 1px solid #ccc; font: 13px monospace; }
.CodeMirror-scroll { overflow: auto; position: relative; }
.CodeMirror-sizer { position: relative; }
.CodeMirror-code { position: absolute; left: 0; right: 0; }
.CodeMirror-row { display: flex; height: LHpx; line-height: LHpx; }
.CodeMirror-gutter-wrapper { flex: none; width: 3em; padding-right: 8px; text-align: right;
  color: #999; user-select: none; }
.CodeMirror-line { margin: 0; white-space: pre; font: inherit; line-height: inherit; }
.cm-keyword { color: #708; } .cm-string { color: #a11; } .cm-comment { color: #a50; }
.cm-number { color: #164; }
""".replace("LH", str(LINE_HEIGHT_PX))

_APP_JS = r"""
(() => {
  "use strict";
  const CFG = JSON.parse(document.getElementById("looker-config").textContent);
  const main = document.querySelector("main");

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    node.append(...children);
    return node;
  }
  function setBusy(busy) { main.setAttribute("aria-busy", String(busy)); }
  function finish(...nodes) { main.replaceChildren(...nodes); setBusy(false); }
  function fail() { finish(el("h1", {}, "Something went wrong"), el("p", {}, "Try again later.")); }

  async function api(url) {
    const res = await fetch(url, {credentials: "same-origin",
      headers: {Accept: "application/json"}});
    if (res.status === 401) {
      // The session died while the app was open: back to sign-in, as Looker does.
      location.href = "/login?return_to=" + encodeURIComponent(location.pathname + location.search);
      return new Promise(() => {});
    }
    if (!res.ok) throw new Error("HTTP " + res.status);
    return res.json();
  }

  const KEYWORDS = new Set(("select from where and or not in is null as on join left right inner " +
    "outer full cross group by order having limit offset union all distinct case when then else " +
    "end with between like ilike asc desc count sum avg min max cast interval date true false")
    .split(" "));
  const TOKEN = new RegExp([/(--.*$)/, /('(?:[^']|'')*'?)/, /("(?:[^"]|"")*"?)/,
    /(\b\d+(?:\.\d+)?\b)/, /([A-Za-z_][A-Za-z0-9_]*)/].map((r) => r.source).join("|"), "g");

  function highlight(line) {
    const out = [];
    let at = 0;
    for (const m of line.matchAll(TOKEN)) {
      if (m.index > at) out.push(line.slice(at, m.index));
      const t = m[0];
      const cls = m[1] ? "cm-comment" : (m[2] || m[3]) ? "cm-string" : m[4] ? "cm-number"
        : KEYWORDS.has(t.toLowerCase()) ? "cm-keyword" : null;
      out.push(cls ? el("span", {class: cls}, t) : t);
      at = m.index + t.length;
    }
    if (at < line.length) out.push(line.slice(at));
    return out;
  }

  function editorRow(number, line) {
    const content = el("span", {role: "presentation"});
    if (line === "") content.append("\u200b"); else content.append(...highlight(line));
    return el("div", {class: "CodeMirror-row"},
      el("div", {class: "CodeMirror-gutter-wrapper"},
        el("div", {class: "CodeMirror-linenumber"}, String(number))),
      el("pre", {class: "CodeMirror-line", role: "presentation"}, content));
  }

  // CodeMirror-5-like viewer: only the rows in view (plus a margin) exist, redrawn on scroll.
  function editorViewer(text) {
    const lh = CFG.lineHeight, lines = text.split("\n"), margin = 3;
    const root = el("div", {class: "CodeMirror", role: "textbox", "aria-label": "SQL query",
      "aria-readonly": "true", "aria-multiline": "true"});
    const scroll = el("div", {class: "CodeMirror-scroll", tabindex: "0"});
    const sizer = el("div", {class: "CodeMirror-sizer"});
    const code = el("div", {class: "CodeMirror-code", role: "presentation"});
    scroll.style.height = CFG.visibleLines * lh + "px";
    sizer.style.height = lines.length * lh + "px";
    sizer.append(code); scroll.append(sizer); root.append(scroll);
    let drawn = "";
    const draw = () => {
      const top = Math.floor(scroll.scrollTop / lh);
      const first = Math.max(0, top - margin);
      const last = Math.min(lines.length, top + CFG.visibleLines + margin);
      if (drawn === first + ":" + last) return;
      drawn = first + ":" + last;
      const rows = [];
      for (let i = first; i < last; i++) rows.push(editorRow(i + 1, lines[i]));
      code.replaceChildren(...rows);
      code.style.top = first * lh + "px";
    };
    scroll.addEventListener("scroll", draw);
    draw();
    if (CFG.exposeModel) {
      root.CodeMirror = {getValue: () => text, lineCount: () => lines.length,
        getLine: (n) => lines[n]};
    }
    return root;
  }

  function preViewer(text) {
    return el("pre", {"aria-label": "SQL query"}, el("code", {}, text));
  }

  function resultsTable(results) {
    const head = el("tr", {}, ...results.columns.map((c) => el("th", {scope: "col"}, c)));
    const rows = results.rows.map((r) => el("tr", {}, ...r.map((v) => el("td", {}, String(v)))));
    return el("table", {"aria-label": "Results"}, el("thead", {}, head), el("tbody", {}, ...rows));
  }

  function drawTabs(body, page) {
    const tab = (id, label, selected) => el("button", {type: "button", role: "tab", id,
      "aria-controls": "data-tabpanel", "aria-selected": String(selected),
      tabindex: selected ? "0" : "-1"}, label);
    const results = tab("tab-results", "Results", true);
    const sql = tab("tab-sql", "SQL", false);
    const panel = el("div", {role: "tabpanel", id: "data-tabpanel",
      "aria-labelledby": "tab-results"}, resultsTable(page.results));
    body.append(el("div", {role: "tablist", "aria-label": "Data views"}, results, sql), panel);
    let shown = 0;
    const select = (chosen) => {
      for (const t of [results, sql]) {
        t.setAttribute("aria-selected", String(t === chosen));
        t.tabIndex = t === chosen ? 0 : -1;
      }
      panel.setAttribute("aria-labelledby", chosen.id);
      return ++shown;
    };
    results.addEventListener("click", () => {
      select(results);
      panel.replaceChildren(resultsTable(page.results));
      panel.setAttribute("aria-busy", "false"); setBusy(false);
    });
    sql.addEventListener("click", async () => {
      const mine = select(sql);
      panel.setAttribute("aria-busy", "true"); setBusy(true);
      panel.replaceChildren(el("div", {role: "progressbar", "aria-label": "Loading SQL"}));
      let data;
      try {
        data = await api("/api/internal/queries/" + encodeURIComponent(page.qid) + "/sql");
      } catch (e) { fail(); return; }
      if (mine !== shown) return;
      panel.replaceChildren(CFG.viewer === "editor" ? editorViewer(data.sql) : preViewer(data.sql));
      panel.setAttribute("aria-busy", "false"); setBusy(false);
    });
  }

  function dataPanel(page, expanded) {
    const body = el("div", {id: "data-body"});
    const toggle = el("button", {type: "button", "aria-controls": "data-body"}, "Data");
    let drawn = false;
    const show = (open) => {
      toggle.setAttribute("aria-expanded", String(open));
      body.hidden = !open;
      if (open && !drawn) { drawn = true; drawTabs(body, page); }
    };
    toggle.addEventListener("click", () => show(toggle.getAttribute("aria-expanded") !== "true"));
    show(expanded);
    return el("section", {"aria-label": "Data panel"}, toggle, body);
  }

  const DRAW = {
    home: (p) => finish(el("h1", {}, "Home"), el("p", {}, "Recently viewed: nothing yet.")),
    explore: (p) => finish(el("h1", {}, p.title), dataPanel(p, true)),
    look: (p) => finish(el("h1", {}, p.title), dataPanel(p, false)),
    dashboard: (p) => finish(el("h1", {}, p.title), el("div", {class: "tiles"},
      ...p.tiles.map((t) => el("article", {class: "tile", "aria-label": t.title},
        el("h2", {}, t.title), el("p", {}, t.value))))),
    query_not_found: (p) => finish(el("h1", {}, "Query not found"),
      el("p", {}, "This query does not exist or you do not have access to it.")),
    not_found: (p) => finish(el("h1", {}, "Not found"), el("p", {}, "No page at this address.")),
  };

  async function boot() {
    let page;
    try {
      page = await api("/api/internal/page?path=" +
        encodeURIComponent(location.pathname + location.search));
    } catch (e) { fail(); return; }
    (DRAW[page.kind] || DRAW.not_found)(page);
  }
  boot();
})();
"""


def shell(*, viewer: str, expose_editor_model: bool, visible_lines: int) -> str:
    """The one HTML page of the app: a header, a busy main and the script that draws it."""
    config = json.dumps(
        {
            "viewer": viewer,
            "exposeModel": expose_editor_model,
            "visibleLines": visible_lines,
            "lineHeight": LINE_HEIGHT_PX,
        }
    )
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Looker</title>"
        f"<style>{_STYLE}</style></head><body><header>Looker</header>"
        '<main aria-busy="true"><div role="progressbar" aria-label="Loading"></div></main>'
        f'<script type="application/json" id="looker-config">{config}</script>'
        f"<script>{_APP_JS}</script></body></html>\n"
    )


def idp_form(
    *, client_id: str, redirect_uri: str, state: str, email: str = "", error: str = ""
) -> str:
    """Acme SSO's sign-in form; `error` is shown above it after wrong credentials."""
    e = html.escape
    alert = f'<p role="alert">{e(error)}</p>' if error else ""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Acme SSO</title></head>"
        f"<body><h1>Sign in to Acme SSO</h1>{alert}"
        '<form method="post" action="/sso/login">'
        f'<input type="hidden" name="client_id" value="{e(client_id)}">'
        f'<input type="hidden" name="redirect_uri" value="{e(redirect_uri)}">'
        f'<input type="hidden" name="state" value="{e(state)}">'
        '<p><label for="email">Email</label> '
        '<input id="email" name="email" type="email" autocomplete="username" '
        f'value="{e(email)}"></p>'
        '<p><label for="password">Password</label> '
        '<input id="password" name="password" type="password" autocomplete="current-password"></p>'
        '<p><button type="submit">Sign in</button></p></form></body></html>\n'
    )


def message(title: str, text: str) -> str:
    """A plain server-drawn page (IdP errors, failed callbacks)."""
    e = html.escape
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>{e(title)}</title>"
        f"</head><body><h1>{e(title)}</h1><p>{e(text)}</p></body></html>\n"
    )
