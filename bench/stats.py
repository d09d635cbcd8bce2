"""Percentiles and stage grouping: the arithmetic of the report, kept free of I/O so the test
can check it on known data."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_INSTANCE = re.compile(r"_\d+$")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's
    default), so p50 of an even count is the midpoint; None for no data, never a made-up 0."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, not {q}")
    data = sorted(v for v in values if v is not None and not math.isnan(v))
    if not data:
        return None
    rank = (len(data) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return data[low] + (data[high] - data[low]) * (rank - low)


def summary(values: Iterable[float | None]) -> dict[str, Any]:
    """n, p50, p95, min, max and mean of the measured values (None entries are left out and
    counted as missing, so a lost measurement shows instead of shrinking the sample silently)."""
    raw = list(values)
    data = [float(v) for v in raw if v is not None and not math.isnan(float(v))]
    return {
        "n": len(data),
        "missing": len(raw) - len(data),
        "p50": percentile(data, 50),
        "p95": percentile(data, 95),
        "min": min(data) if data else None,
        "max": max(data) if data else None,
        "mean": sum(data) / len(data) if data else None,
    }


def stage_of(key: str) -> str:
    """`scrape_3` -> `scrape`, `thread_check` -> `thread_check`: the product numbers per-link
    stages, and the bench must not care how many links or which stages exist."""
    return _INSTANCE.sub("", key)


def group_stages(timings: Mapping[str, float]) -> dict[str, list[float]]:
    """One memo's timings grouped by stage name, instances in key order."""
    grouped: dict[str, list[float]] = {}
    for key, value in timings.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            grouped.setdefault(stage_of(key), []).append(float(value))
    return grouped


def stage_table(memos: Iterable[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """Per stage over many memos: `per_memo` sums the stage's instances within each memo (time a
    memo spent in it), `each` treats every instance as one sample (one link's scrape). Stages are
    listed in the order they first appear."""
    per_memo: dict[str, list[float]] = {}
    each: dict[str, list[float]] = {}
    for timings in memos:
        for stage, values in group_stages(timings).items():
            per_memo.setdefault(stage, []).append(sum(values))
            each.setdefault(stage, []).extend(values)
    return {
        stage: {"per_memo": summary(per_memo[stage]), "each": summary(each[stage])}
        for stage in per_memo
    }


def ratio(value: float | None, floor: float | None) -> float | None:
    """value / floor, or None when either is unknown or the floor is not positive."""
    if value is None or floor is None or floor <= 0:
        return None
    return value / floor
