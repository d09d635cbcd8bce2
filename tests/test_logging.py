"""Secrets never reach a log, through the logging that `main.py` really sets up: stderr, the
text log and the JSON lines log.

The records come from the loggers of slack_sdk, urllib3 and Playwright, carrying the bot token
and the session cookie the way a library might one day put them into a message or an exception.
Nothing here registers a secret by hand: the settings register the token and the session store
registers the cookies when a real `once` loads them, so this fails if any of those three links
(the filter on the handlers, the settings, the store) is cut.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

import main
from auth.store import SessionStore
from core.redact import RedactSecrets
from sandbox.queries import demo_queries
from tests.world import World
from worker.logs import event, setup_logging

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
    memo = world.memo("verify_pumping")
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

    logging.getLogger("worker.cycle").warning(
        "memo failed", extra=event(f"C0MEMOS000/{cookie}", f"scrape {token}")
    )

    logs = world.settings.data_dir / "logs"
    stderr = capfd.readouterr().err
    for written in (stderr, (logs / "creditbot.log").read_text()):
        assert "request failed: Authorization: Bearer [redacted]" in written
        assert written.count("[redacted]") >= 2 * len(LIBRARY_LOGGERS) + 1
        assert "WARNING worker.cycle memo C0MEMOS000/[redacted] scrape [redacted]: memo" in written
        assert token not in written
        assert cookie not in written

    jsonl = (logs / "creditbot.jsonl").read_text()
    assert token not in jsonl and cookie not in jsonl
    entries = [json.loads(line) for line in jsonl.splitlines()]  # one JSON object a line
    leaked = [e for e in entries if e["logger"] in LIBRARY_LOGGERS]
    assert len(leaked) == len(LIBRARY_LOGGERS)
    assert all(
        "Bearer [redacted]; Cookie: looker_session=[redacted]" in e["message"] for e in leaked
    )
    [crash] = [e for e in entries if e["logger"] == "playwright"]
    assert crash["message"] == "the browser failed"
    assert (
        "RuntimeError: navigation failed with cookie looker_session=[redacted]"
        in (crash["exception"])
    )
    [failed] = [e for e in entries if e["message"] == "memo failed"]
    assert (failed["memo"], failed["stage"]) == ("C0MEMOS000/[redacted]", "scrape [redacted]")
    # What the memo came to is in the log too, with the reply as posted.
    [reply] = world.bot_replies(memo["ts"])
    [done] = [e for e in entries if e.get("stage") == "reply"]
    assert done["memo"].endswith(f"/{memo['ts']}") and done["level"] == "INFO"
    assert done["message"] == f"done: {reply['text']}"
    credit = world.credit("Verify", demo_queries()["verify_pumping"])
    assert done["message"] == f"done: Approved, ${credit:,.2f}, exceptions"


def test_each_event_is_one_line_with_its_memo_and_stage(
    mains_logging: None, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Human lines on stderr and in creditbot.log, JSON lines in creditbot.jsonl, both rotated."""
    setup_logging(tmp_path)
    log = logging.getLogger("worker.cycle")
    log.info("scraped %d link(s)", 2, extra=event("C0MEMOS000/1795.123456", "scrape"))
    log.info("cycle: 1 memo")
    log.warning("two\nlines", extra=event(stage="notebook"))
    try:
        raise ValueError("bad credit")
    except ValueError:
        log.exception("memo failed", extra=event("C0MEMOS000/1795.123456"))

    stderr = capfd.readouterr().err
    text = (tmp_path / "logs" / "creditbot.log").read_text()
    for written in (stderr, text):
        lines = written.splitlines()
        stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
        assert re.fullmatch(
            stamp + r" INFO worker\.cycle memo C0MEMOS000/1795\.123456 scrape: scraped 2 link\(s\)",
            lines[0],
        )
        assert re.fullmatch(stamp + r" INFO worker\.cycle: cycle: 1 memo", lines[1])
        assert re.fullmatch(stamp + r" WARNING worker\.cycle notebook: two", lines[2])
        assert lines[3] == "    lines"
        assert re.fullmatch(
            stamp + r" ERROR worker\.cycle memo C0MEMOS000/1795\.123456: memo failed", lines[4]
        )
        assert lines[5] == "    Traceback (most recent call last):"
        assert lines[-1] == "    ValueError: bad credit"
        assert all(line.startswith("    ") for line in lines[5:])

    entries = [json.loads(line) for line in (tmp_path / "logs" / "creditbot.jsonl").open()]
    assert [set(e) for e in entries[:3]] == [FIELDS] * 3
    assert entries[0] == {
        "ts": entries[0]["ts"],
        "level": "INFO",
        "logger": "worker.cycle",
        "message": "scraped 2 link(s)",
        "memo": "C0MEMOS000/1795.123456",
        "stage": "scrape",
    }
    assert datetime.fromisoformat(entries[0]["ts"]).utcoffset() is not None
    assert (entries[1]["memo"], entries[1]["stage"]) == (None, None)
    assert entries[2]["message"] == "two\nlines"
    assert set(entries[3]) == FIELDS | {"exception"}
    assert entries[3]["exception"].endswith("ValueError: bad credit")

    files = {
        Path(h.baseFilename).name: h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    }
    assert set(files) == {"creditbot.log", "creditbot.jsonl"}
    assert all(h.maxBytes == 5_000_000 and h.backupCount == 3 for h in files.values())
    assert all(
        any(isinstance(f, RedactSecrets) for f in h.filters)
        for h in logging.getLogger().handlers
        if getattr(h, "_creditbot", False)
    )


FIELDS = {"ts", "level", "logger", "message", "memo", "stage"}
