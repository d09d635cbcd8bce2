// Ace-like read-only editor with Ace's DOM: a gutter layer and a text layer that hold only the
// rows in view (each row absolutely placed by `top`), driven by the native-scrolling
// .ace_scrollbar-v whose scrollTop is the session's, redrawn on the next animation frame as Ace's
// render loop does. With the model exposed, the host element carries `env.editor` and
// `window.ace.edit(el)` returns that editor; like real Ace, `ace.edit` on any other element turns
// it into a new editor holding its former textContent.
const ACE_LH = 16;
const ACE_SCROLLBAR_PX = 20;
const ACE_CLASS = {comment: "ace_comment", string: "ace_string",
  number: "ace_constant ace_numeric", keyword: "ace_keyword"};

function aceLine(row, line) {
  const node = el("div", {class: "ace_line", style: `height:${ACE_LH}px;top:${row * ACE_LH}px`});
  node.append(...sqlTokens(line).map(([kind, t]) =>
    kind ? el("span", {class: ACE_CLASS[kind]}, t) : t));
  return node;
}

function aceGutterCell(row, number) {
  return el("div", {class: "ace_gutter-cell", style: `height:${ACE_LH}px;top:${row * ACE_LH}px`},
    String(number), el("span", {class: "ace_fold-widget", style: "display:none"}));
}

// Make `host` an editor showing `text`; returns the editor object (also host.env.editor when
// the model is exposed).
function aceMount(host, text) {
  const {lines, eol} = splitLines(text);
  const height = CFG.visibleLines * ACE_LH;
  const gutterWidth = 32 + 7 * String(lines.length).length;
  host.classList.add("ace_editor", "ace-tm");
  host.style.height = height + "px";
  const gutterLayer = el("div", {class: "ace_layer ace_gutter-layer ace_folding-enabled",
    style: `width:${gutterWidth}px`});
  const textLayer = el("div", {class: "ace_layer ace_text-layer", style: "margin:0 4px"});
  const content = el("div", {class: "ace_content"},
    el("div", {class: "ace_layer ace_marker-layer"}), textLayer,
    el("div", {class: "ace_layer ace_cursor-layer ace_hidden-cursors"},
      el("div", {class: "ace_cursor"})));
  const scrollbar = el("div", {class: "ace_scrollbar ace_scrollbar-v",
    style: `width:${ACE_SCROLLBAR_PX}px`},
    el("div", {class: "ace_scrollbar-inner",
      style: `width:${ACE_SCROLLBAR_PX}px;height:${lines.length * ACE_LH}px`}, "\u00a0"));
  host.replaceChildren(
    el("textarea", {class: "ace_text-input", wrap: "off", autocorrect: "off",
      autocapitalize: "off", spellcheck: "false", readonly: ""}),
    el("div", {class: "ace_gutter", style: `width:${gutterWidth}px`}, gutterLayer),
    el("div", {class: "ace_scroller",
      style: `line-height:${ACE_LH}px;left:${gutterWidth}px;right:${ACE_SCROLLBAR_PX}px`}, content),
    scrollbar);
  let drawn = "", frame = 0;
  const render = () => {
    frame = 0;
    const top = scrollbar.scrollTop, first = Math.floor(top / ACE_LH);
    const offset = top - first * ACE_LH;
    const last = Math.min(lines.length - 1, first + Math.ceil((height + offset) / ACE_LH));
    for (const layer of [textLayer, gutterLayer]) {
      layer.style.transform = `translate(0px, ${-offset}px)`;
    }
    if (drawn === first + ":" + last) return;
    drawn = first + ":" + last;
    const rows = [], cells = [];
    for (let i = first; i <= last; i++) {
      rows.push(aceLine(i - first, lines[i]));
      cells.push(aceGutterCell(i - first, i + 1));
    }
    textLayer.replaceChildren(...rows);
    gutterLayer.replaceChildren(...cells);
  };
  scrollbar.addEventListener("scroll", () => { frame ||= requestAnimationFrame(render); });
  host.addEventListener("wheel", (e) => {
    const before = scrollbar.scrollTop;
    scrollbar.scrollTop += e.deltaMode === 1 ? e.deltaY * ACE_LH : e.deltaY;
    if (scrollbar.scrollTop !== before) e.preventDefault();
  }, {passive: false});
  render();
  const session = {
    getValue: () => lines.join(eol),
    getLength: () => lines.length,
    getLine: (row) => lines[row] ?? "",
    getLines: (first, last) => lines.slice(first, last + 1),
  };
  const editor = {container: host, session, getSession: () => session,
    getValue: () => session.getValue(), getReadOnly: () => true};
  if (CFG.exposeModel) host.env = editor.env = {document: session, editor};
  return editor;
}

if (CFG.exposeModel) {
  window.ace = {
    version: "1.4.14",
    edit(target) {
      let host = target;
      if (typeof target === "string") {
        host = document.getElementById(target);
        if (!host) throw new Error("ace.edit can't find div #" + target);
      }
      if (host.env && host.env.editor) return host.env.editor;
      let value;
      if (/input|textarea/i.test(host.tagName)) {
        value = host.value;
        const pre = document.createElement("pre");
        host.replaceWith(pre);
        host = pre;
      } else {
        value = host.textContent;
      }
      return aceMount(host, value);
    },
  };
}
