"""Notebook runs on a few threads, each with a Jupyter kernel started before it is needed.

A kernel takes most of a second to start, longer than many notebooks take to run. Each of the
pool's threads therefore keeps one kernel booted ahead of time; a run takes it, and the thread
starts the next one at once, while other work goes on. A kernel runs exactly one notebook and is
shut down after it, as before: one memo's variables can never reach another's credit.

On Linux the kernels are forked from a fork server (`notebooks/forkserver.py`) that imported
ipykernel and the product notebooks' modules once (pandas and SQLAlchemy take longer to import
than the credit takes to compute): a kernel is ready in a fraction of the CPU of a boot, and
shares those modules' memory. Where a kernel cannot be forked (another OS, another kernel spec,
the server gone or refusing), it is booted as jupyter_client boots it, and may import the same
modules ahead of time itself. Either way only the interpreter's module cache is filled: nothing
is bound in the notebook's namespace, and a module that fails to import is left for the
notebook's own import to report.

Each thread drives its kernels with its own event loop (jupyter's `run_sync` keeps one per
thread), which is why a kernel is started, used and stopped on the same thread.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.utils import run_sync

from core.errors import NotebookFailed, SetupError
from core.policies import NotebookPolicy
from notebooks import runner

log = logging.getLogger(__name__)
PRELOAD_SECONDS = 60
PRELOAD_SOURCE = """\
def _creditbot_preload():
    import importlib
    for name in {names!r}:
        try:
            importlib.import_module(name)
        except Exception:
            pass
_creditbot_preload()
del _creditbot_preload
"""


@dataclass
class _Job:
    work: Callable[[Any], Any]  # called with the warm kernel manager
    future: Future[Any]


class KernelPool:
    def __init__(self, size: int, preload: tuple[str, ...] = (), *, fork: bool = False) -> None:
        self.size = size
        self.preload = preload  # modules each kernel has imported before its notebook starts
        self.fork = fork  # fork the kernels from a server that imported `preload` once
        self.kernels_started = 0  # every kernel ever started, for the benchmark and the tests
        self.kernels_forked = 0  # of which forked from the server
        self._server: ForkServer | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._ahead: int | None = None  # notebooks announced, not yet submitted; None: keep full
        self._in_flight = 0  # submitted, not finished

    def start(self, notebooks: int | None = None) -> None:
        """Start kernels now, ahead of the notebooks: each thread starts a spare. Without a
        count the pool is kept full (`run`'s, for the memos still to come); with one (`once`'s,
        which knows its notebooks), only as many as those `notebooks` will use: a spare nobody
        takes costs a core while the pages load, and another when it is stopped."""
        with self._lock:
            self._open()
            if notebooks is None:
                self._ahead = None
            elif self._ahead is not None or not self._threads:
                self._ahead = (self._ahead or 0) + notebooks
            self._grow()

    def submit(self, work: Callable[[Any], Any]) -> Future[Any]:
        """`work(kernel_manager)` on the next free thread; its result or error in the future."""
        future: Future[Any] = Future()
        with self._lock:
            self._open()
            self._in_flight += 1
            if self._ahead:
                self._ahead -= 1
            self._grow()
        self._jobs.put(_Job(work, future))
        return future

    def _open(self) -> None:
        """Open (again, after `close`) for work, with its fork server (under the lock)."""
        self._closing.clear()
        if self.fork and self._server is None:
            self._server = ForkServer(self.preload)

    def _grow(self) -> None:
        """A thread for each notebook announced or in flight (all of them when kept full), up
        to the size (under the lock)."""
        wanted = self.size if self._ahead is None else min(self._ahead + self._in_flight, self.size)
        while len(self._threads) < wanted:
            thread = threading.Thread(
                target=self._serve, name=f"creditbot-kernel-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _wants_spare(self) -> bool:
        """Whether a thread that is free should start a kernel before a notebook asks."""
        if self._closing.is_set():
            return False
        with self._lock:
            return self._ahead is None or self._ahead > 0 or not self._jobs.empty()

    @property
    def fork_problem(self) -> str | None:
        """Why kernels are booted rather than forked, once the fork server has said so."""
        return self._server.problem if self._server is not None else None

    @property
    def preload_failed(self) -> list[str]:
        """The modules the fork server could not import (each notebook that imports one fails
        there, in the notebook)."""
        return list(self._server.failed) if self._server is not None else []

    def close(self) -> None:
        """Let the threads finish what they hold, then stop them and their spare kernels."""
        self._closing.set()  # no new spare kernels from here on
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout=60)
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()

    # --- one thread -------------------------------------------------------------------------

    def _serve(self) -> None:
        spare: Any = None
        problem: BaseException | None = None
        while True:
            if spare is None and problem is None and self._wants_spare():
                try:
                    spare = self._boot()
                except (SetupError, NotebookFailed) as exc:
                    problem = exc
            job = self._jobs.get()
            if job is None:
                break
            if problem is not None:  # no kernel could be started: tell this job, try again next
                job.future.set_exception(problem)
                problem = None
                self._finished()
                continue
            kernel, spare = spare, None
            try:
                if kernel is None or not run_sync(kernel.is_alive)():  # none yet, or it died
                    if kernel is not None:
                        self._died_waiting(kernel)
                        _stop(kernel)
                    kernel = self._boot()
                job.future.set_result(job.work(kernel))
            except BaseException as exc:
                job.future.set_exception(exc)
            finally:
                if kernel is not None:
                    _stop(kernel)
                self._finished()
        if spare is not None:
            _stop(spare)

    def _died_waiting(self, kernel: Any) -> None:
        """A forked spare that died while it waited for a notebook: kernels forked here die on
        the way up, and would fail every notebook. Boot them from now on."""
        if self._server is not None and _forked(kernel):
            self._server.distrust("a kernel it forked died before it was used")

    def _boot(self) -> Any:
        kernel = runner.LocalKernelManager(kernel_name=runner.KERNEL, kernel_id=str(uuid.uuid4()))
        try:
            if self._server is not None:
                kernel.provisioner = ForkProvisioner(
                    kernel_id=kernel.kernel_id, kernel_spec=kernel.kernel_spec, parent=kernel
                )
                kernel.provisioner.server = self._server
            run_sync(kernel.start_kernel)()
        except NoSuchKernel:
            raise SetupError(
                f"no Jupyter kernel named {runner.KERNEL!r} to run the notebooks in: install "
                "ipykernel in CreditBot's Python (`pip install ipykernel`)"
            ) from None
        except Exception as exc:
            raise NotebookFailed(
                f"a Jupyter kernel did not start: {type(exc).__name__}: {exc}",
                notebook="(kernel)",
                transient=True,
            ) from None
        forked = _forked(kernel)
        with self._lock:
            self.kernels_started += 1
            self.kernels_forked += forked
        if self.preload and not forked:
            _preload(kernel, self.preload)
        return kernel


def pool_for(policy: NotebookPolicy, *, warm: bool, size: int | None = None) -> KernelPool:
    """The pool the worker runs its notebooks in. Forked kernels share the one import of the
    notebooks' modules the fork server does. Booted ones (where kernels are not forked) would
    import them again each: `run` (`warm`) has the idle time between memos for that; one `once`
    has none, and there the imports only competed with the pages for the same cores (measured
    slower), so its kernels import what they need as the notebook asks."""
    fork = policy.fork_kernels and can_fork()
    preload = imported_modules(p.notebook for p in policy.products) if fork or warm else ()
    return KernelPool(size or policy.kernels, preload=preload, fork=fork)


def imported_modules(notebooks: Iterable[Path]) -> tuple[str, ...]:
    """The modules the notebooks' code cells import (absolute imports; cells that are not plain
    Python, such as magics, are passed over)."""
    names: dict[str, None] = {}
    for path in notebooks:
        try:
            cells = nbformat.read(path, as_version=4).cells
        except (OSError, ValueError):
            continue  # the runner refuses such a notebook with its own clear error
        for cell in cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(dict.fromkeys(alias.name for alias in node.names))
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names[node.module] = None
    return tuple(names)


def _forked(kernel: Any) -> bool:
    return isinstance(kernel.provisioner, ForkProvisioner) and kernel.provisioner.forked


def _preload(kernel: Any, modules: tuple[str, ...]) -> None:
    """Import `modules` in the kernel, silently (no history, no execution count)."""
    client = kernel.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=PRELOAD_SECONDS)
        reply = run_sync(client.execute_interactive)(
            PRELOAD_SOURCE.format(names=list(modules)),
            silent=True,
            store_history=False,
            timeout=PRELOAD_SECONDS,
        )
        if reply["content"].get("status") != "ok":
            log.debug("preloading %s: %s", modules, reply["content"].get("ename"))
    except Exception as exc:  # the notebook then imports them itself, only later
        log.debug("preloading %s: %s", modules, exc)
    finally:
        client.stop_channels()


def _stop(kernel: Any) -> None:
    try:
        run_sync(kernel.shutdown_kernel)(now=True)
    except Exception as exc:  # one that already died needs no stopping
        log.debug("stopping a kernel: %s", exc)


# --- kernels forked from a server that imported everything once ----------------------------------

FORK_SERVER = Path(__file__).with_name("forkserver.py")
FORK_SECONDS = 10  # a fork answers in milliseconds; the server's own preload is waited for apart


class ForkUnavailable(Exception):
    """The fork server cannot give a kernel (it did not start, refused, or died): boot one."""


def can_fork() -> bool:
    """Forking a process that has imported numpy and zmq is safe on Linux; macOS's system
    libraries are not fork-safe (why Python itself spawns there), and Windows has no fork."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class ForkServer:
    """The fork server process (`notebooks/forkserver.py`) and the kernels it forked, from the
    worker's side. It is started with the worker's Python and environment and ends when the
    worker closes it, or dies (end of its stdin)."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.failed: list[str] = []  # modules the server could not import
        self._process = subprocess.Popen(
            [sys.executable, str(FORK_SERVER), json.dumps(list(modules))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # the terminal's Ctrl-C is for the worker, not for it
        )
        self._ready = threading.Event()
        self._problem: str | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._asked: dict[int, Future[ForkedKernel]] = {}
        self._kernels: dict[int, ForkedKernel] = {}
        self._ended_early: dict[int, int] = {}  # reaped before its fork was answered: pid, code
        self._complained = False
        self._reader = threading.Thread(
            target=self._read,
            args=(self._process.stdout,),
            name="creditbot-fork-server",
            daemon=True,
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def problem(self) -> str | None:
        return self._problem

    def distrust(self, problem: str) -> None:
        """No more forks: what this server gives cannot be used."""
        self._problem = self._problem or f"the fork server is not used: {problem}"

    def complain(self, problem: ForkUnavailable) -> None:
        """Say once that kernels are booted the slow way from here on, and why."""
        with self._lock:
            said, self._complained = self._complained, True
        if not said:
            log.warning("kernels are booted, not forked, from now on: %s", problem)

    def usable(self, argv: list[str]) -> bool:
        """Whether a kernel launched with `argv` is one this server can fork: ipykernel in this
        same Python (any other kernel, or another Python, is booted as its kernel spec says)."""
        return (
            len(argv) > 3
            and argv[1:3] == ["-m", "ipykernel_launcher"]
            and _same_file(argv[0], sys.executable)
        )

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str) -> ForkedKernel:
        """Fork a kernel that runs `argv[3:]` as ipykernel_launcher's arguments."""
        if not self._ready.wait(PRELOAD_SECONDS) or self._problem is not None:
            raise ForkUnavailable(self._problem or "the fork server did not get ready in time")
        future: Future[ForkedKernel] = Future()
        with self._lock:
            ident = next(self._ids)
            self._asked[ident] = future
            request = {"id": ident, "argv": argv[3:], "env": env, "cwd": cwd}
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps(request).encode() + b"\n")
                self._process.stdin.flush()
            except OSError as exc:
                self._asked.pop(ident, None)
                raise ForkUnavailable(f"the fork server went away: {exc}") from None
        try:
            return future.result(timeout=FORK_SECONDS)
        except TimeoutError:
            raise ForkUnavailable(f"the fork server did not fork within {FORK_SECONDS} s") from None

    def close(self) -> None:
        """End the server (its kernels are the pool's to stop, and end with it if left)."""
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _read(self, answers: IO[bytes]) -> None:
        for line in answers:
            try:
                message = json.loads(line)
            except ValueError:
                log.debug("the fork server said something else: %r", line[:200])
                continue
            if "exit" in message:
                with self._lock:
                    kernel = self._kernels.pop(message["exit"], None)
                    if kernel is None:  # it ended before the answer to its fork was read
                        self._ended_early[message["exit"]] = message["code"]
                if kernel is not None:
                    kernel.ended(message["code"])
            elif "id" in message:
                with self._lock:
                    future = self._asked.pop(message["id"], None)
                    kernel = ForkedKernel(message["pid"]) if "pid" in message else None
                    code = self._ended_early.pop(kernel.pid, None) if kernel else None
                    if kernel is not None and code is None:
                        self._kernels[kernel.pid] = kernel
                if kernel is not None and code is not None:
                    kernel.ended(code)
                if future is not None and kernel is not None:
                    future.set_result(kernel)
                elif future is not None:
                    future.set_exception(ForkUnavailable(message["error"]))
            elif "unsafe" in message:
                self._problem = f"the fork server refused: {message['unsafe']}"
                self._ready.set()
            elif message.get("ready"):
                self.failed = message.get("failed", [])
                self._ready.set()
        # The server ended: no more answers, and no more reports of kernels ending.
        self._problem = self._problem or "the fork server ended"
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=5)  # not left a zombie until the pool closes
        self._ready.set()
        with self._lock:
            asked, self._asked = self._asked, {}
            kernels, self._kernels = self._kernels, {}
        for future in asked.values():
            future.set_exception(ForkUnavailable(self._problem))
        for kernel in kernels.values():
            kernel.orphaned()


class ForkedKernel:
    """A forked kernel's process, with the part of `subprocess.Popen` jupyter_client uses. It is
    the server's child, not ours: the server reports its end (and reaps it)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()
        self._orphaned = False

    def ended(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def orphaned(self) -> None:
        """The server is gone, so nobody will report this kernel's end: look for it instead."""
        self._orphaned = True

    def poll(self) -> int | None:
        if self.returncode is None and self._orphaned and not _exists(self.pid):
            self.ended(-signal.SIGKILL)  # its code was the server's to read; it is gone
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            self._ended.wait(0.1 if left is None else min(0.1, left))
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


class ForkProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, with the kernel forked by the server instead of
    started with Popen; connection files, signals and shutdown stay jupyter_client's own."""

    server: ForkServer | None = None
    forked = False

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        server = self.server
        if server is None or not server.usable(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        # Where the worker is now, as a booted kernel would start: not where the server started.
        cwd = kwargs.get("cwd") or os.getcwd()
        env = kwargs.get("env") or dict(os.environ)
        try:
            self.process = await asyncio.to_thread(server.spawn, cmd, env, cwd)
        except ForkUnavailable as exc:
            server.complain(exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.forked = True
        self.pid = self.pgid = self.process.pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info

    async def kill(self, restart: bool = False) -> None:
        await super().kill(restart)
        if isinstance(self.process, ForkedKernel):
            # The server reports its end at once; jupyter_client would look every 0.1 s.
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, 1.0)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _exists(pid: int) -> bool:
    """Alive, not a zombie: an orphan waits to be reaped by whoever adopted it, maybe never."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"
