"""The demo warehouse, its Looker-shaped queries, and the two credit notebooks on real kernels."""

from __future__ import annotations

import re
import sqlite3
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import nbformat
import papermill
import pytest
import sqlglot
from sqlglot import expressions as exp

from core.sqlcheck import check_read_only
from notebooks.routing import route
from sandbox.queries import demo_queries, fraud_spend
from sandbox.warehouse import DEFAULT_PATH, build_warehouse, warehouse_url
from tests.credit_formula import expected_credit
from worker.settings import DEFAULT_PRODUCTS, NOTEBOOKS_DIR

NOTEBOOKS = {p.name: p.notebook for p in DEFAULT_PRODUCTS}
ROUTES = {
    "verify_pumping": "Verify",
    "verify_second": "Verify",
    "psms_pumping": "PSMS",
    "unrouted": None,
    "broken": "Verify",
}
RUNNABLE = [key for key in ROUTES if key != "broken"]
PRINT_CREDIT = "print('CREDIT', repr(credit_amount), type(credit_amount).__name__)"


def dump(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        lines = list(db.iterdump())
    db.close()
    return lines


def execute(notebook: Path, parameters: dict[str, Any], output: Path) -> nbformat.NotebookNode:
    """Run with papermill on a real kernel, plus a test-only cell that prints `credit_amount`."""
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PRINT_CREDIT))
    papermill.execute_notebook(
        nb, str(output), parameters=parameters, kernel_name="python3", progress_bar=False
    )
    return nbformat.read(output, as_version=4)


def printed_credit(nb: nbformat.NotebookNode) -> tuple[Decimal, str]:
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    match = re.fullmatch(r"CREDIT (\S+) (\w+)\n", text)
    assert match, text
    return Decimal(match[1]), match[2]


def summary_output(nb: nbformat.NotebookNode) -> dict[str, Any]:
    cell = next(c for c in nb.cells if "summary" in c.metadata.get("tags", []))
    return next(o.data["application/json"] for o in cell.outputs if "data" in o)


# --- warehouse -----------------------------------------------------------------------------------


def test_two_builds_are_identical_and_a_rebuild_is_skipped(tmp_path: Path) -> None:
    started = time.monotonic()
    first = build_warehouse(tmp_path / "a" / "w.sqlite")
    assert time.monotonic() - started < 2
    second = build_warehouse(tmp_path / "b" / "w.sqlite")
    assert dump(first) == dump(second)
    assert first.read_bytes() == second.read_bytes()
    stamp = first.stat().st_mtime_ns
    assert build_warehouse(first) == first
    assert first.stat().st_mtime_ns == stamp
    assert not list(first.parent.glob("*.tmp"))


def test_an_outdated_or_damaged_file_is_rebuilt(tmp_path: Path) -> None:
    path = build_warehouse(tmp_path / "w.sqlite")
    good = dump(path)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM counters_by_billable_item WHERE iso_code = 'UZ'")
        db.execute("UPDATE warehouse_meta SET value = 'old' WHERE key = 'fingerprint'")
    db.close()
    assert dump(build_warehouse(path)) == good
    path.write_bytes(b"not a database")
    assert dump(build_warehouse(path)) == good


def test_warehouse_holds_october_traffic_with_pumping(warehouse: Path) -> None:
    with sqlite3.connect(warehouse) as db:
        sids = [r[0] for r in db.execute("SELECT account_sid FROM accounts")]
        days = db.execute(
            "SELECT MIN(usage_date), MAX(usage_date), COUNT(DISTINCT usage_date)"
            " FROM counters_by_billable_item"
        ).fetchone()
        items = {r[0] for r in db.execute("SELECT name FROM billable_items")}
        costs = [r[0] for r in db.execute("SELECT cost_usd FROM counters_by_billable_item")]
        spikes = db.execute(
            "SELECT COUNT(DISTINCT account_sid) FROM counters_by_billable_item"
            " JOIN countries USING (iso_code)"
            " WHERE pumping_risk = 1 AND message_count > 300 AND blocked_count < message_count"
        ).fetchone()[0]
    db.close()
    assert all(re.fullmatch(r"AC[0-9a-f]{32}", sid) for sid in sids)
    assert len(set(sids)) == len(sids) >= 5
    assert days == ("2026-10-01", "2026-10-31", 31)
    assert {"Authy Verify SMS", "Authy Verify Voice", "Programmable SMS - Outbound"} <= items
    assert all(Decimal(str(c)) == Decimal(str(c)).quantize(Decimal("0.01")) for c in costs)
    assert spikes == 3
    assert warehouse_url(warehouse) == f"sqlite:///{warehouse.resolve()}"
    assert Path("data/demo_warehouse.sqlite") == DEFAULT_PATH


# --- demo queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", list(ROUTES))
def test_demo_query_is_one_looker_shaped_select(key: str) -> None:
    sql = demo_queries()[key].sql
    statements = sqlglot.parse(sql, read="sqlite")
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Select)
    check_read_only(sql, "sqlite")
    assert 40 <= len(sql.splitlines()) <= 120
    assert re.search(r'AS "\w+\.\w+"', sql)
    assert "<>" in sql and "&" in sql and "'" in sql and "\n\n" in sql
    assert re.search(r"^\s*(SELECT|FROM|GROUP BY|ORDER BY)\b", sql, re.M)


def test_demo_queries_cover_comments_and_ctes() -> None:
    sqls = [q.sql for q in demo_queries().values()]
    assert sum(s.lstrip().startswith("WITH") or "\nWITH " in s for s in sqls) >= 2
    assert all("-- sql for creating the total and/or determining pivot columns" in s for s in sqls)


@pytest.mark.parametrize("key", RUNNABLE)
def test_demo_query_runs_and_costs_money(key: str, warehouse: Path) -> None:
    spend = fraud_spend(demo_queries()[key], warehouse)
    assert spend > 0
    assert spend == spend.quantize(Decimal("0.01"))


def test_broken_query_fails_only_when_run(warehouse: Path) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such column"):
        fraud_spend(demo_queries()["broken"], warehouse)


@pytest.mark.parametrize(("key", "product"), ROUTES.items())
def test_routing_classifies_demo_queries(key: str, product: str | None) -> None:
    routed = route(demo_queries()[key].sql, DEFAULT_PRODUCTS)
    assert (routed.name if routed else None) == product
    if key == "psms_pumping":
        assert "authy" not in demo_queries()[key].sql.lower()


# --- notebooks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("product", list(NOTEBOOKS))
def test_notebook_is_clean_and_parameterised(product: str) -> None:
    path = NOTEBOOKS[product]
    assert path.parent == NOTEBOOKS_DIR
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.kernelspec.name == "python3"
    assert nb.cells[0].cell_type == "markdown" and "credit =" in nb.cells[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tags = {t: c for c in nb.cells for t in c.metadata.get("tags", [])}
    assert tags["parameters"].source == (
        'looker = ""\nwarehouse_url = "sqlite:///data/demo_warehouse.sqlite"'
    )
    index = nb.cells.index(tags["summary"])
    assert nb.cells[index - 1].source.startswith("## Summary Info")


CASES = [
    ("Verify", "verify_pumping"),
    ("Verify", "verify_second"),
    ("PSMS", "psms_pumping"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("product", "key"), CASES)
def test_notebook_credit_matches_the_formula(
    product: str, key: str, warehouse: Path, tmp_path: Path
) -> None:
    query = demo_queries()[key]
    nb = execute(
        NOTEBOOKS[product],
        {"looker": query.sql, "warehouse_url": warehouse_url(warehouse)},
        tmp_path / "out.ipynb",
    )
    credit, kind = printed_credit(nb)
    expected = expected_credit(product, query.sql, warehouse)
    spend = fraud_spend(query, warehouse)
    assert kind == "float"
    assert credit == expected
    assert Decimal("0") < credit < spend
    summary = summary_output(nb)
    assert set(summary) == {
        "mode",
        "traffic_share",
        "message_count",
        "fraud_cost",
        "block_rate",
        "credit",
    }
    assert summary["mode"] == product
    assert Decimal(str(summary["credit"])) == expected
    assert 0 < summary["traffic_share"] < 1 and 0 < summary["block_rate"] < 1
    assert Decimal(str(summary["fraud_cost"])) <= spend


@pytest.mark.slow
def test_psms_credit_below_the_cap_is_half_the_high_risk_spend(
    warehouse: Path, tmp_path: Path
) -> None:
    """The demo PSMS memo hits the cap; one pumping day alone shows the share at work."""
    sql = demo_queries()["psms_pumping"].sql.replace("DATE('2026-10-01')", "DATE('2026-10-15')")
    sql = sql.replace("DATE('2026-11-01')", "DATE('2026-10-16')")
    expected = expected_credit("PSMS", sql, warehouse)
    assert Decimal("0") < expected < Decimal("2500.00")
    assert expected_credit("PSMS", demo_queries()["psms_pumping"].sql, warehouse) == Decimal(
        "2500.00"
    )
    nb = execute(
        NOTEBOOKS["PSMS"],
        {"looker": sql, "warehouse_url": warehouse_url(warehouse)},
        tmp_path / "out.ipynb",
    )
    assert printed_credit(nb) == (expected, "float")


@pytest.mark.slow
@pytest.mark.parametrize("product", list(NOTEBOOKS))
def test_empty_looker_parameter_is_refused(product: str, warehouse: Path, tmp_path: Path) -> None:
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(
            NOTEBOOKS[product],
            {"looker": "  \n", "warehouse_url": warehouse_url(warehouse)},
            tmp_path / "out.ipynb",
        )
    assert caught.value.ename == "ValueError"
    assert caught.value.evalue == "looker parameter is empty: paste the Looker SQL"


@pytest.mark.slow
def test_broken_query_fails_in_the_query_cell(warehouse: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        execute(
            NOTEBOOKS["Verify"],
            {"looker": demo_queries()["broken"].sql, "warehouse_url": warehouse_url(warehouse)},
            output,
        )
    assert "blocked_messages" in caught.value.evalue
    # papermill puts a banner cell above the failed notebook; the index counts without it
    cells = [
        c
        for c in nbformat.read(output, as_version=4).cells
        if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    failed = cells[caught.value.cell_index]
    assert failed.metadata.get("tags") == ["query"]
    assert "read_sql" in failed.source
    assert [o.output_type for o in failed.outputs] == ["error"]
