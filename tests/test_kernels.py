"""The kernel pool: notebooks run side by side, each in a kernel started before it was needed
and never reused, so one memo's variables cannot reach another's credit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager

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
    # A spare boots after a thread's notebook, in the background: on a busy machine the last
    # notebook can end before the other thread's spare has started.
    deadline = time.monotonic() + 30
    while pool.kernels_started < 5 + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.kernels_started >= 5 + 1, "one kernel per notebook, and spares booted after"


def test_told_its_notebooks_the_pool_starts_only_the_kernels_they_use(tmp_path: Path) -> None:
    """`once` knows its notebooks: two of them start two kernels ahead, not the pool's four,
    and none is started after the last (each would only be stopped at exit)."""
    notebook = make_notebook(tmp_path / "two.ipynb", ["credit_amount = len(looker)"])
    kernels = KernelPool(4)
    try:
        kernels.start(notebooks=2)
        deadline = time.monotonic() + 30
        while kernels.kernels_started < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # room for a third, were one wrongly on its way
        assert kernels.kernels_started == 2, "two kernels ahead for two notebooks"
        futures = [kernels.submit(job(notebook, "x" * n, tmp_path / f"{n}.ipynb")) for n in (1, 2)]
        assert [f.result(timeout=120).credit for f in futures] == [1, 2]
        time.sleep(0.5)
        assert kernels.kernels_started == 2, "no spare after the last notebook"
        # A notebook nobody announced still gets a kernel, started when it is asked for.
        assert kernels.submit(job(notebook, "xyz", tmp_path / "3.ipynb")).result(60).credit == 3
        assert kernels.kernels_started == 3
    finally:
        kernels.close()


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


CHATTER = """
import threading, time
def _chatter():
    while True:
        print(".", end="", flush=True)
        time.sleep(0.02)
threading.Thread(target=_chatter, daemon=True).start()
"""


@pytest.mark.parametrize("fork", [False, True], ids=["booted", "forked"])
def test_a_kernel_that_keeps_printing_still_runs_its_notebook(tmp_path: Path, fork: bool) -> None:
    """jupyter_client takes a kernel to be ready once IOPub has been silent for 0.2 s: a kernel
    that prints every 20 ms is never silent, and its notebook would never start. CreditBot's
    client is done waiting when the kernel says it has answered, not when it goes quiet."""
    from jupyter_core.utils import run_sync

    notebook = make_notebook(tmp_path / "after.ipynb", ["credit_amount = len(looker)"])

    def talk_then_run(kernel: object) -> object:
        client = kernel.client()  # type: ignore[attr-defined]
        client.start_channels()
        try:
            run_sync(client.wait_for_ready)(timeout=30)
            run_sync(client.execute_interactive)(CHATTER, timeout=30)
        finally:
            client.stop_channels()
        started = time.monotonic()
        ready = kernel.client()  # type: ignore[attr-defined]
        ready.start_channels()
        try:
            run_sync(ready.wait_for_ready)(timeout=30)
        finally:
            ready.stop_channels()
        waited = time.monotonic() - started
        return waited, job(notebook, "abcd", tmp_path / "out.ipynb")(kernel)

    kernels = KernelPool(1, fork=fork)
    try:
        waited, done = kernels.submit(talk_then_run).result(timeout=90)
    finally:
        kernels.close()
    assert done.credit == 4
    assert waited < 20, f"waited {waited:.1f} s for a kernel that was ready"


def test_failures_come_back_typed(pool: KernelPool, tmp_path: Path) -> None:
    broken = make_notebook(tmp_path / "broken.ipynb", ["1 / 0"])
    with pytest.raises(NotebookFailed, match="ZeroDivisionError"):
        pool.submit(job(broken, "", tmp_path / "b.ipynb")).result(timeout=60)
    fine = make_notebook(tmp_path / "fine.ipynb", ["credit_amount = 7"])
    assert pool.submit(job(fine, "", tmp_path / "f.ipynb")).result(timeout=60).credit == 7


@pytest.mark.parametrize("ipythondir", [None, "elsewhere"])
def test_kernel_specs_are_looked_up_where_jupyter_client_looks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ipythondir: str | None
) -> None:
    # CreditBot's lookup skips IPython's import, not a folder: jupyter_client's own default
    # (which imports IPython to ask) must list the same folders, `IPYTHONDIR` followed.
    monkeypatch.setenv("HOME", str(tmp_path))
    if ipythondir is None:
        monkeypatch.delenv("IPYTHONDIR", raising=False)
    else:
        monkeypatch.setenv("IPYTHONDIR", str(tmp_path / ipythondir))
    ours = runner.KernelSpecs().kernel_dirs
    assert ours == KernelSpecManager().kernel_dirs
    assert ours[-1] == str(tmp_path / (ipythondir or ".ipython") / "kernels")
    assert runner.KernelSpecs().get_kernel_spec(runner.KERNEL).language == "python"


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


def test_a_kernel_s_signing_key_and_sockets_stay_in_one_private_folder(pool: KernelPool) -> None:
    """The connection file holds the key that signs every message to the kernel: it goes with
    the sockets into a folder only this user can open, not loose into the temporary folder
    (where a worker killed outright would leave it)."""

    def where(kernel: object) -> tuple[Path, str, bool]:
        connection = Path(kernel.connection_file)  # type: ignore[attr-defined]
        return connection, kernel.ip, connection.exists()  # type: ignore[attr-defined]

    connection, ip, written = pool.submit(where).result(timeout=60)
    assert written
    folder = connection.parent
    assert folder.name.startswith("creditbot-kernels-")
    assert folder.stat().st_mode & 0o777 == 0o700
    assert connection.stat().st_mode & 0o077 == 0
    assert Path(ip).parent == folder
    deadline = time.monotonic() + 10  # the kernel is stopped just after its work returns
    while connection.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.exists(), "removed with its kernel"


@pytest.mark.parametrize("fork", [False, True], ids=["booted", "forked"])
def test_the_notebooks_cells_stay_out_of_ipython_s_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    """IPython would keep every cell in the user's history database, forever: the memo's SQL
    and the warehouse URL (with any password in it) among them."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    marker = "warehouse_url = 'postgresql://desk:s3cret-marker@db/warehouse'"
    notebook = make_notebook(tmp_path / "secret.ipynb", [marker, "credit_amount = len(looker)"])
    kernels = KernelPool(1, fork=fork)
    try:
        done = kernels.submit(job(notebook, "select 1", tmp_path / "out.ipynb")).result(120)
        assert done.credit == 8
        assert kernels.kernels_forked == (1 if fork else 0)
    finally:
        kernels.close()
    kept = [p for p in tmp_path.joinpath("ipython").rglob("*") if p.is_file()]
    assert not [p for p in kept if b"s3cret-marker" in p.read_bytes()], kept
