// Monaco-like read-only editor: absolutely placed .view-line rows for the visible range only,
// scrolled by its own wheel and slider handling (DOM scrollTop stays 0; a scroll the browser
// forces on the scrollable element is taken over and reset, as Monaco does). With the model
// exposed, only the text model is reachable: window.monaco.editor.getModels(); getEditors() is
// empty, as in apps that keep the editor instance private.
const MONACO_LH = 19;
const MONACO_GUTTER_PX = 64;
const MONACO_CLASS = {keyword: "mtk6", number: "mtk5", string: "mtk20", comment: "mtk7"};
const monacoModels = [];
let monacoModelCount = 0;

if (CFG.exposeModel) {
  window.monaco = {editor: {
    getModels: () => monacoModels.slice(),
    getModel: (uri) => monacoModels.find((m) => m.uri.toString() === String(uri)) || null,
    getEditors: () => [],
  }};
}

function monacoModel(lines, eol) {
  const id = ++monacoModelCount;
  const uri = {scheme: "inmemory", authority: "model", path: "/" + id,
    toString: () => "inmemory://model/" + id};
  let disposed = false;
  return {
    id: "$model" + id, uri,
    getValue: () => lines.join(eol),
    getLineCount: () => lines.length,
    getLineContent: (n) => lines[n - 1],
    getLanguageId: () => "sql",
    getEOL: () => eol,
    isDisposed: () => disposed,
    dispose() {
      disposed = true;
      const at = monacoModels.indexOf(this);
      if (at >= 0) monacoModels.splice(at, 1);
    },
  };
}

// A row as Monaco draws it: one span per run of same-coloured text, even an empty one.
function monacoLine(row, line) {
  const runs = [];
  for (const [kind, t] of sqlTokens(line)) {
    const cls = MONACO_CLASS[kind] || "mtk1";
    if (runs.length && runs.at(-1)[0] === cls) runs.at(-1)[1] += t;
    else runs.push([cls, t]);
  }
  if (!runs.length) runs.push(["", ""]);
  return el("div", {class: "view-line", style: `top:${row * MONACO_LH}px;height:${MONACO_LH}px`},
    el("span", {}, ...runs.map(([cls, t]) => cls ? el("span", {class: cls}, t) : el("span"))));
}

function monacoLineNumber(row) {
  return el("div", {style: `position:absolute;top:${row * MONACO_LH}px;width:100%;` +
    `height:${MONACO_LH}px`},
    el("div", {class: "line-numbers lh-odd", style: "left:18px;width:26px"}, String(row + 1)));
}

function codeEditor(text) {
  const {lines, eol} = splitLines(text), count = lines.length;
  const model = monacoModel(lines, eol);
  if (CFG.exposeModel) monacoModels.push(model);
  const height = CFG.visibleLines * MONACO_LH, total = count * MONACO_LH;
  const maxTop = Math.max(0, total - height);
  const overlays = el("div", {class: "margin-view-overlays",
    style: `position:absolute;width:${MONACO_GUTTER_PX}px;height:${total}px`});
  const margin = el("div", {class: "margin",
    style: `position:absolute;top:0;width:${MONACO_GUTTER_PX}px;height:${total}px`},
    el("div", {class: "glyph-margin", style: `left:0;width:18px;height:${total}px`}), overlays);
  const viewLines = el("div", {class: "view-lines monaco-mouse-cursor-text",
    style: `line-height:${MONACO_LH}px;height:${total}px`});
  const linesContent = el("div", {class: "lines-content monaco-editor-background",
    style: `position:absolute;overflow:hidden;top:0;left:0;width:100%;height:${total}px`},
    el("div", {class: "view-overlays"}), viewLines);
  const sliderHeight = Math.max(20, Math.round(height * height / Math.max(total, 1)));
  const slider = el("div", {class: "slider",
    style: `position:absolute;top:0;left:0;width:14px;height:${sliderHeight}px`});
  const track = el("div", {class: `${maxTop ? "invisible" : "invisible hidden"} scrollbar vertical`,
    style: `position:absolute;width:14px;height:${height}px;right:0;top:0`}, slider);
  const scrollable = el("div", {class: "monaco-scrollable-element editor-scrollable vs",
    style: `position:absolute;overflow:hidden;left:${MONACO_GUTTER_PX}px;right:0;top:0;` +
      `height:${height}px`}, linesContent, track);
  const guard = el("div", {class: "overflow-guard", style: `height:${height}px`}, margin,
    scrollable, el("textarea", {class: "inputarea monaco-mouse-cursor-text", wrap: "off",
      autocorrect: "off", autocapitalize: "off", autocomplete: "off", spellcheck: "false",
      readonly: ""}));
  const editorRoot = el("div", {class: "monaco-editor no-user-select vs",
    "data-uri": model.uri.toString(), style: `height:${height}px`}, guard);

  let scrollTop = 0, drawn = "", frame = 0;
  const render = () => {
    frame = 0;
    margin.style.top = linesContent.style.top = -scrollTop + "px";
    slider.style.top = (maxTop ? scrollTop / maxTop * (height - sliderHeight) : 0) + "px";
    const first = Math.floor(scrollTop / MONACO_LH);
    const last = Math.min(count, Math.ceil((scrollTop + height) / MONACO_LH));
    if (drawn === first + ":" + last) return;
    drawn = first + ":" + last;
    const rows = [], numbers = [];
    for (let i = first; i < last; i++) {
      rows.push(monacoLine(i, lines[i]));
      numbers.push(monacoLineNumber(i));
    }
    viewLines.replaceChildren(...rows);
    overlays.replaceChildren(...numbers);
  };
  const scrollTo = (y) => {
    scrollTop = Math.round(Math.min(maxTop, Math.max(0, y)));
    frame ||= requestAnimationFrame(render);
  };
  guard.addEventListener("wheel", (e) => {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? MONACO_LH : e.deltaMode === 2 ? height : 1;
    scrollTo(scrollTop + e.deltaY * unit);
  }, {passive: false});
  // The browser scrolled the element itself (focus, scrollIntoView): take it over, keep it at 0.
  scrollable.addEventListener("scroll", () => {
    if (scrollable.scrollTop) scrollTo(scrollTop + scrollable.scrollTop);
    scrollable.scrollTop = 0;
    scrollable.scrollLeft = 0;
  });
  const perPixel = maxTop / Math.max(1, height - sliderHeight);
  slider.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    e.stopPropagation();
    const startY = e.clientY, startTop = scrollTop;
    const move = (m) => scrollTo(startTop + (m.clientY - startY) * perPixel);
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  });
  track.addEventListener("pointerdown", (e) => {
    const y = e.clientY - track.getBoundingClientRect().top - sliderHeight / 2;
    scrollTo(y * perPixel);
  });
  guard.addEventListener("pointerenter", () => track.classList.replace("invisible", "visible"));
  guard.addEventListener("pointerleave", () => track.classList.replace("visible", "invisible"));
  render();
  return {root: editorRoot, dispose: () => model.dispose()};
}
