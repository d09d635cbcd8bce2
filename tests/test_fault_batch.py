"""The proof: a batch of memos driven through the sandbox while Slack, Looker, the notebooks and
the process itself fail, until every memo is settled. Prints one line:
memos, answered, duplicates, lost, wrong amounts. The last three must be 0."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from decimal import Decimal

import pytest

from bot.reply import money
from sandbox.slack import ANALYST, slack_link
from tests.world import World
from worker import commands

PRODUCT = {"verify_pumping": "Verify", "verify_second": "Verify", "psms_pumping": "PSMS"}


@dataclass
class Expected:
    ts: str
    total: Decimal | None  # None: a person must look ("Needs manual review")


def post_batch(world: World) -> list[Expected]:
    """Ten memos: single and multi-link, workflow posts, unrouted links, and two that must go
    to a person (a dashboard, a query whose notebook fails)."""
    batch: list[tuple[tuple[str, ...], bool]] = [
        (("verify_pumping",), False),
        (("psms_pumping",), False),
        (("verify_second", "psms_pumping"), True),
        (("verify_pumping", "unrouted"), False),
        (("verify_second",), True),
        (("psms_pumping", "verify_pumping"), False),
        (("verify_pumping",), False),
        (("verify_second",), False),
    ]
    expected = []
    for keys, by_workflow in batch:
        links, total = [], Decimal(0)
        for key in keys:
            url, query = world.query_url(key)
            links.append({"type": "link", "url": url, "text": money(world.spend(query))})
            if key in PRODUCT:
                total += world.credit(PRODUCT[key], query)
        if by_workflow:
            message = world.slack.workflow_post(
                "Credit memo",
                blocks=[
                    {
                        "type": "rich_text",
                        "elements": [{"type": "rich_text_section", "elements": links}],
                    }
                ],
            )
        else:
            text = "\n".join(f"Fraud spend: {slack_link(x['url'], x['text'])}" for x in links)
            message = world.slack.post(ANALYST, text)
        expected.append(Expected(message["ts"], total))
    dashboard = world.looker.dashboard_url(world.looker.add_dashboard())
    expected.append(Expected(world.slack.post(ANALYST, slack_link(dashboard))["ts"], None))
    broken = world.query_url("broken")[0]
    expected.append(Expected(world.slack.post(ANALYST, slack_link(broken))["ts"], None))
    return expected


def killed_run(world: World, failpoint: str) -> int:
    """`main.py once` in its own process, SIGKILLed by itself at `failpoint`."""
    return world.run("once", timeout=300, CREDITBOT_FAILPOINTS=failpoint).returncode


def test_a_batch_under_faults_is_answered_exactly_once(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = post_batch(world)

    # Cycle 1: the process dies after reading the second memo's SQL.
    assert killed_run(world, "after_scraped@2") == -signal.SIGKILL
    # Cycle 2: Slack rate-limits the poll, drops the response of a post, fails a thread read;
    # Looker fails twice and is slow once.
    world.slack.inject("conversations.history", "rate_limited", retry_after=1)
    world.slack.inject("chat.postMessage", "lost_response")
    world.slack.inject("conversations.replies", "server_error", count=2)
    world.looker.fail_next(2, 502)
    world.looker.slow_next(1, 1500)
    commands.once(world.settings)
    # Cycle 3: the process dies between Slack accepting a reply and the state recording it.
    assert killed_run(world, "after_slack_accepted") == -signal.SIGKILL
    # Cycle 4: the state database is lost; reactions and DMs fail on the way.
    for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
        (world.settings.data_dir / name).unlink(missing_ok=True)
    world.slack.inject("reactions.add", "server_error", count=3)
    world.slack.inject("chat.postMessage", "rate_limited", retry_after=1)
    commands.once(world.settings)
    # Cycle 5: the process dies just after claiming a memo.
    killed_run(world, "after_claimed")
    # Then plain cycles until nothing is left to do.
    for _ in range(4):
        report = commands.once(world.settings)
        if not report.memos:
            break

    answered = duplicates = lost = wrong = 0
    for memo in expected:
        replies = [m["text"] for m in world.bot_replies(memo.ts)]
        if len(replies) > 1:
            duplicates += 1
        if not replies:
            lost += 1
            continue
        reply = replies[0]
        if memo.total is None:
            wrong += reply.startswith("Approved")
            answered += reply.startswith("Needs manual review")
        else:
            amount = re.fullmatch(r"Approved, \$([0-9,]+\.[0-9]{2}), exceptions", reply)
            if amount and Decimal(amount.group(1).replace(",", "")) == memo.total:
                answered += 1
            else:
                wrong += 1
    with capsys.disabled():
        print(
            f"\nfault batch: memos={len(expected)} answered={answered} "
            f"duplicates={duplicates} lost={lost} wrong_amounts={wrong}"
        )
    assert (duplicates, lost, wrong) == (0, 0, 0)
    assert answered == len(expected)
    review_dms = [d for d in world.slack.dms(ANALYST) if "could not answer" in d["text"]]
    assert len(review_dms) == 2, "one DM per memo that needs a person"
