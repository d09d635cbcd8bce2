"""The demo warehouse: a small SQLite file of synthetic daily SMS traffic for October 2026.

The demo and the tests run the credit notebooks against it, so it must be the same on every
machine and every run: the rows come from a fixed seed and fixed dates, never the clock. A
fingerprint of the rows is stored in the file; a file whose fingerprint differs is rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import random
import sqlite3
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

DEFAULT_PATH = Path("data/demo_warehouse.sqlite")
SEED = 20261001
FIRST_DAY = date(2026, 10, 1)
DAYS = 31
CENT = Decimal("0.01")

SCHEMA = """
CREATE TABLE accounts (
    account_sid TEXT PRIMARY KEY,
    friendly_name TEXT NOT NULL
);
CREATE TABLE billable_items (
    billable_item_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    unit_price_usd NUMERIC(10, 4) NOT NULL
);
CREATE TABLE countries (
    iso_code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    pumping_risk INTEGER NOT NULL CHECK (pumping_risk IN (0, 1))
);
CREATE TABLE counters_by_billable_item (
    usage_date TEXT NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (account_sid),
    billable_item_id INTEGER NOT NULL REFERENCES billable_items (billable_item_id),
    iso_code TEXT NOT NULL REFERENCES countries (iso_code),
    message_count INTEGER NOT NULL,
    blocked_count INTEGER NOT NULL,
    cost_usd NUMERIC(12, 2) NOT NULL,
    PRIMARY KEY (usage_date, account_sid, billable_item_id, iso_code)
);
CREATE TABLE warehouse_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

ACCOUNTS = {
    "ACME Corp": "verify_pumped",
    "Bob's Burgers & Co": "verify_pumped",
    "Stark & Wayne Logistics": "psms_pumped",
    "Initech": "verify",
    "Globex": "psms",
    "Hooli Health": "voice",
}
BILLABLE_ITEMS = [
    (1, "Authy Verify SMS", Decimal("0.0500")),
    (2, "Authy Verify Voice", Decimal("0.0900")),
    (3, "Programmable SMS - Outbound", Decimal("0.0079")),
    (4, "Programmable SMS - Inbound", Decimal("0.0079")),
    (5, "Programmable Voice - Outbound", Decimal("0.0140")),
]
ITEMS_BY_KIND = {
    "verify": (1, 2),
    "verify_pumped": (1, 2),
    "psms": (3, 4),
    "psms_pumped": (3, 4),
    "voice": (5,),
}
# (ISO code, name, pumping risk, per-message carrier surcharge in USD)
COUNTRIES = [
    ("US", "United States", 0, Decimal("0.0000")),
    ("CA", "Canada", 0, Decimal("0.0000")),
    ("GB", "United Kingdom", 0, Decimal("0.0350")),
    ("DE", "Germany", 0, Decimal("0.0700")),
    ("BR", "Brazil", 0, Decimal("0.0200")),
    ("IN", "India", 0, Decimal("0.0030")),
    ("UZ", "Uzbekistan", 1, Decimal("0.2400")),
    ("TJ", "Tajikistan", 1, Decimal("0.2100")),
    ("KG", "Kyrgyzstan", 1, Decimal("0.1900")),
    ("AZ", "Azerbaijan", 1, Decimal("0.2600")),
    ("MM", "Myanmar", 1, Decimal("0.1700")),
]
PUMPING_DAYS = range(11, 19)  # 2026-10-12 .. 2026-10-19 (0-based offsets from FIRST_DAY)

Row = tuple[str, str, int, str, int, int, str]


def warehouse_url(path: Path) -> str:
    """SQLAlchemy URL of the warehouse file, absolute so a notebook's working dir cannot matter."""
    return f"sqlite:///{Path(path).resolve()}"


def build_warehouse(path: Path) -> Path:
    """Build the warehouse at `path` unless an identical one is already there; return the path."""
    path = Path(path)
    accounts, rows = _accounts(), _usage_rows()
    fingerprint = _fingerprint(accounts, rows)
    if _stored_fingerprint(path) == fingerprint:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO accounts VALUES (?, ?)", accounts)
        db.executemany(
            "INSERT INTO billable_items VALUES (?, ?, ?)",
            [(i, name, str(price)) for i, name, price in BILLABLE_ITEMS],
        )
        db.executemany("INSERT INTO countries VALUES (?, ?, ?)", [c[:3] for c in COUNTRIES])
        db.executemany("INSERT INTO counters_by_billable_item VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("INSERT INTO warehouse_meta VALUES ('fingerprint', ?)", (fingerprint,))
    db.close()
    os.replace(partial, path)
    return path


def account_sid(friendly_name: str) -> str:
    """The SID the warehouse gives an account, for queries that filter on it as Looker users do."""
    return {name: sid for sid, name in _accounts()}[friendly_name]


def _accounts() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    return [(f"AC{rng.getrandbits(128):032x}", name) for name in ACCOUNTS]


def _usage_rows() -> list[Row]:
    """Steady traffic to low-risk countries, a trickle to high-risk ones, and for the pumped
    accounts a week of spikes to high-risk countries that Fraud Guard only partly blocks."""
    rng = random.Random(SEED + 1)
    rows: list[Row] = []
    prices = {i: price for i, _, price in BILLABLE_ITEMS}
    for sid, name in _accounts():
        kind = ACCOUNTS[name]
        base = rng.randint(80, 400)
        for offset in range(DAYS):
            day = (FIRST_DAY + timedelta(days=offset)).isoformat()
            for item in ITEMS_BY_KIND[kind]:
                volume = base if item in (1, 3, 5) else base // 6
                for iso, _, risky, surcharge in COUNTRIES:
                    if risky:
                        count = rng.randint(0, 3)
                        if kind.endswith("_pumped") and offset in PUMPING_DAYS and item in (1, 3):
                            count += rng.randint(300, 1400)
                        blocked = round(count * rng.uniform(0.1, 0.6)) if count > 20 else 0
                    else:
                        count = max(0, int(volume * rng.uniform(0.05, 0.4)))
                        blocked = rng.randint(0, 2) if count > 50 else 0
                    if count == 0:
                        continue
                    cost = (count * (prices[item] + surcharge)).quantize(CENT, ROUND_HALF_UP)
                    rows.append((day, sid, item, iso, count, blocked, str(cost)))
    return rows


def _fingerprint(accounts: list[tuple[str, str]], rows: list[Row]) -> str:
    digest = hashlib.sha256(SCHEMA.encode())
    for part in (accounts, BILLABLE_ITEMS, COUNTRIES, rows):
        digest.update(repr(part).encode())
    return digest.hexdigest()


def _stored_fingerprint(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True) as db:
            row = db.execute(
                "SELECT value FROM warehouse_meta WHERE key = 'fingerprint'"
            ).fetchone()
        db.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None
