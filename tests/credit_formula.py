"""The credit each notebook should recommend, recomputed straight from the warehouse.

Written apart from the notebooks (sqlite3 rows and `Decimal`, no pandas, no SQLAlchemy) so that a
mistake in a notebook shows up as a difference instead of being copied into the expectation.
"""

from __future__ import annotations

import sqlite3
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

CENT = Decimal("0.01")
PSMS_SHARE = Decimal("0.50")
PSMS_CAP = Decimal("2500.00")


def high_risk_totals(sql: str, warehouse_path: Path) -> tuple[Decimal, int, int]:
    """Cost (to the cent), messages and blocked messages of the query's high-risk-country rows."""
    db = sqlite3.connect(Path(warehouse_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        cursor = db.execute(sql)
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
    finally:
        db.close()
    risky = [r for r in rows if r["countries.pumping_risk"] == "Yes"]
    cost = sum(
        (Decimal(str(r["counters_by_billable_item.total_cost"])).quantize(CENT) for r in risky),
        Decimal("0.00"),
    )
    messages = sum(int(r["counters_by_billable_item.total_messages"]) for r in risky)
    blocked = sum(int(r["counters_by_billable_item.total_blocked"]) for r in risky)
    return cost, messages, blocked


def expected_credit(product: str, sql: str, warehouse_path: Path) -> Decimal:
    """Verify: high-risk cost × unblocked share; PSMS: half the high-risk cost, capped."""
    cost, messages, blocked = high_risk_totals(sql, warehouse_path)
    if product == "Verify":
        if not messages:
            return Decimal("0.00")
        return (cost * (messages - blocked) / messages).quantize(CENT, ROUND_HALF_UP)
    if product == "PSMS":
        return min((cost * PSMS_SHARE).quantize(CENT, ROUND_HALF_UP), PSMS_CAP)
    raise ValueError(f"no credit formula for product {product!r}")
