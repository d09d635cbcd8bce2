"""The arithmetic the status command and the HTML report share, so both say the same numbers.

Percentiles use the nearest-rank method: the p-th percentile of n sorted values is the value at
rank ceil(p/100 * n) (1-based). It is always a time that was really measured, never interpolated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from ops.history import MemoRecord
from state.store import Status

STAGE_SUFFIX = re.compile(r"_\d+$")  # scrape_1, scrape_2 -> scrape (one key per link)
STAGE_ORDER = ("thread_check", "scrape", "notebook", "post")  # the cycle's order; others after
TOTAL = "total"
DAY = 86400.0


class Group(StrEnum):
    """What a memo amounts to for the desk."""

    APPROVED = "approved"  # done, with an approval posted
    REVIEW = "review"  # failed: a note asks a person to decide
    SKIPPED = "skipped"  # answered by a person, deleted, or too old
    PENDING = "pending"  # not final yet (including waiting for a login or a retry)
    UNKNOWN = "unknown"  # done, but the state lost what was posted (recovered from the thread)


def group_of(record: MemoRecord) -> Group:
    if record.status == Status.DONE:
        return Group.APPROVED if record.outcome_kind == "approved" else Group.UNKNOWN
    if record.status == Status.FAILED:
        return Group.REVIEW
    if record.status == Status.SKIPPED:
        return Group.SKIPPED
    return Group.PENDING


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (see the module docstring); needs at least one value."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    ordered = sorted(values)
    return ordered[math.ceil(p / 100 * len(ordered)) - 1]


def stage_times(timings: dict[str, float]) -> dict[str, float]:
    """A memo's seconds per stage (keys per link summed) plus their `total`."""
    stages: dict[str, float] = {}
    for key, seconds in timings.items():
        stage = STAGE_SUFFIX.sub("", key)
        stages[stage] = stages.get(stage, 0.0) + seconds
    if stages:
        stages[TOTAL] = sum(stages.values())
    return stages


@dataclass(frozen=True)
class Latency:
    stage: str
    memos: int  # how many memos had this stage
    p50: float
    p95: float


def latencies(records: Iterable[MemoRecord]) -> list[Latency]:
    """p50/p95 seconds per stage over the given memos, in the cycle's order, `total` last."""
    samples: dict[str, list[float]] = {}
    for record in records:
        for stage, seconds in stage_times(record.timings).items():
            samples.setdefault(stage, []).append(seconds)
    return [
        Latency(stage, len(values), percentile(values, 50), percentile(values, 95))
        for stage, values in sorted(samples.items(), key=lambda item: _stage_rank(item[0]))
    ]


def answered(records: Iterable[MemoRecord]) -> list[MemoRecord]:
    """Memos CreditBot carried to the end (approved or noted): the ones whose timings are whole."""
    return [r for r in records if r.status in (Status.DONE, Status.FAILED)]


def since(records: Iterable[MemoRecord], start: float) -> list[MemoRecord]:
    return [r for r in records if r.created_at >= start]


def local_day(epoch: float, now: datetime) -> date:
    """The calendar day of an instant in the time zone of `now` (the operator's)."""
    return datetime.fromtimestamp(epoch, tz=now.tzinfo).date()


def require_aware(now: datetime) -> datetime:
    """Day boundaries need a time zone; a naive `now` would silently mean the host's."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware, e.g. datetime.now().astimezone()")
    return now


def _stage_rank(stage: str) -> tuple[int, str]:
    if stage == TOTAL:
        return (len(STAGE_ORDER) + 1, stage)
    if stage in STAGE_ORDER:
        return (STAGE_ORDER.index(stage), stage)
    return (len(STAGE_ORDER), stage)
