"""One headless Chromium context, signed in with the stored session, that reads the SQL behind
Looker links.

Playwright's async API drives the browser on a private event-loop thread, so the rest of
CreditBot calls it like any function while the browser side is free to keep several pages going.
The context only ever talks to the Looker origin (`scraper.guard`). Failed links leave a
screenshot and a trace, owner-only, in the data dir.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
import zipfile
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from core import redact, scratch
from core.errors import (
    BlockedRequest,
    BrowserCrashed,
    LookerUnavailable,
    ScrapeError,
    ScrapeTimeout,
    SetupError,
    UnsupportedPage,
)
from core.policies import BrowserOptions, LookerPolicy
from core.urls import LinkKind, LookerLink, origin_of
from scraper.browser import cache_driver_code, launch_options
from scraper.evidence import scrub_trace
from scraper.explain import Explanation
from scraper.guard import OriginGuard
from scraper.loop import LoopThread
from scraper.pages.app import LookerPage
from scraper.pages.explore import ExplorePage

log = logging.getLogger(__name__)
TRACE_BUDGET_BYTES = 25 * 1024 * 1024
# Chromium can leave `page.close()` unanswered for good when the page is navigating itself at
# that moment (a client-side hop such as the guard's `location.replace`); closing a context or a
# browser has always answered. So every close is bounded, and a page that would not close is
# given up together with its context once no other page needs it.
CLOSE_SECONDS = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class ScrapedQuery:
    url: str
    final_url: str
    sql: str
    strategy: str  # which way worked at each stage, for the memo's summary
    trace: str | None = None
    seconds: float = 0.0  # from opening the page to the query read


class LookerBrowser:
    """Use as a context manager; `read_sql(link)` per link. Starts Chromium on first use."""

    def __init__(
        self,
        policy: LookerPolicy,
        storage_state: dict[str, Any] | None,
        *,
        artifacts_dir: Path,
        options: BrowserOptions | None = None,
        pages: int = 4,
        code_cache: Path | None = None,
    ) -> None:
        self.policy = policy
        self.storage_state = storage_state
        redact.register_session(storage_state)  # kept out of logs and of the traces kept
        self.origin = policy.origin
        self.options = options or BrowserOptions()
        self.artifacts_dir = artifacts_dir  # traces and screenshots of failed links
        self.code_cache = code_cache  # where the Playwright driver keeps its compiled code
        self.guard = OriginGuard(self.origin)
        self._loop: LoopThread | None = None
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._scratch: str | None = None
        self._pages = asyncio.Semaphore(pages)
        self._starting = asyncio.Lock()
        self._in_flight = 0
        self._context_stuck = False  # a page of the context would not close: replace it
        self._batch_trace: Path | None = None
        self._batch_failed = False

    @property
    def blocked(self) -> list[str]:
        return self.guard.blocked

    def __enter__(self) -> LookerBrowser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop.run(work)

    def close(self) -> None:
        if self._loop is None:
            return
        self._loop.run(self._close())
        self._loop.stop()
        self._loop = None

    # --- the public calls -------------------------------------------------------------------

    def read_sql(self, link: LookerLink, explain: Explanation | None = None) -> ScrapedQuery:
        """The whole query behind one link, or a typed `ScrapeError` naming it."""
        return self.submit(link, explain).result()

    def submit(self, link: LookerLink, explain: Explanation | None = None) -> Future[ScrapedQuery]:
        """Start reading a link and return at once; up to `pages` links load side by side in
        the one context, the rest wait their turn."""
        refused = _refuse(link, self.origin)
        if refused is not None:
            future: Future[ScrapedQuery] = Future()
            future.set_exception(refused)
            return future
        if self._loop is None:
            self._loop = LoopThread()
        work = self._read(link, explain or Explanation(link.url))
        return asyncio.run_coroutine_threadsafe(work, self._loop.loop)

    def start(self) -> None:
        """Start Chromium and its context now, in the background, ahead of the first link: it
        takes longer than what the cycle does before it. A failure is left for that link to
        meet and report."""
        if self._loop is None:
            self._loop = LoopThread()
        started = asyncio.run_coroutine_threadsafe(self._ensure_context(), self._loop.loop)
        started.add_done_callback(lambda f: f.exception())  # seen here; the link reports it

    def check_signed_in(self) -> None:
        """Open Looker's home page; raise `SessionExpired` if it asks for a sign-in."""
        self._run(self._check_signed_in())

    # --- browser life -----------------------------------------------------------------------

    async def _ensure_context(self) -> BrowserContext:
        async with self._starting:  # links submitted together start one browser, not several
            return await self._start_context()

    async def _start_context(self) -> BrowserContext:
        connected = self._browser is not None and self._browser.is_connected()
        if self._context is not None and connected:
            return self._context
        if connected:  # its last context was given up: a new one in the same browser
            return await self._new_context()
        if self._browser is not None:  # it crashed: start afresh, leaving nothing behind
            await self._close_browser()
        if self._playwright is None:
            if self.code_cache is not None:
                cache_driver_code(self.code_cache)
            self._playwright = await async_playwright().start()
        options = launch_options(
            self._playwright,
            headless=not self.options.headed,
            slow_mo=self.options.slow_mo,
            override=self.options.chromium_path,
        )
        # Playwright keeps trace material in a folder it never removes; give it one we do.
        scratch.sweep("browser")
        self._scratch = tempfile.mkdtemp(prefix=scratch.prefix("browser"))
        try:
            self._browser = await self._playwright.chromium.launch(
                **options, traces_dir=self._scratch
            )
        except PlaywrightError as exc:  # this machine's problem, not the memo's
            raise SetupError(
                f"Chromium ({options.get('executable_path') or 'Playwright'}'s) did not start: "
                f"{first_line(exc)}",
                setting="CHROMIUM_PATH",
            ) from None
        return await self._new_context()

    async def _new_context(self) -> BrowserContext:
        assert self._browser is not None
        self._context = await self._browser.new_context(
            storage_state=self.storage_state,  # type: ignore[arg-type]
            viewport={"width": 1400, "height": 1000},
        )
        self._context.set_default_timeout(self.policy.element_timeout_ms)
        self._context.set_default_navigation_timeout(self.policy.navigation_timeout_ms)
        await self._context.route("**/*", self.guard)
        # DOM snapshots, no screencast: the screencast cost up to 0.15 s a page, and a failed
        # link keeps a full-page screenshot of its own. Snapshots make every call on a page
        # dearer (Playwright snapshots the DOM at each: 2 ms of CPU became 6 on a small page),
        # but without them a trace records no network at all.
        await self._context.tracing.start(screenshots=False, snapshots=True, sources=False)
        return self._context

    async def _close_browser(self) -> None:
        for closer in (self._context, self._browser):
            if closer is not None:
                await _bounded(closer.close(), f"closing the {type(closer).__name__.lower()}")
        self._context = self._browser = None
        self._context_stuck = False
        self._batch_trace = None
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    async def _close(self) -> None:
        await self._close_browser()
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    async def _check_signed_in(self) -> None:
        page = await (await self._ensure_context()).new_page()
        url = self.policy.base_url
        looker = LookerPage(page, self.policy, url, Explanation(url), self._check(page))
        try:
            await _goto(page, url)
            await looker.wait_settled()
        finally:
            self.guard.forget(page)
            await self._close_page(page)

    # --- reading one link -------------------------------------------------------------------

    async def _read(self, link: LookerLink, explain: Explanation) -> ScrapedQuery:
        self._in_flight += 1
        try:
            async with self._pages:
                return await self._read_page(link, explain)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                await self._end_batch()
                if self._context_stuck:
                    await self._give_up_context()

    async def _read_page(self, link: LookerLink, explain: Explanation) -> ScrapedQuery:
        context = await self._ensure_context()
        explain.step("browser", "ready")
        trace = await self._begin_batch(context, link.url)
        page = await context.new_page()
        started = time.monotonic()
        explore = ExplorePage(page, self.policy, link.url, explain, self._check(page))
        try:
            sql = await _open_and_read(explore, link.url)
        except BaseException as exc:
            self._batch_failed = True
            await explain.take_survey(page)
            shot = await self._screenshot(page, trace)
            explain.files.extend([str(trace), *([str(shot)] if shot else [])])
            if isinstance(exc, ScrapeError):
                exc.context["trace"] = str(trace)
            log.info("%s failed (%s): trace %s", link.url, type(exc).__name__, trace)
            raise
        finally:
            self.guard.forget(page)
            await self._close_page(page)
        if self.options.trace:
            explain.files.append(str(trace))
        return ScrapedQuery(
            link.url,
            page.url,
            sql,
            explain.strategy(),
            str(trace) if self.options.trace else None,
            round(time.monotonic() - started, 3),
        )

    async def _close_page(self, page: Page) -> None:
        if not await _bounded(page.close(), "closing a page"):
            self._context_stuck = True

    async def _give_up_context(self) -> None:
        """Close the context a page would not leave; the next link gets a new one."""
        context, self._context, self._context_stuck = self._context, None, False
        if context is not None:
            log.info("replacing the browser context: one of its pages would not close")
            await _bounded(context.close(), "closing the browser context")

    def _check(self, page: Page) -> Any:
        return lambda url: self.guard.raise_if_blocked(page, url)

    # --- evidence: one trace per batch of links read together, one screenshot per failure ---

    async def _begin_batch(self, context: BrowserContext, url: str) -> Path:
        """A context records one trace chunk at a time, so links read side by side share one:
        from the first link of a batch until no link is left in flight."""
        if self._batch_trace is None:
            await context.tracing.start_chunk(title=url)
            self._batch_trace = self._trace_path(url)
            self._batch_failed = False
        return self._batch_trace

    async def _end_batch(self) -> None:
        trace, self._batch_trace = self._batch_trace, None
        if trace is None or self._context is None:
            return
        keep = self._batch_failed or self.options.trace
        try:
            await self._context.tracing.stop_chunk(path=str(trace) if keep else None)
            if keep:
                trace.chmod(0o600)
                if trace.stat().st_size > TRACE_BUDGET_BYTES:
                    trace.unlink()
                    log.warning("trace %s was over %d MB and was dropped", trace, 25)
                else:  # off the loop: the other pages keep going meanwhile
                    await asyncio.to_thread(scrub_trace, trace)
        except (PlaywrightError, OSError, zipfile.BadZipFile) as exc:
            trace.unlink(missing_ok=True)  # never kept with the session still in it
            log.warning("trace %s could not be kept: %s", trace, first_line(exc))

    async def _screenshot(self, page: Page, trace: Path) -> Path | None:
        shot = trace.with_name(trace.name.replace(".trace.zip", f"-{id(page):x}.png"))
        try:
            await page.screenshot(path=str(shot), full_page=True)
            shot.chmod(0o600)
        except PlaywrightError:
            return None
        return shot

    def _trace_path(self, url: str) -> Path:
        """Owner-only folder; one name per link and moment."""
        self.artifacts_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.artifacts_dir.chmod(0o700)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        slug = _slug(redact.scrub(url))  # a link may carry a secret, and file names reach logs
        return self.artifacts_dir / f"{stamp}-{time.monotonic_ns() % 10**6:06d}-{slug}.trace.zip"


def _refuse(link: LookerLink, origin: str) -> ScrapeError | None:
    """A link that is never opened: not a page with SQL, or not on the Looker origin."""
    if link.kind is LinkKind.UNSUPPORTED:
        if urlsplit(link.url).path.startswith("/dashboards"):
            problem = "a dashboard has no SQL tab; link the tile's explore or Look instead"
        else:
            problem = (
                "not a link CreditBot reads: it reads explore (/explore/…?qid=…), "
                "short (/x/…) and Look (/looks/N) links"
            )
        return UnsupportedPage(problem, url=link.url)
    if origin_of(link.url) != origin:
        return BlockedRequest(f"the link is outside {origin}", url=link.url)
    return None


async def _open_and_read(explore: ExplorePage, url: str) -> str:
    """Open the link and read its SQL; Playwright's own failures become typed errors, and a
    failure on a sign-in page is the session's expiry, whatever Playwright called it."""
    try:
        response = await _goto(explore.page, url)
        explore.explain.step("page", f"opened (HTTP {response.status if response else '?'})")
        return await explore.read_sql()
    except PlaywrightTimeout as exc:
        explore.raise_if_gone()
        raise ScrapeTimeout(f"Looker's page did not respond: {first_line(exc)}", url=url) from None
    except PlaywrightError as exc:
        explore.raise_if_gone()
        raise BrowserCrashed(f"the browser failed: {first_line(exc)}", url=url) from None


async def _goto(page: Page, url: str) -> Any:
    """Navigate; what happens next is the page object's business (it polls), so only an
    unreachable Looker or a dead browser is an error here."""
    try:
        return await page.goto(url, wait_until="commit")
    except PlaywrightTimeout:
        raise ScrapeTimeout("Looker did not answer", url=url) from None
    except PlaywrightError as exc:
        if "net::ERR_" in str(exc):
            raise LookerUnavailable(
                f"Looker could not be reached ({first_line(exc)})", url=url
            ) from None
        raise BrowserCrashed(f"the browser failed: {first_line(exc)}", url=url) from None


async def _bounded(closing: Coroutine[Any, Any, None], what: str) -> bool:
    """Whether `closing` finished within CLOSE_SECONDS (a browser already gone counts)."""
    try:
        await asyncio.wait_for(closing, CLOSE_SECONDS)
    except PlaywrightError:
        return True
    except TimeoutError:
        log.warning("%s took over %g s: left behind", what, CLOSE_SECONDS)
        return False
    return True


def _slug(url: str) -> str:
    parts = urlsplit(url)
    text = (parts.path + "-" + parts.query)[:60]
    return "".join(c if c.isalnum() else "-" for c in text).strip("-") or "page"


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
