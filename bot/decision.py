"""From per-link results to one decision for the memo: approve a total, or ask a person.

A wrong credit posted is worse than none, so anything doubtful goes to a person: a failed link, a
credit that is negative or not a number, a credit above its link's fraud-spend label, or a memo
none of whose links is routed to a product.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core.urls import LookerLink

CENT = Decimal("0.01")


@dataclass
class LinkResult:
    link: LookerLink
    product: str | None = None
    credit: Decimal | None = None
    sql_digest: str | None = None
    skipped: str | None = None  # why a link was left out of the approval (no product matched)
    problem: str | None = None  # why the link needs a person
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.link.as_dict(),
            "product": self.product,
            "credit": None if self.credit is None else str(self.credit),
            "sql_sha256": self.sql_digest,
            "skipped": self.skipped,
            "problem": self.problem,
            **self.detail,
        }


@dataclass(frozen=True)
class Decision:
    approved: bool
    total: Decimal | None
    problems: tuple[str, ...]


def decide(results: list[LinkResult]) -> Decision:
    """Apply the sanity rule of design.md to every routed link, then sum."""
    problems = [f"{r.link.url}: {r.problem}" for r in results if r.problem]
    routed = [r for r in results if r.product and not r.problem and not r.skipped]
    for r in routed:
        problem = check_credit(r.credit, r.link.fraud_spend)
        if problem:
            r.problem = problem
            problems.append(f"{r.link.url}: {problem}")
    if not problems and not routed:
        problems.append("no link of this memo matched a product notebook")
    if problems:
        return Decision(False, None, tuple(problems))
    total = sum((r.credit for r in routed if r.credit is not None), Decimal(0))
    return Decision(True, total.quantize(CENT, rounding=ROUND_HALF_UP), ())


def check_credit(credit: Decimal | None, fraud_spend: Decimal | None) -> str | None:
    """The per-link sanity rule; None when the credit may be posted."""
    if credit is None or not credit.is_finite():
        return "the credit is not a number"
    if credit < 0:
        return f"the credit {credit} is negative"
    if fraud_spend is not None and credit > fraud_spend:
        return f"the credit {credit} is larger than the fraud spend {fraud_spend}"
    return None
