"""One worker per data dir: an advisory lock the OS drops when the process dies, even by SIGKILL.

Because the lock dies with its holder, a memo left mid-way by a dead worker is simply resumed by
the next one; there is no lease to wait out.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import AnotherWorkerRunning


@contextmanager
def worker_lock(data_dir: Path, *, wait: bool = False, poll_seconds: float = 0.5) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = data_dir / "creditbot.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    holder = (
                        os.pread(fd, 32, 0).decode(errors="replace").strip() or "another process"
                    )
                    raise AnotherWorkerRunning(
                        f"another CreditBot worker (pid {holder}) is running on {data_dir}; "
                        "this one touched nothing (use --wait to queue behind it)",
                        data_dir=str(data_dir),
                    ) from None
                time.sleep(poll_seconds)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
