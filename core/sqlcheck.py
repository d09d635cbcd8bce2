"""Refuse anything but one read-only statement before a notebook runs scraped SQL.

The text comes from a web page; if Looker's page (or someone editing a query) ever put a write
statement there, the notebook must not execute it against the warehouse. A real parser in the
warehouse's dialect decides, not a regular expression.
"""

from __future__ import annotations

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
    """Raise `UnsafeSQL` (saying why) unless `sql` is exactly one SELECT or WITH statement.
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
        raise UnsafeSQL(
            f"the query is not valid {dialect} SQL ({first})", dialect=dialect, parsed=False
        ) from None
    if not statements:
        raise UnsafeSQL("the query is empty", dialect=dialect, parsed=False)
    if len(statements) > 1:
        raise UnsafeSQL(f"the query holds {len(statements)} statements, not one", dialect=dialect)
    statement = statements[0]
    if not isinstance(statement, tuple(getattr(exp, name) for name in READ_ROOTS)):
        raise UnsafeSQL(
            f"the query is a {statement.key.upper()} statement, not a SELECT", dialect=dialect
        )
    writer = next(statement.find_all(*(getattr(exp, name) for name in WRITES)), None)
    if writer is not None:
        raise UnsafeSQL(
            f"the query contains {writer.key.upper()}, which could write", dialect=dialect
        )
