"""The commands as a person runs them: `demo`, `scrape`, and `python -m sandbox`, each in its
own process."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page
from slack_sdk import WebClient

from bot.reply import money
from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD
from sandbox.queries import demo_queries
from sandbox.slack import BOT_TOKEN, MEMO_CHANNEL_ID
from tests.credit_formula import expected_credit
from tests.world import CLEAN_ENV, REPO, World


def test_demo_prints_approved_replies_with_amounts_recomputed_here(warehouse: Path) -> None:
    started = time.monotonic()
    demo = subprocess.run(
        [sys.executable, "main.py", "demo"],
        cwd=REPO,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert time.monotonic() - started < 60
    queries = demo_queries()
    single = expected_credit("Verify", queries["verify_pumping"].sql, warehouse)
    pair = expected_credit("Verify", queries["verify_second"].sql, warehouse) + expected_credit(
        "PSMS", queries["psms_pumping"].sql, warehouse
    )
    approvals = re.findall(r"↳ (Approved, \$[0-9,.]+, exceptions)", demo.stdout)
    assert approvals == [
        f"Approved, {money(single)}, exceptions",
        f"Approved, {money(pair)}, exceptions",
    ]
    assert "↳ Needs manual review" in demo.stdout and "dashboards" in demo.stdout
    assert "DM to the alert user" in demo.stdout
    assert re.search(r"stage timings \{'thread_check': [0-9.]+, 'scrape_1'", demo.stdout)
    assert pair > Decimal(0)


def test_scrape_prints_exactly_the_query(world: World) -> None:
    url, query = world.query_url("verify_pumping")
    short = world.looker.short_url(world.looker.add_short_link(url.rsplit("qid=", 1)[1]))
    scraped = world.run("scrape", short, timeout=120)
    assert scraped.returncode == 0, scraped.stderr
    assert scraped.stdout == query.sql + "\n"
    elsewhere = world.run("scrape", "https://example.com/explore/a/b?qid=1", timeout=60)
    assert elsewhere.returncode == 2 and "LOOKER_BASE_URL" in elsewhere.stderr


def test_python_m_sandbox_serves_slack_and_looker(page: Page, tmp_path: Path) -> None:
    served = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--slack-port",
            "0",
            "--looker-port",
            "0",
            "--idp-port",
            "0",
            "--warehouse",
            str(tmp_path / "w.sqlite"),
        ],
        cwd=REPO,
        env=CLEAN_ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert served.stdout is not None
        while not any(line.startswith("Point a run") for line in lines):
            line = served.stdout.readline()
            assert line, served.stderr.read() if served.stderr else "sandbox exited"
            lines.append(line)
        banner = "".join(lines)
        api_url = re.search(r"Slack Web API\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        looker_url = re.search(r"Looker\s+(http\S+)", banner).group(1)  # type: ignore[union-attr]
        assert BOT_TOKEN in banner and DEMO_EMAIL in banner

        client = WebClient(token=BOT_TOKEN, base_url=api_url)
        assert client.auth_test()["user_id"] == "U0CREDITBOT"
        memos = client.conversations_history(channel=MEMO_CHANNEL_ID)["messages"]
        assert len(memos) == 3
        memo_link = re.search(r"<(http[^|>]+/explore/[^|>]+)\|", memos[-1]["text"]).group(1)  # type: ignore[union-attr]

        page.goto(memo_link.replace("&amp;", "&"))
        page.get_by_label("Email").fill(DEMO_EMAIL)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("tab", name="SQL").click()
        assert "authy" in page.get_by_label("SQL query").inner_text().lower()
        assert page.url.startswith(looker_url)
    finally:
        served.terminate()
        served.wait(timeout=10)
