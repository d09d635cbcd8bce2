"""Exactly once when the worker dies: SIGKILL at every stage boundary, one worker per data dir,
and a clean stop of `run` after the memo in hand."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from bot.reply import money
from sandbox.slack import MEMO_CHANNEL_ID
from state.store import StateStore, Status
from tests.world import World
from worker import commands

BOUNDARIES = [
    "after_seen",
    "after_claimed",
    "after_scraped",
    "after_computed",
    "after_posting",
    "after_slack_accepted",  # Slack has the reply; the state does not know yet
    "after_posting@2",  # the reply is recorded; reactions and summary are not done
    "after_done",
]


def finish(process: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_killed_at_any_boundary_each_memo_is_answered_once(world: World, boundary: str) -> None:
    memo = world.memo("verify_pumping")
    code, _, _ = finish(world.start("once", CREDITBOT_FAILPOINTS=boundary))
    assert code == -signal.SIGKILL, f"the worker was to die {boundary}"

    commands.once(world.settings)
    commands.once(world.settings)

    expected = world.credit("Verify", world.query_url("verify_pumping")[1])
    replies = [m["text"] for m in world.bot_replies(memo["ts"])]
    assert replies == [f"Approved, {money(expected)}, exceptions"]
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    [stored] = state.all()
    assert (
        stored.status is Status.DONE and stored.reply_ts == world.bot_replies(memo["ts"])[0]["ts"]
    )
    journey = [status for status, _ in state.history(MEMO_CHANNEL_ID, memo["ts"])]
    assert journey[0] == "seen" and journey[-1] == "done"
    assert journey.index("posting") < journey.index("done"), "recorded before the side effect"
    reactions = {r["name"] for r in world.slack.message(MEMO_CHANNEL_ID, memo["ts"])["reactions"]}
    assert reactions == {"white_check_mark"}


def test_one_worker_per_data_dir(world: World) -> None:
    memo = world.memo("verify_pumping")
    running = world.start("run", POLL_SECONDS="3600")
    try:
        deadline = time.monotonic() + 120
        while not world.bot_replies(memo["ts"]):
            assert running.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        # The running worker still reacts after its reply: wait until it is quiet.
        calls = -1
        while calls != len(world.slack.calls()):
            assert time.monotonic() < deadline
            calls = len(world.slack.calls())
            time.sleep(1)
        code, out, err = finish(world.start("once"), timeout=60)
        assert code == 0 and "another CreditBot worker" in err
        assert len(world.slack.calls()) == calls, "the second worker touched nothing"

        waiting = world.start("once", "--wait")
        time.sleep(2)
        assert waiting.poll() is None, "--wait queues behind the running worker"
        running.send_signal(signal.SIGTERM)
        assert finish(running, timeout=60)[0] == 0
        code, out, _ = finish(waiting, timeout=120)
        assert code == 0 and "cycle on #" in out and "state: 1 done" in out
    finally:
        for process in (running,):
            if process.poll() is None:
                process.kill()
    assert len(world.bot_replies(memo["ts"])) == 1


def test_run_stops_after_the_memos_in_hand(world: World) -> None:
    """A stop lets the memos in flight finish (each answered once) and takes no new one: with
    room for two links in flight, a stop at the first 👀 leaves later memos untouched."""
    config = Path(world.env["CREDITBOT_CONFIG"])
    text = config.read_text(encoding="utf-8")
    text = text.replace("[looker]\n", "[looker]\npages = 1\n")
    config.write_text(text.replace("[notebook]\n", "[notebook]\nkernels = 1\n"), encoding="utf-8")
    keys = ("verify_pumping", "verify_second", "psms_pumping", "verify_pumping", "verify_second")
    memos = [world.memo(key)["ts"] for key in keys]
    running = world.start("run", POLL_SECONDS="3600")
    try:
        deadline = time.monotonic() + 120
        while "reactions" not in world.slack.message(MEMO_CHANNEL_ID, memos[0]):
            assert running.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        running.send_signal(signal.SIGTERM)  # the first memo is in hand: 👀 is on it
        code, _, err = finish(running, timeout=120)
    finally:
        if running.poll() is None:
            running.kill()
    assert code == 0, err
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    answered = [ts for ts in memos if world.bot_replies(ts)]
    untouched = [ts for ts in memos if ts not in answered]
    assert answered[:1] == memos[:1] and len(untouched) >= 3, (answered, untouched)
    for ts in answered:  # in flight when the stop came: finished, once
        assert len(world.bot_replies(ts)) == 1
    for ts in untouched:  # never taken: no reply, no 👀, still waiting
        assert world.replies(ts) == [] and "reactions" not in world.slack.message(
            MEMO_CHANNEL_ID, ts
        )
        assert state.get(MEMO_CHANNEL_ID, ts).status is Status.SEEN  # type: ignore[union-attr]

    commands.once(world.settings)
    assert all(len(world.bot_replies(ts)) == 1 for ts in memos)


def test_run_exits_2_when_the_bot_is_not_in_the_channel(world: World) -> None:
    world.slack.set_member(MEMO_CHANNEL_ID, False)
    code, _, err = finish(world.start("run", POLL_SECONDS="3600"), timeout=60)
    assert code == 2 and "/invite @CreditBot" in err
