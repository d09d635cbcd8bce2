// The bare skin: a modern SPA of plain divs with CSS-in-JS class names (a hash of the rules, as
// emotion makes them), no roles, no labels, no heading tags and no loading indicator: nothing is
// drawn until the data is in. The text "SQL" is all that marks the SQL tab. The editor is
// codeEditor() from cm6.js or monaco.js.
const root = document.getElementById("root");
const sheet = document.head.appendChild(el("style", {"data-emotion": "css"})).sheet;
const inserted = new Set();
sheet.insertRule("body{margin:0}");

function css(rules) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < rules.length; i++) hash = Math.imul(hash ^ rules.charCodeAt(i), 0x01000193);
  const name = "css-" + (hash >>> 0).toString(36);
  if (!inserted.has(name)) { inserted.add(name); sheet.insertRule(`.${name}{${rules}}`); }
  return name;
}

function div(rules, ...children) { return el("div", {class: css(rules)}, ...children); }

const S = {
  app: "font:14px Inter,system-ui,sans-serif;color:#1f2328;min-height:100vh;background:#fafafa;",
  bar: "display:flex;gap:20px;align-items:center;height:48px;padding:0 20px;background:#fff;" +
    "border-bottom:1px solid #e5e7eb;",
  brand: "font-weight:700;letter-spacing:-0.02em;",
  nav: "color:#6b7280;cursor:pointer;",
  page: "padding:20px;",
  title: "font-size:22px;font-weight:600;margin-bottom:16px;",
  muted: "color:#6b7280;",
  card: "background:#fff;border:1px solid #e5e7eb;border-radius:8px;margin-bottom:12px;",
  cardHead: "display:flex;gap:8px;align-items:center;padding:10px 14px;cursor:pointer;" +
    "font-weight:600;user-select:none;",
  caret: "width:12px;color:#9ca3af;",
  strip: "display:flex;gap:4px;padding:0 14px;border-bottom:1px solid #e5e7eb;",
  tab: "padding:8px 12px;cursor:pointer;color:#6b7280;",
  tabOn: "padding:8px 12px;cursor:pointer;color:#111827;box-shadow:inset 0 -2px 0 #4f46e5;",
  body: "padding:14px;",
  grid: "display:grid;border-top:1px solid #e5e7eb;border-left:1px solid #e5e7eb;",
  cell: "padding:4px 10px;border-right:1px solid #e5e7eb;border-bottom:1px solid #e5e7eb;",
  headCell: "padding:4px 10px;border-right:1px solid #e5e7eb;border-bottom:1px solid #e5e7eb;" +
    "font-weight:600;background:#f9fafb;",
  tiles: "display:flex;flex-wrap:wrap;gap:12px;",
  tile: "background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px;min-width:180px;",
  tileValue: "font-size:26px;font-weight:600;margin-top:6px;",
  problem: "padding:64px 20px;text-align:center;",
  problemText: "font-size:20px;font-weight:600;margin-bottom:8px;",
};

function show(title, ...nodes) {
  document.title = title;
  root.replaceChildren(div(S.app,
    div(S.bar, div(S.brand, "Looker"), div(S.nav, "Browse"), div(S.nav, "Explore")),
    div(S.page, ...nodes)));
}

function problem(title, detail) {
  show(title, div(S.problem, div(S.problemText, title), div(S.muted, detail)));
}

function fail() { problem("Something went wrong", "Please try again in a few minutes."); }

function resultsGrid(results) {
  const grid = div(S.grid + `grid-template-columns:repeat(${results.columns.length},auto);`,
    ...results.columns.map((c) => div(S.headCell, c)));
  for (const row of results.rows) grid.append(...row.map((v) => div(S.cell, String(v))));
  return grid;
}

// The Data card: a header that folds it (collapsed cards render nothing below the header) and,
// when open, a strip of two tab divs over the tab's body.
function dataCard(page, open) {
  const caret = div(S.caret), head = div(S.cardHead, caret, div("", "Data"));
  const card = div(S.card, head);
  const results = div(S.tabOn, "Results"), sql = div(S.tab, "SQL");
  const body = div(S.body);
  let editor = null, shown = 0;
  const select = (tab) => {
    results.className = css(tab === results ? S.tabOn : S.tab);
    sql.className = css(tab === sql ? S.tabOn : S.tab);
    if (editor) { editor.dispose(); editor = null; }
    body.replaceChildren();
    return ++shown;
  };
  results.addEventListener("click", () => {
    select(results);
    body.append(resultsGrid(page.results));
  });
  sql.addEventListener("click", async () => {
    const mine = select(sql);
    let text;
    try { text = await fetchSql(page.qid); } catch (e) { fail(); return; }
    if (mine !== shown) return;
    editor = codeEditor(text);
    body.append(editor.root);
  });
  let isOpen = false;
  const set = (now) => {
    isOpen = now;
    caret.textContent = now ? "\u25be" : "\u25b8";
    if (now) {
      card.append(div(S.strip, results, sql), body);
      results.click();
    } else {
      select(null);
      card.replaceChildren(head);
    }
  };
  head.addEventListener("click", () => set(!isOpen));
  set(open);
  return card;
}

boot({
  home: (p) => show("Home", div(S.title, "Home"), div(S.muted, "Recently viewed: nothing yet.")),
  explore: (p) => show(p.title, div(S.title, p.title), dataCard(p, true)),
  look: (p) => show(p.title, div(S.title, p.title), dataCard(p, false)),
  dashboard: (p) => show(p.title, div(S.title, p.title), div(S.tiles,
    ...p.tiles.map((t) => div(S.tile, div(S.muted, t.title), div(S.tileValue, t.value)))),
  ),
  query_not_found: (p) => problem("Query not found",
    "This query does not exist, or you do not have access to it."),
  not_found: (p) => problem("Not found", "There is nothing at this address."),
}, fail);
