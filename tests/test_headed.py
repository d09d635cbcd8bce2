"""The headed paths a person uses: `login` in a real window, and `scrape --headed --slow-mo`.

They need a screen; on Linux without one, tests/conftest.py starts Xvfb (CI installs it)."""

from __future__ import annotations

import os
import sys
import time

import pytest
from playwright.async_api import Page

from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD
from scraper.pages.signin import SignInPage
from tests.world import World
from worker import commands


@pytest.fixture(autouse=True)
def screen() -> None:
    if sys.platform == "linux" and not os.environ.get("DISPLAY"):
        pytest.fail("headed tests need a screen: install Xvfb (apt-get install xvfb) or run in X")


def test_login_opens_a_window_and_notices_the_finished_sign_in(world: World) -> None:
    (world.settings.data_dir / "session.enc").unlink()
    agents: list[str] = []

    async def person(page: Page) -> None:
        agents.append(await page.evaluate("navigator.userAgent"))
        await SignInPage(page).sign_in(DEMO_EMAIL, DEMO_PASSWORD)

    commands.login(world.settings, timeout_seconds=60, fill=person)
    assert agents and "HeadlessChrome" not in agents[0], "a real window, not headless"
    assert commands.session_status(world.settings).exit_code == 0


def test_scrape_headed_with_slow_motion(world: World) -> None:
    url, query = world.query_url("psms_pumping")
    timings = []
    for flags in ([], ["--headed", "--slow-mo", "1500"]):
        started = time.monotonic()
        scraped = world.run("scrape", url, *flags, timeout=120)
        timings.append(time.monotonic() - started)
        assert scraped.returncode == 0, scraped.stderr
        assert scraped.stdout == query.sql + "\n"
    assert timings[1] > timings[0] + 2.0, "slow motion slowed the browser down"
