"""Full cycles against the local Slack and Looker, with real Chromium and real kernels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bot.reply import money
from core.errors import ChannelAccessError
from sandbox.slack import ANALYST, MEMO_CHANNEL_ID, slack_link
from state.store import StateStore, Status
from tests.world import World
from worker import commands


def approved(total: object) -> str:
    return f"Approved, {money(total)}, exceptions"  # type: ignore[arg-type]


def test_one_cycle_answers_each_memo_in_its_thread(world: World) -> None:
    single = world.memo("verify_pumping")
    second_url, second = world.query_url("verify_second")
    psms_url, psms = world.query_url("psms_pumping")
    workflow = world.slack.workflow_post(
        "New credit memo submitted via workflow",
        blocks=[
            {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Fraud spend: "},
                            {"type": "link", "url": second_url, "text": money(world.spend(second))},
                            {"type": "text", "text": " and "},
                            {"type": "link", "url": psms_url, "text": money(world.spend(psms))},
                        ],
                    }
                ],
            }
        ],
    )
    dashboard = world.looker.dashboard_url(world.looker.add_dashboard())
    world.slack.post(ANALYST, f"overview: {slack_link(dashboard, 'dashboard')}")
    dashboard_memo = world.slack.messages()[-1]
    world.slack.join("U0FRAUDOPS")

    report = commands.once(world.settings)

    verify = world.query_url("verify_pumping")[1]
    expected_single = world.credit("Verify", verify)
    expected_pair = world.credit("Verify", second) + world.credit("PSMS", psms)
    assert [m["text"] for m in world.bot_replies(single["ts"])] == [approved(expected_single)]
    assert [m["text"] for m in world.bot_replies(workflow["ts"])] == [approved(expected_pair)]
    note = world.bot_replies(dashboard_memo["ts"])
    assert len(note) == 1 and note[0]["text"].startswith("Needs manual review")
    assert dashboard in note[0]["text"]
    dms = world.slack.dms(ANALYST)
    assert len(dms) == 1 and dashboard in dms[0]["text"] and "sandbox.slack.com" in dms[0]["text"]
    reactions = {
        m["ts"]: {r["name"] for r in m.get("reactions", [])} for m in world.slack.messages()
    }
    assert reactions[single["ts"]] == {"white_check_mark"}
    assert reactions[dashboard_memo["ts"]] == {"x"}
    assert sorted(m.status for m in report.memos) == ["done", "done", "failed"]
    assert len(world.slack.calls_of("conversations.list")) >= 2, "#name resolved across pages"

    summary = json.loads(
        (
            world.settings.data_dir / "summaries" / f"{MEMO_CHANNEL_ID}-{single['ts']}.json"
        ).read_text()
    )
    link = summary["links"][0]
    assert link["product"] == "Verify" and link["credit"] == str(expected_single)
    assert {"mode", "traffic_share", "message_count", "fraud_cost", "block_rate", "credit"} <= set(
        link["summary_info"]
    )
    assert {"thread_check", "scrape_1", "notebook_1", "post"} <= set(summary["timings"])
    # Which way of reading the page worked, for a person checking a new Looker.
    assert "viewer: " in link["strategy"] and "codemirror5 model" in link["strategy"]
    # The summary carries the query's digest, never its text.
    sql = world.query_url("verify_pumping")[1].sql
    assert link["sql_sha256"] == hashlib.sha256(sql.encode()).hexdigest()
    longest = max(sql.splitlines(), key=len)
    assert not any(longest in text for text in strings_in(summary))


def strings_in(value: object) -> list[str]:
    """Every string inside a JSON value, decoded (so quotes in the SQL cannot hide a match)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [text for item in value for text in strings_in(item)]
    return []


def test_a_second_cycle_and_a_lost_database_answer_nothing_twice(world: World) -> None:
    memo = world.memo("verify_pumping")
    commands.once(world.settings)
    posts = len(world.slack.calls_of("chat.postMessage"))
    assert len(world.bot_replies(memo["ts"])) == 1

    commands.once(world.settings)
    (world.settings.data_dir / "state.sqlite3").unlink()
    report = commands.once(world.settings)

    assert len(world.bot_replies(memo["ts"])) == 1
    assert len(world.slack.calls_of("chat.postMessage")) == posts
    assert [(m.status, m.detail) for m in report.memos] == [
        ("done", "already answered by CreditBot")
    ]


def test_links_matching_no_product_are_skipped_and_listed(world: World) -> None:
    memo = world.memo("verify_pumping", "unrouted")
    commands.once(world.settings)
    reply = world.bot_replies(memo["ts"])[0]
    verify = world.query_url("verify_pumping")[1]
    assert reply["text"] == approved(world.credit("Verify", verify))
    breakdown = json.dumps(reply["blocks"])
    assert "skipped" in breakdown and "matches no product" in breakdown


def test_a_memo_with_only_unrouted_links_goes_to_a_person(world: World) -> None:
    memo = world.memo("unrouted")
    commands.once(world.settings)
    [reply] = world.bot_replies(memo["ts"])
    assert reply["text"].startswith("Needs manual review")
    assert "$" not in reply["text"]
    assert len(world.slack.dms(ANALYST)) == 1


def test_a_broken_query_names_the_notebook_cell(world: World) -> None:
    memo = world.memo("broken", label=False)
    commands.once(world.settings)
    [reply] = world.bot_replies(memo["ts"])
    assert "failed in cell" in reply["text"] and "Approved" not in reply["text"]
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    [stored] = state.all()
    assert stored.status is Status.FAILED and stored.alerted
    kept = list((world.settings.data_dir / "notebooks").glob("*.ipynb"))
    assert len(kept) == 1, "the failed run's executed notebook is kept for a person"
    [dm] = world.slack.dms(ANALYST)
    assert str(kept[0]) in dm["text"] and str(kept[0]) not in reply["text"]


def test_dry_run_posts_nothing_and_keeps_no_state(world: World) -> None:
    memo = world.memo("verify_pumping")
    report = commands.once(world.settings, dry_run=True)
    verify = world.query_url("verify_pumping")[1]
    assert [m.reply for m in report.memos] == [approved(world.credit("Verify", verify))]
    assert world.replies(memo["ts"]) == []
    assert not world.slack.calls_of("reactions.add")
    assert not (world.settings.data_dir / "state.sqlite3").exists()


def test_a_channel_without_the_bot_is_reported_with_the_invite(world: World) -> None:
    world.slack.set_member(MEMO_CHANNEL_ID, False)
    with pytest.raises(ChannelAccessError, match="/invite"):
        commands.once(world.settings)


def test_memos_older_than_the_lookback_are_left_alone(world: World, tmp_path: Path) -> None:
    import time

    old = world.memo("verify_pumping", ts=f"{time.time() - 30 * 3600:.6f}")
    report = commands.once(world.settings)
    assert report.memos == [] and world.replies(old["ts"]) == []
