"""Scratch folders in the system's temporary folder, and the ones a killed worker left there.

The browser records its trace in a folder of its own, and the kernels keep their sockets and
connection files (with the key that signs each message) in another; both are owner-only and
removed when the worker ends. A worker killed outright (SIGKILL, the OOM killer, a power cut)
cannot remove them, and the browser's holds the session cookie of every request it recorded:
the next worker to make such a folder removes those whose worker is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

# A folder untouched this long, whose worker's pid is gone, is left over. The age keeps a
# worker whose pid this one cannot see (another pid namespace sharing /tmp) safe while it runs.
STALE_SECONDS = 3600.0


def prefix(kind: str) -> str:
    """`creditbot-<kind>-<pid>-`: whose folder it is, for the sweep."""
    return f"creditbot-{kind}-{os.getpid()}-"


def sweep(
    kind: str, *, root: Path | None = None, stale_seconds: float = STALE_SECONDS
) -> list[Path]:
    """Remove this user's `kind` folders left by workers that are gone; the ones removed.
    POSIX only: elsewhere there is no owner to compare, and `os.kill(pid, 0)` on Windows would
    interrupt the process it asks about."""
    if not hasattr(os, "getuid"):
        return []
    root = root or Path(tempfile.gettempdir())
    named = re.compile(rf"creditbot-{re.escape(kind)}-(\d+)-")
    removed = []
    for folder in root.glob(f"creditbot-{kind}-*"):
        owner = named.match(folder.name)
        try:
            info = folder.lstat()
        except OSError:
            continue
        if (
            owner is None
            or not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.getuid()
            or time.time() - info.st_mtime < stale_seconds
            or _running(int(owner.group(1)))
        ):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
