"""One headless Chromium context per cycle, signed in with the stored session, that reads the
SQL behind Looker links.

The context only ever talks to the Looker origin: every other request is aborted, and a Looker
page that redirects elsewhere is stopped before the browser follows (Playwright's `route` does not
see redirect targets, so navigations are fetched here with redirects off and checked). A redirect
to Looker's sign-in means the session has expired. Failed links leave a trace and a screenshot,
owner-only, in the data dir.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

from playwright.sync_api import Browser, BrowserContext, Playwright, Request, Route, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bot.links import LinkKind, LookerLink
from scraper.browser import launch_options
from scraper.pages.explore import ExplorePage
from worker.errors import (
    BlockedRequest,
    BrowserCrashed,
    LookerUnavailable,
    QueryNotFound,
    ScrapeError,
    ScrapeTimeout,
    SessionExpired,
    UnsupportedPage,
)
from worker.settings import Settings, origin_of

log = logging.getLogger(__name__)
TRACE_BUDGET_BYTES = 25 * 1024 * 1024
BLOCKED_PAGE = "<!doctype html><title>Blocked</title><h1>Blocked by CreditBot</h1>"
HOP_PAGE = "<!doctype html><title>Redirecting</title><script>location.replace({target})</script>"


@dataclass(frozen=True)
class ScrapedQuery:
    url: str
    final_url: str
    sql: str
    trace: str | None = None


class LookerBrowser:
    """Use as a context manager; `read_sql(link)` per link. Starts Chromium on first use."""

    def __init__(
        self,
        settings: Settings,
        storage_state: dict[str, Any] | None,
        *,
        playwright: Playwright | None = None,
        headed: bool = False,
        slow_mo: float = 0,
        trace: bool = False,
        artifacts_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.storage_state = storage_state
        self.origin = settings.looker_origin
        self.headed = headed
        self.slow_mo = slow_mo
        self.trace = trace
        self.artifacts_dir = artifacts_dir or settings.data_dir / "traces"
        self._playwright = playwright
        self._own_playwright: Any = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._scratch: str | None = None
        self.blocked: list[str] = []
        self._blocked_navigation: str | None = None

    def __enter__(self) -> LookerBrowser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.close_browser()
        if self._own_playwright is not None:
            self._own_playwright.stop()
            self._own_playwright = None

    def close_browser(self) -> None:
        for closer in (self._context, self._browser):
            if closer is not None:
                with contextlib.suppress(PlaywrightError):
                    closer.close()
        self._context = self._browser = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    # --- browser life -----------------------------------------------------------------------

    def _ensure_context(self) -> BrowserContext:
        if self._context is not None and self._browser is not None and self._browser.is_connected():
            return self._context
        if self._browser is not None:  # it crashed: start afresh, leaving nothing behind
            self.close_browser()
        if self._playwright is None:
            self._own_playwright = sync_playwright().start()
            self._playwright = self._own_playwright
        assert self._playwright is not None
        options = launch_options(
            self._playwright,
            headless=not self.headed,
            slow_mo=self.slow_mo,
            override=self.settings.chromium_path,
        )
        # Playwright keeps trace material in a folder it never removes; give it one we do.
        self._scratch = tempfile.mkdtemp(prefix="creditbot-browser-")
        self._browser = self._playwright.chromium.launch(**options, traces_dir=self._scratch)
        self._context = self._browser.new_context(
            storage_state=self.storage_state,  # type: ignore[arg-type]
            viewport={"width": 1400, "height": 1000},
        )
        self._context.set_default_timeout(self.settings.looker.element_timeout_ms)
        self._context.set_default_navigation_timeout(self.settings.looker.navigation_timeout_ms)
        self._context.route("**/*", self._guard)
        self._context.tracing.start(screenshots=True, snapshots=True, sources=False)
        return self._context

    def _guard(self, route: Route, request: Request) -> None:
        """Only the Looker origin, and no redirect out of it."""
        url = request.url
        if not url.startswith(("http://", "https://")):
            route.continue_()
            return
        if origin_of(url) != self.origin:
            self.blocked.append(url)
            log.warning("blocked a request outside Looker: %s", _no_query(url))
            route.abort("blockedbyclient")
            return
        if not request.is_navigation_request():
            route.continue_()
            return
        try:
            response = route.fetch(max_redirects=0)
        except PlaywrightError:  # Looker unreachable: let the page fail as a browser would
            route.abort("failed")
            return
        location = response.headers.get("location")
        if 300 <= response.status < 400 and location:
            target = urljoin(url, location)
            if origin_of(target) != self.origin:
                self.blocked.append(target)
                self._blocked_navigation = target
                log.warning("blocked a redirect from %s to %s", _no_query(url), _no_query(target))
                route.fulfill(status=200, content_type="text/html", body=BLOCKED_PAGE)
                return
            # Chromium follows a redirect without asking `route` again, so hop by a client-side
            # navigation instead: the next hop comes back through this guard.
            route.fulfill(
                status=200,
                content_type="text/html",
                headers={"cache-control": "no-store"},
                body=HOP_PAGE.format(target=json.dumps(target).replace("<", "\\u003c")),
            )
            return
        route.fulfill(response=response)

    def check_signed_in(self) -> None:
        """Open Looker's home page headlessly; raise `SessionExpired` if it asks for a sign-in."""
        page = self._ensure_context().new_page()
        self._blocked_navigation = None
        try:
            page.goto(self.settings.looker_base_url, wait_until="domcontentloaded")
            ExplorePage(
                page, self.settings.looker, self.origin, self.settings.looker_base_url
            ).wait_ready(self._raise_if_blocked)
        except PlaywrightTimeout:
            raise ScrapeTimeout(
                "Looker did not answer", url=self.settings.looker_base_url
            ) from None
        finally:
            with contextlib.suppress(PlaywrightError):
                page.close()

    # --- reading one link -------------------------------------------------------------------

    def read_sql(self, link: LookerLink) -> ScrapedQuery:
        """The whole query behind one link, or a typed `ScrapeError` naming it."""
        if link.kind is LinkKind.UNSUPPORTED:
            if urlsplit(link.url).path.startswith("/dashboards"):
                problem = "a dashboard has no SQL tab; link the tile's explore or Look instead"
            else:
                problem = (
                    "not a link CreditBot reads: it reads explore (/explore/…?qid=…), "
                    "short (/x/…) and Look (/looks/N) links"
                )
            raise UnsupportedPage(problem, url=link.url)
        if origin_of(link.url) != self.origin:
            raise BlockedRequest(f"the link is outside {self.origin}", url=link.url)
        try:
            context = self._ensure_context()
        except PlaywrightError as exc:
            raise BrowserCrashed(
                f"Chromium did not start: {_first_line(exc)}", url=link.url
            ) from None
        context.tracing.start_chunk(title=link.url)
        page = context.new_page()
        self._blocked_navigation = None
        try:
            sql, final_url = self._read(page, link.url)
        except BaseException as exc:
            trace = self._keep_failure(page, link.url, exc)
            if isinstance(exc, ScrapeError) and trace:
                exc.context["trace"] = trace
            raise
        else:
            kept = self._trace_path(link.url) if self.trace else None
            context.tracing.stop_chunk(path=str(kept) if kept else None)
            if kept:
                kept.chmod(0o600)
                log.info("trace of %s: %s", link.url, kept)
        finally:
            with contextlib.suppress(PlaywrightError):
                page.close()
        return ScrapedQuery(link.url, final_url, sql, str(kept) if kept else None)

    def _read(self, page: Any, url: str) -> tuple[str, str]:
        explore = ExplorePage(page, self.settings.looker, self.origin, url)
        try:
            response = page.goto(url, wait_until="domcontentloaded")
            if response is not None and response.status >= 500:
                raise LookerUnavailable(f"Looker answered HTTP {response.status}", url=url)
            if response is not None and response.status == 404:
                raise QueryNotFound("Looker answered HTTP 404", url=url)
            explore.wait_ready(self._raise_if_blocked)
            sql = explore.read_sql()
            if explore.on_signin_page():
                raise SessionExpired("Looker asked for a sign-in while reading the SQL", url=url)
            return sql, page.url
        except PlaywrightTimeout as exc:
            if explore.on_signin_page():
                raise SessionExpired(
                    "Looker asked for a sign-in: the stored session has expired", url=url
                ) from None
            raise ScrapeTimeout(
                f"Looker's page did not respond: {_first_line(exc)}", url=url
            ) from None
        except PlaywrightError as exc:
            if explore.on_signin_page():
                raise SessionExpired(
                    "Looker asked for a sign-in: the stored session has expired", url=url
                ) from None
            raise BrowserCrashed(f"the browser failed: {_first_line(exc)}", url=url) from None

    def _raise_if_blocked(self, url: str) -> None:
        if self._blocked_navigation:
            raise BlockedRequest(
                f"the page redirected outside Looker, to {_no_query(self._blocked_navigation)}",
                url=url,
            )

    def _keep_failure(self, page: Any, url: str, exc: BaseException) -> str | None:
        """Trace and screenshot of a failed link, owner-only; the trace within a size budget."""
        if self._context is None:
            return None
        trace_path = self._trace_path(url)
        shot_path = trace_path.with_name(trace_path.name.replace(".trace.zip", ".png"))
        try:
            page.screenshot(path=str(shot_path), full_page=True)
            shot_path.chmod(0o600)
        except PlaywrightError:
            pass
        try:
            self._context.tracing.stop_chunk(path=str(trace_path))
            trace_path.chmod(0o600)
            if trace_path.stat().st_size > TRACE_BUDGET_BYTES:
                trace_path.unlink()
                return str(shot_path) if shot_path.exists() else None
        except (PlaywrightError, OSError):
            return str(shot_path) if shot_path.exists() else None
        log.info("kept a trace of the failed link: %s (%s)", trace_path, type(exc).__name__)
        return str(trace_path)

    def _trace_path(self, url: str) -> Path:
        """Owner-only folder; one name per link and moment."""
        self.artifacts_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.artifacts_dir.chmod(0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return (
            self.artifacts_dir / f"{stamp}-{time.monotonic_ns() % 10**6:06d}-{_slug(url)}.trace.zip"
        )


def _slug(url: str) -> str:
    parts = urlsplit(url)
    text = (parts.path + "-" + parts.query)[:60]
    return "".join(c if c.isalnum() else "-" for c in text).strip("-") or "page"


def _no_query(url: str) -> str:
    """Redirect targets may carry tokens in the query (SAML, OAuth codes): log without it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
