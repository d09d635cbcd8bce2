"""The desk of the demo: the settings and the TOML a desk would write, pointed at the local
Slack, Looker and warehouse, and three sample memos as the desk gets them.

Used by `python main.py demo`, by `python -m sandbox`, and by the tests' world.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from sandbox.looker import LookerSandbox
from sandbox.queries import demo_queries, fraud_spend
from sandbox.slack import ANALYST, BOT_TOKEN, MEMO_CHANNEL_NAME, SlackSandbox, slack_link
from sandbox.warehouse import warehouse_url

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def dollars(amount: Decimal) -> str:
    """A fraud-spend label as memos carry it: `$4,948.80`."""
    return f"${amount:,.2f}"


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
        return url, dollars(fraud_spend(q, warehouse))

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
