// CodeMirror-5-like viewer: only the rows in view (plus a margin) exist, redrawn on scroll; with
// the model exposed, the root carries `.CodeMirror` as CodeMirror 5 does.
const CM5_CLASS = {comment: "cm-comment", string: "cm-string", number: "cm-number",
  keyword: "cm-keyword"};

function cm5Row(number, line) {
  const content = el("span", {role: "presentation"});
  if (line === "") content.append("\u200b");
  else content.append(...sqlTokens(line).map(([kind, t]) =>
    kind ? el("span", {class: CM5_CLASS[kind]}, t) : t));
  return el("div", {class: "CodeMirror-row"},
    el("div", {class: "CodeMirror-gutter-wrapper"},
      el("div", {class: "CodeMirror-linenumber"}, String(number))),
    el("pre", {class: "CodeMirror-line", role: "presentation"}, content));
}

function cm5Viewer(text) {
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
    for (let i = first; i < last; i++) rows.push(cm5Row(i + 1, lines[i]));
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
