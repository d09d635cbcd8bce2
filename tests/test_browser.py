"""Which Chromium the product picks, and that it really starts with the chosen flags."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Playwright

from scraper.browser import BASE_ARGS, ChromiumNotFound, find_chromium, launch_options


def test_chromium_path_override_must_be_executable(playwright: Playwright, tmp_path: Path) -> None:
    bogus = tmp_path / "not-chromium"
    bogus.write_text("")
    with pytest.raises(ChromiumNotFound, match="not-chromium") as refused:
        find_chromium(playwright, str(bogus))
    assert refused.value.setting == "CHROMIUM_PATH"


def test_chromium_path_override_wins(playwright: Playwright) -> None:
    detected = launch_options(playwright).get("executable_path")
    if detected is None:
        pytest.skip("Playwright's bundled Chromium is in use; no system binary to point at")
    choice = find_chromium(playwright, detected)
    assert (choice.executable, choice.source) == (detected, "CHROMIUM_PATH")


def test_launch_options_start_a_real_headless_chromium(playwright: Playwright) -> None:
    options = launch_options(playwright, slow_mo=5)
    assert set(BASE_ARGS) <= set(options["args"])
    assert ("--no-sandbox" in options["args"]) == (os.geteuid() == 0)
    browser = playwright.chromium.launch(**options)
    try:
        page = browser.new_page()
        page.set_content("<h1>ok</h1>")
        assert page.get_by_role("heading", name="ok").is_visible()
        assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    finally:
        browser.close()
