"""The cycle's expensive helpers: the browser (one context, several pages) and the kernel pool.

`once` makes them for its one cycle; `run` keeps them warm from one cycle to the next, so a memo
that arrives while it runs costs a page load and a notebook, not a browser and a kernel start
(nor the notebooks' imports) as well. They are closed after `keep_warm_seconds` without use,
and the browser is replaced when a new session is stored. Nothing is started until a cycle has
a memo to work on: an idle cycle starts no browser and no kernel (and imports neither
Playwright nor papermill).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auth.store import Stored
    from notebooks.kernels import KernelPool
    from scraper.session import LookerBrowser
    from worker.settings import Settings

log = logging.getLogger(__name__)


def default_kernels() -> int:
    """One kernel per core, at most four: a notebook run is mostly one busy core."""
    return max(1, min(os.cpu_count() or 1, 4))


def looker_browser(settings: Settings, state: dict[str, Any] | None) -> LookerBrowser:
    """The browser the settings describe, signed in with `state` (a cycle's, `scrape`'s and the
    session check's alike)."""
    from scraper.session import LookerBrowser

    return LookerBrowser(
        settings.looker,
        state,
        artifacts_dir=settings.data_dir / "traces",
        options=settings.browser,
        pages=settings.looker.pages,
        code_cache=settings.code_cache_dir,
    )


class Engines:
    def __init__(self, settings: Settings, *, warm: bool = False) -> None:
        self.settings = settings
        self.warm = warm  # `run`'s: booted kernels import the notebooks' modules ahead (`pool_for`)
        self._browser: LookerBrowser | None = None
        self._session_saved_at: float | None = None
        self._kernels: KernelPool | None = None
        self._used_at = time.monotonic()
        self.browsers_started = 0  # for the benchmark and the tests: what an idle cycle costs

    def browser(self, stored: Stored) -> LookerBrowser:
        """The browser signed in with `stored`; a newer stored session gets a new browser."""
        self._used_at = time.monotonic()
        if self._browser is not None and self._session_saved_at != stored.saved_at:
            log.info("a new Looker session was stored: starting a new browser context")
            self._browser.close()
            self._browser = None
        if self._browser is None:
            self._browser = looker_browser(self.settings, stored.state)
            self._session_saved_at = stored.saved_at
            self.browsers_started += 1
        return self._browser

    def kernels(self, notebooks: int = 0) -> KernelPool:
        """The pool, its kernels starting ahead of the notebooks: in `run`, all of them (memos
        will keep coming); in `once`, as many as the `notebooks` it is told of will use."""
        from notebooks.kernels import pool_for

        self._used_at = time.monotonic()
        if self._kernels is None:
            self._kernels = pool_for(self.settings.notebook, warm=self.warm)
        self._kernels.start(None if self.warm else notebooks)
        return self._kernels

    @property
    def kernels_started(self) -> int:
        return self._kernels.kernels_started if self._kernels is not None else 0

    def rest_if_idle(self) -> None:
        """Free the browser and the kernels after a while with nothing to do."""
        idle = time.monotonic() - self._used_at
        if idle >= self.settings.keep_warm_seconds and (self._browser or self._kernels):
            log.info("idle for %.0f s: closing the browser and the kernels", idle)
            self.close()

    def close(self) -> None:
        """Close both side by side: each mostly waits for its own processes to end, and a
        `once` exits only after both."""
        browser, self._browser = self._browser, None
        kernels, self._kernels = self._kernels, None
        stopping = None
        if kernels is not None:
            stopping = threading.Thread(target=kernels.close, name="creditbot-kernels-close")
            stopping.start()
        try:
            if browser is not None:
                browser.close()
        finally:
            if stopping is not None:
                stopping.join()

    def __enter__(self) -> Engines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
