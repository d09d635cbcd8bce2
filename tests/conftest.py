"""Shared fixtures: pytest-playwright launches the same Chromium the product uses."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import Playwright

from sandbox.looker import LookerSandbox
from sandbox.slack import SlackSandbox
from scraper.browser import launch_options

if TYPE_CHECKING:
    from tests.world import World


def pytest_configure(config: pytest.Config) -> None:
    """Headed-browser tests need a screen: on a Linux machine without one, start Xvfb (as CI
    does) before any browser, so every Chromium of the run can open windows."""
    if sys.platform != "linux" or os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        return
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as chosen:
        os.environ["DISPLAY"] = f":{chosen.readline().strip()}"
    config.stash[XVFB] = xvfb


def pytest_unconfigure(config: pytest.Config) -> None:
    xvfb = config.stash.get(XVFB, None)
    if xvfb is not None:
        xvfb.terminate()
        xvfb.wait(timeout=10)


XVFB = pytest.StashKey[subprocess.Popen]()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, playwright: Playwright) -> dict:
    """pytest-playwright's `page`/`browser` fixtures use the launch options the product would
    use here (CHROMIUM_PATH, Playwright's, or the system's), headed under `--headed`."""
    headless = browser_type_launch_args.get("headless", True)
    chosen = launch_options(playwright, headless=headless, override=os.environ.get("CHROMIUM_PATH"))
    return {**browser_type_launch_args, **chosen}


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo warehouse, built once per test session (it is deterministic)."""
    from sandbox.warehouse import build_warehouse

    return build_warehouse(tmp_path_factory.mktemp("warehouse") / "demo_warehouse.sqlite")


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:  # 250 other channels: #name needs pagination
        yield sandbox


@pytest.fixture
def looker() -> Iterator[LookerSandbox]:
    with LookerSandbox(
        viewer="editor", render_delay_ms=30, session_ttl_seconds=3 * 86400
    ) as sandbox:
        yield sandbox


@pytest.fixture
def world(slack: SlackSandbox, looker: LookerSandbox, warehouse: Path, tmp_path: Path) -> World:
    """Local Slack and Looker, the demo warehouse, settings pointed at them, and a session."""
    from tests.world import make_world

    built = make_world(slack, looker, warehouse, tmp_path / "data")
    built.sign_in()
    return built
