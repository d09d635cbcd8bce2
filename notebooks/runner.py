"""Run a product notebook with papermill and read its result variable back.

Each run has a fresh kernel (papermill's own, or one `notebooks.kernels` started ahead), so one
memo's variables can never leak into another's credit. The result is harvested by a cell
appended to an in-memory copy of the notebook (the analysts' file is never modified) that
displays the variable under a private MIME type; the executed notebook is then read with
nbformat. A missing or non-numeric result is an error, never a zero.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
import papermill
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_path
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.log import logger as papermill_log
from papermill.utils import remove_args
from traitlets import default

from core import scratch
from core.errors import BadResult, NotebookFailed, NotebookRefused, SetupError

KERNEL = "python3"  # the notebooks' Jupyter kernel (ipykernel, in CreditBot's own Python)
# IPython keeps every cell a kernel runs in the user's history database (~/.ipython), forever:
# with the parameters CreditBot injects, that is each memo's SQL and the warehouse URL (and any
# password in it). A notebook run by the bot is no one's interactive session: no history.
KERNEL_ARGUMENTS = ("--HistoryManager.enabled=False",)
IOPUB_QUIET_SECONDS = 0.2  # jupyter_client's: how long a silent IOPub is taken to be caught up
# A new client's IOPub misses what the kernel says until its subscription reaches the kernel:
# nothing on IOPub this soon after a reply means "ask again", not "wait longer".
IOPUB_CONNECTED_SECONDS = 0.05
RECONNECT_MS = 10
HARVEST_MIME = "application/x-creditbot+json"
HARVEST_TAG = "creditbot-harvest"
SUMMARY_TAG = "summary"

HARVEST_SOURCE = """\
from IPython.display import display as _creditbot_display
_creditbot_value = globals().get({name!r}, _creditbot_display)
_creditbot_display(
    {{{mime!r}: {{
        "defined": _creditbot_value is not _creditbot_display,
        "type": type(_creditbot_value).__name__,
        "repr": repr(_creditbot_value)[:200],
        "number": repr(float(_creditbot_value))
        if isinstance(_creditbot_value, (int, float)) and not isinstance(_creditbot_value, bool)
        or type(_creditbot_value).__name__ in ("Decimal", "float64", "float32", "int64")
        else None,
    }}}},
    raw=True,
)
"""


class QuietKernelClient(AsyncKernelClient):
    """A kernel client without the heartbeat channel: nbclient asks the kernel manager whether
    the kernel is alive and never the heartbeat, whose thread, socket and event loop each
    notebook would pay for. Its wait for the kernel ends when the kernel is ready, not 0.2 s
    later (`wait_for_ready`)."""

    def start_channels(
        self,
        shell: bool = True,
        iopub: bool = True,
        stdin: bool = True,
        hb: bool = False,
        control: bool = True,
    ) -> None:
        # A kernel forked a moment ago may not have made its sockets yet: zmq then connects
        # again after 100 ms, which the notebook would wait out. These are local sockets.
        self.context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        super().start_channels(shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control)

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        """jupyter_client's wait, ended by the kernel's word rather than by silence.

        jupyter_client asks for the kernel's info until a reply and, within 0.2 s, one IOPub
        message arrive (IOPub is connected), then reads IOPub until it has been silent for
        0.2 s: 0.2 to 0.4 s on every notebook, and no end at all while the kernel keeps
        printing. A kernel says `idle` on IOPub when it is done with a request, and IOPub
        keeps its order, so the `idle` of an info request comes after everything older: the
        wait ends there (`_caught_up`)."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            asked = self.kernel_info()
            reply = await self._reply_to(asked, within=1.0)
            if reply is not None and await self._caught_up(asked, deadline):
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel didn't reply to kernel_info: it died")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't reply to kernel_info in {timeout:g} seconds")

    async def _reply_to(self, msg_id: str, within: float) -> dict[str, Any] | None:
        """The shell's reply to `msg_id` (replies to earlier, unanswered asks are skipped)."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await self.shell_channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        return None

    async def _caught_up(self, msg_id: str, deadline: float) -> bool:
        """True once IOPub has said `idle` for `msg_id`. False (ask again) when IOPub says
        nothing at once, or only welcomes this client: a new subscriber hears nothing the
        kernel said before its subscription arrived, which may have been this very answer. A
        kernel that says other things, but never that `idle`, is taken to be ready after
        0.2 s of silence, as jupyter_client takes every kernel."""
        heard = False
        wait = IOPUB_CONNECTED_SECONDS
        while time.monotonic() < deadline:
            try:
                msg = await self.iopub_channel.get_msg(timeout=wait)
            except Empty:
                return heard
            if _idle_after(msg, msg_id):
                return True
            if msg["msg_type"] != "iopub_welcome":
                heard, wait = True, IOPUB_QUIET_SECONDS
        return heard


def _idle_after(msg: dict[str, Any], msg_id: str) -> bool:
    return (
        msg["msg_type"] == "status"
        and msg["content"].get("execution_state") == "idle"
        and msg["parent_header"].get("msg_id") == msg_id
    )


class KernelSpecs(KernelSpecManager):
    """jupyter_client's kernel specs, looked up in the same folders, without importing IPython:
    jupyter_client asks IPython where `~/.ipython` is, and importing all of IPython for that
    took 0.08 to 0.12 s of a worker's CPU before its first claim (the setup check looks the
    kernel up). The worker runs no IPython itself; the kernels do."""

    @default("kernel_dirs")
    def _default_kernel_dirs(self) -> list[str]:
        # Where `IPython.paths.get_ipython_dir` says (`IPYTHONDIR`, or `~/.ipython`), uncreated.
        ipython = os.path.expanduser(os.environ.get("IPYTHONDIR") or "~/.ipython")
        return [*jupyter_path("kernels"), os.path.join(os.path.normpath(ipython), "kernels")]


class LocalKernelManager(AsyncKernelManager):
    """Talk to the kernel over owner-only Unix sockets rather than loopback TCP: no port that
    another local user could reach (and no warning from the kernel about it). The sockets and
    the connection file (which holds the kernel's signing key) share one private folder, not
    the system's temporary folder, where a worker that was killed would leave the file."""

    @default("client_factory")
    def _default_client_factory(self) -> type:
        return QuietKernelClient

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return KernelSpecs(data_dir=self.data_dir)

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc"

    @default("connection_file")
    def _default_connection_file(self) -> str:
        # The sockets are named after it plus a number; kernels started at the same moment
        # would pick the same numbers, so each kernel has a name of its own.
        return str(Path(_socket_dir().name) / f"kernel-{uuid.uuid4().hex[:12]}.json")

    @default("ip")
    def _default_ip(self) -> str:
        return self.connection_file.removesuffix(".json")

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        return super().format_kernel_cmd([*(extra_arguments or []), *KERNEL_ARGUMENTS])


class FinalSaveManager(NotebookExecutionManager):
    """Writes the executed notebook once, when it ends (papermill's own manager also writes it
    before and after every cell, so that a person can watch a long run: a credit notebook
    takes a second, and each write is the whole notebook, on the worker's busy threads)."""

    def save(self, **kwargs: Any) -> None:
        if self.end_time is not None:  # set by `notebook_complete`, just before its save
            super().save(**kwargs)


class WarmKernelEngine(NBClientEngine):
    """papermill's nbclient engine, run in a kernel that was started ahead of time (`km`).

    nbclient leaves a kernel it did not start running, and its client's channels open; the
    kernel is the pool's to stop, the channels are closed here."""

    @classmethod
    def execute_notebook(
        cls,
        nb: Any,
        kernel_name: str,
        output_path: str | None = None,
        progress_bar: bool = True,
        log_output: bool = False,
        autosave_cell_every: int = 30,
        **kwargs: Any,
    ) -> Any:
        """papermill's `Engine.execute_notebook`, with the manager that saves once."""
        nb_man = FinalSaveManager(
            nb,
            output_path=output_path,
            progress_bar=progress_bar,
            log_output=log_output,
            autosave_cell_every=autosave_cell_every,
        )
        nb_man.notebook_start()
        try:
            cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
        finally:
            nb_man.cleanup_pbar()
            nb_man.notebook_complete()
        return nb_man.nb

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        client = PapermillNotebookClient(
            nb_man,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=papermill_log,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            **kwargs,
        )
        try:
            return client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()


WARM_ENGINE = "creditbot-warm-kernel"
papermill_engines.register(WARM_ENGINE, WarmKernelEngine)


_socket_dirs: list[tempfile.TemporaryDirectory[str]] = []
_socket_lock = threading.Lock()


def _socket_dir() -> tempfile.TemporaryDirectory[str]:
    """One private folder per process for kernel sockets, removed at exit. Made under a lock:
    kernels booting at the same moment on several threads must share one folder (a second,
    dropped one would be deleted under the kernel that got it)."""
    with _socket_lock:
        if not _socket_dirs:
            scratch.sweep("kernels")
            _socket_dirs.append(tempfile.TemporaryDirectory(prefix=scratch.prefix("kernels")))
        return _socket_dirs[0]


@dataclass
class NotebookResult:
    credit: Decimal
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def prepare(notebook: Path, result_name: str) -> nbformat.NotebookNode:
    """Load the notebook, refuse it without a `parameters` cell, append the harvest cell."""
    try:
        nb = nbformat.read(notebook, as_version=4)
    except (OSError, ValueError) as exc:
        raise NotebookRefused(
            f"cannot read notebook {notebook}: {type(exc).__name__}", notebook=str(notebook)
        ) from None
    if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
        raise NotebookRefused(
            f"notebook {notebook.name} has no cell tagged `parameters`; papermill would inject "
            "the query above the notebook's own defaults. Tag the cell that holds "
            f'`{result_name}`\'s inputs (e.g. `looker = ""`) with `parameters`.',
            notebook=str(notebook),
        )
    cell = nbformat.v4.new_code_cell(HARVEST_SOURCE.format(name=result_name, mime=HARVEST_MIME))
    cell.metadata["tags"] = [HARVEST_TAG]
    nb.cells.append(cell)
    return nb


def run_notebook(
    notebook: Path,
    parameters: dict[str, Any],
    *,
    result_name: str,
    output_path: Path,
    timeout_seconds: int,
    keep_on_success: bool = False,
    kernel: AsyncKernelManager | None = None,
) -> NotebookResult:
    """Execute with papermill; on failure the executed copy stays at `output_path` for a person.
    `kernel`, if given, is a kernel started ahead of time (`notebooks.kernels`) to run in."""
    started = time.monotonic()
    nb = prepare(notebook, result_name)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    warm = {"engine_name": WARM_ENGINE, "km": kernel} if kernel is not None else {}
    try:
        papermill.execute_notebook(
            nb,
            str(output_path),
            parameters=parameters,
            kernel_name=KERNEL,
            progress_bar=False,
            execution_timeout=timeout_seconds,
            kernel_manager_class=LocalKernelManager,
            **warm,
        )
    except PapermillExecutionError as exc:
        cell = _original_index(nb, exc.cell_index)
        raise NotebookFailed(
            f"notebook {notebook.name} failed in cell {cell}: {exc.ename}: {_short(exc.evalue)}",
            notebook=notebook.name,
            cell=cell,
            ename=exc.ename,
            evalue=_short(exc.evalue),
            output_path=str(output_path),
        ) from None
    except NoSuchKernel as exc:
        raise SetupError(
            f"no Jupyter kernel named {exc.name!r} to run {notebook.name} in: install ipykernel "
            "in CreditBot's Python (`pip install ipykernel`)",
            notebook=notebook.name,
        ) from None
    except (CellTimeoutError, DeadKernelError) as exc:
        # Both can be the warehouse's or the machine's passing trouble: retried later.
        what = (
            f"ran past the {timeout_seconds} s cell timeout"
            if isinstance(exc, CellTimeoutError)
            else "lost its kernel (the kernel died)"
        )
        raise NotebookFailed(
            f"notebook {notebook.name} {what}",
            notebook=notebook.name,
            ename=type(exc).__name__,
            output_path=str(output_path),
            transient=True,
        ) from None
    executed = nbformat.read(output_path, as_version=4)
    credit = _harvest(executed, notebook.name, result_name, output_path)
    if not keep_on_success:
        output_path.unlink(missing_ok=True)
    return NotebookResult(credit, summary_of(executed), time.monotonic() - started)


def summary_of(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """The "Summary Info" figures the notebook displayed as JSON in its `summary` cell."""
    summary: dict[str, Any] = {}
    for cell in nb.cells:
        if SUMMARY_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                data = output.get("data", {}).get("application/json")
                if isinstance(data, dict):
                    summary.update(data)
    return summary


def _harvest(nb: nbformat.NotebookNode, name: str, result_name: str, path: Path) -> Decimal:
    cell = next(c for c in nb.cells if HARVEST_TAG in c.get("metadata", {}).get("tags", []))
    payload = next(
        (
            o["data"][HARVEST_MIME]
            for o in cell.get("outputs", [])
            if HARVEST_MIME in o.get("data", {})
        ),
        None,
    )
    if isinstance(payload, str):
        payload = json.loads(payload)
    if not payload or not payload.get("defined"):
        raise BadResult(
            f"notebook {name} did not define `{result_name}`",
            notebook=name,
            output_path=str(path),
        )
    number = payload.get("number")
    if number is None:
        raise BadResult(
            f"`{result_name}` in notebook {name} is a {payload.get('type')}, not a number "
            f"({payload.get('repr')})",
            notebook=name,
            output_path=str(path),
        )
    return Decimal(number)  # "4948.8", "nan" or "inf": the sanity rule judges those


def _original_index(nb: nbformat.NotebookNode, cell_index: int) -> int:
    """Papermill injects a cell after `parameters`; name the cell as the analyst counts it
    (1-based, in their notebook)."""
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    injected_before = bool(tagged) and cell_index > tagged[-1]
    return cell_index - int(injected_before) + 1


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
