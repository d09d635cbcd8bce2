"""Capture a Looker session: a person signs in through SSO in a real browser window.

Sign-in is detected without anyone pressing anything: the window is back on the Looker origin,
off its sign-in pages, with the app drawn. `demo` passes a `fill` callback that completes the
sandbox provider's form; a real run never fills credentials.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, Playwright, sync_playwright

from scraper.browser import launch_options
from scraper.pages.app import AppPage
from worker.errors import CreditBotError, UsageError
from worker.settings import Settings


class LoginFailed(CreditBotError):
    kind = "login"


def capture(
    settings: Settings,
    *,
    timeout_seconds: float,
    headed: bool = True,
    playwright: Playwright | None = None,
    fill: Callable[[Page], None] | None = None,
) -> dict[str, Any]:
    """Open Looker, wait for a finished sign-in, return the browser's storage state."""
    if playwright is None:
        with sync_playwright() as p:
            return capture(
                settings, timeout_seconds=timeout_seconds, headed=headed, playwright=p, fill=fill
            )
    browser = playwright.chromium.launch(
        **launch_options(playwright, headless=not headed, override=settings.chromium_path)
    )
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(settings.looker_base_url, wait_until="domcontentloaded")
        app = AppPage(page, settings.looker, settings.looker_origin, settings.looker_base_url)
        filled = False
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if page.is_closed():
                raise LoginFailed("the browser window was closed before sign-in finished")
            if app.on_signin_page():
                if fill is not None and not filled and _form_ready(page):
                    fill(page)
                    filled = True
            elif app.element("app_ready").count():
                return context.storage_state()
            page.wait_for_timeout(250)
        raise LoginFailed(
            f"no sign-in within {timeout_seconds:g} s (use --timeout to allow more time)"
        )
    except PlaywrightError as exc:
        if "closed" in str(exc).lower():
            raise LoginFailed("the browser window was closed before sign-in finished") from None
        raise
    finally:
        with contextlib.suppress(PlaywrightError):
            browser.close()


def _form_ready(page: Page) -> bool:
    try:
        return page.get_by_role("button", name="Sign in").count() > 0
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
