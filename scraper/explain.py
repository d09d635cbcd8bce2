"""What the scraper tried on a page, in order, and what a person can do when nothing worked.

Each link's reading keeps a short log of steps (which way of finding an element matched, how long
it took). The way that worked is recorded in the memo's summary; `python main.py scrape URL
--explain` prints the whole log, and when nothing worked, the elements that looked promising and
a `[looker.selectors]` override to paste.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from core.policies import toml_string

# Elements a person would look at when the SQL could not be found: anything that says "SQL",
# anything that looks like a code editor, Looker's own custom elements, and the page's titles.
SURVEY = r"""
() => {
  const shown = (e) => { const r = e.getBoundingClientRect(); const s = getComputedStyle(e);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
  const stable = (c) => c && !/^(css|sc|jsx|svelte)-|[0-9a-f]{5,}|[0-9]{3,}/i.test(c);
  const step = (e) => {
    let s = e.tagName.toLowerCase();
    if (e.id && stable(e.id)) return s + '#' + CSS.escape(e.id);
    const classes = [...e.classList].filter(stable).slice(0, 2);
    return s + classes.map((c) => '.' + CSS.escape(c)).join('');
  };
  const path = (e) => {
    const parts = [];
    for (let n = e; n && n.nodeType === 1 && n !== document.body && parts.length < 4;
         n = n.parentElement) {
      parts.unshift(step(n));
      if (n.id && stable(n.id)) break;
    }
    return parts.join(' > ');
  };
  const clickable = (e) =>
    !!e.closest('a, button, [role=tab], [role=button], [onclick], [tabindex]') ||
    getComputedStyle(e).cursor === 'pointer';
  const out = {sql: [], editors: [], custom: {}, titles: []};
  for (const e of document.querySelectorAll('body *')) {
    const tag = e.tagName.toLowerCase();
    if (tag.includes('-')) out.custom[tag] = (out.custom[tag] || 0) + 1;
    const own = [...e.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent)
      .join('').trim();
    if (own && own.length <= 40 && /\bsql\b/i.test(own) && out.sql.length < 12)
      out.sql.push({text: own, css: path(e), visible: shown(e), clickable: clickable(e)});
    const cls = typeof e.className === 'string' ? e.className : '';
    if ((/\b(ace_editor|CodeMirror|cm-editor|monaco-editor)\b/.test(cls) || tag === 'textarea'
         || tag === 'pre') && out.editors.length < 8)
      out.editors.push({css: path(e), visible: shown(e),
        lines: (e.innerText || '').split('\n').length});
    if (/^h[1-3]$/.test(tag) || e.getAttribute('role') === 'heading')
      if (out.titles.length < 6) out.titles.push((e.innerText || '').trim().slice(0, 80));
  }
  return out;
}
"""


@dataclass
class Step:
    at: float
    stage: str
    detail: str


@dataclass
class Explanation:
    url: str
    started: float = field(default_factory=time.monotonic)
    steps: list[Step] = field(default_factory=list)
    used: dict[str, str] = field(default_factory=dict)
    survey: dict[str, Any] | None = None
    files: list[str] = field(default_factory=list)
    _said: set[tuple[str, str]] = field(default_factory=set)

    def step(self, stage: str, detail: str) -> None:
        """Log a step once: the page is polled, and a repeated failure is not news."""
        if (stage, detail) in self._said:
            return
        self._said.add((stage, detail))
        self.steps.append(Step(time.monotonic() - self.started, stage, detail))

    def worked(self, stage: str, how: str) -> None:
        self.used[stage] = how
        self.step(stage, how)

    def strategy(self) -> str:
        """One line for the summary: which way worked at each stage."""
        return "; ".join(f"{stage}: {how}" for stage, how in self.used.items())

    async def take_survey(self, page: Page) -> None:
        try:
            self.survey = await page.evaluate(SURVEY)
        except PlaywrightError:
            self.survey = None

    def suggestions(self) -> list[str]:
        """`[looker.selectors]` lines that would point the scraper at what the survey saw."""
        if not self.survey:
            return []
        lines = []
        tab = next(
            (c for c in self.survey["sql"] if c["clickable"] and c["visible"]),
            next(iter(self.survey["sql"]), None),
        )
        if tab:
            lines.append(f"sql_tab = {{ css = {toml_string(tab['css'])} }}")
        editor = next((e for e in self.survey["editors"] if e["visible"]), None)
        if editor:
            lines.append(f"sql_viewer = {{ css = {toml_string(editor['css'])} }}")
        return lines

    def render(self) -> str:
        out = [f"reading {self.url}"]
        out += [f"  {s.at:6.2f} s  {s.stage}: {s.detail}" for s in self.steps]
        if self.used:
            out.append(f"worked: {self.strategy()}")
        if self.survey:
            out.append("what the page showed:")
            titles = [t for t in self.survey["titles"] if t]
            if titles:
                out.append(f"  titles: {', '.join(repr(t) for t in titles)}")
            for c in self.survey["sql"]:
                flags = ", ".join(
                    f for f, on in (("visible", c["visible"]), ("clickable", c["clickable"])) if on
                )
                out.append(f"  says {c['text']!r}: {c['css']} ({flags or 'hidden'})")
            for e in self.survey["editors"]:
                shown = "visible" if e["visible"] else "hidden"
                out.append(f"  editor-like: {e['css']} ({shown}, {e['lines']} lines drawn)")
            if not self.survey["sql"] and not self.survey["editors"]:
                out.append("  nothing on the page says SQL, and nothing looks like a code editor")
            custom = sorted(self.survey["custom"].items(), key=lambda kv: -kv[1])[:12]
            if custom:
                out.append("  custom elements: " + ", ".join(f"{t}×{n}" for t, n in custom))
            lines = self.suggestions()
            if lines:
                out.append("to point CreditBot at these, add to the TOML file and try again:")
                out += ["  [looker.selectors]"] + [f"  {line}" for line in lines]
        for path in self.files:
            out.append(f"kept for debugging: {path}")
        return "\n".join(out)
