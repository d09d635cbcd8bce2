"""What every Looker page has, whichever Looker draws it.

Where the browser ended up (a sign-in page, a dashboard), what the page says about itself ("Query
not found", "Something went wrong"), and whether it is still loading (a request in flight, a
spinner). Nothing here waits on one marker of one Looker: each question is answered from several
signs, so a page drawn by a Looker this code has never seen is still understood.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Locator, Page, Request, Response

from core.errors import LookerUnavailable, QueryNotFound, ScrapeTimeout, SessionExpired
from core.policies import LookerPolicy, Selector
from core.urls import origin_of
from scraper.cascade import DASHBOARD_PATH, SIGNIN_PATHS, cascade, error_text, not_found_text
from scraper.explain import Explanation
from scraper.locate import locate, visible, worth_trying

# Counts the page's DOM mutations, so a poll can tell in one round trip whether anything is new.
WATCH = """() => {
  const w = window.__creditbotDom;
  if (w) return w.n;
  window.__creditbotDom = {n: 0};
  new MutationObserver(() => window.__creditbotDom.n++).observe(document,
    {subtree: true, childList: true, attributes: true, characterData: true});
  return -1;
}"""
QUIET_SECONDS = 0.5  # no request started or finished for this long: the network is idle
BACKGROUND_SECONDS = 5.0  # a request open longer than this is a long poll, not page loading
SETTLED_SECONDS = 1.0  # quiet for this long after loading: the page has drawn what it will


class NetworkWatch:
    """The page's requests in flight, so that "still loading" needs no app-specific marker, and
    the HTTP status of the document it ended on."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.open: dict[Request, float] = {}
        self.last_activity = time.monotonic()
        self.document_status: int | None = None
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)
        page.on("response", self._response)

    def _response(self, response: Response) -> None:
        if response.request.is_navigation_request() and response.frame == self.page.main_frame:
            self.document_status = response.status

    def _started(self, request: Request) -> None:
        self.open[request] = self.last_activity = time.monotonic()

    def _ended(self, request: Request) -> None:
        self.open.pop(request, None)
        self.last_activity = time.monotonic()

    def busy(self) -> bool:
        now = time.monotonic()
        if now - self.last_activity < QUIET_SECONDS:
            return True
        return any(now - started < BACKGROUND_SECONDS for started in self.open.values())


class LookerPage:
    def __init__(
        self,
        page: Page,
        policy: LookerPolicy,
        url: str,
        explain: Explanation,
        check: Callable[[str], None] | None = None,
    ) -> None:
        self.page = page
        self.policy = policy
        self.origin = policy.origin
        self.url = url
        self.explain = explain
        self.check = check  # the browser's own guard (a redirect it blocked), raised on each poll
        self.network = NetworkWatch(page)
        self._mutations: int | None = None

    # --- where the browser is ---------------------------------------------------------------

    def on_signin_page(self) -> bool:
        """Looker sends a browser without a valid session to /login, then to the SSO provider."""
        current = self.page.url
        if current.startswith(("about:", "chrome-error:", "data:")):
            return False
        if origin_of(current) != self.origin:
            return True
        return urlsplit(current).path.startswith(SIGNIN_PATHS)

    def on_dashboard(self) -> bool:
        return bool(DASHBOARD_PATH.match(urlsplit(self.page.url).path))

    def raise_if_gone(self) -> None:
        """The page is not Looker's answer to the link: a sign-in, a redirect that was blocked,
        or an HTTP error instead of the app."""
        if self.on_signin_page():
            raise SessionExpired(
                "Looker asked for a sign-in: the stored session has expired", url=self.url
            )
        if self.check is not None:
            self.check(self.url)
        status = self.network.document_status
        if status is not None and status >= 500:
            raise LookerUnavailable(f"Looker answered HTTP {status}", url=self.url)
        if status == 404:
            raise QueryNotFound("Looker answered HTTP 404", url=self.url)

    async def wait_settled(self) -> None:
        """Until the page has stopped loading on Looker's origin (signed in), or is a sign-in."""
        deadline = time.monotonic() + self.policy.navigation_timeout_ms / 1000
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self.raise_if_gone()
            if await self.loading():
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLED_SECONDS:
                return
            await self.page.wait_for_timeout(100)
        raise ScrapeTimeout(
            f"Looker's page was still loading after {self.policy.navigation_timeout_ms / 1000:g} s",
            url=self.url,
        )

    # --- finding elements -------------------------------------------------------------------

    async def find(
        self, element: str, root: Page | Locator | None = None
    ) -> tuple[list[Locator], Selector, str] | None:
        """The visible matches of the first way in `element`'s cascade that has any."""
        ways = cascade(self.policy, element)
        if not await worth_trying(root or self.page, [s for s, _ in ways]):
            return None
        for selector, source in ways:
            found = await visible(locate(root or self.page, selector))
            if found:
                return found, selector, source
        return None

    async def present_but_hidden(self, element: str, root: Page | Locator) -> bool:
        """Some way of `element`'s cascade matches only hidden elements (a collapsed section)."""
        ways = cascade(self.policy, element)
        if not await worth_trying(root, [s for s, _ in ways]):
            return False
        for selector, _ in ways:
            located = locate(root, selector)
            if await located.count() and not await visible(located, limit=1):
                return True
        return False

    # --- what the page is -------------------------------------------------------------------

    async def changed(self) -> bool:
        """Whether the DOM changed since the last call (a new document counts as a change)."""
        try:
            count = await self.page.evaluate(WATCH)
        except PlaywrightError:  # between documents: something is certainly new
            return True
        changed = count == -1 or count != self._mutations
        self._mutations = count
        return changed

    async def spinning(self) -> bool:
        return await self.find("spinner") is not None

    async def loading(self) -> bool:
        """A request in flight or a spinner on screen: the page may still draw what we need."""
        return self.network.busy() or await self.spinning()

    async def titles(self) -> list[str]:
        """What the page calls itself: its title, its headings, and all of a short page."""
        texts = [await self.page.title()]
        found = await self.find("heading")
        for heading in found[0] if found else []:
            texts.append((await heading.inner_text()).strip()[:200])
        body = (await self.page.locator("body").inner_text()).strip()
        if len(body) <= 400:
            texts.append(body)
        return [t for t in texts if t]

    async def raise_for_error_page(self) -> None:
        """A page that says the query is not there, or that Looker failed, ends the reading."""
        for text in await self.titles():
            if _matches(not_found_text(self.policy), text):
                self.explain.step("page", f"says {_first_line(text)!r}")
                raise QueryNotFound(f"Looker says {_first_line(text)!r}", url=self.url)
            if _matches(error_text(self.policy), text):
                self.explain.step("page", f"says {_first_line(text)!r}")
                raise LookerUnavailable(f"Looker showed {_first_line(text)!r}", url=self.url)

    async def is_dashboard(self) -> bool:
        return self.on_dashboard() or await self.find("dashboard") is not None


def _matches(patterns: tuple[str, ...], text: str) -> bool:
    return any(re.search(p, text) for p in patterns)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:120] if text.strip() else ""
