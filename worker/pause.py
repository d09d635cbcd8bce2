"""The desk's panic button: pause the bot without stopping it.

Two things pause it, either one enough:

- the mark `python main.py pause [--reason TEXT]` leaves in the state database's `meta` table
  (key `paused`: who, when and why, as JSON), cleared by `python main.py resume`. A running
  `run` sees it on its next cycle: no restart needed, nothing to edit;
- the setting `[worker] paused = true`, for a pause that must survive anything done to the
  database (a desk that restores it, a second machine), cleared only by editing the TOML file.

While paused, a cycle still reads the channel and records the memos it finds, but posts
nothing and opens no browser (`is_paused` is what the cycle asks); every start of `once` and
`run` says so, and so does `status`.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from core.errors import SetupError
from ops.history import HistoryError, read_meta
from state.store import StateStore
from worker.preflight import writable
from worker.settings import Settings

log = logging.getLogger(__name__)

PAUSED_KEY = "paused"


class Meta(Protocol):
    """Where the mark is read from: the worker's `StateStore`, or a read-only view of it."""

    def get_meta(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class PauseMark:
    by: str  # user@host of whoever paused it
    at: float  # epoch seconds
    reason: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> PauseMark | None:
        """The stored mark; one that cannot be read still pauses (it was meant to)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(str(data["by"]), float(data["at"]), data.get("reason") or None)
        except (ValueError, KeyError, TypeError):
            return cls("someone", 0.0, f"unreadable pause mark {text[:80]!r}")

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(self.at)) if self.at else "?"
        return f"paused by {self.by} at {when}" + (f": {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class Resumed:
    cleared: PauseMark | None  # the mark `resume` removed (None: there was none)
    still_paused: str | None  # the setting, which only an edit of the TOML file clears


def is_paused(settings: Settings, state: Meta) -> str | None:
    """Why the bot is paused (the setting and/or the mark), or None when it is not. The cycle
    asks this once per cycle, so a `pause` reaches a running `run` at its next cycle."""
    reasons = []
    if settings.paused:
        where = settings.config_path or "the TOML file"
        reasons.append(f"paused by the setting [worker] paused = true in {where}")
    mark = PauseMark.from_json(state.get_meta(PAUSED_KEY))
    if mark is not None:
        reasons.append(mark.describe())
    return "; ".join(reasons) or None


def pause(settings: Settings, reason: str | None = None, *, by: str | None = None) -> PauseMark:
    """Set the mark (replacing an earlier one). No lock: it is meant to reach a running worker."""
    mark = PauseMark(by or _who(), time.time(), (reason or "").strip() or None)
    with _state(settings) as state:
        state.set_meta(PAUSED_KEY, mark.to_json())
    return mark


def resume(settings: Settings) -> Resumed:
    """Clear the mark; `still_paused` says when the setting keeps the bot paused anyway."""
    with _state(settings) as state:
        cleared = PauseMark.from_json(state.get_meta(PAUSED_KEY))
        state.set_meta(PAUSED_KEY, None)
        still = is_paused(settings, state)
    return Resumed(cleared, still)


def paused_reason(settings: Settings) -> str | None:
    """`is_paused` for readers that must not write: the state database opened read-only (and
    not created when there is none yet)."""
    return is_paused(settings, ReadOnlyMeta(settings.data_dir / "state.sqlite3"))


def announce_pause(settings: Settings) -> str | None:
    """Said at every start of `once` and `run` while the bot is paused (a warning on stderr and
    in the log); returns the reason, or None when it is not paused."""
    reason = paused_reason(settings)
    if reason:
        log.warning(
            "CreditBot is PAUSED (%s): it reads the channel and records memos, but posts "
            "nothing and opens no browser. %s",
            reason,
            how_to_resume(settings),
        )
    return reason


def how_to_resume(settings: Settings) -> str:
    if settings.paused:
        where = settings.config_path or "the TOML file"
        return f"To resume, remove `paused = true` from [worker] in {where}."
    return "To resume: `python main.py resume`."


class ReadOnlyMeta:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def get_meta(self, key: str) -> str | None:
        if not self.db_path.is_file():
            return None  # no database yet: nothing has set a mark
        try:
            return read_meta(self.db_path, key)
        except HistoryError as exc:
            log.warning("could not read the pause mark: %s", exc)
            return None


@contextmanager
def _state(settings: Settings) -> Iterator[StateStore]:
    """The state database for one short write, closed after."""
    writable(settings.data_dir)
    path = settings.data_dir / "state.sqlite3"
    try:
        store = StateStore(path)
    except sqlite3.Error as exc:
        raise SetupError(
            f"the state database {path} cannot be opened ({exc})", setting="CREDITBOT_DATA_DIR"
        ) from None
    try:
        yield store
    finally:
        store.close()


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "someone"
    return f"{user}@{socket.gethostname()}"
