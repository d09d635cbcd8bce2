"""Notebook runs on a few threads, each with a Jupyter kernel started before it is needed.

A kernel takes most of a second to start, longer than many notebooks take to run. Each of the
pool's threads therefore keeps one kernel booted ahead of time; a run takes it, and the thread
starts the next one at once, while other work goes on. A kernel runs exactly one notebook and is
shut down after it, as before: one memo's variables can never reach another's credit.

A booted kernel also imports, ahead of time, the modules the product notebooks import (pandas
and SQLAlchemy take longer to import than the credit takes to compute). Only the interpreter's
module cache is filled: nothing is bound in the notebook's namespace, and a module that fails
to import is left for the notebook's own import to report.

Each thread drives its kernels with its own event loop (jupyter's `run_sync` keeps one per
thread), which is why a kernel is started, used and stopped on the same thread.
"""

from __future__ import annotations

import ast
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import NoSuchKernel
from jupyter_core.utils import run_sync

from core.errors import NotebookFailed, SetupError
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
    def __init__(self, size: int, preload: tuple[str, ...] = ()) -> None:
        self.size = size
        self.preload = preload  # modules each kernel imports as soon as it is booted
        self.kernels_started = 0  # every kernel ever started, for the benchmark and the tests
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def start(self) -> None:
        """Boot the threads (and so their kernels) now, ahead of the first notebook."""
        with self._lock:
            self._closing.clear()
            while len(self._threads) < self.size:
                thread = threading.Thread(
                    target=self._serve, name=f"creditbot-kernel-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def submit(self, work: Callable[[Any], Any]) -> Future[Any]:
        """`work(kernel_manager)` on the next free thread; its result or error in the future."""
        self.start()
        future: Future[Any] = Future()
        self._jobs.put(_Job(work, future))
        return future

    def close(self) -> None:
        """Let the threads finish what they hold, then stop them and their spare kernels."""
        self._closing.set()  # no new spare kernels from here on
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)
        for thread in threads:
            thread.join(timeout=60)

    # --- one thread -------------------------------------------------------------------------

    def _serve(self) -> None:
        spare: Any = None
        problem: BaseException | None = None
        while True:
            if spare is None and problem is None and not self._closing.is_set():
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
                continue
            kernel, spare = spare, None
            try:
                if kernel is None or not run_sync(kernel.is_alive)():  # none yet, or it died
                    if kernel is not None:
                        _stop(kernel)
                    kernel = self._boot()
                job.future.set_result(job.work(kernel))
            except BaseException as exc:
                job.future.set_exception(exc)
            finally:
                if kernel is not None:
                    _stop(kernel)
        if spare is not None:
            _stop(spare)

    def _boot(self) -> Any:
        kernel = runner.LocalKernelManager(kernel_name=runner.KERNEL)
        try:
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
        with self._lock:
            self.kernels_started += 1
        if self.preload:
            _preload(kernel, self.preload)
        return kernel


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
