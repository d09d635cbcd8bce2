"""Shared fixtures: pytest-playwright launches the same Chromium the product uses."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def chromium_launch_options(playwright: Playwright) -> dict:
    """Launch options the product would use here (CHROMIUM_PATH, Playwright's, or the system's)."""
    return launch_options(playwright)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_launch_options: dict) -> dict:
    """pytest-playwright's `page`/`browser` fixtures use the product's launch options."""
    return {**browser_type_launch_args, **chromium_launch_options}


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
