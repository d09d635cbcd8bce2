"""Secrets never reach a log, through the logging that `main.py` really sets up.

The records come from the loggers of slack_sdk, urllib3 and Playwright, carrying the bot token
and the session cookie the way a library might one day put them into a message or an exception.
Nothing here registers a secret by hand: the settings register the token and the session store
registers the cookies when a real `once` loads them, so this fails if any of those three links
(the filter on the handlers, the settings, the store) is cut.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import main
from auth.store import SessionStore
from tests.world import World

LIBRARY_LOGGERS = ("slack_sdk.web.base_client", "urllib3.connectionpool", "playwright._impl")


@pytest.fixture
def mains_logging() -> Iterator[None]:
    """Leave no handler of main's behind for the tests that follow."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_creditbot", False)]:
        root.removeHandler(handler)
        handler.close()


def test_token_and_cookies_are_scrubbed_from_every_record(
    world: World,
    mains_logging: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the repository
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    assert main.main(["once"]) == 0  # settings read, logging set up, the session loaded
    token = world.env["SLACK_BOT_TOKEN"]
    stored = SessionStore(world.settings.data_dir, looker_origin=world.settings.looker_origin)
    loaded = stored.load()
    assert loaded is not None
    cookie = loaded.state["cookies"][0]["value"]

    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).error(
            "request failed: Authorization: Bearer %s; Cookie: looker_session=%s", token, cookie
        )
    try:
        raise RuntimeError(f"navigation failed with cookie looker_session={cookie}")
    except RuntimeError:
        logging.getLogger("playwright").exception("the browser failed")

    written = (
        capfd.readouterr().err + (world.settings.data_dir / "logs" / "creditbot.log").read_text()
    )
    assert "request failed: Authorization: Bearer [redacted]" in written
    assert written.count("[redacted]") >= 2 * len(LIBRARY_LOGGERS) + 1
    assert token not in written
    assert cookie not in written
