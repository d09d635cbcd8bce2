"""The notebook runner with real papermill kernels on small synthetic notebooks.

Each test writes a notebook shaped like the analysts' one (a `parameters` cell holding
`looker = ""`, work cells, a `summary` cell) and runs it in a fresh python3 kernel.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from core.errors import BadResult, NotebookFailed, NotebookRefused
from notebooks.runner import NotebookResult, run_notebook
from tests.notebook_files import make_notebook

pytestmark = pytest.mark.slow

SQL = "SELECT SUM(price) AS spend FROM revenue.counters WHERE product = 'Authy'"


def run(path: Path, output: Path, timeout: int = 30) -> NotebookResult:
    return run_notebook(
        path,
        {"looker": SQL},
        result_name="credit_amount",
        output_path=output,
        timeout_seconds=timeout,
    )


def test_result_is_harvested_as_decimal_with_the_summary(tmp_path: Path) -> None:
    source = make_notebook(
        tmp_path / "verify.ipynb",
        [
            "assert 'Authy' in looker\nimport decimal\n",
            "credit_amount = round(4948.8, 2)",
        ],
        summary=True,
    )
    before = source.read_bytes()
    output = tmp_path / "out" / "verify.executed.ipynb"
    result = run(source, output)
    assert result.credit == Decimal("4948.8")
    assert isinstance(result.credit, Decimal)
    assert result.summary == {"accounts": 3, "query_chars": len(SQL)}
    assert result.seconds > 0
    assert not output.exists()
    assert source.read_bytes() == before


def test_numpy_and_int_results(tmp_path: Path) -> None:
    source = make_notebook(
        tmp_path / "nb.ipynb", ["import numpy as np\ncredit_amount = np.float64(12.5) * 2"]
    )
    assert run(source, tmp_path / "o.ipynb").credit == Decimal("25.0")
    source = make_notebook(tmp_path / "nb2.ipynb", ["credit_amount = 7"])
    assert run(source, tmp_path / "o2.ipynb").credit == Decimal("7.0")
    source = make_notebook(
        tmp_path / "nb3.ipynb", ["from decimal import Decimal\ncredit_amount = Decimal('0.10')"]
    )
    assert run(source, tmp_path / "o3.ipynb").credit == Decimal("0.1")


def test_parameter_overrides_the_default(tmp_path: Path) -> None:
    source = make_notebook(
        tmp_path / "nb.ipynb", ["credit_amount = 1.0 if looker == " + repr(SQL) + " else -1.0"]
    )
    assert run(source, tmp_path / "o.ipynb").credit == Decimal("1.0")


def test_notebook_without_parameters_cell_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = make_notebook(
        tmp_path / "nb.ipynb",
        ['looker = ""', f"open({str(marker)!r}, 'w').close()\ncredit_amount = 1"],
        parameters=None,
    )
    output = tmp_path / "o.ipynb"
    with pytest.raises(NotebookRefused) as caught:
        run(source, output)
    assert "parameters" in str(caught.value)
    assert "nb.ipynb" in str(caught.value)
    assert not marker.exists()
    assert not output.exists()


def test_unreadable_notebook_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(NotebookRefused):
        run(broken, tmp_path / "o.ipynb")
    with pytest.raises(NotebookRefused):
        run(tmp_path / "missing.ipynb", tmp_path / "o.ipynb")


def test_missing_result_is_bad_result(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["other = 5"])
    output = tmp_path / "o.ipynb"
    with pytest.raises(BadResult, match="did not define `credit_amount`") as caught:
        run(source, output)
    assert caught.value.context["output_path"] == str(output)
    assert output.exists()


def test_string_result_is_bad_result(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["credit_amount = '$4,948.80'"])
    with pytest.raises(BadResult) as caught:
        run(source, tmp_path / "o.ipynb")
    assert "is a str, not a number" in str(caught.value)


def test_bool_result_is_bad_result(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["credit_amount = True"])
    with pytest.raises(BadResult):
        run(source, tmp_path / "o.ipynb")


def test_nan_is_returned_for_the_sanity_rule(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["credit_amount = float('nan')"])
    assert run(source, tmp_path / "o.ipynb").credit.is_nan()


def test_failing_cell_names_the_analysts_cell_and_keeps_the_output(tmp_path: Path) -> None:
    source = make_notebook(
        tmp_path / "nb.ipynb",
        ["x = 1", "raise ValueError('no rows for this account')", "credit_amount = 1"],
    )
    output = tmp_path / "failed" / "nb.executed.ipynb"
    with pytest.raises(NotebookFailed) as caught:
        run(source, output)
    error = caught.value
    # Cells as the analyst counts them: 1 parameters, 2 `x = 1`, 3 the raise.
    assert error.context["cell"] == 3
    assert error.context["ename"] == "ValueError"
    assert error.context["evalue"] == "no rows for this account"
    assert "cell 3" in str(error)
    assert error.transient is False
    assert error.output_path == str(output)
    executed = json.loads(output.read_text(encoding="utf-8"))
    assert any(
        o.get("ename") == "ValueError" for c in executed["cells"] for o in c.get("outputs", [])
    )


def test_failure_in_the_parameters_cell_is_cell_1(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["credit_amount = 1"], parameters="1/0")
    with pytest.raises(NotebookFailed) as caught:
        run(source, tmp_path / "o.ipynb")
    assert caught.value.context["cell"] == 1
    assert caught.value.context["ename"] == "ZeroDivisionError"


def test_failure_above_the_parameters_cell_keeps_its_number(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    params = nbformat.v4.new_code_cell('looker = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_code_cell("import json"),
        nbformat.v4.new_code_cell("raise KeyError('setup')"),
        params,
        nbformat.v4.new_code_cell("credit_amount = 1"),
    ]
    source = tmp_path / "nb.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(NotebookFailed) as caught:
        run(source, tmp_path / "o.ipynb")
    assert caught.value.context["cell"] == 2
    assert caught.value.context["ename"] == "KeyError"


def test_cell_timeout_is_transient(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["import time\ntime.sleep(30)"])
    with pytest.raises(NotebookFailed) as caught:
        run(source, tmp_path / "o.ipynb", timeout=2)
    assert caught.value.transient is True
    assert caught.value.context["ename"] == "CellTimeoutError"


def test_kernel_death_is_transient(tmp_path: Path) -> None:
    source = make_notebook(tmp_path / "nb.ipynb", ["import os\nos._exit(1)"])
    with pytest.raises(NotebookFailed) as caught:
        run(source, tmp_path / "o.ipynb")
    assert caught.value.transient is True
    assert caught.value.context["ename"] == "DeadKernelError"
