"""The headed paths a person uses: `login` in a real window, and `scrape --headed --slow-mo`.

They need a screen; on Linux without one, tests/conftest.py starts Xvfb (CI installs it)."""

from __future__ import annotations

import os
import re
import sys

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
    """Slow motion delays each browser action by its amount: the explained steps show it on the
    page load and on the click of the SQL tab, lower bounds that no load on the machine makes
    shorter (the whole run's time against a headless one's is too noisy to say it)."""
    url, query = world.query_url("psms_pumping")
    gaps = {}
    for flags in ([], ["--headed", "--slow-mo", "1500"]):
        scraped = world.run("scrape", url, "--explain", *flags, timeout=120)
        assert scraped.returncode == 0, scraped.stderr
        assert scraped.stdout == query.sql + "\n"
        gaps[bool(flags)] = step_gaps(scraped.stderr)
    for step in ("page: opened", "SQL tab: clicked"):
        assert gaps[True][step] >= 1.5, (step, gaps)
        assert gaps[False][step] < gaps[True][step], (step, gaps)


def step_gaps(explained: str) -> dict[str, float]:
    """Seconds from the previous explained step to each one, by its stage and first word."""
    gaps, previous = {}, 0.0
    for at, stage, detail in re.findall(r"^ +([0-9.]+) s  ([^:]+): (\S+)", explained, re.M):
        gaps[f"{stage}: {detail}"] = float(at) - previous
        previous = float(at)
    return gaps
