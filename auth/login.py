"""Capture a Looker session: a person signs in through SSO in a real browser window.

Sign-in is detected without anyone pressing anything: the window is back on the Looker origin,
off its sign-in pages, and the page has stopped loading (no request in flight, no spinner) with
something drawn. No marker of one Looker's app is needed. `demo` and the tests pass a `fill`
callback that completes the sandbox provider's form; a real run never fills credentials.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright

from core.errors import CreditBotError, UsageError
from core.policies import LookerPolicy
from scraper.browser import launch_options
from scraper.explain import Explanation
from scraper.loop import run_once
from scraper.pages.app import SETTLED_SECONDS, LookerPage

Fill = Callable[[Page], Awaitable[None]]


class LoginFailed(CreditBotError):
    kind = "login"


def capture(
    policy: LookerPolicy,
    *,
    timeout_seconds: float,
    chromium_path: str | None = None,
    headed: bool = True,
    fill: Fill | None = None,
) -> dict[str, Any]:
    """Open Looker, wait for a finished sign-in, return the browser's storage state."""
    return run_once(_capture(policy, timeout_seconds, chromium_path, headed, fill))


async def _capture(
    policy: LookerPolicy,
    timeout_seconds: float,
    chromium_path: str | None,
    headed: bool,
    fill: Fill | None,
) -> dict[str, Any]:
    async with async_playwright() as playwright:
        options = launch_options(playwright, headless=not headed, override=chromium_path)
        browser = await playwright.chromium.launch(**options)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(policy.base_url, wait_until="domcontentloaded")
            return await _wait_for_sign_in(policy, page, timeout_seconds, fill)
        except PlaywrightError as exc:
            if "closed" in str(exc).lower():
                raise LoginFailed("the browser window was closed before sign-in finished") from None
            raise
        finally:
            with contextlib.suppress(PlaywrightError):
                await browser.close()


async def _wait_for_sign_in(
    policy: LookerPolicy, page: Page, timeout_seconds: float, fill: Fill | None
) -> dict[str, Any]:
    base = policy.base_url
    looker = LookerPage(page, policy, base, Explanation(base))
    filled = False
    quiet_since: float | None = None
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if page.is_closed():
            raise LoginFailed("the browser window was closed before sign-in finished")
        if looker.on_signin_page():
            quiet_since = None
            if fill is not None and not filled and await _form_ready(page):
                await fill(page)
                filled = True
        elif await looker.loading() or not await _drawn(page):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLED_SECONDS:
            return await page.context.storage_state()
        await page.wait_for_timeout(250)
    raise LoginFailed(f"no sign-in within {timeout_seconds:g} s (use --timeout to allow more time)")


async def _drawn(page: Page) -> bool:
    try:
        return bool((await page.locator("body").inner_text()).strip())
    except PlaywrightError:
        return False


async def _form_ready(page: Page) -> bool:
    try:
        return await page.get_by_role("button", name="Sign in").count() > 0
    except PlaywrightError:
        return False


def import_file(path: Path) -> dict[str, Any]:
    """A Playwright storage-state JSON (from `context.storage_state(path=...)` elsewhere)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--from-file {path}: no such file") from None
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"--from-file {path}: not JSON") from None
    if not isinstance(state, dict) or not isinstance(state.get("cookies"), list):
        raise UsageError(f"--from-file {path}: not a Playwright storage state (no `cookies` list)")
    state.setdefault("origins", [])
    return state
