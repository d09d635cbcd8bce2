"""`python main.py demo`: the whole cycle against the built-in sandbox, with no credentials.

It starts the local Slack and the local Looker, signs in to the sandbox's SSO provider through the
same login code a person uses (filling the demo credentials itself), posts three sample memos,
runs one cycle and prints every thread, the DMs and the stage timings.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Page

from sandbox.desk import demo_environ, post_sample_memos
from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD, LookerSandbox
from sandbox.slack import (
    ANALYST,
    MEMO_CHANNEL_ID,
    MEMO_CHANNEL_NAME,
    SlackSandbox,
)
from sandbox.warehouse import build_warehouse
from scraper.pages.signin import SignInPage
from worker import commands
from worker.settings import load_settings


def demo(out: Callable[[str], None] = print, *, skin: str = "accessible") -> int:
    """`skin` chooses how the local Looker draws its pages (see `sandbox.looker_skins`)."""
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="creditbot-demo-") as tmp,
        SlackSandbox() as slack,
        # A week-long session: a warning that it expires today would only distract here.
        LookerSandbox(skin=skin, viewer="editor", session_ttl_seconds=7 * 86400) as looker,
    ):
        data_dir = Path(tmp)
        warehouse = build_warehouse(data_dir / "demo_warehouse.sqlite")
        settings = load_settings(demo_environ(slack, looker, data_dir, warehouse), dotenv=None)
        out(f"local Slack at {slack.api_url}, local Looker ({skin} skin) at {looker.base_url}")

        async def fill(page: Page) -> None:
            await SignInPage(page).sign_in(DEMO_EMAIL, DEMO_PASSWORD)

        _, where = commands.login(settings, timeout_seconds=60, headed=False, fill=fill)
        out(f"signed in through the sandbox SSO; session kept in {where}")
        memo_ts = post_sample_memos(slack, looker, warehouse)
        out(f"posted {len(memo_ts)} memos in #{MEMO_CHANNEL_NAME}; running one cycle\n")
        report = commands.once(settings)
        for ts in memo_ts:
            thread = slack.thread(MEMO_CHANNEL_ID, ts)
            out(f"── memo {ts}: {_first_line(thread[0])}")
            for reply in thread[1:]:
                out(f"   ↳ {reply.get('text')}")
        for dm in slack.dms(ANALYST):
            out(f"── DM to the alert user: {dm.get('text')}")
        out("")
        for memo in report.memos:
            timings = _timings(data_dir, memo.key)
            out(f"{memo.key}: {memo.status}; stage timings {timings}")
        out(report.line())
        out(f"demo finished in {time.monotonic() - started:.1f} s")
    return 0


def _first_line(message: dict[str, Any]) -> str:
    return (message.get("text") or "").splitlines()[0][:100] if message.get("text") else "(blocks)"


def _timings(data_dir: Path, key: str) -> dict[str, Any]:
    path = data_dir / "summaries" / f"{key.replace('/', '-')}.json"
    if path.exists():
        return json.loads(path.read_text())["timings"]
    return {}
