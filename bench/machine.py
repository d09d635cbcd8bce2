"""The machine a run was measured on, so two runs' numbers can be compared honestly."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

# What the product is made of: uncommitted changes here mean the run measured unrecorded code.
PRODUCT = ("main.py", "worker", "scraper", "bot", "notebooks", "auth", "state", "core", "sandbox")
PACKAGES = ("playwright", "papermill", "ipykernel", "slack-sdk", "apscheduler", "nbclient")


def machine_info(repo: Path, chromium_version: str | None = None) -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_total_bytes": _meminfo("MemTotal"),
        "load_average": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "chromium": chromium_version,
        "packages": {name: _version(name) for name in PACKAGES},
        "commit": _git(repo, "rev-parse", "HEAD"),
        "branch": _git(repo, "rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(_git(repo, "status", "--porcelain", "--", *PRODUCT)),
    }


def python_speed(rounds: int = 3) -> float:
    """CPU seconds a fixed piece of pure Python takes here, the best of `rounds`: the bench's
    absolute targets (a cold `once` under 2.5 s) depend on the machine, whose speed differs
    from one machine to the next and drifts on the same one, so each run says how fast its
    machine was at its start and at its end. Lower is faster."""
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        table: dict[int, str] = {}
        for i in range(400_000):
            table[i % 997] = f"{i:x}"
        sorted(table.values())
        best = min(best, time.process_time() - began)
    return round(best, 4)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _meminfo(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
