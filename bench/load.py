"""Who else used the CPU while a scenario ran.

On a shared 2-core machine another person's tests can double every figure. The kernel's
system-wide busy time (/proc/stat) minus the bench's own CPU and its reaped children's (the
workers with their browsers and kernels, the floors' Chromium and kernels) is what other
processes used: reported per scenario, so a run taken on a busy machine says so.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuMark:
    at: float  # monotonic seconds
    busy: float  # system-wide busy CPU seconds since boot (all cores)
    own: float  # this process, user + system
    children: float  # reaped descendants, user + system


def system_busy(stat: Path = Path("/proc/stat")) -> float:
    """Busy CPU seconds of the whole machine: user, nice, system, irq, softirq, steal."""
    fields = stat.read_text().splitlines()[0].split()
    assert fields[0] == "cpu"
    ticks = [int(v) for v in fields[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / TICK


def mark() -> CpuMark:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuMark(
        at=time.monotonic(),
        busy=system_busy(),
        own=own.ru_utime + own.ru_stime,
        children=children.ru_utime + children.ru_stime,
    )


def between(start: CpuMark, end: CpuMark) -> dict[str, Any]:
    """Average cores used over the interval, by whom. `background_cores` is everyone else;
    a worker's orphaned child (not reaped by the bench's tree) would count there too."""
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
