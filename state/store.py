"""What the worker has seen and done, in SQLite, so that nothing is answered twice or lost.

Each memo moves through explicit states, and each transition is committed *before* the side
effect it guards (the scrape, the notebook, the Slack post), so a worker killed at any point
restarts knowing where it was. `posting` means "a reply may already be in the thread": the next
run looks there before posting anything.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any


class Status(StrEnum):
    SEEN = "seen"  # found in the channel, nothing done yet
    CLAIMED = "claimed"  # a worker started on it (thread checked, eyes added)
    SCRAPED = "scraped"  # SQL of every link read
    COMPUTED = "computed"  # notebooks ran; the outcome (approval or note) is decided
    POSTING = "posting"  # the reply is about to go out, or went out unrecorded
    DONE = "done"  # approved in the thread
    NEEDS_LOGIN = "needs_login"  # waiting for a new Looker session
    RETRY = "retry"  # transient failure; next try after next_try_at
    FAILED = "failed"  # permanent: noted in the thread and DMed to a person
    SKIPPED = "skipped"  # answered by a person, deleted, or older than the lookback


FINAL = (Status.DONE, Status.FAILED, Status.SKIPPED)
SCHEMA = """
CREATE TABLE IF NOT EXISTS memos (
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    permalink TEXT,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try_at REAL NOT NULL DEFAULT 0,
    error TEXT,
    error_kind TEXT,
    outcome TEXT,
    reply_ts TEXT,
    alerted INTEGER NOT NULL DEFAULT 0,
    timings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (channel, ts)
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    note TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Memo:
    channel: str
    ts: str
    permalink: str | None
    message: dict[str, Any]
    status: Status
    attempts: int
    next_try_at: float
    error: str | None
    error_kind: str | None
    outcome: dict[str, Any] | None
    reply_ts: str | None
    alerted: bool
    timings: dict[str, float]

    @property
    def key(self) -> str:
        return f"{self.channel}/{self.ts}"


class StateStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # --- memos ------------------------------------------------------------------------------

    def add(
        self, channel: str, ts: str, message: dict[str, Any], status: Status = Status.SEEN
    ) -> bool:
        """Record a memo the first time it is seen; False if it was already known."""
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO memos(channel, ts, message, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (channel, ts, json.dumps(message), str(status), now, now),
            )
            if cursor.rowcount:
                db.execute(
                    "INSERT INTO transitions(channel, ts, at, status) VALUES (?, ?, ?, ?)",
                    (channel, ts, now, str(status)),
                )
        return bool(cursor.rowcount)

    def get(self, channel: str, ts: str) -> Memo | None:
        row = self.db.execute(
            "SELECT * FROM memos WHERE channel = ? AND ts = ?", (channel, ts)
        ).fetchone()
        return _memo(row) if row else None

    def actionable(self, channel: str, now: float | None = None) -> list[Memo]:
        """Memos to work on this cycle, oldest first: everything not final whose time has come."""
        now = time.time() if now is None else now
        rows = self.db.execute(
            "SELECT * FROM memos WHERE channel = ? AND status NOT IN (?, ?, ?) "
            "AND next_try_at <= ?",
            (channel, *map(str, FINAL), now),
        ).fetchall()
        return sorted((_memo(r) for r in rows), key=lambda m: Decimal(m.ts))

    def all(self, channel: str | None = None) -> list[Memo]:
        query = "SELECT * FROM memos"
        args: tuple[str, ...] = ()
        if channel:
            query += " WHERE channel = ?"
            args = (channel,)
        rows = self.db.execute(query, args).fetchall()
        return sorted((_memo(r) for r in rows), key=lambda m: Decimal(m.ts))

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) AS n FROM memos GROUP BY status")
        return {r["status"]: r["n"] for r in rows}

    def move(self, memo: Memo, status: Status, note: str | None = None, **fields: Any) -> Memo:
        """Commit a transition (and any fields) before the side effect it announces."""
        now = time.time()
        columns = {"status": str(status), "updated_at": now}
        for name, value in fields.items():
            if name in ("outcome", "message", "timings"):
                value = json.dumps(value) if value is not None else None
            elif name == "alerted":
                value = int(bool(value))
            columns[name] = value
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._tx() as db:
            db.execute(
                f"UPDATE memos SET {assignments} WHERE channel = ? AND ts = ?",
                (*columns.values(), memo.channel, memo.ts),
            )
            db.execute(
                "INSERT INTO transitions(channel, ts, at, status, note) VALUES (?, ?, ?, ?, ?)",
                (memo.channel, memo.ts, now, str(status), note),
            )
        updated = self.get(memo.channel, memo.ts)
        assert updated is not None
        return updated

    def history(self, channel: str, ts: str) -> list[tuple[str, str | None]]:
        rows = self.db.execute(
            "SELECT status, note FROM transitions WHERE channel = ? AND ts = ? ORDER BY id",
            (channel, ts),
        )
        return [(r["status"], r["note"]) for r in rows]


def _memo(row: sqlite3.Row) -> Memo:
    return Memo(
        channel=row["channel"],
        ts=row["ts"],
        permalink=row["permalink"],
        message=json.loads(row["message"]),
        status=Status(row["status"]),
        attempts=row["attempts"],
        next_try_at=row["next_try_at"],
        error=row["error"],
        error_kind=row["error_kind"],
        outcome=json.loads(row["outcome"]) if row["outcome"] else None,
        reply_ts=row["reply_ts"],
        alerted=bool(row["alerted"]),
        timings=json.loads(row["timings"]),
    )
