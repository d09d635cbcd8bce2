"""Operating it before and while trusting it: shadow mode, a pause in a real cycle, retrying a
memo on purpose (a correction needs --force), backtesting against what people answered, and
the retention job of `run`."""

from __future__ import annotations

import csv
import json
import os
import signal
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.reply import money
from core.errors import UsageError
from sandbox.slack import ANALYST, MEMO_CHANNEL_ID
from state.store import StateStore, Status
from tests.world import World
from worker import commands
from worker.backtest import backtest, window, write_outputs
from worker.pause import pause, resume
from worker.retry import parse_memo, retry


def test_shadow_mode_dms_what_it_would_post_and_leaves_the_channel_alone(world: World) -> None:
    memo = world.memo("verify_pumping")
    _, query = world.query_url("verify_pumping")
    expected = f"Approved, {money(world.credit('Verify', query))}, exceptions"
    done = world.run("once", "--shadow")
    assert done.returncode == 0, done.stderr
    assert world.replies(memo["ts"]) == [], "nothing in the thread"
    assert "reactions" not in world.slack.message(MEMO_CHANNEL_ID, memo["ts"]), "no 👀, no ✅"
    [dm] = world.slack.dms(ANALYST)
    assert dm["text"].startswith("Shadow mode: CreditBot would have replied to https://")
    assert f"> {expected}" in dm["text"]
    assert world.run("once", "--shadow").returncode == 0
    assert len(world.slack.dms(ANALYST)) == 1, "one shadow DM per memo"
    assert not (world.settings.data_dir / "state.sqlite3").exists(), "the live record is untouched"

    live = world.run("once")  # going live later answers the memo the shadow already saw
    assert live.returncode == 0, live.stderr
    assert [r["text"] for r in world.bot_replies(memo["ts"])] == [expected]


def test_shadow_mode_needs_someone_to_dm(world: World) -> None:
    done = world.run("once", "--shadow", SLACK_ALERT_USER="")
    assert done.returncode == 2 and "SLACK_ALERT_USER" in done.stderr


def test_a_paused_cycle_records_memos_but_posts_nothing_and_opens_no_browser(
    world: World,
) -> None:
    pause(world.settings, "credits look high")
    memo = world.memo("verify_pumping")
    world.looker.reset_requests()
    report = commands.once(world.settings)
    assert report.paused and "credits look high" in report.paused
    assert "PAUSED" in report.line()
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    assert state.get(MEMO_CHANNEL_ID, memo["ts"]).status is Status.SEEN  # type: ignore[union-attr]
    assert world.replies(memo["ts"]) == [] and world.looker.requests == []
    resume(world.settings)
    commands.once(world.settings)
    assert len(world.bot_replies(memo["ts"])) == 1


def test_retry_answers_a_failed_memo_again_and_a_correction_needs_force(world: World) -> None:
    memo = world.memo("verify_pumping")
    world.looker.fail_next(3, 503)  # Looker fails each of the three attempts
    for _ in range(3):  # three attempts, then a note for a person
        commands.once(world.settings)
    [note] = world.bot_replies(memo["ts"])
    assert note["text"].startswith("Needs manual review")

    state = StateStore(world.settings.data_dir / "state.sqlite3")
    permalink = state.get(MEMO_CHANNEL_ID, memo["ts"]).permalink  # type: ignore[union-attr]
    assert permalink and "/archives/" in permalink
    report = retry(world.settings, permalink)
    assert report.status == Status.DONE
    texts = [r["text"] for r in world.bot_replies(memo["ts"])]
    assert len(texts) == 2 and texts[1].startswith("Approved, $")

    with pytest.raises(UsageError, match=r"already approved.*--force"):
        retry(world.settings, memo["ts"])
    assert len(world.bot_replies(memo["ts"])) == 2, "refused: nothing posted"

    retry(world.settings, f"{MEMO_CHANNEL_ID}/{memo['ts']}", force=True)
    corrected = [r["text"] for r in world.bot_replies(memo["ts"])]
    assert len(corrected) == 3
    assert corrected[2].startswith(texts[1].split("\n")[0]), "still starts with the approval"
    assert "Correction: this replaces CreditBot's earlier reply" in corrected[2]
    commands.once(world.settings)  # a cycle after it does not answer the memo yet again
    assert len(world.bot_replies(memo["ts"])) == 3


def test_retry_names_what_it_cannot_read() -> None:
    assert parse_memo("https://acme.slack.com/archives/C0123ABCD/p1795531713493672") == (
        "C0123ABCD",
        "1795531713.493672",
    )
    assert parse_memo("1795531713.493672") == (None, "1795531713.493672")
    with pytest.raises(UsageError, match="not a memo's permalink"):
        parse_memo("yesterday's memo")


def test_backtest_compares_with_what_people_answered_and_posts_nothing(
    world: World, tmp_path: os.PathLike[str]
) -> None:
    _, verify = world.query_url("verify_pumping")
    _, second = world.query_url("verify_second")
    right = world.memo("verify_pumping")
    credit = world.credit("Verify", verify)
    world.slack.post(ANALYST, f"Approved, {money(credit)}, exceptions", thread_ts=right["ts"])
    wrong = world.memo("verify_second")
    world.slack.post(ANALYST, "Approved, $1.00, exceptions", thread_ts=wrong["ts"])
    declined = world.memo("verify_pumping")
    world.slack.post(ANALYST, "Denied: known customer", thread_ts=declined["ts"])
    world.memo("verify_second")  # nobody answered it: left out
    calls = len(world.slack.calls())

    since, until = window((datetime.now() - timedelta(days=1)).date().isoformat(), None)
    seen: list[tuple[int, int]] = []
    rows = backtest(
        world.settings, since=since, until=until, progress=lambda d, t: seen.append((d, t))
    )

    assert [r.verdict for r in rows] == ["agree", "disagree", "disagree"]
    assert [r.human for r in rows] == [credit, Decimal("1.00"), None]
    assert rows[1].bot == world.credit("Verify", second) and rows[0].bot == credit
    assert seen[-1] == (3, 3)
    posting = {"chat.postMessage", "reactions.add", "reactions.remove"}
    assert not [c for c in world.slack.calls()[calls:] if c.method in posting], "posted nothing"
    assert not (world.settings.data_dir / "state.sqlite3").exists(), "recorded nothing"

    paths = write_outputs(rows, world.settings.data_dir / "backtest")
    with paths[0].open() as f:
        assert len(list(csv.DictReader(f))) == 3
    assert len(json.loads(paths[1].read_text())["rows"]) == 3
    assert "<svg" in paths[2].read_text()


def test_run_removes_old_files_at_start_and_daily(world: World) -> None:
    summaries = world.settings.data_dir / "summaries"
    summaries.mkdir(parents=True, exist_ok=True)
    old, recent = summaries / "old.json", summaries / "recent.json"
    for path in (old, recent):
        path.write_text("{}")
    hundred_days_ago = time.time() - 100 * 86400
    os.utime(old, (hundred_days_ago, hundred_days_ago))
    running = world.start("run", POLL_SECONDS="3600")
    try:
        deadline = time.monotonic() + 60
        while old.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        running.send_signal(signal.SIGTERM)
        running.communicate(timeout=60)
    assert not old.exists() and recent.exists()


def test_once_ends_without_python_s_teardown_yet_leaves_what_a_full_exit_would(
    world: World,
) -> None:
    """`main.py` ends the process itself once every exit handler has run (skipping 0.15 s of
    freeing modules): the status, the printed report, the last log record and the removal of
    the kernels' private folder must all be there as after a full exit."""
    memo = world.memo("verify_pumping")
    process = world.start("once")
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert out.rstrip().endswith("1 done"), out
    records = (world.settings.data_dir / "logs" / "creditbot.jsonl").read_text().splitlines()
    assert json.loads(records[-1]).get("memo", "").endswith(memo["ts"]), records[-1]
    assert world.bot_replies(memo["ts"])
    left = list(Path(tempfile.gettempdir()).glob(f"creditbot-*-{process.pid}-*"))
    assert not left, "the kernels' and the browser's folders are removed before the end"
    bad = world.run("once", LOOKER_BASE_URL="ftp://looker.example.com")
    assert bad.returncode == 2 and "LOOKER_BASE_URL" in bad.stderr
