"""A corpus of memos, good and bad, each with the one outcome it must get, driven through real
cycles (local Slack and Looker, real Chromium, real kernels).

The corpus shares one world and two cycles (the second must change nothing); each case then
asserts its own memo: ignored (no reply, never recorded), approved with the exact credit, sent
to a person (one note, one DM), or skipped (no reply, recorded as skipped).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.reply import money
from sandbox.queries import demo_queries
from sandbox.slack import ANALYST, FRAUDOPS, MEMO_CHANNEL_ID, slack_link
from state.store import Memo, StateStore, Status
from tests.world import World, signed_in_world
from worker import commands

IGNORED, APPROVED, REVIEW, SKIPPED = "ignored", "approved", "review", "skipped"
MAX_LINKS = 2
UNSAFE_TABLES = ("counters_by_billable_item", "accounts")


@dataclass(frozen=True)
class Posted:
    ts: str
    total: Decimal | None = None  # the exact credit an approval must carry


@dataclass(frozen=True)
class Case:
    id: str
    post: Callable[[World], Posted]
    outcome: str
    note: str = ""  # a regular expression the review note must match
    after_first_cycle: Callable[[World, str], None] | None = None


def verify_link(world: World, **extra: str) -> tuple[str, str, Decimal]:
    """A fresh Looker link to the Verify demo query: url, its `$` label, its exact credit."""
    query = demo_queries()["verify_pumping"]
    qid = world.looker.add_query(query.sql, model=query.model, view=query.view)
    url = world.looker.explore_url(qid, **extra)
    return url, money(world.spend(query)), world.credit("Verify", query)


def text_memo(world: World, text: str, **post: Any) -> Posted:
    return Posted(world.slack.post(ANALYST, text, **post)["ts"])


def foreign_link(world: World, host_url: str) -> Posted:
    """A memo whose only link has the shape of a Looker link but is not on Looker's origin."""
    url, label, _ = verify_link(world)
    path = url.removeprefix(world.looker.base_url)
    return text_memo(world, f"Fraud spend: {slack_link(host_url + path, label)}")


def look_alike(world: World) -> Posted:
    port = world.looker.base_url.rsplit(":", 1)[1]
    return foreign_link(world, f"http://127.0.0.1.evil.io:{port}")


def same_link_twice(world: World) -> Posted:
    url, label, credit = verify_link(world)
    link = slack_link(url, label)
    message = world.slack.post(ANALYST, f"Fraud spend: {link}\nSame query again: {link}")
    return Posted(message["ts"], credit)


def over_the_cap(world: World) -> Posted:
    lines = [
        f"Fraud spend: {slack_link(world.query_url(key)[0])}"
        for key in ("verify_pumping", "verify_second", "psms_pumping")
    ]
    return text_memo(world, "\n".join(lines))


def very_long(world: World) -> Posted:
    url, label, credit = verify_link(world)
    filler = "Pumped traffic to premium numbers, day after day. " * 400  # ~20 000 chars
    text = f"{filler}\nFraud spend: {slack_link(url, label)}\n{filler}"
    assert len(text) > 40_000
    return Posted(world.slack.post(ANALYST, text)["ts"], credit)


def unicode_around(world: World) -> Posted:
    url, label, credit = verify_link(world)
    text = (
        "🚨 تنبيه احتيال — Pumping détecté à São Paulo, naïve café ☕ 日本語\n"
        f"💸 Fraud spend: {slack_link(url, label)} ✅ עברית\u200f"
    )
    return Posted(world.slack.post(ANALYST, text)["ts"], credit)


def escaped_ampersand(world: World) -> Posted:
    url, label, credit = verify_link(world, toggle="dat,sql")
    link = slack_link(url, label)
    assert "&amp;toggle=dat,sql" in link, "Slack escapes & in a link it stores"
    return Posted(world.slack.post(ANALYST, f"Fraud spend: {link}")["ts"], credit)


def escaped_ampersand_before_qid(world: World) -> Posted:
    """The qid after an escaped `&`: read without unescaping, the link would lose its qid."""
    url, label, credit = verify_link(world)
    base, qid = url.split("?qid=")
    link = slack_link(f"{base}?toggle=dat,sql&qid={qid}", label)
    assert "&amp;qid=" in link
    return Posted(world.slack.post(ANALYST, f"Fraud spend: {link}")["ts"], credit)


def short_link(world: World) -> Posted:
    query = demo_queries()["verify_pumping"]
    qid = world.looker.add_query(query.sql, model=query.model, view=query.view)
    url = world.looker.short_url(world.looker.add_short_link(qid))
    label = money(world.spend(query))
    message = world.slack.post(ANALYST, f"Fraud spend: {slack_link(url, label)}")
    return Posted(message["ts"], world.credit("Verify", query))


def attachment_only(world: World) -> Posted:
    url, label, credit = verify_link(world)
    message = world.slack.workflow_post(
        "New credit memo submitted via workflow",
        attachments=[{"fallback": "Credit memo", "text": f"Fraud spend: {slack_link(url, label)}"}],
    )
    return Posted(message["ts"], credit)


def verify_memo(world: World, **post: Any) -> Posted:
    url, label, credit = verify_link(world)
    return Posted(
        world.slack.post(ANALYST, f"Fraud spend: {slack_link(url, label)}", **post)["ts"], credit
    )


def edit_with_a_new_link(world: World, ts: str) -> None:
    extra = slack_link(world.query_url("verify_second")[0], "$1.00")
    world.slack.edit(MEMO_CHANNEL_ID, ts, f"(edited) Fraud spend revised: {extra}")


def deleted_before_the_cycle(world: World) -> Posted:
    posted = verify_memo(world)
    world.slack.delete(MEMO_CHANNEL_ID, posted.ts)
    return Posted(posted.ts)


def with_thread_reply(text: str) -> Callable[[World], Posted]:
    def post(world: World) -> Posted:
        posted = verify_memo(world)
        world.slack.post(FRAUDOPS, text, thread_ts=posted.ts)
        return posted

    return post


def older_than_lookback(world: World) -> Posted:
    return Posted(verify_memo(world, ts=f"{time.time() - 30 * 3600:.6f}").ts)


def unsafe_sql(sql: str) -> Callable[[World], Posted]:
    """A query that mentions Authy (so it routes to Verify) but is not one read-only SELECT."""

    def post(world: World) -> Posted:
        url = world.looker.explore_url(world.looker.add_query(sql))
        return text_memo(world, f"Fraud spend: {slack_link(url)}")

    return post


CASES = [
    Case(
        "no_link",
        lambda w: text_memo(w, "SMS pumping memo: fraud spend $412.00, link to follow"),
        IGNORED,
    ),
    Case(
        "non_looker_link",
        lambda w: foreign_link(w, "https://example.com"),
        IGNORED,
    ),
    Case("look_alike_host", look_alike, IGNORED),
    Case("malformed_port", lambda w: foreign_link(w, "http://127.0.0.1:99999"), IGNORED),
    Case("same_link_twice", same_link_twice, APPROVED),
    Case("over_the_link_cap", over_the_cap, REVIEW, note=rf"3 Looker links.*limit of {MAX_LINKS}"),
    Case("very_long_text", very_long, APPROVED),
    Case("unicode_around_the_link", unicode_around, APPROVED),
    Case("escaped_ampersand", escaped_ampersand, APPROVED),
    Case("escaped_ampersand_before_qid", escaped_ampersand_before_qid, APPROVED),
    Case("short_link", short_link, APPROVED),
    Case("workflow_attachment_only", attachment_only, APPROVED),
    Case("edited_after_answer", verify_memo, APPROVED, after_first_cycle=edit_with_a_new_link),
    Case("deleted_before_cycle", deleted_before_the_cycle, IGNORED),
    Case("answered_by_person", with_thread_reply("Approved, $10.00"), SKIPPED),
    Case("person_asks_a_question", with_thread_reply("can you check this?"), APPROVED),
    Case("older_than_lookback", older_than_lookback, IGNORED),
    Case(
        "delete_statement",
        unsafe_sql(
            "DELETE FROM counters_by_billable_item WHERE billable_item_id IN "
            "(SELECT billable_item_id FROM billable_items WHERE name LIKE 'Authy%')"
        ),
        REVIEW,
        note="DELETE statement, not a SELECT",
    ),
    Case(
        "select_then_drop",
        unsafe_sql("SELECT 'authy'; DROP TABLE accounts"),
        REVIEW,
        note="holds 2 statements, not one",
    ),
]


@dataclass
class CorpusRun:
    world: World
    posted: dict[str, Posted]
    rows_before: dict[str, int]
    posts_after_first: int
    posts_after_second: int

    def stored(self, ts: str) -> Memo | None:
        state = StateStore(self.world.settings.data_dir / "state.sqlite3")
        try:
            return state.get(MEMO_CHANNEL_ID, ts)
        finally:
            state.close()


def row_counts(warehouse: Path) -> dict[str, int]:
    db = sqlite3.connect(warehouse.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        return {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in UNSAFE_TABLES}
    finally:
        db.close()


@pytest.fixture(scope="module")
def corpus(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    """Every case posted in one channel, then two cycles (edits happen between them)."""
    with signed_in_world(
        warehouse, tmp_path_factory.mktemp("corpus") / "data", max_links_per_memo=MAX_LINKS
    ) as world:
        slack = world.slack
        posted = {case.id: case.post(world) for case in CASES}
        rows_before = row_counts(warehouse)
        commands.once(world.settings)
        first = len(slack.calls_of("chat.postMessage"))
        for case in CASES:
            if case.after_first_cycle:
                case.after_first_cycle(world, posted[case.id].ts)
        commands.once(world.settings)
        yield CorpusRun(world, posted, rows_before, first, len(slack.calls_of("chat.postMessage")))


def bot_texts(world: World, ts: str) -> list[str]:
    """The worker's replies under a memo ([] when the memo is gone from the channel)."""
    if all(m["ts"] != ts for m in world.slack.messages()):
        return []
    return [m["text"] for m in world.bot_replies(ts)]


def dms_about(world: World, ts: str) -> list[str]:
    """The alert DMs naming this memo (by its permalink)."""
    mark = f"/archives/{MEMO_CHANNEL_ID}/p{ts.replace('.', '')}"
    return [d["text"] for d in world.slack.dms(ANALYST) if mark in d["text"]]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_memo_gets_its_one_outcome(corpus: CorpusRun, case: Case) -> None:
    world, posted = corpus.world, corpus.posted[case.id]
    replies = bot_texts(world, posted.ts)
    stored = corpus.stored(posted.ts)
    dms = dms_about(world, posted.ts)
    if case.outcome == IGNORED:
        assert replies == [] and stored is None and dms == []
    elif case.outcome == APPROVED:
        assert posted.total is not None
        assert replies == [f"Approved, {money(posted.total)}, exceptions"]
        assert stored is not None and stored.status is Status.DONE and dms == []
    elif case.outcome == REVIEW:
        assert len(replies) == 1 and replies[0].startswith("Needs manual review"), replies
        assert re.search(case.note, replies[0]), replies[0]
        assert "$" not in replies[0]
        assert stored is not None and stored.status is Status.FAILED
        assert len(dms) == 1
    else:
        assert case.outcome == SKIPPED
        assert replies == [] and dms == []
        assert stored is not None and stored.status is Status.SKIPPED


def test_the_deleted_memo_left_no_trace(corpus: CorpusRun) -> None:
    ts = corpus.posted["deleted_before_cycle"].ts
    assert all(m["ts"] != ts for m in corpus.world.slack.messages())
    assert not [
        c
        for c in corpus.world.slack.calls_of("chat.postMessage")
        if c.params.get("thread_ts") == ts
    ]


def test_the_second_cycle_posts_nothing(corpus: CorpusRun) -> None:
    assert corpus.posts_after_second == corpus.posts_after_first


def test_one_dm_per_memo_sent_to_a_person_and_no_other(corpus: CorpusRun) -> None:
    reviews = [c for c in CASES if c.outcome == REVIEW]
    assert len(corpus.world.slack.dms(ANALYST)) == len(reviews)


def test_the_person_answer_stays_the_only_reply(corpus: CorpusRun) -> None:
    ts = corpus.posted["answered_by_person"].ts
    assert [m["text"] for m in corpus.world.replies(ts)] == ["Approved, $10.00"]


def test_the_link_cap_stops_before_any_scrape_or_notebook(corpus: CorpusRun) -> None:
    stored = corpus.stored(corpus.posted["over_the_link_cap"].ts)
    assert stored is not None
    qids = [re.search(r"qid=(\w+)", link["url"]).group(1) for link in stored.message["links"]]  # type: ignore[union-attr]
    assert len(qids) == 3
    assert not [r for r in corpus.world.looker.requests if any(q in r.path for q in qids)]
    assert not [k for k in stored.timings if k.startswith(("scrape_", "notebook_"))]


def test_unsafe_sql_never_reaches_the_warehouse(corpus: CorpusRun) -> None:
    assert row_counts(corpus.world.warehouse) == corpus.rows_before
    assert all(n > 0 for n in corpus.rows_before.values())
    for case in ("delete_statement", "select_then_drop"):
        stored = corpus.stored(corpus.posted[case].ts)
        assert stored is not None and stored.outcome is not None
        assert stored.outcome["links"][0]["error_kind"] == "unsafe_sql", "refused before any run"
        assert stored.outcome["links"][0]["kind"] == "explore"
    kept = list((corpus.world.settings.data_dir / "notebooks").glob("*.ipynb"))
    assert not [
        p
        for p in kept
        for c in ("delete_statement", "select_then_drop")
        if corpus.posted[c].ts in p.name
    ]


def test_a_person_answer_does_not_stop_the_worker_when_so_configured(world: World) -> None:
    posted = with_thread_reply("Approved, $10.00")(world)
    commands.once(replace(world.settings, skip_answered_by_person=False))
    assert posted.total is not None
    assert [m["text"] for m in world.bot_replies(posted.ts)] == [
        f"Approved, {money(posted.total)}, exceptions"
    ]


def test_a_memo_deleted_while_waiting_for_a_retry_is_skipped(world: World) -> None:
    posted = verify_memo(world)
    world.looker.fail_next(1, 500)
    commands.once(world.settings)
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    try:
        waiting = state.get(MEMO_CHANNEL_ID, posted.ts)
        assert waiting is not None and waiting.status is Status.RETRY
        world.slack.delete(MEMO_CHANNEL_ID, posted.ts)
        commands.once(world.settings)
        gone = state.get(MEMO_CHANNEL_ID, posted.ts)
    finally:
        state.close()
    assert gone is not None and gone.status is Status.SKIPPED
    assert not [c for c in world.slack.calls_of("chat.postMessage") if c.params.get("thread_ts")]
    assert world.slack.dms(ANALYST) == []
