"""The Explore page, also reached from `/x/<slug>`, and a saved Look (whose Data panel opens
collapsed): both have a Data panel with Results and SQL tabs."""

from __future__ import annotations

from playwright.sync_api import Locator

from scraper.pages.app import AppPage
from scraper.sql_viewer import SqlViewer
from worker.errors import UnsupportedPage


class ExplorePage(AppPage):
    def data_panel(self) -> Locator:
        panels = self.element("data_panel")
        if not panels.count():
            raise UnsupportedPage(
                "the page has no Data panel, so no SQL tab (is it a dashboard?)", url=self.url
            )
        return panels.first

    def expand_data_panel(self) -> None:
        """Saved Looks open with the Data panel collapsed; a person would click "Data"."""
        toggle = self.element("data_toggle", self.data_panel())
        if toggle.count() and toggle.first.get_attribute("aria-expanded") == "false":
            toggle.first.click()
            self.page.wait_for_function(
                "el => el.getAttribute('aria-expanded') === 'true'",
                arg=toggle.first.element_handle(),
                timeout=self.policy.element_timeout_ms,
            )

    def open_sql_tab(self) -> SqlViewer:
        panel = self.data_panel()
        tab = self.element("sql_tab", panel)
        if not tab.count():
            raise UnsupportedPage("the Data panel has no SQL tab", url=self.url)
        tab.first.click()
        viewer = self.element("sql_viewer", panel).first
        viewer.wait_for(state="visible", timeout=self.policy.element_timeout_ms)
        return SqlViewer(self, viewer)

    def read_sql(self) -> str:
        self.raise_for_error_page()
        self.expand_data_panel()
        return self.open_sql_tab().read()
