"""Read the whole query out of whatever shows it: an editor's text model, a textarea, a pre block.

A code editor may draw only the lines in view, so its DOM text is a fragment: each engine's own
text model is read instead (Ace, CodeMirror 5 and 6, Monaco). Where an editor exposes no model
(Monaco bundled into an app leaves no `window.monaco`), it is copied as a person copies it:
select all, copy, and the text the editor's own copy handler hands the clipboard is taken. Only
an editor that does neither is scrolled top to bottom, pairing each drawn line with its gutter
number, and the set proven complete (1..N, bottom reached) before anything is returned.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page

from core.errors import IncompleteSQL
from core.policies import LookerPolicy
from scraper.cascade import EDITORS_CSS, cascade
from scraper.locate import locate

# Whatever element matched, the reading is of the editor around it, if any: a drawn line of a
# virtualised editor can parse as a query on its own, and must never be taken for one.
# Ace hangs its editor on its element (what `ace.edit(el)` returns for an existing editor),
# CodeMirror 5 on `.CodeMirror`, CodeMirror 6 its view on `.cm-content` (`cmView`), and Monaco
# keeps editors and models in `window.monaco.editor`.
READ = r"""
(found) => {
  // A line, a textarea or a pre inside an editor is a fragment of it: read the editor.
  const el = found.closest('.ace_editor, .CodeMirror, .cm-editor, .monaco-editor') || found;
  const find = (sel) => (el.matches(sel) ? el : el.querySelector(sel));
  const ace = find('.ace_editor');
  if (ace) {
    const ed = ace.env && ace.env.editor;
    return {engine: 'ace', text: ed && typeof ed.getValue === 'function' ? ed.getValue() : null};
  }
  const cm5 = find('.CodeMirror');
  if (cm5) {
    const ed = cm5.CodeMirror;
    return {engine: 'codemirror5',
            text: ed && typeof ed.getValue === 'function' ? ed.getValue() : null};
  }
  const cm6 = find('.cm-editor');
  if (cm6) {
    for (const node of [cm6.querySelector('.cm-content'), cm6]) {
      for (const key of node ? Object.keys(node) : []) {
        const v = key.startsWith('cm') ? node[key] : null;
        const view = v && (v.view || (v.rootView && v.rootView.view) || (v.root && v.root.view));
        if (view && view.state && view.state.doc)
          return {engine: 'codemirror6', text: view.state.doc.toString()};
      }
    }
    return {engine: 'codemirror6', text: null};
  }
  const monacoEl = find('.monaco-editor');
  if (monacoEl) {
    const api = window.monaco && window.monaco.editor;
    if (!api) return {engine: 'monaco', text: null};
    const mine = (api.getEditors ? api.getEditors() : []).find((e) => {
      const d = e.getDomNode && e.getDomNode();
      return d && (d === monacoEl || d.contains(monacoEl) || monacoEl.contains(d));
    });
    if (mine && mine.getModel()) return {engine: 'monaco', text: mine.getModel().getValue()};
    const models = api.getModels ? api.getModels() : [];
    let pick = models.length === 1 ? models : models.filter(
      (m) => /sql/i.test(m.getLanguageId ? m.getLanguageId() : ''));
    if (pick.length > 1) {  // several: the one holding every line the editor shows
      const shown = [...monacoEl.querySelectorAll('.view-line')]
        .map((l) => l.textContent.replace(/\u00a0/g, ' ').trim()).filter(Boolean);
      pick = pick.filter((m) => shown.every((s) => m.getValue().includes(s)));
    }
    return {engine: 'monaco', text: pick.length === 1 ? pick[0].getValue() : null};
  }
  const area = el.matches('textarea') ? el : el.querySelector('textarea');
  if (area) return {engine: 'textarea', text: area.value};
  const pre = el.matches('pre, code') ? el : el.querySelector('pre, code');
  if (pre) return {engine: 'pre', text: pre.textContent};
  return null;
}
"""

# A scrolling element inside the viewer when no selector names one: what a person would drag.
SCROLLABLE = r"""
(el) => {
  const all = [el, ...el.querySelectorAll('*')].filter((e) => {
    if (e.matches('textarea, input') || e.clientHeight < 40) return false;  // hidden inputs
    const y = getComputedStyle(e).overflowY;
    return (y === 'auto' || y === 'scroll') && e.scrollHeight > e.clientHeight + 1;
  });
  all.sort((a, b) => b.scrollHeight - a.scrollHeight);
  return all[0] || null;
}
"""

SCROLL = r"""
(el, to) => {
  el.scrollTop = to === null ? el.scrollTop + Math.max(el.clientHeight * 0.8, 1) : to;
  el.dispatchEvent(new Event('scroll'));
  return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() =>
    resolve([el.scrollTop, el.clientHeight, el.scrollHeight]))));
}
"""

# Catches what the editor's own copy handler hands the clipboard: `clipboardData` where the
# editor sets it (Ace, CodeMirror 6, Monaco), else the selection of its own hidden textarea
# (CodeMirror 5 lets the browser copy that). Never the page's selection: that is drawn text, a
# fragment of a virtualised editor. The listener sits on `window`, after the editor's.
ARM_COPY = r"""
(editor) => {
  window.__creditbotCopy = null;
  window.addEventListener('copy', (e) => {
    let text = e.clipboardData ? e.clipboardData.getData('text/plain') : '';
    const area = document.activeElement;
    if (!text && area && area.matches('textarea') && editor.contains(area))
      text = area.value.slice(area.selectionStart, area.selectionEnd);
    window.__creditbotCopy = text || null;
  }, {once: true});
}
"""
COPIED = "() => window.__creditbotCopy"
COPY_CLICK_MS = 2000

FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
MAX_STEPS = 5_000

# Drawn elements only: an editor may keep hidden ones to measure with (CodeMirror 6's gutter
# holds an invisible "999" that sizes it for the longest line number).
BOXES = r"""
(els) => els.filter((e) => getComputedStyle(e).visibility !== 'hidden').map((e) => {
  const r = e.getBoundingClientRect();
  return [r.top, r.bottom, e.textContent.replace(/\u200b/g, '').replace(/\u00a0/g, ' ')];
}).filter(([top, bottom]) => bottom > top)
"""


@dataclass(frozen=True)
class Reading:
    engine: str  # ace, codemirror5, codemirror6, monaco, textarea, pre
    text: str | None  # None: an editor that exposes no text model
    method: str  # "model", "text" or "scrolled"


async def read_viewer(viewer: Locator) -> Reading | None:
    """What the element holds, from the best source it offers; None if it shows no text."""
    found = await viewer.evaluate(READ)
    if not found:
        return None
    engine = found["engine"]
    method = "text" if engine in ("textarea", "pre") else "model"
    return Reading(engine, found["text"], method)


async def copy_text(
    page: Page, viewer: Locator, policy: LookerPolicy, engine: str
) -> Reading | None:
    """Select all in the `engine` editor and copy, keeping what its copy handler gives; None if
    it gave nothing, or fewer lines than its gutter numbers show."""
    editor = await viewer.evaluate_handle("(e, css) => e.closest(css) || e", EDITORS_CSS)
    await page.evaluate(ARM_COPY, editor)
    await editor.dispose()
    try:
        await viewer.click(timeout=COPY_CLICK_MS)
    except PlaywrightError:  # covered or moving: not an editor a person could copy from now
        return None
    await page.keyboard.press("ControlOrMeta+A")
    await page.keyboard.press("ControlOrMeta+C")
    await page.evaluate(FRAMES)
    text = await page.evaluate(COPIED)
    if not text:
        return None
    numbers_at = await _first_present(viewer, policy, "editor_line_number")
    if numbers_at is not None:
        drawn = [n[2].strip() for n in await numbers_at.evaluate_all(BOXES)]
        highest = max((int(n) for n in drawn if n.isdigit()), default=0)
        if text.count("\n") + 1 < highest:
            return None  # a part of the query, not the whole
    return Reading(engine, text, "copied")


async def scroll_and_collect(
    page: Page, viewer: Locator, policy: LookerPolicy, url: str
) -> Reading:
    """Walk a virtualised editor top to bottom, keyed by gutter number, never guessing.

    It scrolls the way the editor does: its scrolling element where it has one, else the mouse
    wheel (Monaco scrolls itself, and takes over native scrolls). The bottom is proven either by
    the scrolling element's own extent or by three turns that draw no later line."""
    lines_at = await _first_present(viewer, policy, "editor_line")
    numbers_at = await _first_present(viewer, policy, "editor_line_number")
    if lines_at is None or numbers_at is None:
        raise IncompleteSQL("the SQL editor shows no line numbers to read it by", url=url)
    scroller = await _scroller(viewer, policy)
    await viewer.hover()
    if scroller is None:
        await page.mouse.wheel(0, -1_000_000)
    step = max((await viewer.bounding_box() or {"height": 300})["height"] * 0.8, 40)
    lines: dict[int, str] = {}
    position: float | None = 0
    unchanged = 0
    for _ in range(MAX_STEPS):
        at_bottom = False
        if scroller is not None:
            top, height, total = await scroller.evaluate(SCROLL, position)
            at_bottom = top + height >= total - 1
        last = max(lines, default=0)
        await _collect(page, numbers_at, lines_at, lines)
        unchanged = unchanged + 1 if max(lines, default=0) == last else 0
        if at_bottom or unchanged >= 3:
            if scroller is None:
                break
            # The element says it is at its end; one turn of the wheel must draw nothing later,
            # or that element was not what scrolls this editor and the wheel takes over.
            last = max(lines, default=0)
            await page.mouse.wheel(0, step)
            await _collect(page, numbers_at, lines_at, lines)
            if max(lines, default=0) == last:
                break
            scroller, unchanged = None, 0
        if scroller is None:
            await page.mouse.wheel(0, step)
        position = None
    else:
        raise IncompleteSQL("the SQL editor never reached its last line", url=url)
    count = max(lines, default=0)
    missing = sorted(set(range(1, count + 1)) - lines.keys())
    if not lines or missing:
        raise IncompleteSQL(
            f"the SQL editor's lines could not all be read (missing {missing[:5] or 'all'})",
            url=url,
        )
    engine = (await viewer.evaluate(READ) or {}).get("engine", "editor")
    return Reading(engine, "\n".join(lines[i] for i in range(1, count + 1)), "scrolled")


async def _collect(
    page: Page, numbers_at: Locator, lines_at: Locator, lines: dict[int, str]
) -> None:
    """Add the lines drawn now, once the editor has drawn what the last scroll asked for."""
    await page.evaluate(FRAMES)
    lines.update(_pair(await numbers_at.evaluate_all(BOXES), await lines_at.evaluate_all(BOXES)))


def _pair(numbers: list[list], lines: list[list]) -> dict[int, str]:
    """Each gutter number with the drawn line it sits beside (the most vertical overlap)."""
    paired: dict[int, str] = {}
    for top, bottom, label in numbers:
        label = label.strip()
        if not label.isdigit():
            continue
        best, overlap = None, 0.0
        for l_top, l_bottom, text in lines:
            shared = min(bottom, l_bottom) - max(top, l_top)
            if shared > overlap:
                best, overlap = text, shared
        if best is not None:
            paired[int(label)] = best
    return paired


async def _first_present(viewer: Locator, policy: LookerPolicy, element: str) -> Locator | None:
    for selector, _ in cascade(policy, element):
        found = locate(viewer, selector)
        if await found.count():
            return found
    return None


async def _scroller(viewer: Locator, policy: LookerPolicy) -> Locator | None:
    named = await _first_present(viewer, policy, "editor_scroller")
    if named is not None:
        return named.first
    handle = await viewer.evaluate_handle(SCROLLABLE)
    element = handle.as_element()
    if element is None:
        return None
    # Mark it so a locator (not a handle that the page may detach) addresses it from now on.
    await element.evaluate("e => e.setAttribute('data-creditbot-scroller', '')")
    return viewer.page.locator("[data-creditbot-scroller]").first
