// The accessible skin: landmarks, headings and ARIA tabs; `main[aria-busy]` and a progressbar
// while anything loads; the SQL in a `pre` or the CodeMirror-5-like viewer (CFG.viewer).
const main = document.querySelector("main");

function setBusy(busy) { main.setAttribute("aria-busy", String(busy)); }
function finish(...nodes) { main.replaceChildren(...nodes); setBusy(false); }
function fail() { finish(el("h1", {}, "Something went wrong"), el("p", {}, "Try again later.")); }

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
    let text;
    try { text = await fetchSql(page.qid); } catch (e) { fail(); return; }
    if (mine !== shown) return;
    panel.replaceChildren(CFG.viewer === "editor" ? cm5Viewer(text) : preViewer(text));
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

boot({
  home: (p) => finish(el("h1", {}, "Home"), el("p", {}, "Recently viewed: nothing yet.")),
  explore: (p) => finish(el("h1", {}, p.title), dataPanel(p, true)),
  look: (p) => finish(el("h1", {}, p.title), dataPanel(p, false)),
  dashboard: (p) => finish(el("h1", {}, p.title), el("div", {class: "tiles"},
    ...p.tiles.map((t) => el("article", {class: "tile", "aria-label": t.title},
      el("h2", {}, t.title), el("p", {}, t.value))))),
  query_not_found: (p) => finish(el("h1", {}, "Query not found"),
    el("p", {}, "This query does not exist or you do not have access to it.")),
  not_found: (p) => finish(el("h1", {}, "Not found"), el("p", {}, "No page at this address.")),
}, fail);
