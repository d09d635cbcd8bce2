"""ops.backtest_report: verdicts, summary, and the table, CSV, JSON and HTML read back."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ops.backtest_report import (
    BacktestRow,
    BacktestSummary,
    render_html,
    render_table,
    summarize,
    write_csv,
    write_json,
)

P = "https://acme.slack.com/archives/C0123ABCD/p"
XSS = '<script>alert(1)</script> & "no SQL"'
ROWS = [
    BacktestRow(P + "1", Decimal("4948.80"), Decimal("4948.80"), 2, ("Verify",)),
    BacktestRow(P + "2", Decimal("100.00"), Decimal("120.50"), 1, ("Verify", "PSMS")),
    BacktestRow(P + "3", Decimal("10.00"), Decimal("10.01"), 1, ("PSMS",)),  # within a cent
    BacktestRow(P + "4", None, None, 1, ()),  # declined, and the bot would not approve
    BacktestRow(P + "5", Decimal("10.00"), None, 1, (), XSS),
    BacktestRow(P + "6", None, Decimal("55.00"), 1, ("PSMS",)),  # declined, bot approves
    BacktestRow(P + "7", Decimal("1.00"), None, 3, (), XSS),
    BacktestRow(P + "8", Decimal("7.00"), None, 1, (), "dashboard link"),
]


def test_verdicts_and_differences() -> None:
    assert [r.verdict for r in ROWS] == [
        "agree",
        "disagree",
        "agree",
        "agree",
        "could not compute",
        "disagree",
        "could not compute",
        "could not compute",
    ]
    assert [r.difference for r in ROWS[:4]] == [
        Decimal("0.00"),
        Decimal("20.50"),
        Decimal("0.01"),
        None,
    ]
    two_cents = BacktestRow(P, Decimal("10.00"), Decimal("9.98"), 1, ())
    assert (two_cents.verdict, two_cents.difference) == ("disagree", Decimal("-0.02"))


def test_summary() -> None:
    summary = summarize(ROWS)
    assert summary == BacktestSummary(
        memos=8, agree=3, disagree=2, uncomputed={XSS: 2, "dashboard link": 1}
    )
    assert summary.agreement == pytest.approx(3 / 5)
    assert summarize([]).agreement is None


def test_render_table() -> None:
    lines = render_table(ROWS).splitlines()
    assert lines[0] == (
        "verdict                human        bot  difference  links  products      memo"
    )
    assert lines[2] == (
        f"disagree             $100.00    $120.50      $20.50      1  Verify, PSMS  {P}2"
    )
    assert (
        lines[5]
        == f"could not compute     $10.00          -           -      1  -             {P}5"
    )
    assert lines[6] == f"    reason: {XSS}"
    assert lines[-7:] == [
        "memos              8",
        "agree (±$0.01)     3",
        "disagree           2",
        "could not compute  3",
        f"     2  {XSS}",
        "     1  dashboard link",
        "agreement          60%",
    ]


def test_csv_parses_back(tmp_path: Path) -> None:
    path = tmp_path / "backtest.csv"
    write_csv(ROWS, path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(ROWS)
    assert rows[1] == {
        "permalink": P + "2",
        "verdict": "disagree",
        "human_amount": "100.00",
        "bot_amount": "120.50",
        "difference": "20.50",
        "links": "1",
        "products": "Verify; PSMS",
        "reason": "",
    }
    assert rows[4]["reason"] == XSS and rows[4]["bot_amount"] == ""
    assert [Decimal(r["human_amount"]) if r["human_amount"] else None for r in rows] == [
        r.human for r in ROWS
    ]


def test_json_loads(tmp_path: Path) -> None:
    path = tmp_path / "backtest.json"
    write_json(ROWS, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["summary"] == {
        "memos": 8,
        "agree": 3,
        "disagree": 2,
        "could_not_compute": {XSS: 2, "dashboard link": 1},
    }
    assert document["rows"][0] == {
        "permalink": P + "1",
        "verdict": "agree",
        "human_amount": "4948.80",
        "bot_amount": "4948.80",
        "difference": "0.00",
        "links": 2,
        "products": ["Verify"],
        "reason": None,
    }
    assert [Decimal(r["bot_amount"]) if r["bot_amount"] else None for r in document["rows"]] == [
        r.bot for r in ROWS
    ]


class Elements(HTMLParser):
    def __init__(self, document: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(document)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_has_the_chart_and_escapes_everything() -> None:
    rows = [*ROWS, BacktestRow("javascript:alert(2)", Decimal(1), Decimal(1), 1, ("<b>",))]
    document = render_html(rows, title="Backtest <March>")
    assert "<script" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;no SQL&quot;" in document
    assert "<title>Backtest &lt;March&gt;</title>" in document and "&lt;b&gt;" in document
    tags = Elements(document).tags
    names = [t for t, _ in tags]
    assert names.count("svg") == 1
    assert names.count("circle") == 4  # the rows with both amounts: 1, 2, 3 and the last
    assert 'fill="#c62828"' in document and 'fill="#2e7d32"' in document
    hrefs = [a["href"] for t, a in tags if t == "a"]
    assert hrefs == [P + "2", P + "6", P + "5", P + "7", P + "8", P + "1", P + "3", P + "4"]
    assert "5 memo(s) without both amounts are not plotted" in document
    assert '<td class="wrap">javascript:alert(2)</td>' in document  # shown, not linked
    assert "Person vs CreditBot" in document and "Could not compute" in document
