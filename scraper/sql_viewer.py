"""Read the whole query out of the SQL tab's viewer, whatever kind it is.

A `pre`/`code` block holds all the text. A code editor may draw only the lines in view, so its
DOM text is a fragment: read the editor's own text model where the page exposes one (ACE,
CodeMirror 5 and 6, and Monaco each do), else scroll through it collecting lines by their gutter
number and prove the set complete (1..N, bottom reached) before returning anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Locator

from worker.errors import IncompleteSQL

if TYPE_CHECKING:
    from scraper.pages.app import AppPage

EDITOR_CLASSES = ("CodeMirror", "cm-editor", "ace_editor", "monaco-editor")

MODEL_TEXT = """
el => {
  const inside = sel => (el.matches(sel) ? el : el.querySelector(sel)) || el.closest(sel);
  const cm5 = inside('.CodeMirror');
  if (cm5 && cm5.CodeMirror && typeof cm5.CodeMirror.getValue === 'function')
    return cm5.CodeMirror.getValue();
  const ace = inside('.ace_editor');
  if (ace && ace.env && ace.env.editor) return ace.env.editor.getValue();
  const cm6 = inside('.cm-content');
  if (cm6 && cm6.cmView && cm6.cmView.view) return cm6.cmView.view.state.doc.toString();
  const monacoEl = inside('.monaco-editor');
  if (monacoEl && window.monaco && window.monaco.editor.getEditors) {
    const ed = window.monaco.editor.getEditors().find(e => monacoEl.contains(e.getDomNode()) ||
                                                         e.getDomNode() === monacoEl);
    if (ed) return ed.getModel().getValue();
  }
  return null;
}
"""

COLLECT_VISIBLE = """
(el, [rowSel, lineSel, numSel]) => {
  const rows = [];
  for (const row of el.querySelectorAll(rowSel)) {
    const num = row.querySelector(numSel), line = row.querySelector(lineSel);
    if (!num || !line) continue;
    rows.push([num.textContent.trim(), line.textContent.replace(/\\u200b/g, '')]);
  }
  return rows;
}
"""

SCROLL = """
(el, to) => {
  el.scrollTop = to === null ? el.scrollTop + Math.max(el.clientHeight * 0.8, 1) : to;
  return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(() =>
    resolve([el.scrollTop, el.clientHeight, el.scrollHeight]))));
}
"""


class SqlViewer:
    def __init__(self, app: AppPage, viewer: Locator) -> None:
        self.app = app
        self.viewer = viewer

    def is_editor(self) -> bool:
        return bool(
            self.viewer.evaluate(
                "(el, classes) => classes.some(c => el.classList.contains(c) || "
                "el.querySelector('.' + c))",
                list(EDITOR_CLASSES),
            )
        )

    def read(self) -> str:
        if not self.is_editor():
            return self.viewer.text_content() or ""
        text = self.viewer.evaluate(MODEL_TEXT)
        if isinstance(text, str):
            return text
        return self.scroll_and_collect()

    def scroll_and_collect(self) -> str:
        """Walk a virtualised editor top to bottom, keyed by gutter number, never guessing."""
        selectors = self.app.policy.selectors
        scroller = self.app.element("editor_scroller", self.viewer).first
        row, line, number = (
            selectors["editor_row"]["css"],
            selectors["editor_line"]["css"],
            selectors["editor_line_number"]["css"],
        )
        lines: dict[int, str] = {}
        position: float | None = 0
        for _ in range(10_000):
            top, height, total = scroller.evaluate(SCROLL, position)
            for num, text in self.viewer.evaluate(COLLECT_VISIBLE, [row, line, number]):
                if num.isdigit():
                    lines[int(num)] = text
            if top + height >= total - 1:
                break
            position = None
        else:
            raise IncompleteSQL("the SQL editor never reached its last line", url=self.app.url)
        count = max(lines, default=0)
        missing = sorted(set(range(1, count + 1)) - lines.keys())
        if not lines or missing:
            raise IncompleteSQL(
                f"the SQL editor's lines could not all be read (missing {missing[:5] or 'all'})",
                url=self.app.url,
            )
        return "\n".join(lines[i] for i in range(1, count + 1))
