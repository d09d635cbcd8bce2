"""ops.history: plain records from the real state database, read without changing it."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from ops.history import HistoryError, read_meta, read_records
from state.store import Status
from tests.ops_seed import CHANNEL, NOW, XSS, frozen_store, permalink, put, seed


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed(tmp_path / "data" / "state.sqlite3")


def test_records_carry_what_reports_need(db: Path) -> None:
    records = read_records(db)
    assert len(records) == 8
    assert [r.created_at for r in records] == sorted(r.created_at for r in records)
    by_ts = {r.ts: r for r in records}

    m1 = by_ts["1710507600.000100"]
    start = (NOW.timestamp()) - 3600
    assert m1.key == f"{CHANNEL}/1710507600.000100"
    assert m1.permalink == permalink("1710507600.000100")
    assert m1.status is Status.DONE
    assert m1.outcome_kind == "approved"
    assert m1.total == Decimal("4948.80")
    assert m1.timings == {
        "thread_check": 0.5,
        "scrape_1": 10,
        "scrape_2": 20,
        "notebook_1": 30,
        "post": 1,
    }
    assert (m1.created_at, m1.updated_at, m1.final_at) == (start, start + 62, start + 62)

    m3 = by_ts["1710252000.000300"]
    assert m3.status is Status.FAILED and m3.outcome_kind == "review" and m3.total is None
    assert m3.error is None  # cleared when the note went out ...
    assert m3.problems == (XSS,)
    assert m3.reason == XSS  # ... so the reason comes from the note's problems

    m5 = by_ts["1710504000.000500"]
    assert m5.status is Status.RETRY and m5.final_at is None
    assert (m5.attempts, m5.error, m5.error_kind, m5.reason) == (
        2,
        "Looker timed out",
        "t",
        "Looker timed out",
    )
    assert m5.outcome_kind is None and m5.problems == ()

    m4 = by_ts["1710478830.000400"]
    assert m4.status is Status.SKIPPED and m4.final_at == m4.created_at + 5


def test_final_at_is_the_first_final_transition(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with frozen_store(path) as (store, clock):
        put(store, clock, "1.1", NOW, [(10, Status.FAILED, {})])
        memo = store.get(CHANNEL, "1.1")
        assert memo is not None
        clock.t = NOW.timestamp() + 500
        store.move(memo, Status.FAILED, "alert sent", alerted=True)
    (record,) = read_records(path)
    assert record.final_at == NOW.timestamp() + 10
    assert record.updated_at == NOW.timestamp() + 500


def test_an_unreadable_total_is_none_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with frozen_store(path) as (store, clock):
        put(
            store,
            clock,
            "1.1",
            NOW,
            [(1, Status.DONE, {"outcome": {"kind": "approved", "total": "n/a"}})],
        )
    (record,) = read_records(path)
    assert record.outcome_kind == "approved" and record.total is None


def test_meta(db: Path) -> None:
    assert read_meta(db, "last_cycle_at") == f"{NOW.timestamp() - 180:.0f}"
    assert read_meta(db, "no such key") is None


def test_reading_changes_nothing_in_the_database(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns
    read_records(db)
    read_meta(db, "last_cycle_at")
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before


def test_reads_beside_a_live_writer(db: Path) -> None:
    with frozen_store(db) as (store, clock):
        put(store, clock, "2.2", NOW, [])
        assert "2.2" in {r.ts for r in read_records(db)}


def test_a_missing_database_is_an_error_naming_it_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "state.sqlite3"
    with pytest.raises(HistoryError, match=r"no CreditBot state database at .*nowhere"):
        read_records(missing)
    with pytest.raises(HistoryError, match=re.escape(str(missing))):
        read_meta(missing, "last_cycle_at")
    assert not missing.exists() and not missing.parent.exists()


def test_a_file_that_is_not_the_state_is_an_error(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    with pytest.raises(HistoryError, match="not a readable CreditBot state database"):
        read_records(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not SQLite at all" * 100)
    with pytest.raises(HistoryError, match=re.escape(str(text))):
        read_records(text)
