"""How much to measure: the full run's counts (about 15 minutes on 2 cores) and a quick smoke."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Plan:
    group_links: tuple[int, ...] = (1, 2, 5)  # memos of 1, 2 and 5 links
    memos_per_group: int = 20  # the issue asks for at least 20 per group
    # Floors are measured twice, at the start and at the end, and pooled: counts are per round.
    page_reps: int = 3  # floor: bare page loads per query
    notebook_reps: int = 2  # floor: bare papermill runs per query
    post_reps: int = 10  # floor: bare chat.postMessage calls
    launch_reps: int = 2  # floor: Chromium launch + context
    cold_reps: int = 5  # `once` with one single-link memo waiting
    six_link_reps: int = 2  # `once` with five memos, six links
    idle_once_reps: int = 5  # `once` with nothing new
    backlog_memos: int = 50
    backlog_links: int = 2
    backlog_pages: int = 4  # the memory target's "4 pages and 4 kernels", whatever the cores
    backlog_kernels: int = 4
    idle_cycles_early: int = 10  # RSS of an idle `run` after this many cycles...
    idle_cycles_target: int = 500  # ...and after this many, or as many as the budget allows
    idle_run_budget_s: float = 75.0
    poll_seconds: int = 1  # the settings' minimum: the fastest `run` can cycle
    sample_interval_s: float = 0.05  # /proc sampling of the worker's tree
    memo_timeout_s: float = 90.0  # per memo in a group, plus 15 s per link
    quick: bool = False

    @classmethod
    def full(cls) -> Plan:
        return cls()

    @classmethod
    def quick_plan(cls) -> Plan:
        """Every scenario once with tiny counts: proves the bench runs, measures little."""
        return replace(
            cls(),
            memos_per_group=2,
            page_reps=1,
            notebook_reps=1,
            post_reps=3,
            launch_reps=1,
            cold_reps=1,
            six_link_reps=1,
            idle_once_reps=1,
            backlog_memos=4,
            idle_cycles_target=14,
            idle_run_budget_s=25.0,
            quick=True,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
