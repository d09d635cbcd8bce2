"""How a backtest went, for people and for tools: a terminal table, CSV, JSON and an HTML page.

The backtest itself (reading history, running the notebooks) happens elsewhere and hands over
one `BacktestRow` per memo. A row's verdict: "could not compute" when it has a reason; "agree"
when both amounts are within $0.01 of each other, or when neither the person nor the bot
approved a credit; "disagree" otherwise (including a credit on one side only).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from bot.decision import CENT
from bot.reply import money
from ops.htmlkit import (
    Column,
    Point,
    Safe,
    dollars,
    link,
    page,
    paragraph,
    scatter_chart,
    section,
    table,
    tiles,
)

TOLERANCE = CENT  # "agree" means within one cent
AGREE, DISAGREE, UNCOMPUTED = "agree", "disagree", "could not compute"
CSV_FIELDS = (
    "permalink",
    "verdict",
    "human_amount",
    "bot_amount",
    "difference",
    "links",
    "products",
    "reason",
)


@dataclass(frozen=True)
class BacktestRow:
    permalink: str
    human: Decimal | None  # what the person approved; None for a decline or no readable amount
    bot: Decimal | None  # what CreditBot would approve; None when it would not
    links: int
    products: tuple[str, ...]
    reason: str | None = None  # why the bot's amount could not be computed

    @property
    def difference(self) -> Decimal | None:
        """bot - human, when both are amounts."""
        return None if self.human is None or self.bot is None else self.bot - self.human

    @property
    def verdict(self) -> str:
        if self.reason:
            return UNCOMPUTED
        if self.difference is not None:
            return AGREE if abs(self.difference) <= TOLERANCE else DISAGREE
        return AGREE if self.human is None and self.bot is None else DISAGREE


@dataclass(frozen=True)
class BacktestSummary:
    memos: int
    agree: int
    disagree: int
    uncomputed: dict[str, int]  # reason -> memos, most frequent first

    @property
    def agreement(self) -> float | None:
        """agree / (agree + disagree): the share of computed memos the bot got right."""
        decided = self.agree + self.disagree
        return self.agree / decided if decided else None


def summarize(rows: Sequence[BacktestRow]) -> BacktestSummary:
    verdicts = Counter(r.verdict for r in rows)
    reasons = Counter(r.reason for r in rows if r.reason)
    return BacktestSummary(
        memos=len(rows),
        agree=verdicts[AGREE],
        disagree=verdicts[DISAGREE],
        uncomputed=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
    )


def render_table(rows: Sequence[BacktestRow]) -> str:
    """Aligned columns for a terminal, the reason under a row that could not be computed, then
    the summary."""
    header = ("verdict", "human", "bot", "difference", "links", "products", "memo")
    cells = [
        (
            r.verdict,
            _money(r.human),
            _money(r.bot),
            _money(r.difference),
            str(r.links),
            ", ".join(r.products) or "-",
            r.permalink,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header) - 1)]
    right = {1, 2, 3, 4}  # amounts and counts

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=False))
        ]
        return "  ".join([*padded, values[-1]])

    lines = [line(header)]
    for row, values in zip(rows, cells, strict=True):
        lines.append(line(values))
        if row.reason:
            lines.append(f"    reason: {row.reason}")
    return "\n".join([*lines, "", *_summary_lines(summarize(rows))]) + "\n"


def write_csv(rows: Sequence[BacktestRow], path: Path) -> None:
    """One line per memo; amounts as plain decimals ("4948.80"), products joined by "; "."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for row in rows:
            fields = {**_as_dict(row), "products": "; ".join(row.products)}
            writer.writerow({k: "" if v is None else v for k, v in fields.items()})


def write_json(rows: Sequence[BacktestRow], path: Path) -> None:
    """{"summary": ..., "rows": [...]}, amounts as strings so no cent is lost to floats."""
    summary = summarize(rows)
    document = {
        "summary": {
            "memos": summary.memos,
            "agree": summary.agree,
            "disagree": summary.disagree,
            "could_not_compute": summary.uncomputed,
        },
        "rows": [_as_dict(r) for r in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def render_html(rows: Sequence[BacktestRow], *, title: str) -> str:
    """Summary, a scatter of person vs bot (on the diagonal = agree), and every memo."""
    summary = summarize(rows)
    points = [
        Point(
            float(r.human),
            float(r.bot),
            f"{r.permalink}: person {money(r.human)}, bot {money(r.bot)}",
            "#2e7d32" if r.verdict == AGREE else "#c62828",
        )
        for r in rows
        if r.human is not None and r.bot is not None
    ]
    chart = scatter_chart(
        "Person vs CreditBot, per memo",
        points,
        x_name="person's amount",
        y_name="CreditBot's amount",
        fmt=dollars,
    )
    unplotted = len(rows) - len(points)
    note = "Green: within $0.01 (on the dashed diagonal). Red: they disagree." + (
        f" {unplotted} memo(s) without both amounts are not plotted." if unplotted else ""
    )
    columns = [
        Column("verdict", "nowrap"),
        Column("person", "num"),
        Column("CreditBot", "num"),
        Column("difference", "num"),
        Column("links", "num"),
        Column("products"),
        Column("memo", "wrap"),
        Column("reason", "wrap"),
    ]
    order = {DISAGREE: 0, UNCOMPUTED: 1, AGREE: 2}
    listed = sorted(rows, key=lambda r: order[r.verdict])
    body = [
        tiles(
            [
                ("memos", summary.memos),
                ("agree", summary.agree),
                ("disagree", summary.disagree),
                ("could not compute", sum(summary.uncomputed.values())),
                ("agreement", _percent(summary.agreement)),
            ]
        ),
        section("Person vs CreditBot", chart, note=note),
        _reasons(summary),
        section(
            "Every memo",
            table(
                columns,
                [
                    (
                        r.verdict,
                        _money(r.human),
                        _money(r.bot),
                        _money(r.difference),
                        r.links,
                        ", ".join(r.products),
                        link(r.permalink, r.permalink),
                        r.reason or "",
                    )
                    for r in listed
                ],
            ),
            note="Disagreements first.",
        ),
    ]
    return page(
        title, f"Backtest of {summary.memos} memo(s) against the answers people gave.", body
    )


def _reasons(summary: BacktestSummary) -> Safe:
    if not summary.uncomputed:
        return paragraph("Every memo could be computed.")
    return section(
        "Could not compute",
        table([Column("reason", "wrap"), Column("memos", "num")], list(summary.uncomputed.items())),
    )


def _summary_lines(summary: BacktestSummary) -> list[str]:
    lines = [
        f"memos              {summary.memos}",
        f"agree (±$0.01)     {summary.agree}",
        f"disagree           {summary.disagree}",
        f"could not compute  {sum(summary.uncomputed.values())}",
    ]
    lines += [f"  {n:>4}  {reason}" for reason, n in summary.uncomputed.items()]
    lines.append(f"agreement          {_percent(summary.agreement)}")
    return lines


def _as_dict(row: BacktestRow) -> dict[str, Any]:
    return {
        "permalink": row.permalink,
        "verdict": row.verdict,
        "human_amount": _plain(row.human),
        "bot_amount": _plain(row.bot),
        "difference": _plain(row.difference),
        "links": row.links,
        "products": list(row.products),
        "reason": row.reason,
    }


def _plain(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(CENT, rounding=ROUND_HALF_UP))


def _money(amount: Decimal | None) -> str:
    return "-" if amount is None else money(amount)


def _percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"
