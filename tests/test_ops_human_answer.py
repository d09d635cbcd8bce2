"""ops.human_answer: what a person answered in a memo thread, on real-looking replies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.memos import Identity
from ops.human_answer import HumanAnswer, find_human_answer

ME = Identity(user_id="UBOT00001", bot_id="BBOT00001")
TEMPLATE = "Approved, {total}, exceptions"
PARENT = {
    "ts": "1710000000.000100",
    "user": "UWORKFLOW",
    "text": "Fraud spend: <https://acme.cloud.looker.com/explore/r/v?qid=abc|$179.73>",
}
LOOKER = "https://acme.cloud.looker.com/explore/revenue/counters?qid=9TZ&amp;x=1"


def thread(*replies: dict[str, Any]) -> list[dict[str, Any]]:
    messages = [PARENT]
    for i, reply in enumerate(replies):
        messages.append(
            {"ts": f"1710000{i + 1:03d}.000200", "thread_ts": PARENT["ts"], "user": "UANA", **reply}
        )
    return messages


def answer_to(text: str, template: str = TEMPLATE) -> HumanAnswer | None:
    return find_human_answer(thread({"text": text}), ME, template)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("Approved, $4,948.80, exceptions", "4948.80"),
        ("approved $1,204.55 thanks", "1204.55"),
        ("Approved, 4948.8", "4948.80"),
        ("Approved, 4,948.80 exceptions", "4948.80"),
        ("Approved 4948.80", "4948.80"),
        ("APPROVED , $12", "12.00"),
        ("Approved, $ 310, exceptions", "310.00"),
        ("Approved — $99.5", "99.50"),
        ("Approved, $1,234,567.89, exceptions", "1234567.89"),
        ("*Approved, $4,948.80, exceptions*", "4948.80"),
        ("Approved, $4,948.80, exceptions (fraud spend was $5,000.00)", "4948.80"),
        ("Approved, $4,948.80 &amp; exceptions", "4948.80"),
        ("$310.00 approved", "310.00"),
        ("credit $95.50 &amp; close it", "95.50"),
        ("ok, $2,000 it is. <@UBOSS> fyi", "2000.00"),
        ("Approved, <https://acme.cloud.looker.com/x/abc|$179.73> checked, $150.00", "150.00"),
        ("&gt; Approved, $10.00\nno: $12.00 approved", "12.00"),
        ("approved, $0.005", "0.01"),  # to the cent, half up
    ],
)
def test_approvals_and_their_amounts(text: str, amount: str) -> None:
    answer = answer_to(text)
    assert answer is not None
    assert (answer.amount, answer.declined) == (Decimal(amount), False)
    assert answer.text == text and answer.ts == "1710000001.000200"


@pytest.mark.parametrize(
    "text",
    [
        "Denied",
        "denied, fraud spend $179.73 is not pumping",
        "Rejected: customer is on the allowlist",
        "Declined.",
        "*Declined* — see ticket",
    ],
)
def test_declines_have_no_amount(text: str) -> None:
    assert answer_to(text) == HumanAnswer(None, True, "1710000001.000200", text)


@pytest.mark.parametrize(
    "text",
    [
        "Approved, exceptions",  # the opening, but no figure
        "Approved for 3 links",  # a bare number that is not right after the opening
        "credit $150.00, fraud spend $179.73",  # two figures and no opening: not a guess
    ],
)
def test_answers_without_a_readable_amount(text: str) -> None:
    assert answer_to(text) == HumanAnswer(None, False, "1710000001.000200", text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "looking",
        "@here can someone look at this?",
        "Is the fraud spend really $179.73?",  # a question is not an answer
        f"fraud spend is <{LOOKER}|$179.73>",  # a link label quoted back
        "<https://acme.cloud.looker.com/x/abc|$4,948.80>",
        "&gt; Approved, $4,948.80, exceptions",  # someone quoting the template
        "Approvedly speaking, 400 is a lot",
        "Not approved yet, 4948.80 pending",
        "Deny-list check done",  # "Denied" must be the whole word
        "we approved 4948.80 last time",  # no opening at the start, no dollar sign
        "cost &lt;$5&gt;?",
        "$1,2345 typo",  # not a well-formed figure
        "<!here> <#C0123|credit> 1,204.55",
    ],
)
def test_replies_that_are_not_answers(text: str) -> None:
    assert answer_to(text) is None


def test_the_first_answer_by_a_person_wins_and_the_bot_is_ignored() -> None:
    messages = thread(
        {"text": "Approved, $1.00, exceptions", "user": ME.user_id},  # the bot by user id
        {"text": "Approved, $2.00, exceptions", "bot_id": ME.bot_id, "user": "UOTHER"},
        {"text": "Fraud spend $3.00", "bot_id": "BWORKFLOW", "subtype": "bot_message"},
        {"text": "Needs manual review: fraud spend $4.00", "user": ME.user_id},
        {"text": "who is on this?"},
        {"text": "approved, $5.00 thanks", "user": "UBOB"},
        {"text": "Denied", "user": "UCAROL"},
    )
    answer = find_human_answer(messages, ME, TEMPLATE)
    assert answer == HumanAnswer(Decimal("5.00"), False, "1710000006.000200", messages[6]["text"])


def test_the_parent_is_never_the_answer() -> None:
    parent = {**PARENT, "text": "Approved, $9.99, exceptions"}
    assert find_human_answer([parent], ME, TEMPLATE) is None
    assert find_human_answer([], ME, TEMPLATE) is None


def test_the_opening_follows_the_template() -> None:
    assert answer_to("OK'd: 4948.8", "OK'd: {total}") == HumanAnswer(
        Decimal("4948.80"), False, "1710000001.000200", "OK'd: 4948.8"
    )
    assert answer_to("Approved, 4948.8", "OK'd: {total}") is None  # no opening, no $
    # a template with no fixed opening: only dollar figures and declines count
    assert answer_to("4948.8", "{total} approved") is None
    answer = answer_to("$4,948.80 approved", "{total} approved")
    assert answer is not None and answer.amount == Decimal("4948.80")
