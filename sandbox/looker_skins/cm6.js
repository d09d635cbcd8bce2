// CodeMirror-6-like read-only view: .cm-content draws only the lines near the viewport, with
// .cm-gap blocks standing in for the rest and gutter elements placed by margin-top, redrawn on
// the next frame after the native .cm-scroller scrolls. With the model exposed, the EditorView is
// reachable the way real CM6 leaves it: contentDOM.cmView.view (state.doc.toString(), .lines).
const CM6_LH = 18;
const CM6_PAD = 4;
const CM6_MARGIN_LINES = 4;
const CM6_CLASS = {keyword: "\u037cb", number: "\u037cd", string: "\u037ce", comment: "\u037cm"};

function cm6Line(line) {
  if (line === "") return el("div", {class: "cm-line"}, el("br"));
  return el("div", {class: "cm-line"}, ...sqlTokens(line).map(([kind, t]) =>
    kind ? el("span", {class: CM6_CLASS[kind]}, t) : t));
}

function codeEditor(text) {
  const lines = text.split(/\r\n?|\n/), count = lines.length;
  const height = CFG.visibleLines * CM6_LH + 2 * CM6_PAD;
  const contentHeight = count * CM6_LH + 2 * CM6_PAD;
  const editorRoot = el("div", {class: "cm-editor \u037c1 \u037c2 \u037c4",
    style: `height:${height}px`});
  const scroller = el("div", {class: "cm-scroller", tabindex: "-1"});
  const spacer = el("div", {class: "cm-gutterElement",
    style: "height:0px;visibility:hidden;pointer-events:none"}, String(count));
  const numbers = el("div", {class: "cm-gutter cm-lineNumbers"});
  const gutters = el("div", {class: "cm-gutters", style: `min-height:${contentHeight}px`},
    numbers);
  const content = el("div", {class: "cm-content", contenteditable: "false", spellcheck: "false",
    autocorrect: "off", autocapitalize: "off", translate: "no", "data-language": "sql",
    style: "tab-size:4"});
  scroller.append(gutters, content);
  editorRoot.append(scroller);
  const viewport = {from: 0, to: 0};
  let frame = 0;
  const measure = () => {
    frame = 0;
    const top = Math.max(0, scroller.scrollTop - CM6_PAD);
    const first = Math.max(0, Math.floor(top / CM6_LH) - CM6_MARGIN_LINES);
    const last = Math.min(count,
      Math.ceil((top + CFG.visibleLines * CM6_LH) / CM6_LH) + CM6_MARGIN_LINES);
    if (first === viewport.from && last === viewport.to) return;
    Object.assign(viewport, {from: first, to: last});
    const blocks = [], marks = [spacer];
    const gap = (rows) => el("div", {class: "cm-gap", style: `height:${rows * CM6_LH}px`});
    if (first > 0) blocks.push(gap(first));
    for (let i = first; i < last; i++) {
      blocks.push(cm6Line(lines[i]));
      const mark = el("div", {class: "cm-gutterElement", style: `height:${CM6_LH}px`},
        String(i + 1));
      if (i === first && first > 0) mark.style.marginTop = first * CM6_LH + "px";
      marks.push(mark);
    }
    if (last < count) blocks.push(gap(count - last));
    content.replaceChildren(...blocks);
    numbers.replaceChildren(...marks);
  };
  scroller.addEventListener("scroll", () => { frame ||= requestAnimationFrame(measure); });
  measure();
  if (CFG.exposeModel) {
    const doc = {
      lines: count,
      length: lines.reduce((n, l) => n + l.length, count - 1),
      toString: () => lines.join("\n"),
      line: (n) => ({number: n, text: lines[n - 1]}),
    };
    const view = {state: {doc}, dom: editorRoot, scrollDOM: scroller, contentDOM: content,
      viewport};
    content.cmView = {view, dom: content};
  }
  return {root: editorRoot, dispose: () => {}};
}
