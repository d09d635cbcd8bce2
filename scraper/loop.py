"""A private event loop on its own thread: Playwright's async API, called synchronously.

The browser side runs async so that several pages can load at once; the rest of CreditBot is
synchronous. Running the loop on its own thread (rather than `asyncio.run` in the caller's)
also keeps it clear of any loop the caller's thread already has.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "creditbot-browser") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def run_once(work: Coroutine[Any, Any, T]) -> T:
    """One piece of browser work on a loop of its own, cleaned up after."""
    loop = LoopThread()
    try:
        return loop.run(work)
    finally:
        loop.stop()
