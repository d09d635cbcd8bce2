"""Who else used the CPU while a scenario ran.

On a shared 2-core machine another person's tests can double every figure. The kernel's
system-wide busy time (/proc/stat) minus the CPU of the bench and all its descendants (the
sandboxes, the workers with their browsers and kernels, the floors' Chromium and kernels) is
what other processes used: reported per scenario, so a run taken on a busy machine says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import everything, tree

PR_SET_CHILD_SUBREAPER = 36

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuMark:
    at: float  # monotonic seconds
    busy: float  # system-wide busy CPU seconds since boot (all cores)
    own: float  # this process, user + system
    children: float  # its descendants so far, alive or reaped, user + system


def system_busy(stat: Path = Path("/proc/stat")) -> float:
    """Busy CPU seconds of the whole machine: user, nice, system, irq, softirq, steal."""
    fields = stat.read_text().splitlines()[0].split()
    assert fields[0] == "cpu"
    ticks = [int(v) for v in fields[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def adopt_orphans() -> bool:
    """Make the bench the reaper of its descendants' orphans (Linux's child subreaper), so that
    their CPU stays the bench's. Chromium's browser process exits without reaping its zygotes,
    which reaped its renderers: about a second of CPU per browser went to init, and read as
    other processes' load."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_adopted() -> None:
    """Reap the orphans the bench adopted that have ended. A process the bench started itself
    leads its own process group or is in the bench's; an adopted one is in the group of the
    worker or the browser it came from: only those are reaped here, so that no `Popen` of the
    bench's (workers, the floors' driver and kernels) loses its exit status."""
    me, mine = os.getpid(), os.getpgrp()
    for p in everything().values():
        if p.ppid == me and p.state == "Z" and p.pgrp not in (p.pid, mine):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p.pid, os.WNOHANG)


def mark() -> CpuMark:
    """The CPU used so far by the machine, the bench and its descendants. A descendant still
    alive (a sandbox server, the floors' browser, a `run` worker) is read from /proc with what
    it reaped itself: the bench's own count of its children has only the ones it reaped."""
    reap_adopted()
    me = os.getpid()
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    alive = sum(p.cpu + p.reaped_cpu for p in tree(me) if p.pid != me)
    return CpuMark(
        at=time.monotonic(),
        busy=system_busy(),
        own=own.ru_utime + own.ru_stime,
        children=reaped.ru_utime + reaped.ru_stime + alive,
    )


def between(start: CpuMark, end: CpuMark) -> dict[str, Any]:
    """Average cores used over the interval, by whom. `background_cores` is everyone else;
    a descendant orphaned and reaped outside the bench's tree would count there too."""
    wall = max(end.at - start.at, 1e-9)
    busy = end.busy - start.busy
    own = end.own - start.own
    children = end.children - start.children
    return {
        "wall_s": round(wall, 2),
        "cores": os.cpu_count(),
        "busy_cores": round(busy / wall, 3),
        "bench_cores": round(own / wall, 3),  # the bench: sandboxes, sampler, floors' Python
        "workers_cores": round(children / wall, 3),  # workers, their browsers and kernels
        "background_cores": round(max(0.0, busy - own - children) / wall, 3),
        "loadavg_end": list(os.getloadavg()),
    }
