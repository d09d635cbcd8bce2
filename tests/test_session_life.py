"""The Looker session over its life: capture, import, expiry mid-cycle, one DM, recovery,
early warning, `session`, the host allowlist, and secrets kept out of every log."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import Page

from auth.login import LoginFailed
from auth.store import SessionStore
from core.errors import UsageError
from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.slack import ANALYST, BOT_TOKEN, slack_link
from scraper.pages.signin import SignInPage
from state.store import StateStore, Status
from tests.world import World
from worker import commands


async def fill(page: Page) -> None:
    await SignInPage(page).sign_in(DEMO_EMAIL, DEMO_PASSWORD)


async def close_window(page: Page) -> None:
    """The person closes the window on the SSO page."""
    await page.close()


def forget_session(world: World) -> None:
    (world.settings.data_dir / "session.enc").unlink()


def test_login_through_the_provider_detects_the_finished_sign_in(world: World) -> None:
    forget_session(world)
    assert commands.session_status(world.settings).exit_code == 3
    stored, where = commands.login(world.settings, timeout_seconds=30, headed=False, fill=fill)
    assert str(world.settings.data_dir / "session.enc") in where
    # Only the Looker origin's cookies are kept: nothing of the provider's.
    assert {c["domain"] for c in stored.state["cookies"]} == {"127.0.0.1"}
    status = commands.session_status(world.settings)
    assert (status.works, status.exit_code) == (True, 0)
    assert status.expires_at and status.expires_at > time.time() + 3600


def test_login_gives_up_at_its_timeout(world: World) -> None:
    started = time.monotonic()
    with pytest.raises(LoginFailed, match="no sign-in within 2 s"):
        commands.login(world.settings, timeout_seconds=2, headed=False)
    assert time.monotonic() - started < 20


def test_login_says_so_when_the_window_is_closed_early(world: World) -> None:
    with pytest.raises(LoginFailed, match="closed before sign-in finished"):
        commands.login(
            world.settings,
            timeout_seconds=30,
            headed=False,
            fill=close_window,
        )


def test_login_imports_a_storage_state_file(world: World, tmp_path: Path) -> None:
    forget_session(world)
    exported = tmp_path / "state.json"
    exported.write_text(json.dumps(world.looker.storage_state()))
    commands.login(world.settings, from_file=exported)
    assert commands.session_status(world.settings).exit_code == 0
    (tmp_path / "bad.json").write_text('{"origins": []}')
    with pytest.raises(UsageError, match=r"bad\.json.*not a Playwright storage state"):
        commands.login(world.settings, from_file=tmp_path / "bad.json")


def test_session_command_on_an_expired_session(world: World) -> None:
    world.looker.expire_sessions()
    status = commands.session_status(world.settings)
    assert (status.stored, status.works, status.exit_code) == (True, False, 1)
    assert "sign-in" in (status.problem or "")
    cli = world.run("session", timeout=120)
    assert cli.returncode == 1 and "works:   no" in cli.stdout and "login" in cli.stderr


def test_expiry_mid_cycle_leaves_memos_pending_with_one_dm_until_a_new_login(
    world: World, tmp_path: Path
) -> None:
    answered = world.memo("verify_pumping")["ts"]
    second = world.memo("verify_second")["ts"]
    world.looker.expire_after(1)  # the session dies once the first memo's SQL has been served
    one_page = replace(world.settings, looker=replace(world.settings.looker, pages=1))

    report = commands.once(one_page)  # one page at a time: the expiry falls between the two
    assert [m.status for m in report.memos] == ["done", "needs_login"]
    assert len(world.bot_replies(answered)) == 1
    assert world.replies(second) == []
    [dm] = world.slack.dms(ANALYST)
    assert "python main.py login" in dm["text"]

    for _ in range(2):  # cron keeps running `once`: the mark survives, no second DM
        assert world.run("once").returncode == 0
    assert len(world.slack.dms(ANALYST)) == 1
    assert world.replies(second) == []

    exported = tmp_path / "state.json"
    exported.write_text(json.dumps(world.looker.storage_state()))
    commands.login(world.settings, from_file=exported)
    report = commands.once(world.settings)
    assert [m.status for m in report.memos] == ["done"]
    assert len(world.bot_replies(second)) == 1
    assert len(world.slack.dms(ANALYST)) == 1
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    assert {m.status for m in state.all()} == {Status.DONE}


def test_a_session_about_to_expire_is_announced_once(world: World) -> None:
    soon = world.looker.storage_state()
    soon["cookies"][0]["expires"] = time.time() + 3 * 3600
    SessionStore(world.settings.data_dir, looker_origin=world.settings.looker_origin).save(soon)
    commands.once(world.settings)
    commands.once(world.settings)
    warnings = [d for d in world.slack.dms(ANALYST) if "expires" in d["text"]]
    assert len(warnings) == 1 and "python main.py login" in warnings[0]["text"]


def test_the_browser_never_leaves_the_looker_origin(world: World) -> None:
    trap = f"{world.looker.idp_url}/collect"
    world.looker.add_redirect("/explore/revenue/moved", trap + "?c=1")
    moved = f"{world.looker.base_url}/explore/revenue/moved?qid=x"
    lookalike = world.looker.base_url.replace("127.0.0.1", "127.0.0.1.evil.io")
    lookalike_memo = world.slack.post(
        ANALYST, f"Fraud spend: {slack_link(lookalike + '/explore/a/b?qid=1', '$5.00')}"
    )
    memo = world.slack.post(ANALYST, f"Fraud spend: {slack_link(moved, '$5.00')}")
    world.looker.reset_requests()

    commands.once(world.settings)

    assert world.replies(lookalike_memo["ts"]) == []  # not a memo: no link to our Looker
    [note] = world.bot_replies(memo["ts"])
    assert "redirected outside Looker" in note["text"]
    [dm] = [d for d in world.slack.dms(ANALYST) if "could not answer" in d["text"]]
    trace = next(line[2:] for line in dm["text"].splitlines() if line.endswith(".trace.zip"))
    assert Path(trace).is_file() and Path(trace).stat().st_mode & 0o077 == 0
    assert trace not in note["text"]
    assert not [r for r in world.looker.requests if r.host.startswith("localhost")]


def test_no_secret_reaches_logs_summaries_notes_or_dms(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    store = SessionStore(world.settings.data_dir, looker_origin=world.settings.looker_origin)
    cookie = store.load().state["cookies"][0]["value"]  # type: ignore[union-attr]
    world.memo("verify_pumping")
    world.slack.post(ANALYST, "broken: " + slack_link(world.query_url("broken")[0], "$1.00"))
    caplog.set_level(logging.DEBUG)

    commands.once(world.settings)
    world.looker.expire_sessions()
    world.memo("verify_second")
    commands.once(world.settings)

    written = [caplog.text]
    # Traces and screenshots hold session data by nature: they stay owner-only (tested in
    # test_scraper); everything else in the data dir must be clean.
    for path in world.settings.data_dir.rglob("*"):
        if path.is_file() and path.suffix not in (".enc", ".key", ".zip", ".png"):
            written.append(path.read_bytes().decode("latin-1"))
    for message in world.slack.messages() + world.slack.dms(ANALYST):
        written.append(json.dumps(message))
    for ts in [m["ts"] for m in world.slack.messages()]:
        written.append(json.dumps(world.replies(ts)))
    everything = "\n".join(written)
    assert len(caplog.records) > 5
    assert BOT_TOKEN not in everything
    assert cookie not in everything
