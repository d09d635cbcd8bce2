"""One sandbox desk for a scenario: local Slack, local Looker with SSO, the demo warehouse, a data
dir, the desk's environment and a stored session, plus what the bench reads back.

Everything the bench knows about the product's results comes from outside the product's code:
the threads in the local Slack, the summaries the product writes (`data/summaries/*.json`) and
the `transitions` journal of its state database, so the bench keeps working while the product's
internals change.
"""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from auth.store import SessionStore
from bench.launch import Worker, clean_environ
from sandbox.desk import demo_environ, dollars
from sandbox.looker import LookerSandbox
from sandbox.queries import DemoQuery, demo_queries, fraud_spend
from sandbox.slack import (
    ANALYST,
    BOT_ID,
    BOT_USER_ID,
    MEMO_CHANNEL_ID,
    SlackSandbox,
    slack_link,
)

# The demo queries a product notebook answers (the others are unrouted or broken on purpose).
ROUTABLE = ("verify_pumping", "verify_second", "psms_pumping")
FINAL = frozenset({"done", "failed", "skipped"})
# Long enough that no "your session expires soon" DM joins the measured work.
SESSION_TTL_SECONDS = 3 * 86400


def link_keys(memo_index: int, links: int) -> tuple[str, ...]:
    """The queries behind memo `memo_index`'s links: a rotation over the routable ones, so every
    group mixes Verify and PSMS notebooks in the same proportions."""
    return tuple(ROUTABLE[(memo_index + j) % len(ROUTABLE)] for j in range(links))


@dataclass(frozen=True)
class Route:
    product: str
    pattern: str
    notebook: Path


@dataclass(frozen=True)
class DeskConfig:
    """What the desk's TOML says about notebooks, read here rather than through the product's
    settings code, so that the floor runs exactly the notebook the desk configured."""

    routes: tuple[Route, ...]
    parameter: str
    parameters: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> DeskConfig:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        notebook = raw.get("notebook", {})
        routes = tuple(
            Route(p["name"], p["match"], (path.parent / p["notebook"]).resolve())
            for p in raw.get("products", [])
        )
        return cls(
            routes, notebook.get("parameter", "looker"), dict(notebook.get("parameters", {}))
        )

    def route(self, sql: str) -> Route | None:
        return next((r for r in self.routes if re.search(r.pattern, sql)), None)


@dataclass(frozen=True)
class Posted:
    ts: str
    keys: tuple[str, ...]
    urls: tuple[str, ...]

    @property
    def posted_at(self) -> float:
        """Slack's own clock: a message's ts is the epoch time it was stored."""
        return float(self.ts)


@dataclass
class MemoOutcome:
    """One memo as the world shows it after the worker: journal times, replies, timings."""

    ts: str
    keys: tuple[str, ...]
    posted_at: float
    seen_at: float | None = None
    final_at: float | None = None
    final_status: str | None = None
    reply_ts: str | None = None
    bot_replies: int = 0
    approved: bool | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def seen_to_done(self) -> float | None:
        if self.seen_at is None or self.final_at is None:
            return None
        return self.final_at - self.seen_at

    @property
    def seen_to_reply(self) -> float | None:
        if self.seen_at is None or self.reply_ts is None:
            return None
        return float(self.reply_ts) - self.seen_at

    @property
    def posted_to_reply(self) -> float | None:
        return None if self.reply_ts is None else float(self.reply_ts) - self.posted_at

    @property
    def posted_to_seen(self) -> float | None:
        return None if self.seen_at is None else self.seen_at - self.posted_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "links": list(self.keys),
            "final_status": self.final_status,
            "approved": self.approved,
            "bot_replies": self.bot_replies,
            "seen_to_done_s": _round(self.seen_to_done),
            "seen_to_reply_s": _round(self.seen_to_reply),
            "posted_to_reply_s": _round(self.posted_to_reply),
            "posted_to_seen_s": _round(self.posted_to_seen),
            "timings": self.timings,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class BenchWorld:
    """Start with `with BenchWorld(root, warehouse) as world:`; each scenario gets its own."""

    def __init__(self, root: Path, warehouse: Path, *, sample_interval: float = 0.05) -> None:
        self.root = root
        self.warehouse = warehouse
        self.sample_interval = sample_interval
        self.data_dir = root / "data"
        self.slack = SlackSandbox()
        self.looker = LookerSandbox(viewer="editor", session_ttl_seconds=SESSION_TTL_SECONDS)
        self.env: dict[str, str] = {}
        self.storage_state: dict[str, Any] = {}
        self.config: DeskConfig | None = None
        self._queries = demo_queries()
        self._spend: dict[str, Decimal] = {}

    def __enter__(self) -> BenchWorld:
        self.root.mkdir(parents=True, exist_ok=True)
        self.slack.start()
        self.looker.start()
        self.env = demo_environ(self.slack, self.looker, self.data_dir, self.warehouse)
        self.config = DeskConfig.read(Path(self.env["CREDITBOT_CONFIG"]))
        self.sign_in()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.looker.stop()
        self.slack.stop()

    def sign_in(self) -> None:
        """Store a session as `login` would (tests/world.py does the same)."""
        self.storage_state = self.looker.storage_state()
        SessionStore(self.data_dir, looker_origin=self.looker.base_url).save(self.storage_state)

    def looker_settings(self) -> dict[str, Any]:
        return {
            "skin": self.looker.skin,
            "viewer": self.looker.viewer,
            "render_delay_ms": self.looker.render_delay_ms,
        }

    # --- the worker ------------------------------------------------------------------------

    def worker(self, *args: str, **extra_env: str) -> Worker:
        env = {**clean_environ(), **self.env, **extra_env}
        return Worker(list(args), env, self.root / "logs", sample_interval=self.sample_interval)

    def configure(self, **sections: dict[str, int]) -> None:
        """Set integer keys of the desk's TOML (`configure(notebook={"kernels": 4})`), in their
        table or a new one: a scenario measured as a target states it, whatever the cores."""
        path = Path(self.env["CREDITBOT_CONFIG"])
        text = path.read_text(encoding="utf-8")
        for section, values in sections.items():
            lines = "".join(f"{key} = {value}\n" for key, value in values.items())
            header = f"[{section}]\n"
            if header in text:
                text = text.replace(header, header + lines, 1)
            else:
                text = f"{text.rstrip()}\n\n{header}{lines}"
        path.write_text(text, encoding="utf-8")
        tomllib.loads(text)  # still TOML (a key set twice would not be)

    # --- memos -----------------------------------------------------------------------------

    def query(self, key: str) -> DemoQuery:
        return self._queries[key]

    def url_for(self, key: str) -> str:
        """A fresh explore link (its own qid) to the query `key`, as each memo has its own."""
        q = self._queries[key]
        return self.looker.explore_url(
            self.looker.add_query(q.sql, model=q.model, view=q.view, title=q.title)
        )

    def spend(self, key: str) -> Decimal:
        if key not in self._spend:
            self._spend[key] = fraud_spend(self._queries[key], self.warehouse)
        return self._spend[key]

    def post_memo(self, keys: tuple[str, ...]) -> Posted:
        """A person's memo with one labelled `Fraud spend:` link per query key."""
        urls = tuple(self.url_for(key) for key in keys)
        lines = [
            f"Fraud spend: {slack_link(url, dollars(self.spend(key)))}"
            for url, key in zip(urls, keys, strict=True)
        ]
        posted = self.slack.post(ANALYST, "SMS pumping memo\n" + "\n".join(lines))
        return Posted(posted["ts"], keys, urls)

    def bot_replies(self, ts: str) -> list[dict[str, Any]]:
        return [
            m
            for m in self.slack.thread(MEMO_CHANNEL_ID, ts)[1:]
            if m.get("bot_id") == BOT_ID or m.get("user") == BOT_USER_ID
        ]

    # --- what the product left -------------------------------------------------------------

    def journal(self) -> dict[str, list[tuple[float, str]]]:
        """The state database's transitions, per memo ts, in order ({} if not there yet)."""
        path = self.data_dir / "state.sqlite3"
        if not path.exists():
            return {}
        try:
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
            try:
                rows = db.execute(
                    "SELECT ts, at, status FROM transitions WHERE channel = ? ORDER BY at",
                    (MEMO_CHANNEL_ID,),
                ).fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return {}
        journal: dict[str, list[tuple[float, str]]] = {}
        for ts, at, status in rows:
            journal.setdefault(str(ts), []).append((float(at), str(status)))
        return journal

    def summary(self, ts: str) -> dict[str, Any] | None:
        path = self.data_dir / "summaries" / f"{MEMO_CHANNEL_ID}-{ts}.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def finished(self, ts: str, journal: dict[str, list[tuple[float, str]]] | None = None) -> bool:
        """Final in the journal; or, should the journal be unreadable, a summary is written."""
        entries = (self.journal() if journal is None else journal).get(ts)
        if entries:
            return entries[-1][1] in FINAL
        return self.summary(ts) is not None

    def outcome(
        self, posted: Posted, journal: dict[str, list[tuple[float, str]]] | None = None
    ) -> MemoOutcome:
        entries = (self.journal() if journal is None else journal).get(posted.ts, [])
        result = MemoOutcome(posted.ts, posted.keys, posted.posted_at)
        seen = [at for at, status in entries if status == "seen"]
        result.seen_at = seen[0] if seen else (entries[0][0] if entries else None)
        final = [(at, status) for at, status in entries if status in FINAL]
        if final:
            result.final_at, result.final_status = final[0]
        replies = self.bot_replies(posted.ts)
        result.bot_replies = len(replies)
        if replies:
            result.reply_ts = replies[0]["ts"]
            result.approved = (replies[0].get("text") or "").startswith("Approved,")
        summary = self.summary(posted.ts) or {}
        timings = summary.get("timings")
        result.timings = dict(timings) if isinstance(timings, dict) else {}
        return result

    def history_polls(self) -> int:
        """How many times a worker read the channel: one first-page history call per poll."""
        return sum(
            1
            for c in self.slack.calls_of("conversations.history")
            if not c.params.get("cursor") and c.params.get("channel") == MEMO_CHANNEL_ID
        )
