"""A whole world for integration tests: local Slack, local Looker, demo warehouse, settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from auth.store import SessionStore
from bot.reply import money
from sandbox.desk import demo_environ
from sandbox.looker import LookerSandbox
from sandbox.queries import DemoQuery, demo_queries, fraud_spend
from sandbox.slack import ANALYST, MEMO_CHANNEL_ID, SlackSandbox, slack_link
from tests.credit_formula import expected_credit
from worker.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
# A person's shell may hold real settings; a test's process sees only the world's.
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CREDITBOT_"))}


@dataclass
class World:
    slack: SlackSandbox
    looker: LookerSandbox
    warehouse: Path
    settings: Settings
    env: dict[str, str]

    def sign_in(self) -> None:
        """Store a fresh Looker session, as `login` would."""
        store = SessionStore(self.settings.data_dir, looker_origin=self.settings.looker_origin)
        store.save(self.looker.storage_state())

    def query_url(self, key: str) -> tuple[str, DemoQuery]:
        query = demo_queries()[key]
        qid = self.looker.add_query(
            query.sql, model=query.model, view=query.view, title=query.title
        )
        return self.looker.explore_url(qid), query

    def spend(self, query: DemoQuery) -> Decimal:
        return fraud_spend(query, self.warehouse)

    def credit(self, product: str, query: DemoQuery) -> Decimal:
        return expected_credit(product, query.sql, self.warehouse)

    def memo(self, *keys: str, label: bool = True, **post: Any) -> dict[str, Any]:
        """A person's memo with one `Fraud spend: <url|$X>` line per query key."""
        lines = []
        for key in keys:
            url, query = self.query_url(key)
            lines.append(
                f"Fraud spend: {slack_link(url, money(self.spend(query)) if label else None)}"
            )
        return self.slack.post(ANALYST, "SMS pumping memo\n" + "\n".join(lines), **post)

    def replies(self, ts: str) -> list[dict[str, Any]]:
        return self.slack.thread(MEMO_CHANNEL_ID, ts)[1:]

    def start(self, *args: str, **env: str) -> subprocess.Popen[str]:
        """`python main.py ARGS` in its own process with this world's settings, as cron runs it."""
        return subprocess.Popen(
            [sys.executable, "main.py", *args],
            cwd=REPO,
            env={**CLEAN_ENV, **self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def run(self, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
        """`start`, then wait for it to end."""
        process = self.start(*args, **env)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def bot_replies(self, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.replies(ts) if m.get("bot_id") == "B0CREDITBOT"]


TEST_CONFIG = """
[retry]              # retry on the very next cycle, give up after three
max_attempts = 3
backoff_seconds = 0
backoff_max_seconds = 0

[looker]
navigation_timeout_ms = 10000
element_timeout_ms = 5000
"""


def make_world(
    slack: SlackSandbox, looker: LookerSandbox, warehouse: Path, data_dir: Path, **overrides: Any
) -> World:
    """Settings as a desk would write them (environment plus TOML), so a `main.py` subprocess
    and an in-process cycle behave the same."""
    env = demo_environ(slack, looker, data_dir, warehouse)
    with Path(env["CREDITBOT_CONFIG"]).open("a", encoding="utf-8") as toml:
        toml.write(TEST_CONFIG)
    settings = load_settings(env, dotenv=None)
    for name, value in overrides.items():  # a dict for a policy replaces only those fields
        current = getattr(settings, name)
        settings = replace(
            settings, **{name: replace(current, **value) if isinstance(value, dict) else value}
        )
    return World(slack, looker, warehouse, settings, env)


@contextmanager
def signed_in_world(warehouse: Path, data_dir: Path, **overrides: Any) -> Iterator[World]:
    """A world with its own local Slack and Looker (for module-scoped fixtures) and a session
    that lasts days, so no "expires soon" DM mixes into the counts."""
    with (
        SlackSandbox() as slack,
        LookerSandbox(viewer="editor", render_delay_ms=30, session_ttl_seconds=3 * 86400) as looker,
    ):
        world = make_world(slack, looker, warehouse, data_dir, **overrides)
        world.sign_in()
        yield world
