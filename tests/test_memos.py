"""Which channel messages are memos, and what a thread says about who already answered.

Getting this wrong either answers a memo twice (the worker's own reply not recognised) or answers
one a person already decided, so each rule of design.md is checked on its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.memos import Identity, ThreadState, approval_opening, is_memo_candidate, read_thread

ME = Identity(user_id="U0CREDITBOT", bot_id="B0CREDITBOT")
TEMPLATE = "Approved, {total}, exceptions"
MEMO_TS = "1700000000.000100"


def memo(**extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": MEMO_TS, "user": "U0ANALYST", "text": "memo", **extra}


def reply(ts: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "ts": ts,
        "thread_ts": MEMO_TS,
        "user": "U0ANALYST",
        "text": text,
    } | (extra)


@pytest.mark.parametrize("subtype", [None, "bot_message", "file_share"])
def test_memo_subtypes_count(subtype: str | None) -> None:
    message = memo() if subtype is None else memo(subtype=subtype)
    assert is_memo_candidate(message, ME)


@pytest.mark.parametrize(
    "subtype",
    [
        "channel_join",
        "channel_topic",
        "thread_broadcast",
        "message_changed",
        "message_deleted",
        "tombstone",
    ],
)
def test_housekeeping_subtypes_do_not_count(subtype: str) -> None:
    assert not is_memo_candidate(memo(subtype=subtype), ME)


def test_workflow_post_without_user_counts() -> None:
    message = {"type": "message", "subtype": "bot_message", "bot_id": "B0WORKFLOW", "ts": MEMO_TS}
    assert is_memo_candidate(message, ME)


def test_thread_parent_counts_but_thread_reply_does_not() -> None:
    assert is_memo_candidate(memo(thread_ts=MEMO_TS, reply_count=2), ME)
    assert not is_memo_candidate(reply("1700000001.000200", "a reply"), ME)


def test_own_messages_are_not_memos() -> None:
    assert not is_memo_candidate(memo(user=ME.user_id), ME)
    own_bot = {"type": "message", "subtype": "bot_message", "bot_id": ME.bot_id, "ts": MEMO_TS}
    assert not is_memo_candidate(own_bot, ME)


def test_empty_bot_id_is_not_ours() -> None:
    me = Identity(user_id="U0CREDITBOT", bot_id="")
    message = {"type": "message", "subtype": "bot_message", "bot_id": "", "ts": MEMO_TS}
    assert not me.wrote(message)


def test_other_event_types_are_not_memos() -> None:
    assert not is_memo_candidate({"type": "reaction_added", "ts": MEMO_TS}, ME)


def test_approval_opening() -> None:
    assert approval_opening(TEMPLATE) == "Approved,"
    assert approval_opening("Credit approved: {total}") == "Credit approved:"
    assert approval_opening("{total}") == ""


def test_empty_thread_is_open() -> None:
    assert read_thread([memo()], MEMO_TS, ME, TEMPLATE) == ThreadState(None, None, False)


def test_own_reply_by_user_id() -> None:
    thread = [memo(), reply("1700000002.000000", "Approved, $1.00, exceptions", user=ME.user_id)]
    state = read_thread(thread, MEMO_TS, ME, TEMPLATE)
    assert state.own_reply_ts == "1700000002.000000"
    assert state.person_answer is None


def test_own_reply_by_bot_id() -> None:
    own = reply("1700000002.000000", "Needs manual review: x", bot_id=ME.bot_id)
    del own["user"]
    state = read_thread([memo(), own], MEMO_TS, ME, TEMPLATE)
    assert state.own_reply_ts == "1700000002.000000"


def test_own_reply_by_metadata_even_from_another_bot_identity() -> None:
    """A reinstalled app gets new IDs; the metadata still marks the reply as ours."""
    own = reply(
        "1700000002.000000",
        "Approved, $1.00, exceptions",
        user="U0NEWBOTUSER",
        bot_id="B0NEWBOT",
        metadata={"event_type": "creditbot_reply", "event_payload": {"memo_ts": MEMO_TS}},
    )
    state = read_thread([memo(), own], MEMO_TS, ME, TEMPLATE)
    assert state.own_reply_ts == "1700000002.000000"
    assert state.person_answer is None


def test_metadata_for_another_memo_is_not_ours() -> None:
    other = reply(
        "1700000002.000000",
        "a comment",
        metadata={"event_type": "creditbot_reply", "event_payload": {"memo_ts": "1.2"}},
    )
    assert read_thread([memo(), other], MEMO_TS, ME, TEMPLATE).own_reply_ts is None


def test_first_own_reply_is_reported() -> None:
    thread = [
        memo(),
        reply("1700000002.000000", "first", user=ME.user_id),
        reply("1700000003.000000", "second", user=ME.user_id),
    ]
    assert read_thread(thread, MEMO_TS, ME, TEMPLATE).own_reply_ts == "1700000002.000000"


@pytest.mark.parametrize(
    "text",
    [
        "Approved, $1.00",
        "Approved, $4,948.80, exceptions",
        "  Approved, $1.00",
        "Denied",
        "Denied - not pumping",
        "declined.",
        "REJECTED: duplicate",
    ],
)
def test_person_answer_counts(text: str) -> None:
    state = read_thread([memo(), reply("1700000002.000000", text)], MEMO_TS, ME, TEMPLATE)
    assert state.person_answer == text
    assert state.own_reply_ts is None


@pytest.mark.parametrize(
    "text",
    [
        "Approved?",
        "Should this be approved, $1.00?",
        "Is this denied?",
        "Deniedx",
        "cc <@U0BOSS> can you look",
        "https://acme.cloud.looker.com/x/abc",
        "",
    ],
)
def test_other_replies_do_not_count(text: str) -> None:
    state = read_thread([memo(), reply("1700000002.000000", text)], MEMO_TS, ME, TEMPLATE)
    assert state.person_answer is None


def test_parent_text_is_not_an_answer() -> None:
    parent = memo(text="Approved, $5.00 last week, please redo")
    assert read_thread([parent], MEMO_TS, ME, TEMPLATE).person_answer is None


def test_custom_template_opening() -> None:
    thread = [memo(), reply("1700000002.000000", "Credit approved: $3.00")]
    state = read_thread(thread, MEMO_TS, ME, "Credit approved: {total}")
    assert state.person_answer == "Credit approved: $3.00"
    state = read_thread(
        [memo(), reply("1700000002.000000", "Approved, $3")], MEMO_TS, ME, "Credit ok {total}"
    )
    assert state.person_answer is None


@pytest.mark.parametrize("subtype", ["tombstone", "message_deleted"])
def test_deleted_parent(subtype: str) -> None:
    parent = memo(subtype=subtype, text="This message was deleted.")
    thread = [parent, reply("1700000002.000000", "a question?")]
    assert read_thread(thread, MEMO_TS, ME, TEMPLATE).deleted


def test_missing_parent_is_deleted() -> None:
    assert read_thread([], MEMO_TS, ME, TEMPLATE).deleted
    assert not read_thread([memo()], MEMO_TS, ME, TEMPLATE).deleted
