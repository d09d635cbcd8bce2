"""Shared fixtures: pytest-playwright launches the same Chromium the product uses."""

from __future__ import annotations

import pytest
from playwright.sync_api import Playwright

from scraper.browser import launch_options


@pytest.fixture(scope="session")
def chromium_launch_options(playwright: Playwright) -> dict:
    """Launch options the product would use here (CHROMIUM_PATH, Playwright's, or the system's)."""
    return launch_options(playwright)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_launch_options: dict) -> dict:
    """pytest-playwright's `page`/`browser` fixtures use the product's launch options."""
    return {**browser_type_launch_args, **chromium_launch_options}
