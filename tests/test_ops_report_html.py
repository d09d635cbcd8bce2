"""ops.report_html and ops.htmlkit: the static report, read back with html.parser."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ops.history import read_records
from ops.htmlkit import Series, column_chart, esc, link
from ops.report_html import render_report
from state.store import Status
from tests.ops_seed import NOW, XSS, busy, permalink, seed

VOID = {"meta", "br", "img", "input", "hr", "link"}  # never closed; SVG shapes use "/>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &#x27;too&#x27;"


class Page(HTMLParser):
    """What a reader of the page gets: charts (their bar tooltips), links, table rows, text."""

    def __init__(self, document: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.charts: dict[str, list[str]] = {}  # svg aria-label -> <title> of each bar
        self.links: list[tuple[str | None, str]] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._chart: str | None = None
        self._in: str | None = None
        self._buffer = ""
        self.feed(document)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag not in VOID:
            self.open.append(tag)
        if tag == "svg":
            self._chart = attributes["aria-label"]
            self.charts[self._chart or ""] = []
        elif tag == "tr":
            self.rows.append([])
        if tag in ("a", "td") or (tag == "title" and self.open[-2:-1] in (["rect"], ["circle"])):
            self._in, self._buffer = tag, ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1:]}>"
        self.open.pop()
        if tag == "svg":
            self._chart = None
        if tag == self._in:
            if tag == "a":
                self.links.append((self._href(), self._buffer))
            elif tag == "td":
                self.rows[-1].append(self._buffer)
            elif self._chart is not None:
                self.charts[self._chart].append(self._buffer)
            self._in = "td" if tag == "a" and self.open and self.open[-1] == "td" else None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in:
            self._buffer += data

    def _href(self) -> str | None:
        return next(a.get("href") for t, a in reversed(self.tags) if t == "a")


@pytest.fixture
def records(tmp_path: Path) -> list:
    return read_records(seed(tmp_path / "state.sqlite3"))


def test_the_report_has_every_section_and_chart(records: list) -> None:
    document = render_report(records, now=NOW, title="CreditBot — March")
    page = Page(document)
    assert not page.open  # every element closed
    headings = [
        t
        for t in page.text
        if t
        in (
            "Memos per day",
            "Outcomes per day",
            "Processing time per stage",
            "Credits approved per day",
            "Needs a person",
        )
    ]
    assert len(set(headings)) == 5
    assert set(page.charts) == {
        "Memos per day",
        "Outcomes per day",
        "Processing time per stage",
        "Credits approved per day",
    }
    memos = page.charts["Memos per day"]
    assert len(memos) == 30  # one bar per day
    assert memos[-1] == "Mar 15 · memos: 3"  # m1, m4, m5
    assert memos[-2] == "Mar 14 · memos: 1"  # m2 at 23:59:30 local
    assert memos[-4] == "Mar 12 · memos: 1"  # m3
    assert memos[0] == "Feb 15 · memos: 0"
    outcomes = page.charts["Outcomes per day"]
    assert len(outcomes) == 30 * 4  # approved, review, skipped, pending per day
    assert {"Mar 15 · approved: 1", "Mar 15 · skipped: 1", "Mar 15 · pending: 1"} <= set(outcomes)
    assert "Mar 12 · needs review: 1" in outcomes and "Mar 5 · pending: 1" in outcomes
    latency = page.charts["Processing time per stage"]
    assert "scrape (4) · p50: 8.0 s" in latency and "total (4) · p95: 61.5 s" in latency
    credits = page.charts["Credits approved per day"]
    assert credits[-1] == "Mar 15 · approved: $4,948.80"
    assert credits[-2] == "Mar 14 · approved: $100"
    assert "Feb 24 · approved: $1,204.55" in credits
    assert "$5,048.80" not in document  # m1 and m2 are on different local days
    tiles = "".join(page.text)
    assert "memos7approved3needs review1skipped1pending2success rate75%" in tiles
    assert "credits approved$6,253.35" in tiles


def test_failures_and_stuck_memos_are_listed_with_links_and_errors(records: list) -> None:
    page = Page(render_report(records, now=NOW, title="report"))
    table = [row for row in page.rows if row]
    assert [row[1] for row in table] == ["stuck: retry", "needs review", "stuck: needs_login"]
    assert [row[3] for row in table] == [
        permalink("1710504000.000500"),
        permalink("1710252000.000300"),
        permalink("1709647200.000600"),
    ]
    assert [row[4] for row in table] == ["Looker timed out", XSS, "the Looker session expired"]
    assert [href for href, _ in page.links] == [row[3] for row in table]
    assert table[0][:3] == ["2024-03-15 07:00", "stuck: retry", "2"]


def test_a_memo_pending_for_less_than_stuck_after_is_not_listed(records: list) -> None:
    page = Page(render_report(records, now=NOW, title="r", stuck_after=timedelta(hours=3)))
    assert [row[1] for row in page.rows if row] == ["needs review", "stuck: needs_login"]


def test_data_is_escaped_and_the_page_runs_nothing(records: list) -> None:
    document = render_report(records, now=NOW, title="<b>Desk</b> & co")
    assert "<script" not in document
    assert ESCAPED_XSS in document
    assert "<title>&lt;b&gt;Desk&lt;/b&gt; &amp; co</title>" in document
    page = Page(document)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not [a for _, a in page.tags if "src" in a or any(k.startswith("on") for k in a)]
    csp = [a["content"] for t, a in page.tags if t == "meta" and "http-equiv" in a]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'"]


def test_a_permalink_that_is_not_http_is_not_a_link(records: list) -> None:
    failed = next(r for r in records if r.status == Status.FAILED)
    bad = dataclasses.replace(failed, permalink="javascript:alert(1)")
    assert bad.reason == XSS
    page = Page(render_report([bad], now=NOW, title="r"))
    assert page.links == []
    assert page.rows[1][3] == "javascript:alert(1)"


def test_an_empty_history_renders_a_sensible_page() -> None:
    document = render_report([], now=NOW, title="CreditBot")
    page = Page(document)
    assert not page.open
    assert "No memos in these 30 days yet." in page.text
    assert "Nothing needs a person." in page.text
    assert "No answered memo with timings." in page.text
    assert page.text.count("no data") == 3  # memos, outcomes, credits
    assert page.charts["Memos per day"][0] == "Feb 15 · memos: 0"


def test_a_busy_month_renders(tmp_path: Path) -> None:
    records = read_records(busy(tmp_path / "state.sqlite3"))
    document = render_report(records, now=NOW, title="busy")
    page = Page(document)
    start = NOW.replace(hour=0).timestamp() - 29 * 86400
    in_window = [r for r in records if r.created_at >= start]
    assert len(in_window) < len(records)  # the seed reaches back further than the report
    bars = page.charts["Memos per day"]
    assert sum(int(bar.rsplit(": ", 1)[1]) for bar in bars) == len(in_window)
    failed = [r for r in in_window if r.status == Status.FAILED]
    stuck = [r for r in records if r.status == Status.RETRY]
    assert len([row for row in page.rows if row]) == len(failed) + len(stuck) > 5
    assert "<script" not in document


def test_chart_axes_of_counts_use_whole_numbers() -> None:
    svg = column_chart("c", ["a", "b"], [Series("n", [1, 0], "#000")], integer=True)
    assert ">0</text>" in svg and ">1</text>" in svg and ">0.5</text>" not in svg
    money = column_chart("m", ["a"], [Series("n", [0.6], "#000")])
    assert ">0.2</text>" in money and ">0.6</text>" in money  # amounts: fractional steps


def test_stacked_bars_sit_on_each_other() -> None:
    svg = column_chart(
        "s", ["day"], [Series("a", [2], "#111"), Series("b", [2], "#222")], stacked=True
    )
    page = Page(svg)
    rects = [a for t, a in page.tags if t == "rect"]
    lower, upper = rects
    assert float(lower["y"] or 0) == pytest.approx(
        float(upper["y"] or 0) + float(upper["height"] or 0)
    )


def test_esc_and_link() -> None:
    assert esc('<a href="x">&') == "&lt;a href=&quot;x&quot;&gt;&amp;"
    assert esc(esc("&")) == "&amp;"  # escaped once, not twice
    assert link("https://x.test/?a=1&b=<2>", "<go>") == (
        '<a href="https://x.test/?a=1&amp;b=&lt;2&gt;">&lt;go&gt;</a>'
    )
    assert link("data:text/html,hi", "x") == "x"
    assert link(None, "memo") == "memo"
