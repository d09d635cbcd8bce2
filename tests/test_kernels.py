"""The kernel pool: notebooks run side by side, each in a kernel started before it was needed
and never reused, so one memo's variables cannot reach another's credit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import NotebookFailed, SetupError
from notebooks import runner
from notebooks.kernels import KernelPool, imported_modules
from notebooks.runner import run_notebook
from tests.notebook_files import make_notebook


@pytest.fixture
def pool() -> Iterator[KernelPool]:
    kernels = KernelPool(2)
    yield kernels
    kernels.close()


def job(notebook: Path, looker: str, out: Path) -> object:
    return lambda kernel: run_notebook(
        notebook,
        {"looker": looker},
        result_name="credit_amount",
        output_path=out,
        timeout_seconds=60,
        kernel=kernel,
    )


def test_each_notebook_runs_in_a_fresh_kernel_booted_ahead(
    pool: KernelPool, tmp_path: Path
) -> None:
    # The notebook leaves a variable behind and counts on it not being there already.
    notebook = make_notebook(
        tmp_path / "leaky.ipynb",
        ["assert 'left_behind' not in globals()", "left_behind = 1", "credit_amount = len(looker)"],
    )
    pool.start()
    deadline = time.monotonic() + 30
    while pool.kernels_started < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.kernels_started == 2, "both kernels boot before any notebook is asked for"
    futures = [pool.submit(job(notebook, "x" * n, tmp_path / f"{n}.ipynb")) for n in range(1, 6)]
    assert [f.result(timeout=120).credit for f in futures] == [1, 2, 3, 4, 5]
    assert pool.kernels_started >= 5 + 1, "one kernel per notebook, and spares booted after"


def test_a_warm_kernel_saves_its_start_up(pool: KernelPool, tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "quick.ipynb", ["credit_amount = 1"])
    started = time.monotonic()
    run_notebook(
        notebook,
        {},
        result_name="credit_amount",
        output_path=tmp_path / "c.ipynb",
        timeout_seconds=60,
    )
    cold = time.monotonic() - started
    pool.start()
    time.sleep(3)  # the spare boots meanwhile
    started = time.monotonic()
    pool.submit(job(notebook, "", tmp_path / "w.ipynb")).result(timeout=60)
    warm = time.monotonic() - started
    assert warm < cold, (warm, cold)


def test_failures_come_back_typed(pool: KernelPool, tmp_path: Path) -> None:
    broken = make_notebook(tmp_path / "broken.ipynb", ["1 / 0"])
    with pytest.raises(NotebookFailed, match="ZeroDivisionError"):
        pool.submit(job(broken, "", tmp_path / "b.ipynb")).result(timeout=60)
    fine = make_notebook(tmp_path / "fine.ipynb", ["credit_amount = 7"])
    assert pool.submit(job(fine, "", tmp_path / "f.ipynb")).result(timeout=60).credit == 7


def test_no_kernel_is_a_setup_problem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(runner, "KERNEL", "no-such-kernel")
    pool = KernelPool(1)
    try:
        fine = make_notebook(tmp_path / "fine.ipynb", ["credit_amount = 7"])
        with pytest.raises(SetupError, match="no-such-kernel"):
            pool.submit(job(fine, "", tmp_path / "f.ipynb")).result(timeout=60)
    finally:
        pool.close()


def test_a_booted_kernel_has_the_notebooks_imports_done_and_nothing_else(tmp_path: Path) -> None:
    # `wave` is a standard module nothing in a kernel imports by itself. The first notebook only
    # names what to preload (one module that does not exist); the probe reports whether `wave`
    # was imported before it asked, and that the preload left no name in its namespace.
    notebook = make_notebook(
        tmp_path / "imports.ipynb",
        [
            "import sys\nalready = 'wave' in sys.modules",
            "import wave\nfrom no_such_module_at_all import x",
        ],
    )
    assert imported_modules([notebook, tmp_path / "missing.ipynb"]) == (
        "sys",
        "wave",
        "no_such_module_at_all",
    )
    probe = make_notebook(
        tmp_path / "probe.ipynb",
        [
            "import sys",
            "assert not {'_creditbot_preload', 'importlib', 'name'} & set(globals())",
            "credit_amount = int('wave' in sys.modules)",
        ],
    )
    for preload, expected in ((imported_modules([notebook]), 1), ((), 0)):
        pool = KernelPool(1, preload=preload)
        try:
            result = pool.submit(job(probe, "", tmp_path / "p.ipynb")).result(timeout=60)
        finally:
            pool.close()
        assert result.credit == expected, preload
