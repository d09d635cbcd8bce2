"""Read-only records of the state database, for reports that must never disturb the worker.

The database is opened with SQLite's `mode=ro`, so a report can run beside a live worker and can
neither write nor create a file: a missing database is an error, not a new empty one. (In WAL
mode SQLite itself may leave its empty `-wal`/`-shm` companion files; the database is unchanged.)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from state.store import FINAL, Status


class HistoryError(Exception):
    """The state database cannot be read (missing, not a database, not CreditBot's)."""


@dataclass(frozen=True)
class MemoRecord:
    """One memo as reports see it: no message body, no SQL, only what a person acts on."""

    channel: str
    ts: str
    permalink: str | None
    status: Status
    attempts: int
    error: str | None
    error_kind: str | None
    outcome_kind: str | None  # "approved" | "review" | None (not decided yet)
    total: Decimal | None  # the approved credit
    problems: tuple[str, ...]  # why a person must look (review outcomes)
    timings: dict[str, float]
    created_at: float  # epoch seconds
    updated_at: float
    final_at: float | None  # first move to done/failed/skipped in the journal

    @property
    def key(self) -> str:
        return f"{self.channel}/{self.ts}"

    @property
    def reason(self) -> str | None:
        """Why the memo is not approved: the last error, else the review note's problems.
        (A failed memo's `error` is cleared once its note is posted; the problems remain.)"""
        return self.error or ("; ".join(self.problems) if self.problems else None)


RECORDS = f"""
SELECT m.*, f.final_at
FROM memos AS m
LEFT JOIN (
    SELECT channel, ts, MIN(at) AS final_at FROM transitions
    WHERE status IN ({", ".join("?" for _ in FINAL)}) GROUP BY channel, ts
) AS f ON f.channel = m.channel AND f.ts = m.ts
ORDER BY m.created_at, m.channel, m.ts
"""


def read_records(db_path: Path) -> list[MemoRecord]:
    """Every memo, oldest first."""
    with _connect(db_path) as db:
        rows = _query(db, db_path, RECORDS, tuple(str(s) for s in FINAL))
    return [_record(row) for row in rows]


def read_meta(db_path: Path, key: str) -> str | None:
    """One value of the `meta` table (watermarks, alert marks, `last_cycle_at`), or None."""
    with _connect(db_path) as db:
        rows = _query(db, db_path, "SELECT value FROM meta WHERE key = ?", (key,))
    return rows[0]["value"] if rows else None


@contextmanager
def _connect(db_path: Path) -> Iterator[sqlite3.Connection]:
    if not db_path.is_file():
        raise HistoryError(f"no CreditBot state database at {db_path}")
    uri = f"{db_path.resolve().as_uri()}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise HistoryError(f"cannot open the state database {db_path}: {exc}") from exc
    connection.row_factory = sqlite3.Row
    with closing(connection):
        yield connection


def _query(
    db: sqlite3.Connection, db_path: Path, sql: str, args: tuple[str, ...]
) -> list[sqlite3.Row]:
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError(f"{db_path} is not a readable CreditBot state database: {exc}") from exc


def _record(row: sqlite3.Row) -> MemoRecord:
    outcome: dict[str, Any] = json.loads(row["outcome"]) if row["outcome"] else {}
    return MemoRecord(
        channel=row["channel"],
        ts=row["ts"],
        permalink=row["permalink"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        error=row["error"],
        error_kind=row["error_kind"],
        outcome_kind=outcome.get("kind"),
        total=_decimal(outcome.get("total")),
        problems=tuple(outcome.get("problems") or ()),
        timings={k: float(v) for k, v in json.loads(row["timings"] or "{}").items()},
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        final_at=row["final_at"],
    )


def _decimal(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
