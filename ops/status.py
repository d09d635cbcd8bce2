"""The numbers behind `python main.py status`: is the bot keeping up, and what needs a person.

Windows are by `created_at` (when the memo was first seen): "today" starts at midnight in the
time zone of `now` (pass the operator's local time); "7 days" and "30 days" are rolling windows
ending at `now`. Processing times cover memos CreditBot answered (done or failed) in the last
30 days, as nearest-rank percentiles (see `ops.stats`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from ops.history import MemoRecord, read_meta, read_records
from ops.stats import DAY, Group, Latency, answered, group_of, latencies, require_aware, since
from state.store import Status

LAST_CYCLE_KEY = "last_cycle_at"  # meta: epoch seconds of the last cycle, as text
MONTH = 30 * DAY


@dataclass(frozen=True)
class Counts:
    approved: int = 0
    review: int = 0
    skipped: int = 0
    pending: int = 0
    unknown: int = 0  # done, but what was posted was lost with the state

    @classmethod
    def of(cls, records: Iterable[MemoRecord]) -> Counts:
        groups = Counter(group_of(r) for r in records)
        return cls(**{str(g): groups[g] for g in Group})

    @property
    def memos(self) -> int:
        return self.approved + self.review + self.skipped + self.pending + self.unknown

    @property
    def success_rate(self) -> float | None:
        """approved / (approved + review); None when CreditBot decided nothing."""
        decided = self.approved + self.review
        return self.approved / decided if decided else None


@dataclass(frozen=True)
class StatusReport:
    now: datetime
    today: Counts
    week: Counts  # last 7 days
    month: Counts  # last 30 days
    latency: list[Latency]  # answered memos of the last 30 days
    last_cycle_at: float | None
    pending: list[MemoRecord]  # every memo not final, oldest first
    failed: list[MemoRecord]  # failed in the last 30 days, newest first
    session_expires_at: float | None

    @property
    def empty(self) -> bool:
        return self.month.memos == 0 and not self.pending


def load_status(
    db_path: Path, *, now: datetime, session_expires_at: float | None = None
) -> StatusReport:
    """The status of the worker whose state database is `db_path` (opened read-only)."""
    last_cycle = read_meta(db_path, LAST_CYCLE_KEY)
    return build_status(
        read_records(db_path),
        now=now,
        last_cycle_at=float(last_cycle) if last_cycle else None,
        session_expires_at=session_expires_at,
    )


def build_status(
    records: Sequence[MemoRecord],
    *,
    now: datetime,
    last_cycle_at: float | None = None,
    session_expires_at: float | None = None,
) -> StatusReport:
    end = require_aware(now).timestamp()
    seen = [r for r in records if r.created_at <= end]
    midnight = datetime.combine(now.date(), clock(0), tzinfo=now.tzinfo).timestamp()
    month = since(seen, end - MONTH)
    return StatusReport(
        now=now,
        today=Counts.of(since(seen, midnight)),
        week=Counts.of(since(seen, end - 7 * DAY)),
        month=Counts.of(month),
        latency=latencies(answered(month)),
        last_cycle_at=last_cycle_at,
        pending=[r for r in seen if group_of(r) is Group.PENDING],
        failed=sorted(
            (r for r in month if r.status == Status.FAILED),
            key=lambda r: r.created_at,
            reverse=True,
        ),
        session_expires_at=session_expires_at,
    )


def render_text(status: StatusReport) -> str:
    """The status for a terminal: counts, speed, then what needs a person."""
    lines = [f"CreditBot status at {status.now:%Y-%m-%d %H:%M %Z}", ""]
    if status.empty:
        lines.append("no memos yet (none seen in the last 30 days, none pending)")
    else:
        lines += _counts_table(status)
        lines += ["", *_latency_table(status.latency)]
    lines += [
        "",
        f"last cycle      {_moment(status.last_cycle_at, status.now, 'never recorded')}",
        f"Looker session  {_session(status.session_expires_at, status.now)}",
    ]
    lines += _memo_list(f"Pending ({len(status.pending)})", status.pending, status.now)
    lines += _memo_list(
        f"Failed in the last 30 days ({len(status.failed)})", status.failed, status.now
    )
    return "\n".join(lines) + "\n"


def _counts_table(status: StatusReport) -> list[str]:
    windows = (status.today, status.week, status.month)
    rows: list[tuple[str, list[str]]] = [
        ("approved", [str(c.approved) for c in windows]),
        ("needs review", [str(c.review) for c in windows]),
        ("skipped", [str(c.skipped) for c in windows]),
        ("pending", [str(c.pending) for c in windows]),
    ]
    if any(c.unknown for c in windows):
        rows.append(("done, unrecorded", [str(c.unknown) for c in windows]))
    rows += [
        ("memos", [str(c.memos) for c in windows]),
        ("success rate", [_percent(c.success_rate) for c in windows]),
    ]
    return [
        f"{'':<16}{'today':>8}{'7 days':>8}{'30 days':>9}",
        *(f"{label:<16}{a:>8}{b:>8}{c:>9}" for label, (a, b, c) in rows),
    ]


def _latency_table(latency: list[Latency]) -> list[str]:
    title = "processing time, memos answered in the last 30 days (seconds; nearest-rank)"
    if not latency:
        return [title, "  no answered memo with timings"]
    return [
        title,
        f"  {'stage':<16}{'memos':>6}{'p50':>9}{'p95':>9}",
        *(f"  {x.stage:<16}{x.memos:>6}{x.p50:>9.1f}{x.p95:>9.1f}" for x in latency),
    ]


def _memo_list(title: str, records: list[MemoRecord], now: datetime) -> list[str]:
    if not records:
        return []
    lines = ["", title]
    for r in records:
        tries = f"{r.attempts} failed tries" if r.attempts else ""
        where = r.permalink or r.key
        lines.append(f"  {_when(r.created_at, now)}  {r.status:<11} {tries:<15} {where}")
        if r.reason:
            lines.append(f"      {_one_line(r.reason)}")
    return lines


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"


def _when(epoch: float, now: datetime) -> str:
    return datetime.fromtimestamp(epoch, tz=now.tzinfo).strftime("%Y-%m-%d %H:%M")


def _moment(epoch: float | None, now: datetime, missing: str) -> str:
    if epoch is None:
        return missing
    return f"{_when(epoch, now)} ({_relative(epoch - now.timestamp())})"


def _session(expires_at: float | None, now: datetime) -> str:
    if expires_at is None:
        return "expiry unknown"
    verb = "expires" if expires_at > now.timestamp() else "expired"
    return f"{verb} {_moment(expires_at, now, '')}"


def _relative(seconds: float) -> str:
    """`in 2 d 3 h` / `5 min ago`: the two largest units are enough to act on."""
    left = abs(int(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if left >= size:
            parts.append(f"{left // size} {unit}")
            left %= size
    span = " ".join(parts[:2]) or "under 1 min"
    return f"in {span}" if seconds > 0 else f"{span} ago"


def _one_line(text: str, limit: int = 200) -> str:
    """An error fit for one terminal line: no control characters, no newlines, bounded."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def mark_cycle(state: Any, at: float | None = None) -> None:
    """Record that a cycle ran (paused or not): `status` shows it as "last cycle". `state` is a
    `state.store.StateStore` (anything with `set_meta`)."""
    state.set_meta(LAST_CYCLE_KEY, f"{time.time() if at is None else at:.0f}")
