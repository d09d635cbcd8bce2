"""Demo queries shaped like the SQL that Looker's SQL tab shows, runnable on the demo warehouse.

They carry what makes scraping and routing hard in real life: comments, double-quoted aliases,
`<>`, `&` and doubled single quotes in literals, blank lines, CTEs. The local Looker serves them
and the memos link to them; `fraud_spend` is the dollar label such a memo carries.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sandbox.warehouse import CENT, account_sid

COST_COLUMN = "counters_by_billable_item.total_cost"


@dataclass(frozen=True)
class DemoQuery:
    key: str
    title: str
    model: str
    view: str
    sql: str


_SELECT_MEASURES = """\
    COALESCE(SUM(counters_by_billable_item.message_count), 0)
     AS "counters_by_billable_item.total_messages",
    COALESCE(SUM(counters_by_billable_item.blocked_count), 0)
     AS "counters_by_billable_item.total_blocked",
    COALESCE(SUM(counters_by_billable_item.cost_usd), 0)
     AS "counters_by_billable_item.total_cost\""""

_OCTOBER = """\
((( counters_by_billable_item.usage_date ) >= ((DATE('2026-10-01')))
        AND ( counters_by_billable_item.usage_date ) < ((DATE('2026-11-01')))))"""

VERIFY_PUMPING = f"""\
-- Authy Verify SMS & Voice of ACME Corp by day & country
-- raw sql results do not include filled-in values for 'counters_by_billable_item.usage_date'


WITH account_filter AS (
    -- sql for creating the total and/or determining pivot columns
    SELECT
        accounts.account_sid  AS account_sid,
        accounts.friendly_name  AS friendly_name
    FROM accounts AS accounts
    WHERE (accounts.account_sid ) = '{{acme}}'
)
SELECT
    counters_by_billable_item.usage_date  AS "counters_by_billable_item.usage_date",
    account_filter.friendly_name  AS "accounts.friendly_name",
    billable_items.name  AS "billable_items.name",
    countries.iso_code  AS "countries.iso_code",
    countries.name  AS "countries.name",
    CASE WHEN countries.pumping_risk = 1 THEN 'Yes' ELSE 'No' END
     AS "countries.pumping_risk",
{_SELECT_MEASURES}
FROM counters_by_billable_item AS counters_by_billable_item
INNER JOIN account_filter
    ON counters_by_billable_item.account_sid = account_filter.account_sid
LEFT JOIN billable_items AS billable_items
    ON counters_by_billable_item.billable_item_id = billable_items.billable_item_id
LEFT JOIN countries AS countries
    ON counters_by_billable_item.iso_code = countries.iso_code
WHERE ((billable_items.name ) LIKE 'Authy Verify%')
    AND {_OCTOBER}
    AND (counters_by_billable_item.message_count ) <> 0
GROUP BY
    1,
    2,
    3,
    4,
    5,
    6
ORDER BY
    1,
    4
LIMIT 5000
"""

VERIFY_SECOND = f"""\
-- Verify SMS to every country, Bob's Burgers & Co (memo from the Fraud & Abuse desk)
WITH usage_by_country AS (
    SELECT
        counters_by_billable_item.iso_code  AS iso_code,
        counters_by_billable_item.billable_item_id  AS billable_item_id,
        counters_by_billable_item.account_sid  AS account_sid,
        counters_by_billable_item.message_count  AS message_count,
        counters_by_billable_item.blocked_count  AS blocked_count,
        counters_by_billable_item.cost_usd  AS cost_usd
    FROM counters_by_billable_item AS counters_by_billable_item
    WHERE {_OCTOBER}
),

-- sql for creating the total and/or determining pivot columns
countries_in_scope AS (
    SELECT
        countries.iso_code  AS iso_code,
        countries.name  AS name,
        countries.pumping_risk  AS pumping_risk
    FROM countries AS countries
    WHERE (countries.iso_code ) <> 'ZZ'
)
SELECT
    countries.iso_code  AS "countries.iso_code",
    countries.name  AS "countries.name",
    CASE WHEN countries.pumping_risk = 1 THEN 'Yes' ELSE 'No' END
     AS "countries.pumping_risk",
    COALESCE(SUM(usage.message_count), 0)
     AS "counters_by_billable_item.total_messages",
    COALESCE(SUM(usage.blocked_count), 0)
     AS "counters_by_billable_item.total_blocked",
    COALESCE(SUM(usage.cost_usd), 0)
     AS "counters_by_billable_item.total_cost"
FROM usage_by_country AS usage
INNER JOIN countries_in_scope AS countries
    ON usage.iso_code = countries.iso_code
LEFT JOIN accounts AS accounts
    ON usage.account_sid = accounts.account_sid
LEFT JOIN billable_items AS billable_items
    ON usage.billable_item_id = billable_items.billable_item_id
WHERE (accounts.friendly_name ) = 'Bob''s Burgers & Co'
    AND (billable_items.name ) = 'Authy Verify SMS'

GROUP BY
    1,
    2,
    3
ORDER BY
    6 DESC
LIMIT 500
"""

PSMS_PUMPING = f"""\
-- Programmable SMS of Stark & Wayne Logistics outside the US, day by day
-- raw sql results do not include filled-in values for 'counters_by_billable_item.usage_date'
SELECT
    counters_by_billable_item.usage_date  AS "counters_by_billable_item.usage_date",
    accounts.friendly_name  AS "accounts.friendly_name",
    billable_items.name  AS "billable_items.name",
    countries.iso_code  AS "countries.iso_code",
    CASE WHEN countries.pumping_risk = 1 THEN 'Yes' ELSE 'No' END
     AS "countries.pumping_risk",
{_SELECT_MEASURES}
FROM counters_by_billable_item AS counters_by_billable_item
LEFT JOIN accounts AS accounts
    ON counters_by_billable_item.account_sid = accounts.account_sid
LEFT JOIN billable_items AS billable_items
    ON counters_by_billable_item.billable_item_id = billable_items.billable_item_id
LEFT JOIN countries AS countries
    ON counters_by_billable_item.iso_code = countries.iso_code

WHERE (accounts.account_sid ) = '{{stark}}'
    AND (billable_items.name ) IN ('Programmable SMS - Outbound', 'Programmable SMS - Inbound')
    AND {_OCTOBER}
    AND (countries.iso_code ) <> 'US'
GROUP BY
    1,
    2,
    3,
    4,
    5
ORDER BY
    1,
    4
LIMIT 5000

-- sql for creating the total and/or determining pivot columns: none (no pivots & no totals)
"""

UNROUTED = f"""\
-- Outbound calls of Hooli Health by country & day
WITH calls AS (
    SELECT
        counters_by_billable_item.usage_date  AS usage_date,
        counters_by_billable_item.iso_code  AS iso_code,
        counters_by_billable_item.message_count  AS message_count,
        counters_by_billable_item.blocked_count  AS blocked_count,
        counters_by_billable_item.cost_usd  AS cost_usd
    FROM counters_by_billable_item AS counters_by_billable_item
    LEFT JOIN billable_items AS billable_items
        ON counters_by_billable_item.billable_item_id = billable_items.billable_item_id
    LEFT JOIN accounts AS accounts
        ON counters_by_billable_item.account_sid = accounts.account_sid
    WHERE (billable_items.name ) = 'Programmable Voice - Outbound'
        AND (accounts.friendly_name ) = 'Hooli Health'
        AND {_OCTOBER}
)

-- sql for creating the total and/or determining pivot columns
SELECT
    calls.usage_date  AS "counters_by_billable_item.usage_date",
    countries.iso_code  AS "countries.iso_code",
    CASE WHEN countries.pumping_risk = 1 THEN 'Yes' ELSE 'No' END
     AS "countries.pumping_risk",
    COALESCE(SUM(calls.message_count), 0)
     AS "counters_by_billable_item.total_messages",
    COALESCE(SUM(calls.blocked_count), 0)
     AS "counters_by_billable_item.total_blocked",
    COALESCE(SUM(calls.cost_usd), 0)
     AS "counters_by_billable_item.total_cost"
FROM calls
LEFT JOIN countries AS countries
    ON calls.iso_code = countries.iso_code
WHERE (calls.message_count ) <> 0
GROUP BY
    1,
    2,
    3
ORDER BY
    1,
    2
LIMIT 5000
"""

# Looker would never run this; it stands for a query whose field was renamed in the warehouse.
BROKEN = f"""\
-- Initech: Verify SMS by country & day, as saved before the blocked_count rename
-- raw sql results do not include filled-in values for 'counters_by_billable_item.usage_date'
SELECT
    counters_by_billable_item.usage_date  AS "counters_by_billable_item.usage_date",
    billable_items.name  AS "billable_items.name",
    countries.iso_code  AS "countries.iso_code",
    CASE WHEN countries.pumping_risk = 1 THEN 'Yes' ELSE 'No' END
     AS "countries.pumping_risk",
    COALESCE(SUM(counters_by_billable_item.message_count), 0)
     AS "counters_by_billable_item.total_messages",
    COALESCE(SUM(counters_by_billable_item.blocked_messages), 0)
     AS "counters_by_billable_item.total_blocked",
    COALESCE(SUM(counters_by_billable_item.cost_usd), 0)
     AS "counters_by_billable_item.total_cost"
FROM counters_by_billable_item AS counters_by_billable_item
LEFT JOIN accounts AS accounts
    ON counters_by_billable_item.account_sid = accounts.account_sid
LEFT JOIN billable_items AS billable_items
    ON counters_by_billable_item.billable_item_id = billable_items.billable_item_id
LEFT JOIN countries AS countries
    ON counters_by_billable_item.iso_code = countries.iso_code

WHERE (accounts.friendly_name ) = 'Initech'
    AND ((billable_items.name ) LIKE 'Authy Verify%')
    AND (countries.name ) <> ''
    AND (billable_items.name ) <> 'Authy Verify Voice'
    AND {_OCTOBER}
    AND (counters_by_billable_item.message_count ) <> 0
GROUP BY
    1,
    2,
    3,
    4
ORDER BY
    1,
    3
LIMIT 5000

-- sql for creating the total and/or determining pivot columns: none
-- Verify & Fraud Guard: counts as of the nightly load
"""


def demo_queries() -> dict[str, DemoQuery]:
    """The demo's Looker queries by key; account SIDs come from the warehouse's own generator."""
    sids = {"acme": account_sid("ACME Corp"), "stark": account_sid("Stark & Wayne Logistics")}
    explore = {"model": "revenue", "view": "counters_by_billable_item"}
    specs = [
        ("verify_pumping", "ACME Corp - Authy Verify by country, October 2026", VERIFY_PUMPING),
        ("verify_second", "Bob's Burgers & Co - Verify SMS by country", VERIFY_SECOND),
        ("psms_pumping", "Stark & Wayne Logistics - Programmable SMS by country", PSMS_PUMPING),
        ("unrouted", "Hooli Health - outbound calls by country", UNROUTED),
        ("broken", "Initech - Authy Verify by country (stale field)", BROKEN),
    ]
    return {
        key: DemoQuery(key=key, title=title, sql=sql.format(**sids), **explore)
        for key, title, sql in specs
    }


def fraud_spend(query: DemoQuery, warehouse_path: Path) -> Decimal:
    """What the query's traffic cost, in dollars and cents: the memo's "Fraud spend" label.

    Run with sqlite3 here, independently of the notebooks, so a notebook bug cannot move the
    ceiling it is checked against. A query that does not run (the `broken` one) raises
    `sqlite3.Error`.
    """
    db = sqlite3.connect(Path(warehouse_path).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        cursor = db.execute(query.sql)
        column = [d[0] for d in cursor.description].index(COST_COLUMN)
        return sum((Decimal(str(row[column])).quantize(CENT) for row in cursor), Decimal("0.00"))
    finally:
        db.close()
