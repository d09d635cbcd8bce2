"""Named points where the fault-injection tests kill the worker (SIGKILL, no cleanup).

`CREDITBOT_FAILPOINTS=after_posted` (comma-separated; `name@N` for the Nth time the point is
reached) makes the process kill itself there. Unset, a failpoint costs one dictionary lookup.
Proving exactly-once means dying at every boundary, including between Slack accepting a reply
and the state recording it; no other tool can reach those instants reliably.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_hits: Counter[str] = Counter()


def _armed() -> dict[str, int]:
    armed: dict[str, int] = {}
    for item in os.environ.get("CREDITBOT_FAILPOINTS", "").split(","):
        name, _, nth = item.strip().partition("@")
        if name:
            armed[name] = int(nth or 1)
    return armed


def failpoint(name: str) -> None:
    armed = _armed()
    if name not in armed:
        return
    _hits[name] += 1
    if _hits[name] == armed[name]:
        os.kill(os.getpid(), signal.SIGKILL)
