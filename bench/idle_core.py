"""`python -m bench.idle_core CYCLES EARLY`: the idle cycle `run` makes, back to back in one
process, with the worker's settings from the environment; prints JSON with this process's RSS
and PSS after EARLY cycles and after CYCLES.

`run` cannot poll more often than once a second (`POLL_SECONDS`), so 500 of its idle cycles
would take the bench more than 8 minutes. What `run` calls each time is `_cycle` with the warm
engines it keeps between cycles; called here without the scheduler's wait, 500 cycles take
seconds and show whether the cycle itself keeps anything. The scheduler's own loop is measured
by the real `run` over as many cycles as the bench's time allows.
"""

from __future__ import annotations

import json
import os
import sys
import time

from bench.procs import read_pss
from worker.commands import _cycle
from worker.engines import Engines
from worker.settings import load_settings


def _memory() -> dict[str, int | None]:
    with open("/proc/self/status", encoding="ascii") as status:
        rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    return {"rss": rss, "pss": read_pss(os.getpid())}


def main() -> int:
    cycles, early = int(sys.argv[1]), int(sys.argv[2])
    settings = load_settings(os.environ, dotenv=None)
    shots: dict[str, dict] = {}
    started = time.monotonic()
    with Engines(settings, warm=True) as engines:
        for done in range(1, cycles + 1):
            report = _cycle(settings, engines)
            if report.new or report.memos:
                print(json.dumps({"error": f"cycle {done} was not idle"}))
                return 1
            if done in (early, cycles):
                shots[str(done)] = {**_memory(), "at_s": time.monotonic() - started}
        print(
            json.dumps(
                {
                    "cycles": cycles,
                    "shots": shots,
                    "browsers": engines.browsers_started,
                    "kernels": engines.kernels_started,
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
