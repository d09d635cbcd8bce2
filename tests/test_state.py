"""The state database: what was seen and done survives restarts, and final memos stay final."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from state.store import FINAL, StateStore, Status

CHANNEL = "C0123ABCD"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "state.sqlite3"


@pytest.fixture
def store(path: Path) -> Iterator[StateStore]:
    opened = StateStore(path)
    yield opened
    opened.close()


def test_add_is_idempotent(store: StateStore) -> None:
    assert store.add(CHANNEL, "100.000001", {"text": "first"})
    assert not store.add(CHANNEL, "100.000001", {"text": "changed"})
    memo = store.get(CHANNEL, "100.000001")
    assert memo is not None
    assert memo.message == {"text": "first"}
    assert memo.status is Status.SEEN
    assert memo.attempts == 0 and memo.next_try_at == 0
    assert memo.key == f"{CHANNEL}/100.000001"
    assert store.history(CHANNEL, "100.000001") == [("seen", None)]
    assert store.counts() == {"seen": 1}


def test_same_ts_in_another_channel_is_another_memo(store: StateStore) -> None:
    assert store.add(CHANNEL, "100.1", {})
    assert store.add("C0OTHER01", "100.1", {})
    assert [m.channel for m in store.all()] == [CHANNEL, "C0OTHER01"]
    assert [m.channel for m in store.all(CHANNEL)] == [CHANNEL]


def test_get_unknown_is_none(store: StateStore) -> None:
    assert store.get(CHANNEL, "1.0") is None


def test_actionable_is_oldest_first_by_numeric_ts(store: StateStore) -> None:
    for ts in ("1700000010.000100", "999999999.000000", "1700000002.000900"):
        store.add(CHANNEL, ts, {"ts": ts})
    store.add("C0OTHER01", "1.0", {})
    assert [m.ts for m in store.actionable(CHANNEL)] == [
        "999999999.000000",
        "1700000002.000900",
        "1700000010.000100",
    ]


def test_next_try_at_defers_a_memo(store: StateStore) -> None:
    store.add(CHANNEL, "1.0", {})
    store.add(CHANNEL, "2.0", {})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    store.move(memo, Status.RETRY, "timeout", attempts=1, next_try_at=1000.0)
    assert [m.ts for m in store.actionable(CHANNEL, now=999.0)] == ["2.0"]
    assert [m.ts for m in store.actionable(CHANNEL, now=1000.0)] == ["1.0", "2.0"]


@pytest.mark.parametrize("final", FINAL)
def test_final_statuses_are_not_actionable(store: StateStore, final: Status) -> None:
    store.add(CHANNEL, "1.0", {})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    store.move(memo, final)
    assert store.actionable(CHANNEL, now=1e12) == []


@pytest.mark.parametrize("status", [s for s in Status if s not in FINAL], ids=lambda s: str(s))
def test_other_statuses_are_actionable(store: StateStore, status: Status) -> None:
    store.add(CHANNEL, "1.0", {})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    store.move(memo, status)
    assert [m.status for m in store.actionable(CHANNEL)] == [status]


def test_move_records_transitions_and_fields(store: StateStore) -> None:
    store.add(CHANNEL, "1.0", {"text": "memo"})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    memo = store.move(memo, Status.CLAIMED, "thread checked", permalink="https://x/p1")
    memo = store.move(
        memo,
        Status.COMPUTED,
        outcome={"approved": True, "total": "4948.80", "links": [{"url": "u"}]},
        timings={"scrape": 1.5, "notebook": 2.25},
    )
    memo = store.move(
        memo,
        Status.POSTING,
        error="boom",
        error_kind="timeout",
        alerted=1,
        message={"text": "edited"},
    )
    memo = store.move(memo, Status.DONE, "posted", reply_ts="1.5", error=None)
    assert memo.status is Status.DONE
    assert memo.permalink == "https://x/p1"
    assert memo.outcome == {"approved": True, "total": "4948.80", "links": [{"url": "u"}]}
    assert memo.timings == {"scrape": 1.5, "notebook": 2.25}
    assert memo.message == {"text": "edited"}
    assert memo.alerted is True
    assert memo.error is None and memo.error_kind == "timeout"
    assert memo.reply_ts == "1.5"
    assert store.history(CHANNEL, "1.0") == [
        ("seen", None),
        ("claimed", "thread checked"),
        ("computed", None),
        ("posting", None),
        ("done", "posted"),
    ]
    assert store.counts() == {"done": 1}


def test_outcome_can_be_cleared(store: StateStore) -> None:
    store.add(CHANNEL, "1.0", {})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    memo = store.move(memo, Status.COMPUTED, outcome={"approved": False})
    memo = store.move(memo, Status.SEEN, outcome=None)
    assert memo.outcome is None


def test_failed_move_leaves_no_trace(store: StateStore) -> None:
    store.add(CHANNEL, "1.0", {})
    memo = store.get(CHANNEL, "1.0")
    assert memo is not None
    with pytest.raises(sqlite3.OperationalError):
        store.move(memo, Status.DONE, no_such_column=1)
    assert store.get(CHANNEL, "1.0").status is Status.SEEN  # type: ignore[union-attr]
    assert store.history(CHANNEL, "1.0") == [("seen", None)]


def test_meta_get_set_delete(store: StateStore) -> None:
    assert store.get_meta("watermark") is None
    store.set_meta("watermark", "1700000000.000100")
    store.set_meta("watermark", "1700000001.000100")
    assert store.get_meta("watermark") == "1700000001.000100"
    store.set_meta("watermark", None)
    assert store.get_meta("watermark") is None
    store.set_meta("absent", None)


def test_survives_reopen(path: Path) -> None:
    first = StateStore(path)
    first.add(CHANNEL, "1.0", {"text": "memo ✅"})
    memo = first.get(CHANNEL, "1.0")
    assert memo is not None
    first.move(memo, Status.POSTING, outcome={"approved": True}, attempts=2)
    first.set_meta("watermark", "1.0")
    first.close()

    second = StateStore(path)
    try:
        reopened = second.get(CHANNEL, "1.0")
        assert reopened is not None
        assert reopened.status is Status.POSTING
        assert reopened.attempts == 2
        assert reopened.message == {"text": "memo ✅"}
        assert reopened.outcome == {"approved": True}
        assert second.get_meta("watermark") == "1.0"
        assert not second.add(CHANNEL, "1.0", {})
        assert [m.ts for m in second.actionable(CHANNEL)] == ["1.0"]
    finally:
        second.close()


def test_two_open_stores_see_each_others_writes(path: Path) -> None:
    a, b = StateStore(path), StateStore(path)
    try:
        a.add(CHANNEL, "1.0", {})
        assert not b.add(CHANNEL, "1.0", {})
        assert b.get(CHANNEL, "1.0") is not None
    finally:
        a.close()
        b.close()
