"""The signed-in browser talks to the Looker origin and nothing else.

Every request to another origin is aborted. Navigations are fetched here with redirects off and
checked hop by hop, because Playwright's `route` never sees redirect targets: a Looker page that
redirects elsewhere (an SSO provider, a look-alike host) is stopped before the browser follows,
so the session's cookies never travel with it. A page's own request (a fetch, an image) that is
redirected elsewhere is failed by the browser itself, as its first hop was routed here
(`tests/test_scraper.py` pins that). Each request the page makes costs about 1 ms of this
process's CPU for the round trip through `route`.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urljoin, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Route

from core.errors import BlockedRequest, SessionExpired
from core.urls import origin_of
from scraper.cascade import SIGNIN_PATHS

log = logging.getLogger(__name__)
BLOCKED_PAGE = "<!doctype html><title>Blocked</title><h1>Blocked by CreditBot</h1>"
HOP_PAGE = "<!doctype html><title>Redirecting</title><script>location.replace({target})</script>"


class OriginGuard:
    """A `context.route` handler; remembers what it blocked, per page."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.blocked: list[str] = []
        self._navigations: dict[Page, tuple[str, str]] = {}  # page -> (from, to)

    async def __call__(self, route: Route, request: Request) -> None:
        url = request.url
        if not url.startswith(("http://", "https://")):
            await route.continue_()
            return
        if origin_of(url) != self.origin:
            self.blocked.append(url)
            log.warning("blocked a request outside Looker: %s", no_query(url))
            await route.abort("blockedbyclient")
            return
        if not request.is_navigation_request():
            await route.continue_()
            return
        try:
            response = await route.fetch(max_redirects=0)
        except PlaywrightError:  # Looker unreachable: let the page fail as a browser would
            await route.abort("failed")
            return
        location = response.headers.get("location")
        if 300 <= response.status < 400 and location:
            target = urljoin(url, location)
            if origin_of(target) != self.origin:
                self.blocked.append(target)
                self._navigations[request.frame.page] = (url, target)
                log.warning("blocked a redirect from %s to %s", no_query(url), no_query(target))
                await route.fulfill(status=200, content_type="text/html", body=BLOCKED_PAGE)
                return
            # Chromium follows a redirect without asking `route` again, so hop by a client-side
            # navigation instead: the next hop comes back through this guard.
            await route.fulfill(
                status=200,
                content_type="text/html",
                headers={"cache-control": "no-store"},
                body=HOP_PAGE.format(target=json.dumps(target).replace("<", "\\u003c")),
            )
            return
        await route.fulfill(response=response)

    def raise_if_blocked(self, page: Page, url: str) -> None:
        """The page tried to leave Looker. Through Looker's own sign-in path it is the session
        that expired (the sign-in hop may be blocked before the page's URL shows /login)."""
        hop = self._navigations.pop(page, None)
        if hop is None:
            return
        source, target = hop
        if urlsplit(source).path.startswith(SIGNIN_PATHS):
            raise SessionExpired(
                "Looker sent the browser to its sign-in provider: the stored session has expired",
                url=url,
            )
        raise BlockedRequest(f"the page redirected outside Looker, to {no_query(target)}", url=url)

    def forget(self, page: Page) -> None:
        self._navigations.pop(page, None)


def no_query(url: str) -> str:
    """Redirect targets may carry tokens in the query (SAML, OAuth codes): log without it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
