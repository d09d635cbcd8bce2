"""Slack, Looker and the notebooks failing under real cycles: what is retried, what goes to a
person, and that each memo still gets exactly one reply and at most one DM."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest

from bot.reply import money
from core.policies import Product
from sandbox.slack import ANALYST, MEMO_CHANNEL_ID, slack_link
from state.store import Memo, StateStore, Status
from tests.notebook_files import make_notebook
from tests.world import World, signed_in_world
from worker import commands

MAX_ATTEMPTS = 3


def approved(total: Decimal) -> str:
    return f"Approved, {money(total)}, exceptions"


def verify_memo(world: World) -> tuple[str, Decimal]:
    """A one-link Verify memo: its ts and the exact credit its approval must carry."""
    memo = world.memo("verify_pumping")
    return memo["ts"], world.credit("Verify", world.query_url("verify_pumping")[1])


def stored(world: World, ts: str) -> Memo:
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    try:
        memo = state.get(MEMO_CHANNEL_ID, ts)
    finally:
        state.close()
    assert memo is not None
    return memo


def texts(world: World, ts: str) -> list[str]:
    return [m["text"] for m in world.bot_replies(ts)]


# --- Slack -------------------------------------------------------------------------------------


def test_a_rate_limited_poll_is_waited_out_and_repeated(world: World) -> None:
    ts, credit = verify_memo(world)
    world.slack.inject("conversations.history", "rate_limited", retry_after=2)
    started = time.monotonic()
    report = commands.once(world.settings)
    elapsed = time.monotonic() - started

    calls = world.slack.calls_of("conversations.history")
    assert [c.status for c in calls] == [429, 200]
    assert calls[1].at - calls[0].at >= 2 and elapsed >= 2
    assert report.new == 1 and [m.status for m in report.memos] == ["done"]
    assert texts(world, ts) == [approved(credit)]


def test_server_errors_on_thread_reads_are_retried(world: World) -> None:
    ts, credit = verify_memo(world)
    world.slack.inject("conversations.replies", "server_error", count=2)
    report = commands.once(world.settings)

    statuses = [c.status for c in world.slack.calls_of("conversations.replies")]
    assert statuses[:3] == [500, 500, 200]
    assert [m.status for m in report.memos] == ["done"]
    assert texts(world, ts) == [approved(credit)]


def test_a_lost_post_response_is_checked_in_the_thread_not_reposted(world: World) -> None:
    ts, credit = verify_memo(world)
    world.slack.inject("chat.postMessage", "lost_response")
    report = commands.once(world.settings)

    assert len(world.slack.calls_of("chat.postMessage")) == 1, "no second post"
    assert texts(world, ts) == [approved(credit)]
    assert [m.status for m in report.memos] == ["done"]
    assert stored(world, ts).reply_ts == world.bot_replies(ts)[0]["ts"]
    commands.once(world.settings)
    assert texts(world, ts) == [approved(credit)]


def test_a_post_that_hangs_past_the_timeout_is_posted_once_next_cycle(world: World) -> None:
    settings = replace(world.settings, slack=replace(world.settings.slack, timeout_seconds=2))
    ts, credit = verify_memo(world)
    world.slack.hang_seconds = 4
    world.slack.inject("chat.postMessage", "hang")
    started = time.monotonic()
    commands.once(settings)
    assert time.monotonic() - started < 30

    assert texts(world, ts) == []
    assert stored(world, ts).status is Status.POSTING, "may have landed: the thread decides"
    commands.once(settings)
    assert texts(world, ts) == [approved(credit)]
    assert stored(world, ts).status is Status.DONE
    commands.once(settings)
    assert texts(world, ts) == [approved(credit)]
    assert world.slack.dms(ANALYST) == []


# --- Looker ------------------------------------------------------------------------------------


def test_a_looker_server_error_is_retried_next_cycle(world: World) -> None:
    ts, credit = verify_memo(world)
    world.looker.fail_next(1, 500)
    commands.once(world.settings)
    waiting = stored(world, ts)
    assert waiting.status is Status.RETRY and waiting.attempts == 1
    assert texts(world, ts) == []

    commands.once(world.settings)
    assert texts(world, ts) == [approved(credit)]
    assert world.slack.dms(ANALYST) == []


def test_a_page_slower_than_the_timeout_is_retried(world: World) -> None:
    settings = replace(
        world.settings,
        looker=replace(world.settings.looker, navigation_timeout_ms=3000, element_timeout_ms=1500),
    )
    ts, credit = verify_memo(world)
    world.looker.slow_next(1, 4000)
    commands.once(settings)
    waiting = stored(world, ts)
    assert waiting.status is Status.RETRY and waiting.error_kind == "timeout"
    assert texts(world, ts) == []

    commands.once(settings)
    assert texts(world, ts) == [approved(credit)]
    assert world.slack.dms(ANALYST) == []


def test_a_query_that_no_longer_exists_goes_to_a_person_once(world: World) -> None:
    qid = "NoSuchQuery0123456789ab"
    url = f"{world.looker.base_url}/explore/revenue/counters_by_billable_item?qid={qid}"
    ts = world.slack.post(ANALYST, f"Fraud spend: {slack_link(url, '$12.00')}")["ts"]
    for _ in range(3):
        commands.once(world.settings)

    [note] = texts(world, ts)
    assert note.startswith("Needs manual review") and "not found" in note and url in note
    [dm] = world.slack.dms(ANALYST)
    assert url in dm["text"]
    assert stored(world, ts).status is Status.FAILED


def test_a_failure_that_never_clears_gives_up_after_max_attempts(world: World) -> None:
    assert world.settings.retry.max_attempts == MAX_ATTEMPTS
    ts, _ = verify_memo(world)
    world.looker.fail_next(50, 500)
    for attempt in range(1, MAX_ATTEMPTS):
        commands.once(world.settings)
        assert texts(world, ts) == [] and world.slack.dms(ANALYST) == []
        assert stored(world, ts).attempts == attempt
    commands.once(world.settings)
    commands.once(world.settings)

    [note] = texts(world, ts)
    assert note.startswith("Needs manual review")
    assert f"gave up after {MAX_ATTEMPTS} attempts" in note
    assert len(world.slack.dms(ANALYST)) == 1
    assert stored(world, ts).status is Status.FAILED


# --- notebooks ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NotebookCase:
    id: str
    cell: str  # the notebook's work, after its parameters cell
    note: str  # a regular expression the review note must match
    transient: bool = False


NOTEBOOK_TIMEOUT = 2
NOTEBOOK_CASES = [
    NotebookCase("nan", 'credit_amount = float("nan")', r"not a number"),
    NotebookCase("negative", "credit_amount = -12.5", r"negative"),
    NotebookCase("missing", "credit = 12.5  # the wrong name", r"did not define `credit_amount`"),
    NotebookCase(
        "too_slow",
        "import time\ntime.sleep(60)\ncredit_amount = 1.0",
        rf"{NOTEBOOK_TIMEOUT} s cell timeout.*gave up after {MAX_ATTEMPTS} attempts",
        transient=True,
    ),
    NotebookCase(
        "kernel_dies",
        "import os\nos._exit(1)",
        rf"kernel died.*gave up after {MAX_ATTEMPTS} attempts",
        transient=True,
    ),
]


@dataclass
class NotebookRun:
    world: World
    memos: dict[str, str]  # case id -> memo ts


@pytest.fixture(scope="module")
def notebook_run(
    warehouse: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NotebookRun]:
    """One memo per case, each routed to its own tiny notebook by a marker in its SQL; cycles
    until the transient cases have used up their attempts (each memo is independent)."""
    folder = tmp_path_factory.mktemp("notebooks")
    products = tuple(
        Product(
            c.id, re.compile(f"case_{c.id}\\b"), make_notebook(folder / f"{c.id}.ipynb", [c.cell])
        )
        for c in NOTEBOOK_CASES
    )
    with signed_in_world(
        warehouse,
        folder / "data",
        notebook={"products": products, "timeout_seconds": NOTEBOOK_TIMEOUT},
    ) as world:
        slack, looker = world.slack, world.looker
        memos = {}
        for case in NOTEBOOK_CASES:
            url = looker.explore_url(looker.add_query(f"SELECT 1 AS case_{case.id}"))
            memos[case.id] = slack.post(ANALYST, f"Fraud spend: {slack_link(url, '$50.00')}")["ts"]
        for _ in range(MAX_ATTEMPTS + 1):
            commands.once(world.settings)
        yield NotebookRun(world, memos)


def assert_one_review(world: World, ts: str, note: str) -> None:
    """One note saying why, no amount, and one DM naming the memo."""
    replies = world.bot_replies(ts)
    assert len(replies) == 1, [r["text"] for r in replies]
    text = replies[0]["text"]
    assert text.startswith("Needs manual review") and re.search(note, text), text
    assert "Approved" not in text and "$" not in text
    permalink = f"/archives/{MEMO_CHANNEL_ID}/p{ts.replace('.', '')}"
    assert len([d for d in world.slack.dms(ANALYST) if permalink in d["text"]]) == 1
    assert stored(world, ts).status is Status.FAILED


@pytest.mark.parametrize("case", NOTEBOOK_CASES, ids=[c.id for c in NOTEBOOK_CASES])
def test_a_notebook_that_misbehaves_goes_to_a_person(
    notebook_run: NotebookRun, case: NotebookCase
) -> None:
    world, ts = notebook_run.world, notebook_run.memos[case.id]
    assert_one_review(world, ts, case.note)
    memo = stored(world, ts)
    assert memo.attempts == (MAX_ATTEMPTS if case.transient else 0)


def test_every_notebook_case_left_one_dm_each(notebook_run: NotebookRun) -> None:
    dms = [d["text"] for d in notebook_run.world.slack.dms(ANALYST)]
    assert len(dms) == len(NOTEBOOK_CASES), "\n---\n".join(dms)


def test_a_failing_query_names_the_notebook_cell(world: World) -> None:
    memo = world.memo("broken", label=False)
    commands.once(world.settings)
    commands.once(world.settings)
    assert_one_review(world, memo["ts"], r"failed in cell \d+: DatabaseError")
    assert len(world.slack.dms(ANALYST)) == 1
