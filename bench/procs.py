"""The worker's process tree, read from /proc: memory, CPU and what kind of processes it holds.

The worker's cost is mostly in its children (Chromium, the Playwright driver, Jupyter kernels),
which neither `ru_maxrss` (one process's peak) nor the worker's own RSS see, so the tree is
walked from /proc at a fixed interval while the worker runs. Linux only.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROC = Path("/proc")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("worker", "chromium", "kernel", "fork server", "playwright", "other")
_CHROMIUM = re.compile(r"chrom(e|ium)|headless_shell", re.IGNORECASE)
_CHROMIUM_TYPE = re.compile(r"--type=([\w-]+)")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str  # R, S, D, Z (exited, not reaped yet)...
    pgrp: int  # process group: a worker's leftovers keep its group after it exits
    rss: int  # bytes
    cpu: float  # user + system seconds so far
    reaped_cpu: float  # user + system seconds of the children it has reaped
    start: int  # start time in clock ticks since boot: tells a reused pid apart


def _read(path: str, size: int = 8192) -> bytes | None:
    """One small /proc file, read with bare system calls: the sampler reads hundreds of them
    per second on a busy machine, and its cost is the bench's, not the worker's."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, size)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_stat(pid: int, proc: Path = PROC) -> Proc | None:
    """One process's /proc/PID/stat, or None when it is gone (a race, not an error)."""
    raw = _read(f"{proc}/{pid}/stat")
    if not raw:
        return None
    # The command name is in parentheses and may hold spaces or ')': split after the last ')'.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return Proc(
        pid=pid,
        state=fields[0].decode(),
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        rss=int(fields[21]) * PAGE,
        cpu=(int(fields[11]) + int(fields[12])) / TICK,
        reaped_cpu=(int(fields[13]) + int(fields[14])) / TICK,
        start=int(fields[19]),
    )


def read_cmdline(pid: int, proc: Path = PROC) -> list[str]:
    """The first arguments of a process (enough to tell what it is), [] for a zombie."""
    raw = _read(f"{proc}/{pid}/cmdline") or b""
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_pss(pid: int, proc: Path = PROC) -> int | None:
    """Proportional set size in bytes: shared pages split among their users, so a tree's PSS
    adds up where its RSS double-counts Chromium's shared libraries."""
    try:
        for line in (proc / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    return None


_FRAME = (1 << 55) - 1  # pagemap: bits 0-54 the page frame number, bit 63 "present"


def read_frames(pid: int, proc: Path = PROC) -> set[int] | None:
    """The physical page frames a process has resident, from /proc/PID/pagemap: a tree's frames
    put together count each page once, however many of its processes map it (the summed RSS
    counts Chromium's binary and zygote heap, and the pandas a fork server shares with its
    kernels, once per process). None where frame numbers are hidden (they read as 0 without
    CAP_SYS_ADMIN) or the process is gone."""
    try:
        maps = (proc / str(pid) / "maps").read_bytes()
        entries: set[int] = set()
        with open(proc / str(pid) / "pagemap", "rb", buffering=0) as pagemap:
            for line in maps.splitlines():
                span, perms = line.split(b" ", 2)[:2]
                if perms.startswith(b"---"):  # reserved, never resident (Chromium keeps GiBs)
                    continue
                start, _, end = span.partition(b"-")
                first, last = int(start, 16) // PAGE, int(end, 16) // PAGE
                pagemap.seek(first * 8)
                entries.update(memoryview(pagemap.read((last - first) * 8)).cast("Q"))
    except (OSError, ValueError):
        return None
    frames = {entry & _FRAME for entry in entries if entry >> 63}
    if frames == {0}:  # present pages, frame numbers withheld
        return None
    frames.discard(0)
    return frames


def classify(cmdline: list[str], *, root: bool = False, parent: str = "") -> str:
    """What a process is, from its command line (and its parent's kind, for a kernel forked by
    the fork server, which keeps the server's command line): the bench counts browsers and
    kernels."""
    if root:
        return "worker"
    joined = " ".join(cmdline)
    if "ipykernel_launcher" in joined or "-m ipykernel" in joined:
        return "kernel"
    if len(cmdline) > 1 and os.path.basename(cmdline[1]) == "forkserver.py":
        return "kernel" if parent == "fork server" else "fork server"
    # /usr/bin/chromium may be a shell wrapper: look at the program and its first argument.
    if any(_CHROMIUM.search(os.path.basename(arg)) for arg in cmdline[:2]):
        return "chromium"
    if "run-driver" in cmdline or any("playwright" in arg for arg in cmdline[:2]):
        return "playwright"
    return "other"


def role(cmdline: list[str], kind: str) -> str:
    """The kind, and for Chromium which of its processes (renderer, GPU, zygote...): where a
    cycle's CPU went. A process's command line may be one string (Chromium rewrites its own)."""
    if kind == "playwright":
        return "playwright driver"
    if kind != "chromium":
        return kind
    found = _CHROMIUM_TYPE.search(" ".join(cmdline))
    return f"chromium {found.group(1) if found else 'browser'}"


def program(cmdline: list[str]) -> str:
    """A short name for what a process runs: `python -m ipykernel_launcher`, `chromium`..."""
    name = os.path.basename(cmdline[0])
    if name.startswith("python") and len(cmdline) > 2 and cmdline[1] == "-m":
        return f"{name} -m {cmdline[2]}"
    if name in ("sh", "bash", "dash") and len(cmdline) > 1:
        return f"{name} {os.path.basename(cmdline[1])}"
    if name.startswith("python") and len(cmdline) > 1:
        return f"{name} {os.path.basename(cmdline[1])}"
    return name


def everything(proc: Path = PROC) -> dict[int, Proc]:
    """Every process alive now, by pid (one pass over /proc)."""
    stats: dict[int, Proc] = {}
    for entry in os.scandir(proc):
        if entry.name.isdigit():
            found = read_stat(int(entry.name), proc)
            if found is not None:
                stats[found.pid] = found
    return stats


def group(pgid: int, proc: Path = PROC) -> list[tuple[int, str]]:
    """The live processes of a process group but its leader, with what they run (zombies,
    whose command line is empty, left out)."""
    found = []
    for p in everything(proc).values():
        if p.pgrp == pgid and p.pid != pgid:
            cmdline = read_cmdline(p.pid, proc)
            if cmdline:
                found.append((p.pid, program(cmdline)))
    return found


def tree(root: int, proc: Path = PROC) -> list[Proc]:
    """`root` and all its descendants alive now."""
    stats = everything(proc)
    if root not in stats:
        return []
    children: dict[int, list[int]] = {}
    for p in stats.values():
        children.setdefault(p.ppid, []).append(p.pid)
    out, todo = [], [root]
    while todo:  # depth first: a process comes before its children
        pid = todo.pop()
        out.append(stats[pid])
        todo.extend(children.get(pid, []))
    return out


@dataclass
class Snapshot:
    """The tree at one instant."""

    at: float  # seconds since the sampler started
    rss: int
    count: int
    cpu: float  # user+sys of the processes alive now (exited ones are gone from /proc)
    rss_by_kind: dict[str, int]
    count_by_kind: dict[str, int]
    pss: int | None = None
    resident: int | None = None  # distinct resident pages of the whole tree, in bytes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TreeStats:
    """What a sampler saw over a worker's life."""

    interval_s: float
    samples: int = 0
    peak_rss: int = 0
    peak: Snapshot | None = None
    peak_pss: int | None = None
    peak_resident: int | None = None  # None where frame numbers are hidden (not root)
    max_count_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    distinct_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    programs_by_kind: dict[str, list[str]] = field(default_factory=dict)  # what each kind ran
    series: list[list[float]] = field(default_factory=list)  # [t, rss MB, processes]
    # user+sys of every process seen, by role, at its last sample: what exited between two
    # samples (every `interval`) lost its last moments, one seen by no discovery is missing.
    cpu_by_role: dict[str, float] = field(default_factory=dict)
    sampler_cpu_s: float = 0.0  # what sampling itself cost the bench (thread CPU time)
    last: Snapshot | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval_s": self.interval_s,
            "samples": self.samples,
            "peak_rss_bytes": self.peak_rss,
            "peak_pss_bytes": self.peak_pss,
            "peak_resident_bytes": self.peak_resident,
            "peak": self.peak.as_dict() if self.peak else None,
            "max_count_by_kind": self.max_count_by_kind,
            "distinct_by_kind": self.distinct_by_kind,
            "programs_by_kind": self.programs_by_kind,
            "sampler_cpu_s": round(self.sampler_cpu_s, 3),
            "series": self.series,
            "cpu_by_role": self.cpu_by_role,
        }


class TreeSampler:
    """Samples a process tree every `interval` seconds on a daemon thread.

    Finding the tree needs a pass over all of /proc (hundreds of processes on a busy machine),
    so it is done every `discover_every` samples (250 ms by default) and the known members'
    memory and CPU are read in between; a child that lives shorter than that may go unseen.
    PSS, costlier still (the kernel walks every mapping), is read every `pss_every` samples
    (2 s), and with it, at most every `resident_every` seconds, the tree's resident memory
    counted page by page (costlier again: every page table entry is read). A process is
    classified from its command line at each discovery, as a fork shows its parent's until it
    execs."""

    def __init__(
        self,
        root: int,
        interval: float = 0.05,
        *,
        discover_every: int = 5,
        pss_every: int = 40,
        series_every: float = 1.0,
        resident_every: float = 2.0,
        proc: Path = PROC,
    ) -> None:
        self.root = root
        self.interval = interval
        self.discover_every = discover_every
        self.pss_every = pss_every
        self.series_every = series_every
        self.resident_every = resident_every
        self.proc = proc
        self.stats = TreeStats(interval_s=interval)
        self._members: dict[int, tuple[int, str]] = {}  # pid -> (start, kind)
        self._latest: dict[tuple[int, int], str] = {}  # (pid, start) -> kind last seen
        self._roles: dict[tuple[int, int], str] = {}  # (pid, start) -> role last seen
        self._cpu: dict[tuple[int, int], float] = {}  # (pid, start) -> CPU at its last sample
        self._programs: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)
        self._started = 0.0
        self._next_series = 0.0
        self._frames_hidden = False
        self._resident_due = 0.0

    def start(self) -> TreeSampler:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> TreeStats:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            for kind in KINDS:
                self.stats.distinct_by_kind[kind] = sum(
                    1 for seen in self._latest.values() if seen == kind
                )
            self.stats.programs_by_kind = {k: sorted(v) for k, v in self._programs.items()}
            by_role: dict[str, float] = {}
            for key, cpu in self._cpu.items():
                name = self._roles.get(key, "other")
                by_role[name] = by_role.get(name, 0.0) + cpu
            self.stats.cpu_by_role = {
                k: round(v, 3) for k, v in sorted(by_role.items(), key=lambda kv: -kv[1])
            }
        return self.stats

    def snapshot(self, *, pss: bool = False, discover: bool = True) -> Snapshot | None:
        """Sample now (also from another thread); None once the root is gone."""
        found = self._discover() if discover else self._known()
        if not any(p.pid == self.root for p, _ in found):
            return None
        rss_by_kind = dict.fromkeys(KINDS, 0)
        count_by_kind = dict.fromkeys(KINDS, 0)
        for p, kind in found:
            rss_by_kind[kind] += p.rss
            count_by_kind[kind] += 1
        rss = sum(p.rss for p, _ in found)
        with self._lock:
            for p, _ in found:
                self._cpu[(p.pid, p.start)] = p.cpu
        total_pss = resident = None
        if pss:
            values = [read_pss(p.pid, self.proc) for p, _ in found]
            total_pss = sum(v for v in values if v is not None)
            resident = self._resident([p.pid for p, _ in found], rss)
        return Snapshot(
            at=round(time.monotonic() - self._started, 3),
            rss=rss,
            count=len(found),
            cpu=round(sum(p.cpu for p, _ in found), 3),
            rss_by_kind=rss_by_kind,
            count_by_kind=count_by_kind,
            pss=total_pss,
            resident=resident,
        )

    def _resident(self, pids: list[int], rss: int) -> int | None:
        """The tree's own RSS: each resident page once. Some 0.15 s of CPU per GiB of summed
        RSS, hence taken only with PSS, near the peak so far, and every `resident_every` s."""
        now = time.monotonic()
        if self._frames_hidden or now < self._resident_due or rss < 0.9 * self.stats.peak_rss:
            return None
        self._resident_due = now + self.resident_every
        frames: set[int] = set()
        for pid in pids:
            found = read_frames(pid, self.proc)
            if found is None and pid == self.root:
                self._frames_hidden = True  # the bench's own child: hidden means unprivileged
                return None
            frames |= found or set()
        return len(frames) * PAGE

    def _discover(self) -> list[tuple[Proc, str]]:
        found = []
        kinds: dict[int, str] = {}
        for p in tree(self.root, self.proc):  # parents before their children
            cmdline = read_cmdline(p.pid, self.proc)
            kind = classify(cmdline, root=p.pid == self.root, parent=kinds.get(p.ppid, ""))
            kinds[p.pid] = kind
            found.append((p, kind))
            with self._lock:
                self._latest[(p.pid, p.start)] = kind
                if cmdline:
                    self._roles[(p.pid, p.start)] = role(cmdline, kind)
                    self._programs.setdefault(kind, set()).add(program(cmdline))
        with self._lock:
            self._members = {p.pid: (p.start, kind) for p, kind in found}
        return found

    def _known(self) -> list[tuple[Proc, str]]:
        with self._lock:
            members = dict(self._members)
        found = []
        for pid, (start, kind) in members.items():
            p = read_stat(pid, self.proc)
            if p is not None and p.start == start:
                found.append((p, kind))
        return found

    def _loop(self) -> None:
        while not self._stop.is_set():
            began = time.thread_time()
            n = self.stats.samples
            shot = self.snapshot(pss=n % self.pss_every == 0, discover=n % self.discover_every == 0)
            if shot is not None:
                self._record(shot)
            self.stats.sampler_cpu_s += time.thread_time() - began
            if shot is None:
                return
            self._stop.wait(self.interval)

    def _record(self, shot: Snapshot) -> None:
        s = self.stats
        s.samples += 1
        s.last = shot
        if shot.rss > s.peak_rss:
            s.peak_rss = shot.rss
            s.peak = shot
        if shot.pss is not None and (s.peak_pss is None or shot.pss > s.peak_pss):
            s.peak_pss = shot.pss
        if shot.resident is not None and shot.resident > (s.peak_resident or 0):
            s.peak_resident = shot.resident
        for kind, n in shot.count_by_kind.items():
            s.max_count_by_kind[kind] = max(s.max_count_by_kind[kind], n)
        if shot.at >= self._next_series:
            s.series.append([shot.at, round(shot.rss / 2**20, 1), shot.count])
            self._next_series = shot.at + self.series_every
