"""The operator's commands over `ops/`: `status`, `report` and `cleanup`, and the daily
retention job of `run`.

`ops/` computes from the state database, opened read-only, so these run beside a live worker
and never disturb it; this module adds what only the worker knows: the settings, the session
store (when the Looker session expires) and the pause.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from auth.store import SessionStore
from core.errors import CreditBotError, UsageError
from ops import retention
from ops.history import HistoryError, MemoRecord, read_records
from ops.report_html import render_report
from ops.stats import Latency
from ops.status import Counts, StatusReport, build_status, load_status, render_text
from worker.pause import paused_reason
from worker.settings import Settings

log = logging.getLogger(__name__)


def state_db(settings: Settings) -> Path:
    return settings.records_dir / "state.sqlite3"


# --- status -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    report: StatusReport
    paused: str | None  # why, or None
    database: Path
    database_found: bool
    session_stored: bool
    session_problem: str | None  # the store could not be read

    def text(self) -> str:
        """`ops.status.render_text`, with the pause first and what the worker adds after."""
        first, _, rest = render_text(self.report).partition("\n")
        pause = f"PAUSED: {self.paused}" if self.paused else "running (not paused)"
        lines = [first, "", f"worker          {pause}"]
        if not self.database_found:
            lines.append(f"state           no database yet at {self.database}")
        text = "\n".join(lines) + "\n" + rest
        notes = []
        if self.session_problem:
            notes.append(f"Looker session: {self.session_problem}")
        elif not self.session_stored:
            notes.append("Looker session: none stored; run `python main.py login`")
        if notes:
            text += "\n" + "\n".join(notes) + "\n"
        return text

    def as_json(self) -> dict[str, Any]:
        """Everything `text` says, for scripts: instants as ISO 8601 in the time zone of
        `now`, durations in seconds, rates as fractions."""
        r = self.report

        def iso(epoch: float | None) -> str | None:
            return (
                None if epoch is None else datetime.fromtimestamp(epoch, r.now.tzinfo).isoformat()
            )

        return {
            "now": r.now.isoformat(),
            "paused": self.paused is not None,
            "paused_reason": self.paused,
            "database": str(self.database),
            "database_found": self.database_found,
            "counts": {
                "today": _counts(r.today),
                "7_days": _counts(r.week),
                "30_days": _counts(r.month),
            },
            "processing_seconds": [_latency(x) for x in r.latency],
            "last_cycle_at": iso(r.last_cycle_at),
            "session": {
                "stored": self.session_stored,
                "expires_at": iso(r.session_expires_at),
                "problem": self.session_problem,
            },
            "pending": [_memo(m, iso) for m in r.pending],
            "failed": [_memo(m, iso) for m in r.failed],
        }


def status(settings: Settings, *, now: datetime | None = None) -> Status:
    """The worker's status from its state database (read-only) and its session store."""
    now = now or datetime.now().astimezone()
    expires_at, stored, problem = _session(settings)
    db = state_db(settings)
    found = db.is_file()
    try:
        if found:
            report = load_status(db, now=now, session_expires_at=expires_at)
        else:
            report = build_status([], now=now, session_expires_at=expires_at)
    except HistoryError as exc:
        raise CreditBotError(str(exc)) from None
    return Status(report, paused_reason(settings), db, found, stored, problem)


def _session(settings: Settings) -> tuple[float | None, bool, str | None]:
    """(expires_at, stored, problem) from the session store, without opening a browser."""
    store = SessionStore(
        settings.data_dir,
        looker_origin=settings.looker_origin,
        allow_file_fallback=settings.session_file_fallback,
    )
    try:
        stored = store.load()
    except CreditBotError as exc:  # cannot be decrypted, key missing, fallback forbidden
        return None, store.path.exists(), str(exc)
    if stored is None:
        return None, False, None
    return stored.expires_at, True, None


def _counts(c: Counts) -> dict[str, Any]:
    return {
        "approved": c.approved,
        "needs_review": c.review,
        "skipped": c.skipped,
        "pending": c.pending,
        "done_unrecorded": c.unknown,
        "memos": c.memos,
        "success_rate": c.success_rate,
    }


def _latency(x: Latency) -> dict[str, Any]:
    return {"stage": x.stage, "memos": x.memos, "p50": x.p50, "p95": x.p95}


def _memo(m: MemoRecord, iso: Any) -> dict[str, Any]:
    return {
        "memo": m.key,
        "permalink": m.permalink,
        "status": str(m.status),
        "attempts": m.attempts,
        "first_seen": iso(m.created_at),
        "reason": m.reason,
    }


# --- report -----------------------------------------------------------------------------------


def write_report(
    settings: Settings, out: Path | None = None, *, now: datetime | None = None
) -> Path:
    """The static HTML report of the last 30 days, owner-only (0600); by default
    `<data dir>/reports/report-<date>.html` (a second report the same day replaces it)."""
    now = now or datetime.now().astimezone()
    db = state_db(settings)
    try:
        records = read_records(db) if db.is_file() else []
    except HistoryError as exc:
        raise CreditBotError(str(exc)) from None
    title = "CreditBot report" + (f": {settings.slack_channel}" if settings.slack_channel else "")
    html = render_report(records, now=now, title=title)
    if out is None:
        reports = settings.data_dir / "reports"
        reports.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = reports / f"report-{now:%Y-%m-%d}.html"
    elif out.is_dir():
        raise UsageError(f"--out {out} is a folder; name the file to write")
    _write_private(out, html.encode("utf-8"))
    return out


def _write_private(path: Path, data: bytes) -> None:
    """Owner-only from the first byte, replaced whole (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write the report to {path}: {exc.strerror or exc}") from None


# --- retention --------------------------------------------------------------------------------


def cleanup(
    settings: Settings,
    *,
    older_than_days: float | None = None,
    dry_run: bool = False,
    now: float | None = None,
) -> retention.CleanupResult:
    """Delete summaries, traces/screenshots and kept notebooks older than `older_than_days`
    (default: `[retention] days`); the state database, the session and the logs stay."""
    days = settings.retention_days if older_than_days is None else older_than_days
    if days < 0:
        raise UsageError(f"--older-than must not be negative, not {days:g}")
    return retention.cleanup(settings.data_dir, older_than_days=days, now=now, dry_run=dry_run)


def retention_job(settings: Settings) -> None:
    """The daily job of `run`: `cleanup` with the configured age, logged. It never raises: a
    folder it cannot clean is logged and left for the next day, and the worker goes on."""
    try:
        result = cleanup(settings)
    except Exception:  # a side job must not stop the worker
        log.exception("retention: cleanup of %s failed", settings.data_dir)
        return
    per_folder = ", ".join(
        f"{name} {folder.files}" for name, folder in result.folders.items() if folder.files
    )
    log.info(
        "retention: deleted %d file(s), %s bytes, older than %g days%s",
        result.files,
        f"{result.bytes:,}",
        settings.retention_days,
        f" ({per_folder})" if per_folder else "",
    )
    for error in result.errors:
        log.warning("retention: could not delete %s", error)
