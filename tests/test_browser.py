"""Which Chromium the product picks, that it really starts with the chosen flags, and where
Playwright's driver keeps its compiled code."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Playwright

from core.policies import LookerPolicy
from core.urls import LookerLink, classify
from sandbox.looker import LookerSandbox
from sandbox.queries import demo_queries
from scraper.browser import (
    BASE_ARGS,
    ChromiumNotFound,
    find_chromium,
    launch_options,
    needs_headless_shell,
)
from scraper.session import LookerBrowser


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


def test_headless_work_goes_to_a_headless_shell_and_headed_to_a_full_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Playwright's own build, the system's headless shell runs headless work (a page
    costs half the CPU there); a headed browser is a full one, and so is headless work where
    no shell is installed."""
    for name in ("chromium-headless-shell", "chromium"):
        program = tmp_path / name
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    not_downloaded = SimpleNamespace(chromium=SimpleNamespace(executable_path=str(tmp_path / "x")))
    pick = partial(find_chromium, not_downloaded)  # type: ignore[arg-type]
    assert pick().executable == str(tmp_path / "chromium-headless-shell")
    assert not needs_headless_shell(pick())
    assert pick(headless=False).executable == str(tmp_path / "chromium")
    (tmp_path / "chromium-headless-shell").unlink()
    assert pick().executable == str(tmp_path / "chromium")
    assert needs_headless_shell(pick()), "doctor says how to get the shell"
    assert not needs_headless_shell(pick(str(tmp_path / "chromium"))), "CHROMIUM_PATH is a choice"


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


@pytest.mark.parametrize("set_by_person", [False, True])
def test_the_driver_keeps_its_compiled_code_where_it_is_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, set_by_person: bool
) -> None:
    """Node compiles Playwright's driver afresh at each start unless NODE_COMPILE_CACHE names a
    folder: the scraper names one of the data dir's, unless the person running it named one."""
    monkeypatch.setenv("NODE_COMPILE_CACHE", str(tmp_path / "theirs"))  # undone after the test
    if not set_by_person:
        monkeypatch.delenv("NODE_COMPILE_CACHE")
    ours = tmp_path / "data" / "cache" / "node"
    query = demo_queries()["verify_pumping"]
    with LookerSandbox(render_delay_ms=30) as looker:
        url = looker.explore_url(looker.add_query(query.sql))
        policy = LookerPolicy(base_url=looker.base_url)
        with LookerBrowser(
            policy, looker.storage_state(), artifacts_dir=tmp_path / "traces", code_cache=ours
        ) as browser:
            assert browser.read_sql(LookerLink(url, classify(url))).sql == query.sql
    used, unused = (tmp_path / "theirs", ours) if set_by_person else (ours, tmp_path / "theirs")
    assert any(p.is_file() for p in used.rglob("*")), "the driver's compiled code is kept"
    assert not unused.exists()
