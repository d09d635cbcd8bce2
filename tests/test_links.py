"""Links as Slack really sends them: escaped text, rich_text blocks, mrkdwn, legacy attachments.

Only links on the Looker origin (scheme, host and port) may ever be opened, so the look-alike and
other-port cases matter as much as finding every real link.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bot.links import extract_links, unescape
from core.urls import LinkKind, LookerLink, classify, dollar_amount

ORIGIN = "https://acme.cloud.looker.com"
EXPLORE = f"{ORIGIN}/explore/revenue/counters_by_billable_item?qid=9TZEymaiGzQzGLcFUsvjpR"
EXPLORE_2 = f"{ORIGIN}/explore/revenue/counters_by_billable_item?qid=abc&toggle=dat"


def urls(message: dict[str, Any], origin: str = ORIGIN) -> list[str]:
    return [link.url for link in extract_links(message, origin)[0]]


def test_text_link_with_dollar_label() -> None:
    message = {"type": "message", "text": f"Fraud spend: <{EXPLORE}|$179.73>"}
    links, foreign = extract_links(message, ORIGIN)
    assert links == [LookerLink(EXPLORE, LinkKind.EXPLORE, "$179.73", Decimal("179.73"))]
    assert foreign == []


def test_ampersand_escapes_inside_url_are_undone() -> None:
    escaped = EXPLORE_2.replace("&", "&amp;")
    message = {"text": f"Fraud spend: <{escaped}|$4,948.80> &amp; more &lt;see thread&gt;"}
    links, _ = extract_links(message, ORIGIN)
    assert [link.url for link in links] == [EXPLORE_2]
    assert links[0].fraud_spend == Decimal("4948.80")
    assert "&amp;" not in links[0].url


def test_label_escapes_are_undone() -> None:
    message = {"text": f"<{EXPLORE}|spend &lt;$5&gt; &amp; more>"}
    (link,), _ = extract_links(message, ORIGIN)
    assert link.label == "spend <$5> & more"
    assert link.fraud_spend is None


def test_bare_url_in_text() -> None:
    message = {"text": f"see {EXPLORE}. thanks"}
    links, _ = extract_links(message, ORIGIN)
    assert [(link.url, link.label) for link in links] == [(EXPLORE, None)]


def test_label_equal_to_url_is_no_label() -> None:
    message = {"text": f"<{EXPLORE}|{EXPLORE}>"}
    (link,), _ = extract_links(message, ORIGIN)
    assert link.label is None


def test_workflow_post_with_links_only_in_rich_text_blocks() -> None:
    message = {
        "type": "message",
        "subtype": "bot_message",
        "bot_id": "B0WORKFLOW",
        "text": "New SMS pumping memo",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": "x1",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [
                            {"type": "text", "text": "Fraud spend: "},
                            {"type": "link", "url": EXPLORE, "text": "$179.73"},
                            {"type": "text", "text": " and "},
                            {"type": "link", "url": f"{ORIGIN}/x/Sh0rtSlug"},
                        ],
                    }
                ],
            }
        ],
    }
    links, _ = extract_links(message, ORIGIN)
    assert [(link.url, link.kind, link.fraud_spend) for link in links] == [
        (EXPLORE, LinkKind.EXPLORE, Decimal("179.73")),
        (f"{ORIGIN}/x/Sh0rtSlug", LinkKind.SHORT, None),
    ]


def test_section_block_with_mrkdwn() -> None:
    escaped = EXPLORE_2.replace("&", "&amp;")
    message = {
        "text": "",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Spend* <{escaped}|$12.00>"}}
        ],
    }
    links, _ = extract_links(message, ORIGIN)
    assert [(link.url, link.fraud_spend) for link in links] == [(EXPLORE_2, Decimal("12.00"))]


def test_legacy_attachment_title_link_text_and_fields() -> None:
    look = f"{ORIGIN}/looks/42"
    short = f"{ORIGIN}/x/AbCdEf"
    message = {
        "text": "memo",
        "attachments": [
            {
                "title": "$10.50",
                "title_link": look,
                "text": f"also <{EXPLORE}|$1.00>",
                "fields": [{"title": "Spend", "value": f"<{short}|$2.00>", "short": True}],
            }
        ],
    }
    links, _ = extract_links(message, ORIGIN)
    assert [(link.url, link.kind, link.fraud_spend) for link in links] == [
        (look, LinkKind.LOOK, Decimal("10.50")),
        (EXPLORE, LinkKind.EXPLORE, Decimal("1.00")),
        (short, LinkKind.SHORT, Decimal("2.00")),
    ]


def test_same_link_twice_is_one_link_and_keeps_its_label() -> None:
    message = {
        "text": f"{EXPLORE} and again <{EXPLORE}|$179.73>",
        "blocks": [{"type": "rich_text", "elements": [{"type": "link", "url": EXPLORE}]}],
    }
    links, _ = extract_links(message, ORIGIN)
    assert len(links) == 1
    assert links[0].label == "$179.73"
    assert links[0].fraud_spend == Decimal("179.73")


def test_look_alike_host_is_foreign() -> None:
    evil = "https://acme.cloud.looker.com.evil.io/explore/revenue/x?qid=abc"
    message = {"text": f"<{evil}|$5.00> and <{EXPLORE}|$1.00>"}
    links, foreign = extract_links(message, ORIGIN)
    assert [link.url for link in links] == [EXPLORE]
    assert foreign == [evil]


def test_other_port_is_foreign() -> None:
    origin = "http://127.0.0.1:9001"
    mine = f"{origin}/explore/m/v?qid=q1"
    other = "http://127.0.0.1:9002/explore/m/v?qid=q1"
    links, foreign = extract_links({"text": f"<{mine}|$1.00> <{other}|$2.00>"}, origin)
    assert [link.url for link in links] == [mine]
    assert foreign == [other]


def test_http_is_not_https() -> None:
    plain = "http://acme.cloud.looker.com/explore/m/v?qid=q1"
    assert urls({"text": plain}) == []


def test_host_case_and_default_port_are_the_same_origin() -> None:
    url = "https://ACME.cloud.looker.com:443/explore/m/v?qid=q1"
    assert urls({"text": f"<{url}>"}) == [url]


def test_malformed_url_is_skipped_not_raised() -> None:
    bad = "https://acme.cloud.looker.com:99999/explore/m/v?qid=q1"
    links, foreign = extract_links({"text": f"<{bad}|$1.00> <{EXPLORE}|$2.00>"}, ORIGIN)
    assert [link.url for link in links] == [EXPLORE]
    assert bad in foreign


def test_unicode_text_around_links() -> None:
    message = {"text": f"Fraud spend 💸 für Kunde «ÄÖÜ»: <{EXPLORE}|$179.73> — ok ✅"}
    assert urls(message) == [EXPLORE]


def test_message_without_links() -> None:
    assert extract_links({"text": "hello", "blocks": [], "attachments": []}, ORIGIN) == ([], [])
    assert extract_links({}, ORIGIN) == ([], [])


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/explore/revenue/counters_by_billable_item?qid=abc", LinkKind.EXPLORE),
        ("/explore/revenue/counters?qid=abc&toggle=dat,vis", LinkKind.EXPLORE),
        ("/explore/revenue/counters?toggle=dat", LinkKind.UNSUPPORTED),
        ("/x/9TZEymaiGzQz", LinkKind.SHORT),
        ("/x/", LinkKind.UNSUPPORTED),
        ("/looks/123", LinkKind.LOOK),
        ("/looks/abc", LinkKind.UNSUPPORTED),
        ("/dashboards/7", LinkKind.UNSUPPORTED),
        ("/embed/dashboards/7", LinkKind.UNSUPPORTED),
        ("/", LinkKind.UNSUPPORTED),
    ],
)
def test_classify(path: str, kind: LinkKind) -> None:
    assert classify(ORIGIN + path) is kind


def test_dashboard_link_is_extracted_as_unsupported() -> None:
    (link,), _ = extract_links({"text": f"<{ORIGIN}/dashboards/7|$3.00>"}, ORIGIN)
    assert link.kind is LinkKind.UNSUPPORTED


@pytest.mark.parametrize(
    ("label", "amount"),
    [
        ("$179.73", Decimal("179.73")),
        ("$4,948.80", Decimal("4948.80")),
        (" $ 12 ", Decimal("12")),
        ("$0.5", Decimal("0.5")),
        ("$1,234,567.89", Decimal("1234567.89")),
        ("179.73", None),
        ("$-5.00", None),
        ("$1.234", None),
        ("about $5", None),
        ("Looker", None),
        ("", None),
        (None, None),
    ],
)
def test_dollar_amount(label: str | None, amount: Decimal | None) -> None:
    assert dollar_amount(label) == amount


def test_unescape_only_slacks_three_escapes() -> None:
    assert unescape("a&amp;b &lt;c&gt;") == "a&b <c>"
    assert unescape("?x=1&copy=2&amp;quot") == "?x=1&copy=2&quot"
    assert unescape("&amp;lt;") == "&lt;"


def test_link_round_trips_through_dict() -> None:
    link = LookerLink(EXPLORE, LinkKind.EXPLORE, "$179.73", Decimal("179.73"))
    assert LookerLink.from_dict(link.as_dict()) == link
    bare = LookerLink(EXPLORE, LinkKind.EXPLORE)
    assert LookerLink.from_dict(bare.as_dict()) == bare
