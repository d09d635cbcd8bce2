"""Refuse anything but one read-only statement before a notebook runs scraped SQL.

The text comes from a web page; if Looker's page (or someone editing a query) ever put a write
statement there, the notebook must not execute it against the warehouse. A real parser in the
warehouse's dialect decides, not a regular expression.
"""

from __future__ import annotations

import functools

from core.errors import UnsafeSQL

READ_ROOTS = ("Select", "Union", "Intersect", "Except", "Subquery")
WRITES = (
    "Insert",
    "Update",
    "Delete",
    "Merge",
    "Create",
    "Drop",
    "Alter",
    "Command",
    "TruncateTable",
    "Into",
)
DIALECTS = {
    "sqlite": "sqlite",
    "trino": "trino",
    "presto": "presto",
    "postgresql": "postgres",
    "postgres": "postgres",
    "bigquery": "bigquery",
    "snowflake": "snowflake",
    "mysql": "mysql",
    "redshift": "redshift",
    "databricks": "databricks",
}


def dialect_for(warehouse_url: object, configured: str | None) -> str:
    """The configured dialect, else the one the SQLAlchemy URL names, else Trino (Looker's)."""
    if configured:
        return configured
    if isinstance(warehouse_url, str) and "://" in warehouse_url:
        scheme = warehouse_url.split("://", 1)[0].split("+", 1)[0].lower()
        if scheme in DIALECTS:
            return DIALECTS[scheme]
    return "trino"


def load_parser() -> None:
    """Import sqlglot now: 0.1 s that a cycle with links spends while Chromium starts, rather
    than on the first page, which checks its SQL as soon as it is read."""
    import sqlglot  # noqa: F401


def check_read_only(sql: str, dialect: str) -> None:
    """Raise `UnsafeSQL` (saying why) unless `sql` is exactly one SELECT or WITH statement."""
    verdict = _verdict(sql, dialect)
    if verdict is not None:
        message, parsed = verdict
        raise UnsafeSQL(message, dialect=dialect, parsed=parsed)


@functools.lru_cache(maxsize=64)
def _verdict(sql: str, dialect: str) -> tuple[str, bool] | None:
    """Why `sql` is refused (and whether it parsed at all), or None. Kept for the same text: a
    link's query is checked on its page, to choose among viewers, and again before its notebook
    runs, and a parse costs 5 to 12 ms of CPU. Each caller still gets an exception of its own.
    (sqlglot is imported here, not at start: reading the settings needs only `dialect_for`.)"""
    import sqlglot
    from sqlglot import expressions as exp
    from sqlglot.errors import ParseError

    try:
        parsed = sqlglot.parse(sql, read=dialect)
        # A comment after the last `;` parses as a bare Semicolon: it is not a statement.
        statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    except ParseError as exc:
        first = exc.errors[0]["description"] if exc.errors else str(exc).splitlines()[0]
        return f"the query is not valid {dialect} SQL ({first})", False
    if not statements:
        return "the query is empty", False
    if len(statements) > 1:
        return f"the query holds {len(statements)} statements, not one", True
    statement = statements[0]
    if not isinstance(statement, tuple(getattr(exp, name) for name in READ_ROOTS)):
        return f"the query is a {statement.key.upper()} statement, not a SELECT", True
    writer = next(statement.find_all(*(getattr(exp, name) for name in WRITES)), None)
    if writer is not None:
        return f"the query contains {writer.key.upper()}, which could write", True
    return None
