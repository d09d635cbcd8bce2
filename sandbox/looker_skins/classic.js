// The classic skin, after the AngularJS Looker Explore: lk-* custom elements, expandable panes
// whose titlebar carries .open when expanded (ng-hide hides the body and the Data tabs otherwise),
// tabs and titles that are plain elements with classes and no ARIA, a div.lk-spinner-block while
// the page or the SQL loads, and the SQL in an Ace editor inside lk-sql-view.
const view = document.querySelector("div.lk-page");

function spinner() {
  return el("div", {class: "lk-spinner-block"}, el("div", {class: "lk-spinner"}));
}

function show(title, ...nodes) {
  document.title = title + " - Looker";
  view.replaceChildren(...nodes);
}

function errorPage(title, detail, heading) {
  const head = heading ? el("h3", {class: "lk-error-title"}, title)
    : el("div", {class: "lk-error-title"}, title);
  return el("div", {class: "lk-error-page ng-scope"}, el("div", {class: "lk-error-icon"}, "!"),
    head, el("div", {class: "lk-error-message"}, detail));
}

function fail() {
  show("Error", errorPage("Something went wrong",
    "An error occurred while loading this page. Try again later.", true));
}

// An lk-expandable-pane; `onOpen(content)` runs each time the pane opens.
function expandablePane(name, open, {tabs = null, onOpen = () => {}} = {}) {
  const titlebar = el("div", {class: "titlebar"},
    el("div", {class: "titlebar-left"}, el("i", {class: "lk-icon caret"}),
      el("span", {class: "titlebar-title"}, name)));
  if (tabs) titlebar.append(tabs);
  const content = el("expandable-pane-content", {class: "ng-scope"});
  const container = el("div", {class: "expandable-pane-content-container"}, content);
  const pane = el("lk-expandable-pane", {class: "ng-isolate-scope", "pane-name": name.toLowerCase()},
    titlebar, container);
  const set = (isOpen) => {
    titlebar.classList.toggle("open", isOpen);
    container.classList.toggle("ng-hide", !isOpen);
    if (tabs) tabs.classList.toggle("ng-hide", !isOpen);
    if (isOpen) onOpen(content);
  };
  titlebar.addEventListener("click", (e) => {
    if (!tabs || !tabs.contains(e.target)) set(!titlebar.classList.contains("open"));
  });
  set(open);
  return pane;
}

function resultsGrid(results) {
  const head = el("tr", {}, ...results.columns.map((c) =>
    el("th", {class: "column-header"}, el("span", {class: "field-label"}, c))));
  const rows = results.rows.map((r, i) => el("tr", {class: "data-row"},
    el("td", {class: "row-number"}, String(i + 1)), ...r.map((v) => el("td", {}, String(v)))));
  head.prepend(el("th", {class: "row-number"}));
  return el("lk-data-table", {},
    el("table", {class: "lk-data-table"}, el("thead", {}, head), el("tbody", {}, ...rows)));
}

function sqlView(text) {
  const host = el("div");
  aceMount(host, text);
  return el("lk-sql-view", {class: "ng-isolate-scope"},
    el("div", {class: "ace-editor-container"}, host),
    el("div", {class: "sql-view-tools"},
      el("button", {type: "button", class: "btn btn-default"}, "Open in SQL Runner"),
      el("button", {type: "button", class: "btn btn-default"}, "Explain in SQL Runner")));
}

function dataPane(page, open) {
  const results = el("span", {class: "lk-tab active"}, "Results");
  const sql = el("span", {class: "lk-tab"}, "SQL");
  const tabs = el("div", {class: "data-pane-tabs"}, results, sql);
  let body = null, shown = 0;
  const select = (tab) => {
    for (const t of [results, sql]) t.classList.toggle("active", t === tab);
    return ++shown;
  };
  const showResults = () => { select(results); body.replaceChildren(resultsGrid(page.results)); };
  const showSql = async () => {
    const mine = select(sql);
    body.replaceChildren(spinner());
    let text;
    try { text = await fetchSql(page.qid); } catch (e) { fail(); return; }
    if (mine === shown) body.replaceChildren(sqlView(text));
  };
  results.addEventListener("click", showResults);
  sql.addEventListener("click", showSql);
  const pane = expandablePane("Data", open, {tabs, onOpen: (content) => {
    if (body) return;
    body = content;
    showResults();
  }});
  return el("lk-data-pane", {class: "ng-isolate-scope"}, pane);
}

function visPane(page, open) {
  const total = page.results.rows.reduce((sum, r) => sum + Number(r[1]), 0);
  return el("lk-vis-pane", {}, expandablePane("Visualization", open, {onOpen: (content) => {
    content.replaceChildren(el("div", {class: "vis-single-value"},
      el("div", {class: "single-value-number"}, total.toLocaleString("en-US")),
      el("div", {class: "single-value-title"}, page.results.columns[1])));
  }}));
}

function exploreContent(page, {visOpen, dataOpen}) {
  return el("lk-explore-content", {class: "ng-isolate-scope"},
    el("lk-filter-pane", {}, expandablePane("Filters", false, {onOpen: (content) => {
      content.replaceChildren(el("div", {class: "filter-empty"}, "No filters applied"));
    }})),
    visPane(page, visOpen),
    dataPane(page, dataOpen));
}

function fieldPicker(page) {
  return el("lk-field-picker", {class: "explore-field-picker"},
    el("div", {class: "field-picker-view-label"}, page.title),
    ...page.results.columns.map((c) => el("div", {class: "field-picker-item"}, c)));
}

function explore(page) {
  show(page.title, el("lk-explore-dataflux", {class: "ng-scope"},
    el("div", {class: "explore-header"},
      el("div", {class: "explore-header-title"}, el("span", {class: "title-text"}, page.title)),
      el("div", {class: "explore-header-actions"},
        el("button", {type: "button", class: "btn btn-primary run-button"}, "Run"))),
    el("div", {class: "explore-body"}, fieldPicker(page),
      exploreContent(page, {visOpen: false, dataOpen: true}))));
}

function look(page) {
  show(page.title, el("lk-look", {class: "ng-scope"},
    el("div", {class: "look-header"}, el("div", {class: "look-title"}, page.title),
      el("button", {type: "button", class: "btn btn-default"}, "Explore from here")),
    exploreContent(page, {visOpen: true, dataOpen: false})));
}

function dashboard(page) {
  show(page.title, el("lk-dashboard", {class: "ng-scope"},
    el("div", {class: "dashboard-header"}, el("div", {class: "dashboard-title"}, page.title)),
    el("div", {class: "dashboard-grid"}, ...page.tiles.map((t) =>
      el("lk-dashboard-element", {class: "dashboard-tile"},
        el("div", {class: "tile-header"}, el("span", {class: "tile-title"}, t.title)),
        el("div", {class: "tile-body"}, el("div", {class: "single-value"}, t.value)))))));
}

boot({
  home: (p) => show("Home", el("lk-browse", {class: "ng-scope"},
    el("div", {class: "browse-title"}, "Home"),
    el("div", {class: "browse-empty"}, "Recently viewed: nothing yet."))),
  explore,
  look,
  dashboard,
  query_not_found: (p) => show("Query not found", errorPage("Query not found",
    "The query you requested does not exist or you do not have access to it.", false)),
  not_found: (p) => show("Not found", errorPage("Not found",
    "The page you were looking for does not exist.", false)),
}, fail);
