"""The kernel fork server: a process that has imported ipykernel and the notebooks' modules once,
and forks a new kernel from itself for each notebook.

Booting a kernel the usual way starts Python and imports ipykernel, IPython, pandas and
SQLAlchemy: more CPU than most credit notebooks take to run, paid again for every notebook. A
kernel forked from here starts with all of that in memory (shared, copy on write) and only opens
its sockets. It is still a new process, with an empty namespace, that runs one notebook: the
server imports modules and never runs a notebook's code, so nothing of one memo reaches another.

Run as a script by `notebooks.kernels.ForkServer`, with only the standard library imported
before the preload. One JSON object per line: requests `{"id", "argv", "env", "cwd"}` arrive on
stdin; answers go to the stdout it was started with (its own prints, and the imported modules',
go to stderr): `{"ready", "failed"}` once the preload is done, `{"id", "pid"}` or
`{"id", "error"}` per request, and `{"exit": pid, "code"}` when a forked kernel ends. End of
stdin (the worker closed it, or died) ends the server.
"""

import atexit
import ctypes
import importlib
import json
import os
import signal
import sys
import threading
import traceback

ANSWERS = 1  # the descriptor answers are written to (see `main`)
PR_SET_PDEATHSIG = 1
# What a kernel imports before it runs a line of a notebook (read off ipykernel 7's
# `sys.modules`); any left out are imported by each kernel itself, only slower.
KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "tornado.platform.asyncio",
    "tornado.queues",
    "sqlite3",
)


def main() -> None:
    global ANSWERS
    # Answers get a descriptor of their own; stdout becomes stderr, so that a module that prints
    # while it is imported cannot garble them.
    ANSWERS = os.dup(1)
    os.dup2(2, 1)
    del sys.path[0]  # this folder: its modules must never shadow a notebook's imports
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker's Ctrl-C is the worker's to handle
    # debugpy warns on import that Python's frozen modules hide breakpoints; ipykernel silences
    # it the same way. Only the server's own environment: each kernel gets the worker's.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    failed = [name for name in (*KERNEL_MODULES, *json.loads(sys.argv[1])) if not _load(name)]
    if threading.active_count() > 1:  # a fork copies one thread: the others' locks stay held
        _send({"unsafe": "an imported module started a thread", "failed": failed})
        return
    signal.signal(signal.SIGCHLD, _reap)
    _send({"ready": True, "failed": failed})
    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            pid = _fork(request)
        except OSError as exc:
            _send({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"})
        else:
            _send({"id": request["id"], "pid": pid})
    # Nothing to flush or save: tearing down pandas and the rest module by module would only
    # keep the worker waiting.
    os._exit(0)


def _load(name: str) -> bool:
    try:
        importlib.import_module(name)
    except Exception:  # the notebook's own import reports it, in the notebook
        return False
    return True


def _send(message: dict) -> None:
    # One write per message, well under PIPE_BUF: a message reaped in between cannot split it.
    os.write(ANSWERS, json.dumps(message).encode() + b"\n")


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})


def _fork(request: dict) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    server = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:  # the kernel: it never returns to the server's loop
        _become_kernel(request["argv"], request["env"], request["cwd"], server)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # as a kernel that exits normally would (its history, its logs)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _become_kernel(argv: list[str], env: dict[str, str], cwd: str, server: int) -> None:
    """What `python -m ipykernel_launcher ...` would have been, minus the imports."""
    # It ends with the server, even one that dies before ipykernel's own watch of its parent
    # starts (that watch gives up when the parent has already changed).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != server:
        os._exit(1)
    os.setsid()  # its own process group, as jupyter_client starts kernels: signals reach it alone
    for signum in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # an interrupt is a KeyboardInterrupt
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # not the server's request pipe
    os.close(null)
    os.close(ANSWERS)  # not the server's answer pipe; its stdout is the worker's stderr already
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    os.environ["JPY_PARENT_PID"] = str(server)
    if "numpy.random" in sys.modules:  # Python reseeds `random` in a forked child; numpy not
        sys.modules["numpy.random"].seed()
    sys.argv = ["ipykernel_launcher", *argv]
    from ipykernel.kernelapp import IPKernelApp

    # Its parent, the server, is watched as a booted kernel watches the worker, too.
    IPKernelApp.launch_instance(argv=argv, parent_handle=server)


if __name__ == "__main__":
    main()
