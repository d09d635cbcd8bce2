"""One worker per data dir, held by a real second process, and released when that process dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import AnotherWorkerRunning
from worker.lock import worker_lock

ROOT = Path(__file__).resolve().parent.parent
HOLDER = """
import sys, time
from pathlib import Path
from worker.lock import worker_lock
with worker_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    """Start a process that takes the lock; return once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.fixture
def holders() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_lock_is_reentrant_after_release(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with worker_lock(data_dir):
        assert (data_dir / "creditbot.lock").read_text() == str(os.getpid())
    with worker_lock(data_dir):
        pass
    assert (data_dir / "creditbot.lock").stat().st_mode & 0o777 == 0o600


def test_second_holder_is_refused_naming_the_pid(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold(tmp_path, 30)
    holders.append(holder)
    with pytest.raises(AnotherWorkerRunning) as caught, worker_lock(tmp_path):
        pytest.fail("the lock was taken twice")
    assert f"pid {holder.pid}" in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_other_data_dirs_are_independent(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    holders.append(hold(tmp_path / "a", 30))
    with worker_lock(tmp_path / "b"):
        pass


def test_wait_queues_behind_the_holder(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold(tmp_path, 1.0)
    holders.append(holder)
    started = time.monotonic()
    with worker_lock(tmp_path, wait=True, poll_seconds=0.05):
        waited = time.monotonic() - started
        assert holder.wait(timeout=10) == 0
        assert (tmp_path / "creditbot.lock").read_text() == str(os.getpid())
    assert waited > 0.3


def test_sigkilled_holder_releases_the_lock(
    tmp_path: Path, holders: list[subprocess.Popen[str]]
) -> None:
    holder = hold(tmp_path, 60)
    holders.append(holder)
    with pytest.raises(AnotherWorkerRunning), worker_lock(tmp_path):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with worker_lock(tmp_path):
        assert (tmp_path / "creditbot.lock").read_text() == str(os.getpid())


def test_threads_of_one_process_also_exclude_each_other(tmp_path: Path) -> None:
    """flock is per open file, so even a second lock in the same process is refused."""
    refused: list[BaseException] = []
    with worker_lock(tmp_path):

        def second() -> None:
            try:
                with worker_lock(tmp_path):
                    pass
            except AnotherWorkerRunning as exc:
                refused.append(exc)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=10)
    assert len(refused) == 1
    assert f"pid {os.getpid()}" in str(refused[0])
