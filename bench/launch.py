"""`python main.py once|run` as an operator starts it, timed by the clock and the kernel.

The worker is a child process in its own session, so its wall time runs from just before the
fork to the moment `wait4` reaps it, its CPU time comes from that `wait4`'s rusage (the child and
every descendant it reaped: browsers, kernels), and its tree is sampled from /proc meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import Snapshot, TreeSampler, TreeStats, group

REPO = Path(__file__).resolve().parent.parent


def clean_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    """The bench's own environment without a person's Slack or CreditBot settings, so the
    worker sees only the sandbox's (CHROMIUM_PATH and the like pass through)."""
    source = dict(os.environ if base is None else base)
    return {k: v for k, v in source.items() if not k.startswith(("SLACK_", "CREDITBOT_"))}


@dataclass
class Finished:
    """One worker process from fork to reaping."""

    command: list[str]
    returncode: int
    wall_s: float
    user_s: float
    sys_s: float
    max_single_rss_kb: int  # ru_maxrss: the largest one process got, not the tree
    killed: bool
    stdout: Path
    stderr: Path
    tree: TreeStats
    leftovers: list[str]  # processes of its group still running after it exited

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    def tail(self, lines: int = 15) -> str:
        """The end of stderr, for saying why a run went wrong."""
        try:
            text = self.stderr.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def as_dict(self) -> dict[str, Any]:
        return {
            "command": " ".join(self.command),
            "returncode": self.returncode,
            "wall_s": round(self.wall_s, 4),
            "user_s": round(self.user_s, 4),
            "sys_s": round(self.sys_s, 4),
            "cpu_s": round(self.cpu_s, 4),
            "max_single_rss_kb": self.max_single_rss_kb,
            "killed": self.killed,
            "leftovers": self.leftovers,
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
            "tree": self.tree.as_dict(),
        }


class Worker:
    """One `python main.py ARGS` child; `wait()` for `once`, `stop()` (SIGTERM) for `run`."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        logs: Path,
        *,
        sample_interval: float = 0.05,
    ) -> None:
        self.command = [sys.executable, "main.py", *args]
        self.env = env
        logs.mkdir(parents=True, exist_ok=True)
        stem = f"{'-'.join(args)}-{time.strftime('%H%M%S')}-{time.monotonic_ns() % 10**6}"
        self.stdout = logs / f"{stem}.out"
        self.stderr = logs / f"{stem}.err"
        self.sample_interval = sample_interval
        self.process: subprocess.Popen[bytes] | None = None
        self.sampler: TreeSampler | None = None
        self.started = 0.0
        self._killed = False

    def start(self) -> Worker:
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.started = time.monotonic()
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own group: a timeout can end all it started
            )
        self.sampler = TreeSampler(self.process.pid, self.sample_interval).start()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        """Still running? Asked without reaping it, so `wait` still gets its rusage."""
        if self.process is None or self.process.returncode is not None:
            return False
        try:
            exited = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return exited is None

    def snapshot(self, *, pss: bool = True) -> Snapshot | None:
        assert self.sampler is not None
        return self.sampler.snapshot(pss=pss)

    def wait(self, timeout: float) -> Finished:
        """Reap the child with `wait4` (its rusage), killing its group after `timeout`."""
        assert self.process is not None and self.sampler is not None
        timer = threading.Timer(timeout, self._kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(self.process.pid, 0)
        except BaseException:  # Ctrl-C: its own session would outlive the bench otherwise
            self._kill()
            os.wait4(self.process.pid, 0)
            self.process.returncode = -9
            self.sampler.stop()
            raise
        finally:
            timer.cancel()
        wall = time.monotonic() - self.started
        self.process.returncode = os.waitstatus_to_exitcode(status)
        tree = self.sampler.stop()
        leftovers = self._clean_up()
        return Finished(
            command=self.command[1:],
            returncode=self.process.returncode,
            wall_s=wall,
            user_s=usage.ru_utime,
            sys_s=usage.ru_stime,
            max_single_rss_kb=usage.ru_maxrss,
            killed=self._killed,
            stdout=self.stdout,
            stderr=self.stderr,
            tree=tree,
            leftovers=leftovers,
        )

    def _clean_up(self) -> list[str]:
        """What the worker left running after it exited (a leaked browser or kernel is a
        finding); ended here so it cannot weigh on the next measurement."""
        assert self.process is not None
        left = group(self.process.pid)
        if left:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        return [name for _, name in left]

    def stop(self, timeout: float = 60) -> Finished:
        """SIGTERM, as a service manager stops `run`; the memo in hand may finish first."""
        assert self.process is not None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
        return self.wait(timeout)

    def _kill(self) -> None:
        """Timed out: end the worker and everything it started (its own process group)."""
        assert self.process is not None
        self._killed = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
