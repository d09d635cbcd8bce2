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

from bot.reply import money
from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD, LookerSandbox
from sandbox.queries import demo_queries, fraud_spend
from sandbox.slack import (
    ANALYST,
    BOT_TOKEN,
    MEMO_CHANNEL_ID,
    MEMO_CHANNEL_NAME,
    SlackSandbox,
    slack_link,
)
from sandbox.warehouse import build_warehouse, warehouse_url
from scraper.pages.signin import SignInPage
from worker import commands
from worker.settings import NOTEBOOKS_DIR, load_settings


def demo_config(data_dir: Path, warehouse: Path) -> Path:
    """The TOML a desk would write, pointing the notebooks at the demo warehouse."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "creditbot.toml"
    path.write_text(
        f"""[notebook]
parameter = "looker"
result = "credit_amount"
timeout_seconds = 120

[notebook.parameters]
warehouse_url = {json.dumps(warehouse_url(warehouse))}

[[products]]
name = "Verify"
match = "(?i)authy"
notebook = {json.dumps(str(NOTEBOOKS_DIR / "verify_credit_recommendation.ipynb"))}

[[products]]
name = "PSMS"
match = "(?i)programmable[ _]?sms|psms"
notebook = {json.dumps(str(NOTEBOOKS_DIR / "psms_credit_recommendation.ipynb"))}

[reply]
template = "Approved, {{total}}, exceptions"
""",
        encoding="utf-8",
    )
    return path


def demo_environ(
    slack: SlackSandbox, looker: LookerSandbox, data_dir: Path, warehouse: Path
) -> dict[str, str]:
    """The environment a desk would set, pointed at the sandbox (also the tests' world)."""
    return {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_CHANNEL": f"#{MEMO_CHANNEL_NAME}",
        "SLACK_API_URL": slack.api_url,
        "SLACK_ALERT_USER": ANALYST,
        "LOOKER_BASE_URL": looker.base_url,
        "CREDITBOT_DATA_DIR": str(data_dir),
        "CREDITBOT_CONFIG": str(demo_config(data_dir, warehouse)),
    }


def post_sample_memos(slack: SlackSandbox, looker: LookerSandbox, warehouse: Path) -> list[str]:
    """Three memos as the desk gets them: a person's post with one Verify link, a workflow post
    whose Verify and PSMS links are only in blocks, and a dashboard link."""
    queries = demo_queries()

    def explore(key: str) -> tuple[str, str]:
        q = queries[key]
        url = looker.explore_url(looker.add_query(q.sql, model=q.model, view=q.view, title=q.title))
        return url, money(fraud_spend(q, warehouse))

    verify_url, verify_spend = explore("verify_pumping")
    second_url, second_spend = explore("verify_second")
    psms_url, psms_spend = explore("psms_pumping")
    dashboard_url = looker.dashboard_url(looker.add_dashboard())
    first = slack.post(
        ANALYST,
        "*SMS pumping memo*: ACME Corp, Authy Verify to high-risk countries\n"
        f"Fraud spend: {slack_link(verify_url, verify_spend)}\n"
        "Recommendation: credit the pumped traffic",
    )
    second = slack.workflow_post(
        "New credit memo submitted via workflow",
        blocks=[
            {
                "type": "rich_text",
                "block_id": "memo",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Fraud spend (Verify): "},
                            {"type": "link", "url": second_url, "text": second_spend},
                            {"type": "text", "text": "\nFraud spend (PSMS): "},
                            {"type": "link", "url": psms_url, "text": psms_spend},
                        ],
                    }
                ],
            }
        ],
    )
    third = slack.post(
        ANALYST, f"Memo for Globex: see the overview {slack_link(dashboard_url, 'dashboard')}"
    )
    return [first["ts"], second["ts"], third["ts"]]


def demo(out: Callable[[str], None] = print, *, skin: str = "accessible") -> int:
    """`skin` chooses how the local Looker draws its pages (see `sandbox.looker_skins`)."""
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="creditbot-demo-") as tmp,
        SlackSandbox() as slack,
        LookerSandbox(skin=skin, viewer="editor") as looker,
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
