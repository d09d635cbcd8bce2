"""CreditBot's times over the floor, computed from the scenarios' saved memos once the floors of
the whole run (start and end, pooled) are known."""

from __future__ import annotations

from typing import Any

from bench.floors import Floors
from bench.stats import ratio, stage_of, summary

# Which floor a stage is held against; stages not named here get no ratio.
STAGE_FLOORS = {"scrape": "page", "notebook": "notebook", "post": "post"}


def memo_floor_figures(memos: list[dict[str, Any]], floors: Floors) -> dict[str, Any]:
    """Per memo: its floor (slowest page load + slowest notebook of its links) and seen -> done
    over it; per stage instance: its time over the floor of the same work."""
    memo_floors = [floors.memo(tuple(m.get("links", []))) for m in memos]
    return {
        "floor": summary(memo_floors),
        "ratio_to_floor": summary(
            ratio(m.get("seen_to_done_s"), f) for m, f in zip(memos, memo_floors, strict=True)
        ),
        "stage_vs_floor": stage_ratios(memos, floors),
    }


def stage_ratios(memos: list[dict[str, Any]], floors: Floors) -> dict[str, dict[str, Any]]:
    """`scrape_2` over the page load of the memo's second link, `notebook_2` over its notebook,
    `post` over a bare chat.postMessage."""
    ratios: dict[str, list[float | None]] = {}
    for memo in memos:
        keys = tuple(memo.get("links", []))
        for key, value in (memo.get("timings") or {}).items():
            stage = stage_of(key)
            kind = STAGE_FLOORS.get(stage)
            if kind is None or not isinstance(value, int | float):
                continue
            ratios.setdefault(stage, []).append(
                ratio(float(value), stage_floor(floors, kind, key, keys))
            )
    return {stage: summary(values) for stage, values in ratios.items()}


def stage_floor(floors: Floors, kind: str, key: str, keys: tuple[str, ...]) -> float | None:
    """The floor of one stage instance; a per-link stage is matched to its link by number."""
    if kind == "post":
        return floors.post_floor()
    suffix = key.rsplit("_", 1)[-1]
    if not suffix.isdigit() or not 1 <= int(suffix) <= len(keys):
        return None
    link = keys[int(suffix) - 1]
    return floors.page_floor(link) if kind == "page" else floors.notebook_floor(link)


def slowest_link_floor(six: dict[str, Any], floors: Floors) -> float | None:
    """The floor of the slowest link among all the links a six-link run had."""
    keys = {k for run in six.get("runs", []) for k in run.get("link_keys", [])}
    values = [floors.link(k) for k in keys]
    known = [v for v in values if v is not None]
    return max(known) if known and len(known) == len(values) else None
