"""ops.stats and ops.status: the numbers of `python main.py status`, counted by hand.

The seeded scenario (tests/ops_seed.py), with now = 2024-03-15 09:00 at UTC-05:00:
m1 approved today 08:00; m2 approved 23:59:30 yesterday (local; already "today" in UTC);
m3 failed 3 days ago; m4 skipped today 00:00:30; m5 retrying since 07:00; m6 waiting for a
login for 10 days; m7 approved 20 days ago; m8 approved 40 days ago (outside every window).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.history import read_records
from ops.stats import Latency, percentile, stage_times
from ops.status import Counts, build_status, load_status, render_text
from state.store import Status
from tests.ops_seed import NOW, XSS, frozen_store, permalink, put, seed

EXPIRES = NOW.timestamp() + 5 * 86400 + 3600


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seed(tmp_path / "state.sqlite3")


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([15, 20, 35, 40, 50], 5, 15),
        ([15, 20, 35, 40, 50], 30, 20),
        ([15, 20, 35, 40, 50], 40, 20),
        ([15, 20, 35, 40, 50], 50, 35),
        ([15, 20, 35, 40, 50], 100, 50),
        (list(range(1, 11)), 50, 5),
        (list(range(1, 11)), 90, 9),
        (list(range(1, 11)), 95, 10),
        (list(range(1, 21)), 95, 19),
        ([3.5], 50, 3.5),
        ([9, 1, 5], 50, 5),  # unsorted input
    ],
)
def test_percentile_is_nearest_rank(values: list[float], p: float, expected: float) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize(("values", "p"), [([], 50), ([1.0], 0), ([1.0], 101)])
def test_percentile_refuses_nonsense(values: list[float], p: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, p)


def test_stage_times_sum_per_link_keys_and_total() -> None:
    assert stage_times(
        {"thread_check": 0.5, "scrape_1": 10, "scrape_2": 20, "notebook_1": 30, "post": 1}
    ) == {"thread_check": 0.5, "scrape": 30, "notebook": 30, "post": 1, "total": 61.5}
    assert stage_times({"scrape_12": 2, "my_stage_3": 1}) == {
        "scrape": 2,
        "my_stage": 1,
        "total": 3,
    }
    assert stage_times({}) == {}


def test_counts_per_window(db: Path) -> None:
    status = load_status(db, now=NOW, session_expires_at=EXPIRES)
    assert status.today == Counts(approved=1, review=0, skipped=1, pending=1)
    assert status.week == Counts(approved=2, review=1, skipped=1, pending=1)
    assert status.month == Counts(approved=3, review=1, skipped=1, pending=2)
    assert (status.today.memos, status.week.memos, status.month.memos) == (3, 5, 7)
    assert status.today.success_rate == 1.0
    assert status.week.success_rate == pytest.approx(2 / 3)
    assert status.month.success_rate == 0.75
    assert Counts().success_rate is None
    assert Counts(skipped=2, pending=1).success_rate is None


def test_today_starts_at_midnight_in_the_time_zone_of_now(db: Path) -> None:
    records = read_records(db)
    at_utc = build_status(records, now=NOW.astimezone(UTC))
    assert at_utc.today == Counts(approved=2, skipped=1, pending=1)  # m2 is "today" in UTC
    just_after = build_status(records, now=NOW.replace(hour=0, minute=0, second=31))
    assert just_after.today == Counts(skipped=1)  # m4 at 00:00:30 counts, m2 at 23:59:30 not


def test_memos_after_now_are_not_counted(db: Path) -> None:
    earlier = build_status(read_records(db), now=NOW - timedelta(hours=1, seconds=1))
    assert earlier.today == Counts(skipped=1, pending=1)  # m1 (08:00) not seen yet
    assert [r.ts for r in earlier.pending] == ["1709647200.000600", "1710504000.000500"]


def test_naive_now_is_refused(db: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_status(read_records(db), now=datetime(2024, 3, 15, 9, 0))


def test_latency_per_stage_over_answered_memos_of_30_days(db: Path) -> None:
    # m1, m2, m3, m7 (m8 is older, m4 skipped, m5/m6 pending)
    assert load_status(db, now=NOW).latency == [
        Latency("thread_check", 4, 0.5, 2),  # 0.2 0.5 1 2
        Latency("scrape", 4, 8, 40),  # 5 8 30 40
        Latency("notebook", 3, 12, 30),  # 10 12 30
        Latency("post", 4, 1, 3),  # 0.8 1 2 3
        Latency("total", 4, 21, 61.5),  # 18 21 45 61.5
    ]


def test_lists_meta_and_session(db: Path) -> None:
    status = load_status(db, now=NOW, session_expires_at=EXPIRES)
    assert [r.permalink for r in status.pending] == [
        permalink("1709647200.000600"),
        permalink("1710504000.000500"),
    ]
    assert [r.permalink for r in status.failed] == [permalink("1710252000.000300")]
    assert status.last_cycle_at == NOW.timestamp() - 180
    assert status.session_expires_at == EXPIRES
    assert not status.empty


def test_render_text(db: Path) -> None:
    text = render_text(load_status(db, now=NOW, session_expires_at=EXPIRES))
    lines = text.splitlines()
    assert lines[0] == "CreditBot status at 2024-03-15 09:00 UTC-05:00"
    for line in [
        "                   today  7 days  30 days",
        "approved               1       2        3",
        "needs review           0       1        1",
        "skipped                1       1        1",
        "pending                1       1        2",
        "memos                  3       5        7",
        "success rate        100%     67%      75%",
        "  stage            memos      p50      p95",
        "  thread_check         4      0.5      2.0",
        "  total                4     21.0     61.5",
        "last cycle      2024-03-15 08:57 (3 min ago)",
        "Looker session  expires 2024-03-20 10:00 (in 5 d 1 h)",
        "Pending (2)",
        "  2024-03-15 07:00  retry       2 failed tries  " + permalink("1710504000.000500"),
        "      Looker timed out",
        "Failed in the last 30 days (1)",
        "      " + XSS,
    ]:
        assert line in lines
    assert "done, unrecorded" not in text
    assert lines.index("Pending (2)") < lines.index("Failed in the last 30 days (1)")


def test_render_text_of_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with frozen_store(path):
        pass
    text = render_text(load_status(path, now=NOW))
    assert "no memos yet" in text
    assert "last cycle      never recorded" in text
    assert "Looker session  expiry unknown" in text
    assert "Pending" not in text and "success rate" not in text


def test_render_text_odd_cases(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with frozen_store(path) as (store, clock):
        # state lost, reply found in the thread: done with no recorded outcome
        put(store, clock, "1.1", NOW - timedelta(hours=3), [(2, Status.DONE, {})])
        put(
            store,
            clock,
            "1.2",
            NOW - timedelta(hours=2),
            [
                (2, Status.RETRY, {"attempts": 1, "error": "line one\nline two\x1b[31m red"}),
            ],
        )
    status = load_status(path, now=NOW, session_expires_at=NOW.timestamp() - 7200)
    assert status.today == Counts(pending=1, unknown=1)
    assert status.today.success_rate is None
    text = render_text(status)
    assert "done, unrecorded       1       1        1" in text
    assert "success rate         n/a     n/a      n/a" in text
    assert "Looker session  expired 2024-03-15 07:00 (2 h ago)" in text
    assert "      line one line two [31m red" in text  # one line, no escape character
    assert "\x1b" not in text
    assert "1 failed tries" in text
