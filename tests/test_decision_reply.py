"""The sanity rule and the words posted: a doubtful credit must never read as approved."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.decision import LinkResult, check_credit, decide
from bot.memos import approval_opening
from bot.reply import approval_text, breakdown_blocks, money, review_text
from core.urls import LinkKind, LookerLink

TEMPLATE = "Approved, {total}, exceptions"
ORIGIN = "https://acme.cloud.looker.com"


def link(qid: str, spend: str | None = None) -> LookerLink:
    url = f"{ORIGIN}/explore/revenue/counters?qid={qid}"
    label = f"${spend}" if spend is not None else None
    return LookerLink(url, LinkKind.EXPLORE, label, Decimal(spend) if spend else None)


def routed(qid: str, credit: str, spend: str | None = None) -> LinkResult:
    return LinkResult(link(qid, spend), product="Verify", credit=Decimal(credit))


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        ("4948.8", "$4,948.80"),
        ("0", "$0.00"),
        ("0.00", "$0.00"),
        ("1234567.89", "$1,234,567.89"),
        ("179.73", "$179.73"),
        ("0.005", "$0.01"),
        ("0.015", "$0.02"),
        ("2.675", "$2.68"),
        ("0.004", "$0.00"),
        ("-12.5", "-$12.50"),
    ],
)
def test_money(amount: str, text: str) -> None:
    assert money(Decimal(amount)) == text


def test_approval_text_fills_the_template() -> None:
    assert approval_text(TEMPLATE, Decimal("4948.8")) == "Approved, $4,948.80, exceptions"
    assert approval_text("Credit {total} ok", Decimal("1")) == "Credit $1.00 ok"


def test_sum_of_routed_links() -> None:
    decision = decide([routed("a", "100.10", "179.73"), routed("b", "0.005")])
    assert decision.approved
    assert decision.total == Decimal("100.11")
    assert decision.problems == ()


def test_credit_equal_to_label_is_allowed() -> None:
    assert decide([routed("a", "179.73", "179.73")]).approved


@pytest.mark.parametrize(
    ("credit", "words"),
    [
        ("-0.01", "negative"),
        ("NaN", "not a number"),
        ("Infinity", "not a number"),
        ("-Infinity", "not a number"),
        ("179.74", "larger than the fraud spend 179.73"),
    ],
)
def test_sanity_failures_are_never_approved(credit: str, words: str) -> None:
    result = routed("a", credit, "179.73")
    decision = decide([result, routed("b", "1.00")])
    assert not decision.approved
    assert decision.total is None
    assert len(decision.problems) == 1
    assert result.link.url in decision.problems[0]
    assert words in decision.problems[0]
    assert result.problem is not None and words in result.problem


def test_missing_credit_is_not_a_number() -> None:
    result = LinkResult(link("a"), product="Verify", credit=None)
    decision = decide([result])
    assert not decision.approved
    assert "not a number" in decision.problems[0]


def test_no_label_only_checks_sign_and_number() -> None:
    assert check_credit(Decimal("1000000"), None) is None
    assert check_credit(Decimal("-1"), None) is not None
    assert check_credit(Decimal("NaN"), None) is not None
    assert decide([routed("a", "1000000")]).total == Decimal("1000000.00")


def test_unrouted_links_are_skipped_and_listed() -> None:
    skipped = LinkResult(link("psms", "50.00"), skipped="no product matched the query")
    decision = decide([routed("a", "10.00", "20.00"), skipped])
    assert decision.approved
    assert decision.total == Decimal("10.00")
    blocks = breakdown_blocks(approval_text(TEMPLATE, decision.total), [routed("a", "10"), skipped])
    lines = blocks[1]["text"]["text"]
    assert skipped.link.url in lines
    assert "skipped, no product matched the query" in lines
    assert "fraud spend $50.00" in lines


def test_no_routed_link_goes_to_review() -> None:
    skipped = LinkResult(link("psms"), skipped="no product matched the query")
    decision = decide([skipped])
    assert not decision.approved
    assert decision.problems == ("no link of this memo matched a product notebook",)
    assert not decide([]).approved


def test_a_link_problem_blocks_the_approval() -> None:
    broken = LinkResult(link("dash"), problem="a dashboard link is not supported")
    decision = decide([routed("a", "10.00", "20.00"), broken])
    assert not decision.approved
    assert decision.problems == (f"{broken.link.url}: a dashboard link is not supported",)


def test_breakdown_blocks_content() -> None:
    good = routed("a", "4948.8", "5000")
    unlabeled = routed("b", "1")
    broken = LinkResult(link("c", "3.00"), product="Verify", problem="the credit <x> & y")
    blocks = breakdown_blocks("Approved, $4,949.80, exceptions", [good, unlabeled, broken])
    assert [b["type"] for b in blocks] == ["section", "section", "context"]
    assert blocks[0]["text"] == {"type": "mrkdwn", "text": "Approved, $4,949.80, exceptions"}
    lines = blocks[1]["text"]["text"].splitlines()
    assert lines[0] == (
        f"• <{good.link.url}|explore link>: Verify, fraud spend $5,000.00, credit $4,948.80"
    )
    assert (
        lines[1]
        == f"• <{unlabeled.link.url}|explore link>: Verify, fraud spend no label, credit $1.00"
    )
    assert (
        lines[2]
        == f"• <{broken.link.url}|explore link>: needs review, the credit &lt;x&gt; &amp; y"
    )


def test_breakdown_escapes_headline_and_handles_no_links() -> None:
    blocks = breakdown_blocks("a <b> & c", [])
    assert blocks[0]["text"]["text"] == "a &lt;b&gt; &amp; c"
    assert blocks[1]["text"]["text"] == "no links"


def test_review_text_never_reads_as_approved() -> None:
    problems = ("https://x/explore/a/b?qid=1: the credit 200 is larger than the fraud spend 100",)
    text = review_text(problems)
    assert text.startswith("Needs manual review")
    assert problems[0] in text
    assert not text.lstrip().startswith(approval_opening(TEMPLATE))
    assert approval_opening(TEMPLATE) not in text
