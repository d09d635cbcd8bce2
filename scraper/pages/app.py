"""What every Looker page shares: the single-page-app shell that draws after a fetch."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page

from scraper.locate import locate
from worker.errors import LookerUnavailable, QueryNotFound, ScrapeTimeout, SessionExpired
from worker.settings import LookerPolicy, origin_of

SIGNIN_PATHS = ("/login", "/sso/")


class AppPage:
    def __init__(self, page: Page, policy: LookerPolicy, origin: str, url: str) -> None:
        self.page = page
        self.policy = policy
        self.origin = origin
        self.url = url

    def element(self, name: str, root: Locator | None = None) -> Locator:
        return locate(root or self.page, self.policy.selectors[name])

    def on_signin_page(self) -> bool:
        """Looker sends a browser without a valid session to /login, then to the SSO provider."""
        current = self.page.url
        if current.startswith("about:") or current.startswith("chrome-error:"):
            return False
        if origin_of(current) != self.origin:
            return True
        return urlsplit(current).path.startswith(SIGNIN_PATHS)

    def wait_ready(self, check: Callable[[str], None] | None = None) -> None:
        """Wait until the app has drawn, or fail typed: signed out, or too slow. Redirects may
        still be hopping, so `check` (the caller's own guard) runs on every poll."""
        deadline = time.monotonic() + self.policy.navigation_timeout_ms / 1000
        ready = self.element("app_ready")
        while time.monotonic() < deadline:
            if self.on_signin_page():
                raise SessionExpired(
                    "Looker asked for a sign-in: the stored session has expired", url=self.url
                )
            if check is not None:
                check(self.url)
            if ready.count():
                return
            self.page.wait_for_timeout(100)
        raise ScrapeTimeout(
            f"Looker did not finish drawing the page within "
            f"{self.policy.navigation_timeout_ms / 1000:g} s",
            url=self.url,
        )

    def heading(self) -> str:
        headings = self.element("heading")
        return (headings.first.inner_text() if headings.count() else "").strip()

    def raise_for_error_page(self) -> None:
        title = self.heading()
        if title in self.policy.not_found_headings:
            raise QueryNotFound(f"Looker says {title!r}", url=self.url)
        if title in self.policy.error_headings:
            raise LookerUnavailable(f"Looker showed {title!r}", url=self.url)
