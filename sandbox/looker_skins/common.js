// Shared by every skin: the server's config, a DOM builder, the JSON API (a 401 sends the app back
// to sign-in, as Looker does), the boot sequence and a small SQL tokenizer that each editor colours
// in its own class names.
const CFG = JSON.parse(document.getElementById("looker-config").textContent);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

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

async function fetchSql(qid) {
  return (await api("/api/internal/queries/" + encodeURIComponent(qid) + "/sql")).sql;
}

// Fetch what to draw at this address, then draw it with the skin's `draw[kind]`.
async function boot(draw, fail) {
  let page;
  try {
    page = await api("/api/internal/page?path=" +
      encodeURIComponent(location.pathname + location.search));
  } catch (e) { fail(); return; }
  (draw[page.kind] || draw.not_found)(page);
}

const SQL_KEYWORDS = new Set(("select from where and or not in is null as on join left right " +
  "inner outer full cross group by order having limit offset union all distinct case when then " +
  "else end with between like ilike asc desc count sum avg min max cast interval date true false")
  .split(" "));
const SQL_TOKEN = new RegExp([/(--.*$)/, /('(?:[^']|'')*'?)/, /("(?:[^"]|"")*"?)/,
  /(\b\d+(?:\.\d+)?\b)/, /([A-Za-z_][A-Za-z0-9_]*)/].map((r) => r.source).join("|"), "g");

// One line as [kind, text] pairs whose texts join back to the line; kind is "comment", "string",
// "number", "keyword" or null (plain text, identifiers included).
function sqlTokens(line) {
  const out = [];
  let at = 0;
  for (const m of line.matchAll(SQL_TOKEN)) {
    if (m.index > at) out.push([null, line.slice(at, m.index)]);
    const t = m[0];
    const kind = m[1] ? "comment" : (m[2] || m[3]) ? "string" : m[4] ? "number"
      : SQL_KEYWORDS.has(t.toLowerCase()) ? "keyword" : null;
    out.push([kind, t]);
    at = m.index + t.length;
  }
  if (at < line.length) out.push([null, line.slice(at)]);
  return out;
}

// Lines as a text model splits them (any of \r\n, \r, \n), with the first break found for joins.
function splitLines(text) {
  return {lines: text.split(/\r\n|\r|\n/), eol: (text.match(/\r\n|\r|\n/) || ["\n"])[0]};
}
