"""Which product notebook answers a query: the first `[[products]]` whose pattern is in the SQL."""

from __future__ import annotations

from core.policies import Product


def route(sql: str, products: tuple[Product, ...]) -> Product | None:
    return next((p for p in products if p.match.search(sql)), None)
