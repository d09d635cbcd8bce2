"""State databases for the ops tests, written by the real `StateStore` at chosen times.

`StateStore` stamps rows with `time.time()`; `frozen_store` points its clock at a `Clock` the
test moves, so created_at, updated_at and the journal hold exactly the instants a test names.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import state.store as store_module
from state.store import StateStore, Status

CHANNEL = "C0123ABCD"
TZ = timezone(timedelta(hours=-5))  # the desk's local time: not UTC, so day edges differ
NOW = datetime(2024, 3, 15, 9, 0, tzinfo=TZ)
XSS = "<script>alert(1)</script> & \"quoted\" 'too'"


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def time(self) -> float:
        return self.t


@contextmanager
def frozen_store(path: Path) -> Iterator[tuple[StateStore, Clock]]:
    clock = Clock()
    real = store_module.time
    store_module.time = clock  # type: ignore[assignment]
    store = StateStore(path)
    try:
        yield store, clock
    finally:
        store.close()
        store_module.time = real


def permalink(ts: str) -> str:
    return f"https://acme.slack.com/archives/{CHANNEL}/p{ts.replace('.', '')}"


def put(
    store: StateStore,
    clock: Clock,
    ts: str,
    at: datetime,
    steps: list[tuple[float, Status, dict[str, Any]]],
) -> None:
    """Add a memo at `at`, then each (seconds later, status, fields) transition."""
    clock.t = at.timestamp()
    store.add(CHANNEL, ts, {"links": []})
    memo = store.get(CHANNEL, ts)
    assert memo is not None
    memo = store.move(memo, memo.status, permalink=permalink(ts))
    for seconds, status, fields in steps:
        clock.t = at.timestamp() + seconds
        memo = store.move(memo, status, **fields)


def approved(total: str, timings: dict[str, float]) -> list[tuple[float, Status, dict[str, Any]]]:
    outcome = {"kind": "approved", "total": total, "text": f"Approved, ${total}, exceptions"}
    return [
        (1, Status.CLAIMED, {}),
        (50, Status.COMPUTED, {"outcome": outcome, "timings": timings}),
        (60, Status.POSTING, {"outcome": outcome, "timings": timings}),
        (62, Status.DONE, {}),
    ]


def failed(problems: list[str], timings: dict[str, float]) -> list[tuple[float, Status, dict]]:
    outcome = {"kind": "review", "text": "Needs manual review", "problems": problems}
    return [
        (1, Status.CLAIMED, {}),
        (50, Status.COMPUTED, {"outcome": outcome, "timings": timings}),
        (70, Status.FAILED, {"error": None}),
    ]


def seed(path: Path) -> Path:
    """The scenario the status and report tests count by hand (see test_ops_status.py)."""
    with frozen_store(path) as (store, clock):
        put(
            store,
            clock,
            "1710507600.000100",
            NOW - timedelta(hours=1),
            approved(
                "4948.80",
                {"thread_check": 0.5, "scrape_1": 10, "scrape_2": 20, "notebook_1": 30, "post": 1},
            ),
        )  # m1: today 08:00
        put(
            store,
            clock,
            "1710478770.000200",
            NOW.replace(hour=0) - timedelta(seconds=30),
            approved("100.00", {"thread_check": 1, "scrape_1": 5, "notebook_1": 10, "post": 2}),
        )
        # m2: yesterday 23:59:30 local, already today in UTC
        put(
            store,
            clock,
            "1710252000.000300",
            NOW - timedelta(days=3),
            failed([XSS], {"thread_check": 2, "scrape_1": 40, "post": 3}),
        )  # m3
        put(
            store,
            clock,
            "1710478830.000400",
            NOW.replace(hour=0) + timedelta(seconds=30),
            [(5, Status.SKIPPED, {})],
        )  # m4: today 00:00:30
        put(
            store,
            clock,
            "1710504000.000500",
            NOW - timedelta(hours=2),
            [
                (1, Status.CLAIMED, {}),
                (30, Status.RETRY, {"attempts": 2, "error": "Looker timed out", "error_kind": "t"}),
            ],
        )  # m5: pending, retrying
        put(
            store,
            clock,
            "1709647200.000600",
            NOW - timedelta(days=10),
            [
                (1, Status.CLAIMED, {}),
                (9, Status.NEEDS_LOGIN, {"error": "the Looker session expired"}),
            ],
        )  # m6: pending for 10 days
        put(
            store,
            clock,
            "1708783200.000700",
            NOW - timedelta(days=20),
            approved(
                "1204.55", {"thread_check": 0.2, "scrape_1": 8, "notebook_1": 12, "post": 0.8}
            ),
        )  # m7
        put(
            store,
            clock,
            "1706968800.000800",
            NOW - timedelta(days=40),
            approved("999.99", {"scrape_1": 999}),
        )  # m8: older than 30 days
        store.set_meta("last_cycle_at", f"{(NOW - timedelta(minutes=3)).timestamp():.0f}")
    return path


def busy(path: Path, now: datetime = NOW, days: int = 30, rng_seed: int = 7) -> Path:
    """A month of a desk's memos (1 to 5 a day), for looking at charts."""
    rng = random.Random(rng_seed)
    with frozen_store(path) as (store, clock):
        for day in range(days, -1, -1):
            for n in range(rng.randint(1, 5)):
                at = now - timedelta(days=day, hours=rng.uniform(0, 8))
                ts = f"{at.timestamp():.0f}.{day:03d}{n:03d}"
                timings = {
                    "thread_check": round(rng.uniform(0.2, 1.5), 3),
                    "scrape_1": round(rng.uniform(6, 25), 3),
                    "notebook_1": round(rng.uniform(8, 40), 3),
                    "post": round(rng.uniform(0.3, 2), 3),
                }
                roll = rng.random()
                if day == 0 and n == 0:
                    steps = [(1, Status.CLAIMED, {}), (9, Status.RETRY, {"error": XSS})]
                elif roll < 0.75:
                    steps = approved(f"{rng.uniform(50, 5000):.2f}", timings)
                elif roll < 0.9:
                    steps = failed([f"notebook error on link {n + 1}: {XSS}"], timings)
                else:
                    steps = [(2, Status.SKIPPED, {})]
                put(store, clock, ts, at, steps)
    return path
