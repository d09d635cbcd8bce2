"""An Explore (also reached from `/x/<slug>`) or a saved Look: a Data section with a SQL tab.

Reading is one loop that looks at everything at once on every turn, rather than waiting for
one marker: is the query shown (read it), is the page a sign-in, a dashboard or an error page
(say so), is the Data section collapsed (open it), is there a SQL tab (click it). The page is
done when the SQL has been read, when it is recognisably something else, when it has stopped
loading with nothing readable on it (after `settle_ms`), or at the navigation timeout.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.async_api import Locator, Page

from core.errors import ScrapeTimeout, SqlNotFound, UnsafeSQL, UnsupportedPage
from core.policies import Selector
from core.sqlcheck import check_read_only
from scraper.cascade import cascade
from scraper.locate import locate, union, visible, worth_trying
from scraper.pages.app import LookerPage
from scraper.sql_viewer import Reading, copy_text, read_viewer, scroll_and_collect

POLL_MS = 50
LOOK_AGAIN_SECONDS = 1.0  # the whole cascade again even if the DOM did not change
AGAIN_SECONDS = 2.0  # an action that changed nothing yet is given this long before another

COLLAPSED = r"""
(el) => {
  const expanded = el.getAttribute('aria-expanded');
  if (expanded !== null) return expanded === 'false';
  const pane = el.closest('lk-expandable-pane, [class*=expandable i], [class*=collaps i]');
  const bar = el.classList.contains('titlebar') ? el : pane && pane.querySelector('.titlebar');
  if (bar) return !bar.classList.contains('open');
  const controlled = document.getElementById(el.getAttribute('aria-controls') || '');
  if (controlled) return controlled.hidden || getComputedStyle(controlled).display === 'none';
  return null;
}
"""

SELECTED = r"""
(el) => el.getAttribute('aria-selected') === 'true' ||
  /(^|\s)(active|selected|is-active|is-selected)(\s|$)/.test(el.className || '') ||
  !!(el.parentElement && /(^|\s)(active|selected)(\s|$)/.test(el.parentElement.className || ''))
"""


class ExplorePage(LookerPage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.done_at: dict[str, float] = {}  # when each action (data, tab, scroll) last ran
        self.unsafe: UnsafeSQL | None = None  # SQL shown on the page that is not read-only

    async def read_sql(self) -> str:
        deadline = time.monotonic() + self.policy.navigation_timeout_ms / 1000
        quiet_since: float | None = None
        had_panel = gave_last_chance = wide = spinning = False
        looked_at = float("-inf")
        while True:
            self.raise_if_gone()
            if self.on_dashboard():
                raise UnsupportedPage(
                    "the link opens a dashboard, which has no SQL tab; link the tile's explore "
                    "or Look instead",
                    url=self.url,
                )
            acted = False
            # The whole cascade only when the page changed (or now and then): on two cores,
            # several pages polling everything ten times a second starve the browser.
            if await self.changed() or time.monotonic() - looked_at >= LOOK_AGAIN_SECONDS:
                looked_at = time.monotonic()
                # The Data section is the scope, until a settle with nothing in it widens it.
                panel = None if wide else await self.find("data_panel")
                scope: Page | Locator = panel[0][0] if panel else self.page
                if panel:
                    had_panel = True
                    self.explain.step("data panel", f"found by {_how(panel[1], panel[2])}")
                spinning = await self.spinning()
                loading = spinning or self.network.busy()
                sql = await self._read_viewers(scope, loading)
                if sql is not None:
                    return sql
                acted = await self._expand(scope, loading, in_panel=panel is not None)
                acted = acted or await self._open_sql_tab(scope)
                if not (acted or loading):
                    await self.raise_for_error_page()
            loading = spinning or self.network.busy()
            now = time.monotonic()
            quiet_since = None if acted or loading else (quiet_since or now)
            if quiet_since is not None and now - quiet_since >= self.policy.settle_ms / 1000:
                if gave_last_chance:
                    await self._give_up(had_panel)
                gave_last_chance, wide, quiet_since = True, had_panel, None
                looked_at = float("-inf")
                self.explain.step("wait", "the page settled with nothing readable; page-wide now")
            if now > deadline:
                raise ScrapeTimeout(
                    f"Looker's page showed no SQL within "
                    f"{self.policy.navigation_timeout_ms / 1000:g} s and was still loading",
                    url=self.url,
                )
            await self.page.wait_for_timeout(POLL_MS)

    # --- the steps --------------------------------------------------------------------------

    async def _read_viewers(self, scope: Page | Locator, loading: bool) -> str | None:
        """The first viewer whose text is one read-only query; an editor without a text model
        is copied, then scrolled through, only when nothing else showed the query and the page
        is still."""
        no_model: tuple[Locator, str, str] | None = None
        ways = cascade(self.policy, "sql_viewer")
        if not await worth_trying(scope, [s for s, _ in ways]):
            ways = ()  # nothing shows a query yet
        for selector, source in ways:
            for candidate in await visible(locate(scope, selector), limit=3):
                reading = await read_viewer(candidate)
                if reading is None:
                    continue
                how = _how(selector, source)
                if reading.text is None:
                    no_model = no_model or (candidate, how, reading.engine)
                    self.explain.step("viewer", f"{how}: a {reading.engine} editor, no text model")
                elif self._valid(reading, how):
                    return reading.text
        if no_model is not None and not loading and self._due("copy"):
            self.done_at["copy"] = time.monotonic()
            candidate, how, engine = no_model
            copied = await copy_text(self.page, candidate, self.policy, engine)
            if copied is not None and self._valid(copied, how):
                return copied.text
            self.explain.step("viewer", f"{how}: copying it gave no whole query")
        if no_model is not None and not loading and self._due("scroll"):
            candidate, how, _ = no_model
            reading = await scroll_and_collect(self.page, candidate, self.policy, self.url)
            if self._valid(reading, how):
                return reading.text
        if self.unsafe is not None and not loading:
            raise self.unsafe  # the page shows SQL, and it is not one read-only query
        return None

    def _valid(self, reading: Reading, how: str) -> bool:
        """The text must be one SELECT/WITH. Text that is not SQL at all (a fragment, a results
        table, a button label) means the next way is tried; SQL that is not read-only is
        remembered, and reported if nothing better turns up."""
        assert reading.text is not None
        try:
            check_read_only(reading.text, self.policy.sql_dialect)
        except UnsafeSQL as exc:
            self.explain.step("viewer", f"{how}: {reading.engine} {reading.method}: {exc}")
            if exc.parsed:
                exc.context["url"] = self.url
                self.unsafe = self.unsafe or exc
            return False
        lines = reading.text.count("\n") + 1
        self.explain.worked("viewer", f"{how}, {reading.engine} {reading.method} ({lines} lines)")
        return True

    async def _expand(self, scope: Page | Locator, loading: bool, *, in_panel: bool) -> bool:
        """Open a Data section that says it is collapsed (`aria-expanded`, a titlebar without
        `.open`, a controlled body that is hidden) or whose SQL tab exists only hidden; one
        that says nothing is opened once, when the page is still and shows no SQL tab at all.
        Those signs count only inside a Data section that was found: on the page at large, a
        collapsed titlebar may be any other pane's."""
        found = await self.find("data_toggle", scope)
        if found is None or not self._due("data"):
            return False
        toggles, selector, source = found
        collapsed = await toggles[0].evaluate(COLLAPSED) if in_panel else None
        if collapsed is None and in_panel and await self.present_but_hidden("sql_tab", scope):
            collapsed = True
        guess = (
            collapsed is None
            and not loading
            and "data" not in self.done_at
            and not await self._any_sql_tab(scope)
        )
        if not (collapsed or guess):
            return False
        await toggles[0].click()
        self.done_at["data"] = time.monotonic()
        self.explain.worked(
            "data panel", f"{'opened' if collapsed else 'tried'} {_how(selector, source)}"
        )
        return True

    async def _open_sql_tab(self, scope: Page | Locator) -> bool:
        found = await self.find("sql_tab", scope)
        if found is None or not self._due("tab"):
            return False
        tabs, selector, source = found
        if "tab" in self.done_at and await tabs[0].evaluate(SELECTED):
            return False  # clicked and selected: its SQL is on its way
        await tabs[0].click()
        self.done_at["tab"] = time.monotonic()
        self.explain.worked("SQL tab", f"clicked {_how(selector, source)}")
        return True

    async def _any_sql_tab(self, scope: Page | Locator) -> bool:
        return await union(scope, [s for s, _ in cascade(self.policy, "sql_tab")]).count() > 0

    async def _give_up(self, had_panel: bool) -> None:
        if await self.is_dashboard():
            raise UnsupportedPage("the page is a dashboard, which has no SQL tab", url=self.url)
        if had_panel:
            raise UnsupportedPage("the page's Data section has no SQL tab", url=self.url)
        raise SqlNotFound(
            f"no SQL tab or SQL viewer could be found, and the page stopped loading "
            f"({self.policy.settle_ms / 1000:g} s with no request in flight and no spinner)",
            url=self.url,
        )

    def _due(self, action: str) -> bool:
        return time.monotonic() - self.done_at.get(action, float("-inf")) >= AGAIN_SECONDS


def _how(selector: Selector, source: str) -> str:
    return f"{selector.describe()} ({source})"
