"""The operator's report: one static HTML file on how the bot did over the last 30 days.

Sections: headline numbers, memos per day, outcomes per day (stacked), processing time per stage
(p50/p95), credits approved per day, and a table of what needs a person (memos noted for review
and memos stuck pending). Days are calendar days in the time zone of `now`, by the day a memo
was first seen; percentiles are nearest-rank (`ops.stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from bot.reply import money
from ops.history import MemoRecord
from ops.htmlkit import (
    Column,
    Safe,
    Series,
    column_chart,
    dollars,
    join,
    legend,
    link,
    page,
    paragraph,
    section,
    table,
    tiles,
)
from ops.stats import Group, answered, group_of, latencies, local_day, require_aware, since

DAYS = 30
GROUP_COLORS = {
    Group.APPROVED: ("approved", "#2e7d32"),
    Group.REVIEW: ("needs review", "#c62828"),
    Group.SKIPPED: ("skipped", "#9e9e9e"),
    Group.PENDING: ("pending", "#f9a825"),
    Group.UNKNOWN: ("done, unrecorded", "#6a1b9a"),
}


def render_report(
    records: Sequence[MemoRecord],
    *,
    now: datetime,
    title: str,
    stuck_after: timedelta = timedelta(hours=1),
) -> str:
    """The whole page; `stuck_after` is how long a memo may stay pending before it is listed."""
    end = require_aware(now).timestamp()
    seen = [r for r in records if r.created_at <= end]
    days = [(now - timedelta(days=DAYS - 1 - i)).date() for i in range(DAYS)]
    window = since(seen, datetime.combine(days[0], time(0), tzinfo=now.tzinfo).timestamp())
    labels = [f"{d:%b} {d.day}" for d in days]
    per_day = {d: [r for r in window if local_day(r.created_at, now) == d] for d in days}
    body = [
        _headline(window),
        section(
            "Memos per day",
            column_chart(
                "Memos per day",
                labels,
                [Series("memos", [len(per_day[d]) for d in days], "#1565c0")],
                integer=True,
                label_every=5,
            ),
        ),
        _outcomes(days, labels, per_day),
        _latency(window),
        section(
            "Credits approved per day",
            column_chart(
                "Credits approved per day",
                labels,
                [Series("approved", [float(_credits(per_day[d])) for d in days], "#2e7d32")],
                fmt=dollars,
                label_every=5,
            ),
            note="Sum of the approved totals of the memos first seen that day.",
        ),
        _attention(seen, window, now, end - stuck_after.total_seconds()),
    ]
    first = days[0]
    subtitle = (
        f"Generated {now:%Y-%m-%d %H:%M %Z}; covering {first:%Y-%m-%d} to {now:%Y-%m-%d} "
        f"({DAYS} days, by the day each memo was first seen)."
    )
    return page(title, subtitle, body)


def _headline(window: list[MemoRecord]) -> Safe:
    groups = [group_of(r) for r in window]
    approved, review = groups.count(Group.APPROVED), groups.count(Group.REVIEW)
    rate = f"{approved / (approved + review):.0%}" if approved + review else "n/a"
    numbers = tiles(
        [
            ("memos", len(window)),
            ("approved", approved),
            ("needs review", review),
            ("skipped", groups.count(Group.SKIPPED)),
            ("pending", groups.count(Group.PENDING)),
            ("success rate", rate),
            ("credits approved", money(_credits(window))),
        ]
    )
    return numbers if window else join([numbers, paragraph("No memos in these 30 days yet.")])


def _outcomes(days: list[date], labels: list[str], per_day: dict[date, list[MemoRecord]]) -> Safe:
    counts = {g: [sum(1 for r in per_day[d] if group_of(r) is g) for d in days] for g in Group}
    series = [
        Series(name, counts[g], color)
        for g, (name, color) in GROUP_COLORS.items()
        if g is not Group.UNKNOWN or any(counts[g])
    ]
    chart = column_chart(
        "Outcomes per day", labels, series, stacked=True, integer=True, label_every=5
    )
    return section("Outcomes per day", legend(series), chart)


def _latency(window: list[MemoRecord]) -> Safe:
    rows = latencies(answered(window))
    note = "Seconds per stage, memos CreditBot answered (approved or noted); nearest-rank."
    if not rows:
        return section("Processing time per stage", paragraph("No answered memo with timings."))
    series = [
        Series("p50", [x.p50 for x in rows], "#1565c0"),
        Series("p95", [x.p95 for x in rows], "#90caf9"),
    ]
    chart = column_chart(
        "Processing time per stage",
        [f"{x.stage} ({x.memos})" for x in rows],
        series,
        fmt=lambda v: f"{v:.1f} s",
        show_values=True,
    )
    return section("Processing time per stage", legend(series), chart, note=note)


def _attention(
    seen: list[MemoRecord], window: list[MemoRecord], now: datetime, stuck_before: float
) -> Safe:
    failed = [r for r in window if group_of(r) is Group.REVIEW]
    stuck = [r for r in seen if group_of(r) is Group.PENDING and r.created_at <= stuck_before]
    listed = sorted(failed + stuck, key=lambda r: r.created_at, reverse=True)
    heading = "Needs a person"
    note = "Memos noted for manual review in the period, and memos still pending (stuck)."
    if not listed:
        return section(heading, paragraph("Nothing needs a person."), note=note)
    columns = [
        Column("first seen", "nowrap"),
        Column("status", "nowrap"),
        Column("tries failed", "num"),
        Column("memo", "wrap"),
        Column("error", "wrap"),
    ]
    rows = [
        (
            f"{datetime.fromtimestamp(r.created_at, tz=now.tzinfo):%Y-%m-%d %H:%M}",
            "needs review" if group_of(r) is Group.REVIEW else f"stuck: {r.status}",
            r.attempts,
            link(r.permalink, r.permalink or r.key),
            r.reason or "",
        )
        for r in listed
    ]
    return section(heading, table(columns, rows), note=note)


def _credits(records: list[MemoRecord]) -> Decimal:
    return sum(
        (r.total for r in records if group_of(r) is Group.APPROVED and r.total is not None),
        Decimal(0),
    )
