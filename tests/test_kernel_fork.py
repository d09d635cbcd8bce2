"""Kernels forked from the fork server: each is a new process with an empty namespace that runs
one notebook, is interrupted and stopped as a booted kernel is, and ends with the worker; where
forking cannot be trusted, kernels are booted instead and the notebooks still run."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import tree
from core.errors import NotebookFailed
from notebooks import kernels
from notebooks.kernels import KernelPool, can_fork
from notebooks.runner import run_notebook
from tests.notebook_files import make_notebook

pytestmark = pytest.mark.skipif(not can_fork(), reason="kernels are forked on Linux only")
REPO = Path(__file__).resolve().parents[1]


def run(pool: KernelPool, notebook: Path, out: Path, looker: str = "", timeout: int = 60) -> object:
    return pool.submit(
        lambda kernel: run_notebook(
            notebook,
            {"looker": looker},
            result_name="credit_amount",
            output_path=out,
            timeout_seconds=timeout,
            kernel=kernel,
        )
    ).result(timeout=90)


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def forked() -> Iterator[KernelPool]:
    pool = KernelPool(2, preload=("wave",), fork=True)
    yield pool
    pool.close()


def test_each_notebook_gets_a_new_forked_kernel_with_the_imports_done(
    forked: KernelPool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `wave` is a standard module nothing in a kernel imports by itself: only the server did.
    notebook = make_notebook(
        tmp_path / "probe.ipynb",
        [
            "import os, sys",
            "assert 'left_behind' not in globals() and '_load' not in globals()",
            "left_behind = 1",
            "assert 'wave' in sys.modules",
            "open(os.environ['PIDS'], 'a').write(f'{os.getpid()} {os.getppid()}\\n')",
            "credit_amount = len(looker)",
        ],
    )
    monkeypatch.setenv("PIDS", str(tmp_path / "pids"))
    credits = [run(forked, notebook, tmp_path / f"{n}.ipynb", "x" * n).credit for n in (1, 2, 3)]
    assert credits == [1, 2, 3]
    pids = [line.split() for line in (tmp_path / "pids").read_text().splitlines()]
    assert len({pid for pid, _ in pids}) == 3, "a new kernel process for every notebook"
    server = forked._server
    assert server is not None
    assert {int(parent) for _, parent in pids} == {server.pid}, "forked by the server"
    assert forked.kernels_forked == forked.kernels_started >= 3
    for pid, _ in pids:
        assert gone(int(pid), within=5), "each kernel is stopped after its notebook"


def test_a_forked_kernel_starts_in_the_worker_s_folder_and_environment_of_its_fork(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the server's: as a booted kernel, it has what the worker had when it started.
    first, then = tmp_path / "first", tmp_path / "then"
    first.mkdir()
    then.mkdir()
    notebook = make_notebook(
        tmp_path / "cwd.ipynb",
        [
            "import os\n"
            f"open({str(tmp_path / 'cwds')!r}, 'a').write(\n"
            "    os.getcwd() + ' ' + os.environ.get('CREDITBOT_MOVED', 'no') + '\\n')",
            "credit_amount = 1",
        ],
    )
    monkeypatch.chdir(first)
    pool = KernelPool(2, fork=True)  # the server and both spares start in `first`
    try:
        pool.start()
        deadline = time.monotonic() + 30
        while pool.kernels_forked < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.kernels_forked == 2
        monkeypatch.chdir(then)
        monkeypatch.setenv("CREDITBOT_MOVED", "yes")
        for n in range(3):  # two spares at most were forked in `first`
            run(pool, notebook, tmp_path / f"{n}.ipynb")
    finally:
        pool.close()
    seen = (tmp_path / "cwds").read_text().splitlines()
    assert len(seen) == 3 and set(seen) <= {f"{first} no", f"{then} yes"}
    assert f"{then} yes" in seen, "a kernel forked after the worker moved has where it is now"


def test_forked_kernels_do_not_share_their_random_state(tmp_path: Path) -> None:
    # Each booted kernel seeds itself from the OS; a forked one would start from the server's.
    notebook = make_notebook(
        tmp_path / "dice.ipynb",
        [
            "import random, numpy\n"
            f"open({str(tmp_path / 'draws')!r}, 'a').write(\n"
            "    f'{random.random()} {numpy.random.random()}\\n')",
            "credit_amount = 1",
        ],
    )
    pool = KernelPool(2, preload=("numpy.random",), fork=True)  # as pandas imports it
    try:
        for n in range(3):
            run(pool, notebook, tmp_path / f"{n}.ipynb")
    finally:
        pool.close()
    draws = [line.split() for line in (tmp_path / "draws").read_text().splitlines()]
    assert pool.kernels_forked >= 3
    assert len({python for python, _ in draws}) == 3
    assert len({numpy for _, numpy in draws}) == 3, "numpy's global state is seeded per kernel"


def test_a_forked_kernel_is_interrupted_at_the_cell_timeout_and_then_stopped(
    forked: KernelPool, tmp_path: Path
) -> None:
    notebook = make_notebook(
        tmp_path / "slow.ipynb",
        [
            f"import os, time\nopen({str(tmp_path / 'pid')!r}, 'w').write(str(os.getpid()))",
            "time.sleep(60)",
            "credit_amount = 1",
        ],
    )
    started = time.monotonic()
    with pytest.raises(NotebookFailed, match="cell timeout") as raised:
        run(forked, notebook, tmp_path / "slow.out.ipynb", timeout=2)
    assert time.monotonic() - started < 30
    assert raised.value.transient
    assert forked.kernels_forked >= 1
    assert gone(int((tmp_path / "pid").read_text()), within=10)
    fine = make_notebook(tmp_path / "fine.ipynb", ["credit_amount = 7"])
    assert run(forked, fine, tmp_path / "fine.out.ipynb").credit == 7


def test_a_module_that_starts_a_thread_on_import_means_booted_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A fork copies only the thread that forks: a lock another thread held stays held forever
    # in the kernel. The server refuses to fork then, and the pool boots its kernels.
    (tmp_path / "starts_a_thread.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    notebook = make_notebook(tmp_path / "n.ipynb", ["credit_amount = 5"])
    pool = KernelPool(1, preload=("starts_a_thread",), fork=True)
    try:
        with caplog.at_level(logging.WARNING, logger="notebooks.kernels"):
            assert run(pool, notebook, tmp_path / "n.out.ipynb").credit == 5
    finally:
        pool.close()
    assert pool.kernels_started >= 1 and pool.kernels_forked == 0
    assert "booted, not forked" in caplog.text and "started a thread" in caplog.text


def test_a_module_that_prints_on_import_does_not_garble_the_fork_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "chatty.py").write_text(
        'import os, sys\nprint(\'{"id": 1, "error": "x"}\')\nsys.stdout.flush()\n'
        "os.write(1, b'half a line, no end: ')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    notebook = make_notebook(tmp_path / "n.ipynb", ["import chatty", "credit_amount = 3"])
    pool = KernelPool(1, preload=("chatty",), fork=True)
    try:
        assert run(pool, notebook, tmp_path / "n.out.ipynb").credit == 3
    finally:
        pool.close()
    assert pool.kernels_forked >= 1


def test_a_kernel_that_ends_at_once_is_seen_to_end(forked: KernelPool) -> None:
    # Its end may reach the worker before the answer to its fork does: either way it is seen.
    forked.start()
    server = forked._server
    assert server is not None
    argv = [sys.executable, "-m", "ipykernel_launcher", "--no-such-option"]
    for _ in range(5):
        kernel = server.spawn(argv, dict(os.environ), os.getcwd())
        assert kernel.wait(timeout=20) != 0


def test_forked_kernels_that_die_on_the_way_up_mean_booted_kernels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server that speaks the protocol but whose kernels end at once: without turning to
    # booted kernels, every notebook would fail with a dead kernel.
    broken = tmp_path / "forkserver.py"
    broken.write_text(
        textwrap.dedent(
            """
            import json, os, sys
            def send(message):
                os.write(1, json.dumps(message).encode() + b"\\n")
            send({"ready": True, "failed": []})
            for line in sys.stdin.buffer:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    os._exit(3)
                send({"id": request["id"], "pid": pid})
                send({"exit": pid, "code": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])})
            """
        )
    )
    monkeypatch.setattr(kernels, "FORK_SERVER", broken)
    caplog.set_level(logging.WARNING, logger="notebooks.kernels")
    notebook = make_notebook(tmp_path / "n.ipynb", ["credit_amount = 4"])
    pool = KernelPool(1, fork=True)
    try:
        pool.start()
        time.sleep(1)  # its spare kernel dies while it waits for a notebook
        assert run(pool, notebook, tmp_path / "n.out.ipynb").credit == 4
    finally:
        pool.close()
    assert pool.kernels_started > pool.kernels_forked, "the notebook ran in a booted kernel"
    assert "died before it was used" in caplog.text


def test_kernels_are_booted_when_the_fork_server_dies(
    forked: KernelPool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="notebooks.kernels")
    notebook = make_notebook(tmp_path / "n.ipynb", ["credit_amount = len(looker)"])
    assert run(forked, notebook, tmp_path / "1.ipynb", "x").credit == 1
    server = forked._server
    assert server is not None
    os.kill(server.pid, signal.SIGKILL)
    assert gone(server.pid, within=5), "reaped: no zombie left behind"
    before = forked.kernels_forked
    # The spares forked before it died end with it; the kernels after them are booted.
    credits = [run(forked, notebook, tmp_path / f"{n}.ipynb", "x" * n).credit for n in (2, 3, 4)]
    assert credits == [2, 3, 4]
    assert forked.kernels_forked == before, "nothing forked after the server died"
    assert forked.kernels_started > forked.kernels_forked
    assert "fork server ended" in caplog.text


def test_another_kernel_spec_is_booted_as_it_says(forked: KernelPool) -> None:
    forked.start()
    server = forked._server
    assert server is not None
    assert server.usable([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not server.usable(["/opt/other/python3", "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not server.usable([sys.executable, "-m", "some_other_kernel", "-f", "k.json"])


def test_the_fork_server_and_its_kernels_end_with_the_worker(tmp_path: Path) -> None:
    # A worker killed outright (no chance to stop anything) leaves nothing running behind it.
    worker = textwrap.dedent(
        """
        import sys, time
        from notebooks.kernels import KernelPool
        pool = KernelPool(2, fork=True)
        pool.start()
        while pool.kernels_forked < 2:
            time.sleep(0.05)
        print(pool._server.pid, flush=True)
        time.sleep(120)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", worker], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        server = int(process.stdout.readline())
        kernels = [p.pid for p in tree(server) if p.pid != server]
        assert len(kernels) == 2, "two spare kernels, forked by the server"
        process.kill()
        process.wait()
        assert gone(server, within=5), "the server ends when its worker does"
        for pid in kernels:
            assert gone(pid, within=10), "a kernel ends when its server does"
    finally:
        process.kill()
