"""The scenarios: each sets up its own sandbox desk, drives `main.py once|run` as an operator
would, and returns what it measured as plain JSON-able data.

Per-memo latency is measured with one memo in flight at a time (the worker idle when it comes),
so it is the memo's own time and not time spent queueing behind others; throughput is the
backlog's job.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import load
from bench.launch import REPO, Finished, Worker, clean_environ
from bench.plan import Plan
from bench.stats import stage_table, summary
from bench.world import BenchWorld, MemoOutcome, Posted, link_keys


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def _ended(worker: Worker, finished: Finished | None) -> Finished:
    """A worker that is still running when a scenario ends (or fails) is stopped, not left."""
    return finished if finished is not None else worker.stop()


# --- 1. memos of 1, 2 and 5 links -------------------------------------------------------------


def memo_group(root: Path, warehouse: Path, plan: Plan, links: int) -> dict:
    """`run` already idle (and past one uncounted memo); memos posted one at a time, each
    awaited to its final state before the next is posted."""
    notes: list[str] = []
    outcomes: list[MemoOutcome] = []
    warmed: dict[str, Any] | None = None
    with BenchWorld(
        root / f"group-{links}", warehouse, sample_interval=plan.sample_interval_s
    ) as w:
        worker = w.worker("run", POLL_SECONDS=str(plan.poll_seconds)).start()
        finished = None
        try:
            if not wait_until(lambda: w.history_polls() >= 1 or not worker.alive(), 60):
                notes.append("the worker did not poll within 60 s")
            # One uncounted memo first: a worker that has run for days has its imports loaded.
            warmup = w.post_memo(link_keys(0, 1))
            if not wait_until(lambda: w.finished(warmup.ts), plan.memo_timeout_s, 0.05):
                notes.append("the warm-up memo was not answered")
            warmed = w.outcome(warmup).as_dict()
            for i in range(plan.memos_per_group):
                if not worker.alive():
                    notes.append(f"the worker exited before memo {i + 1}")
                    break
                posted = w.post_memo(link_keys(i, links))
                timeout = plan.memo_timeout_s + 15 * links
                if not wait_until(lambda p=posted: w.finished(p.ts), timeout, 0.05):
                    notes.append(f"memo {posted.ts} not final after {timeout:.0f} s")
                outcomes.append(w.outcome(posted))
            finished = worker.stop()
        finally:
            finished = _ended(worker, finished)
        if finished.returncode not in (0, -15):
            notes.append(f"run exited {finished.returncode}: {finished.tail(5)}")
    return {
        "links": links,
        **memo_figures(outcomes),
        "warmup_memo": warmed,
        "worker": finished.as_dict(),
        "notes": notes,
    }


def memo_figures(outcomes: list[MemoOutcome]) -> dict[str, Any]:
    """End to end, per stage, and how each memo ended (the floor comparison comes later, once
    the floors of the whole run are known: `bench.compare`)."""
    return {
        "memos": [o.as_dict() for o in outcomes],
        "count": len(outcomes),
        "answered": sum(1 for o in outcomes if o.bot_replies >= 1),
        "approved": sum(1 for o in outcomes if o.approved),
        "final": dict(Counter(o.final_status or "not final" for o in outcomes)),
        "duplicates": sum(max(0, o.bot_replies - 1) for o in outcomes),
        "end_to_end": {
            "seen_to_done": summary(o.seen_to_done for o in outcomes),
            "seen_to_reply": summary(o.seen_to_reply for o in outcomes),
            "posted_to_reply": summary(o.posted_to_reply for o in outcomes),
            "posted_to_seen": summary(o.posted_to_seen for o in outcomes),
        },
        "stages": stage_table(o.timings for o in outcomes),
    }


# --- 3. targets: six links in one `once`; a cold single-link `once` -----------------------------


def six_links_once(root: Path, warehouse: Path, plan: Plan) -> dict:
    """Five memos, six links (2+1+1+1+1), all waiting; one `once` answers them. With its wall
    time, the CPU its whole tree used (Chromium's orphans included): on a machine whose cores
    that CPU keeps busy throughout, CPU / cores is as fast as the run can be."""
    runs = []
    for rep in range(plan.six_link_reps):
        with BenchWorld(
            root / f"six-{rep}", warehouse, sample_interval=plan.sample_interval_s
        ) as w:
            posted, offset = [], 0
            for count in (2, 1, 1, 1, 1):
                posted.append(w.post_memo(link_keys(offset, count)))
                offset += count
            before = load.mark()
            finished = w.worker("once").start().wait(600)
            cpu = load.mark().children - before.children
            outcomes = [w.outcome(p) for p in posted]
            runs.append(
                {
                    "wall_s": finished.wall_s,
                    "tree_cpu_s": round(cpu, 3),  # by process: worker.tree.cpu_by_role
                    "answered": sum(1 for o in outcomes if o.bot_replies >= 1),
                    "memos": len(posted),
                    "link_keys": [k for p in posted for k in p.keys],
                    "worker": finished.as_dict(),
                    "outcomes": [o.as_dict() for o in outcomes],
                }
            )
    return {
        "runs": runs,
        "wall_s": summary(r["wall_s"] for r in runs),
        "tree_cpu_s": summary(r["tree_cpu_s"] for r in runs),
    }


def cold_idle_and_long_run(root: Path, warehouse: Path, plan: Plan) -> dict:
    """On one desk: `once` cold with a single-link memo waiting (repeated), then `once` with
    nothing new (repeated), then `run` left idle for many cycles."""
    with BenchWorld(root / "cold-idle", warehouse, sample_interval=plan.sample_interval_s) as w:
        cold = cold_once(w, plan)
        idle = idle_once(w, plan)
        long_run = idle_run(w, plan)
        core = idle_cycles_back_to_back(w, plan)
    return {"cold": cold, "idle_once": idle, "idle_run": long_run, "idle_core": core}


def cold_once(w: BenchWorld, plan: Plan) -> dict:
    runs = []
    for rep in range(plan.cold_reps):
        posted = w.post_memo(link_keys(rep, 1))
        finished = w.worker("once").start().wait(300)
        outcome = w.outcome(posted)
        runs.append(
            {
                "wall_s": finished.wall_s,
                "cpu_s": finished.cpu_s,
                "answered": outcome.bot_replies >= 1,
                "outcome": outcome.as_dict(),
                "worker": finished.as_dict(),
            }
        )
    return {
        "runs": runs,
        "wall_s": summary(r["wall_s"] for r in runs),
        "answered": sum(1 for r in runs if r["answered"]),
    }


# --- 5. an idle cycle ---------------------------------------------------------------------------


def idle_once(w: BenchWorld, plan: Plan) -> dict:
    """`once` with nothing new: its wall and CPU time, its Slack calls, and whether a browser,
    the Playwright driver or a kernel started (process tree) or Looker was asked anything."""
    runs = []
    for _ in range(plan.idle_once_reps):
        calls_before = len(w.slack.calls())
        requests_before = len(w.looker.requests)
        finished = w.worker("once").start().wait(120)
        calls = w.slack.calls()[calls_before:]
        requests = w.looker.requests[requests_before:]
        started = finished.tree.distinct_by_kind
        runs.append(
            {
                "wall_s": finished.wall_s,
                "user_s": finished.user_s,
                "sys_s": finished.sys_s,
                "cpu_s": finished.cpu_s,
                "slack_calls": len(calls),
                "slack_methods": dict(Counter(c.method for c in calls)),
                "looker_requests": len(requests),
                "looker_paths": [r.path for r in requests][:20],
                "browsers_started": started.get("chromium", 0),
                "drivers_started": started.get("playwright", 0),
                "kernels_started": started.get("kernel", 0),
                "other_programs": finished.tree.programs_by_kind.get("other", []),
                "returncode": finished.returncode,
                "worker": finished.as_dict(),
            }
        )
    return {
        "runs": runs,
        "wall_s": summary(r["wall_s"] for r in runs),
        "cpu_s": summary(r["cpu_s"] for r in runs),
        "slack_calls": summary(r["slack_calls"] for r in runs),
        "browsers_started": sum(r["browsers_started"] for r in runs),
        "kernels_started": sum(r["kernels_started"] for r in runs),
        "drivers_started": sum(r["drivers_started"] for r in runs),
        "looker_requests": sum(r["looker_requests"] for r in runs),
    }


# --- 6. memory of a long idle `run` ---------------------------------------------------------------


def idle_run(w: BenchWorld, plan: Plan) -> dict:
    """`run` with POLL_SECONDS at its minimum on a quiet desk. Cycles are counted from the
    Slack call log (one first-page conversations.history per poll); the tree's RSS and PSS are
    read between cycles, after the early count and at the end (target or time budget)."""
    polls_before = w.history_polls()
    calls_before = len(w.slack.calls())
    requests_before = len(w.looker.requests)
    worker = w.worker("run", POLL_SECONDS=str(plan.poll_seconds)).start()
    started = time.monotonic()
    early = late = None
    finished = None

    def cycles() -> int:
        return w.history_polls() - polls_before

    def between_cycles() -> dict[str, Any] | None:
        time.sleep(plan.poll_seconds / 2)  # the cycle that just polled has finished by now
        shot = worker.snapshot(pss=True)
        return (
            {"cycles": cycles(), "at_s": time.monotonic() - started, **shot.as_dict()}
            if shot
            else None
        )

    try:
        budget = plan.idle_run_budget_s
        if wait_until(lambda: cycles() >= plan.idle_cycles_early or not worker.alive(), budget):
            early = between_cycles()
        wait_until(
            lambda: cycles() >= plan.idle_cycles_target or not worker.alive(),
            max(0.0, budget - (time.monotonic() - started)),
            interval=0.05,
        )
        late = between_cycles()
        finished = worker.stop()
    finally:
        finished = _ended(worker, finished)
    count = cycles()
    calls = w.slack.calls()[calls_before:]
    log_lines = sum(
        1
        for line in finished.stderr.read_text(errors="replace").splitlines()
        if "cycle on " in line
    )
    return {
        "poll_seconds": plan.poll_seconds,
        "budget_s": plan.idle_run_budget_s,
        "target_cycles": plan.idle_cycles_target,
        "cycles": count,
        "cycles_in_log": log_lines,
        "reached_target": count >= plan.idle_cycles_target,
        "early": early,
        "late": late,
        "rss_growth_bytes": (late["rss"] - early["rss"]) if early and late else None,
        "pss_growth_bytes": (
            late["pss"] - early["pss"]
            if early and late and early["pss"] is not None and late["pss"] is not None
            else None
        ),
        "cpu_per_cycle_s": (
            (late["cpu"] - early["cpu"]) / (late["cycles"] - early["cycles"])
            if early and late and late["cycles"] > early["cycles"]
            else None
        ),
        "slack_calls_per_cycle": len(calls) / count if count else None,
        "looker_requests": len(w.looker.requests) - requests_before,
        "browsers_started": finished.tree.distinct_by_kind.get("chromium", 0),
        "kernels_started": finished.tree.distinct_by_kind.get("kernel", 0),
        "worker": finished.as_dict(),
    }


def idle_cycles_back_to_back(w: BenchWorld, plan: Plan) -> dict:
    """The idle cycle `run` makes, `plan.idle_cycles_target` times back to back in one process
    (`bench.idle_core`): the 500 cycles a `run` could not make in the bench's time, so that the
    memory after 500 is measured, not extrapolated."""
    polls_before = w.history_polls()
    calls_before = len(w.slack.calls())
    requests_before = len(w.looker.requests)
    started = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.idle_core",
            str(plan.idle_cycles_target),
            str(plan.idle_cycles_early),
        ],
        cwd=REPO,
        env={**clean_environ(), **w.env},
        capture_output=True,
        text=True,
        timeout=plan.idle_run_budget_s,
    )
    wall = time.monotonic() - started
    measured = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    if done.returncode != 0 or "shots" not in measured:
        return {"error": measured.get("error") or done.stderr.strip()[-500:], "wall_s": wall}
    early = measured["shots"][str(plan.idle_cycles_early)]
    late = measured["shots"][str(plan.idle_cycles_target)]
    polls = w.history_polls() - polls_before
    return {
        "cycles": measured["cycles"],
        "polls": polls,
        "wall_s": wall,
        "early_cycles": plan.idle_cycles_early,
        "early": early,
        "late": late,
        "rss_growth_bytes": late["rss"] - early["rss"],
        "pss_growth_bytes": (
            late["pss"] - early["pss"]
            if early["pss"] is not None and late["pss"] is not None
            else None
        ),
        "slack_calls_per_cycle": (len(w.slack.calls()) - calls_before) / polls if polls else None,
        "looker_requests": len(w.looker.requests) - requests_before,
        "browsers_started": measured["browsers"],
        "kernels_started": measured["kernels"],
    }


# --- 4. a backlog -------------------------------------------------------------------------------


def backlog(root: Path, warehouse: Path, plan: Plan) -> dict:
    """`backlog_memos` memos of `backlog_links` links waiting at start; one `once` answers them
    with `backlog_pages` pages and `backlog_kernels` kernels (its peak tree memory is the memory
    figure); then every thread is counted for duplicates."""
    with BenchWorld(root / "backlog", warehouse, sample_interval=plan.sample_interval_s) as w:
        w.configure(
            looker={"pages": plan.backlog_pages}, notebook={"kernels": plan.backlog_kernels}
        )
        posted: list[Posted] = [
            w.post_memo(link_keys(i, plan.backlog_links)) for i in range(plan.backlog_memos)
        ]
        timeout = 60 + 30 * plan.backlog_memos * plan.backlog_links
        finished = w.worker("once").start().wait(timeout)
        journal = w.journal()
        outcomes = [w.outcome(p, journal) for p in posted]
    answered = sum(1 for o in outcomes if o.bot_replies >= 1)
    return {
        "memos": plan.backlog_memos,
        "links_per_memo": plan.backlog_links,
        "pages": plan.backlog_pages,
        "kernels": plan.backlog_kernels,
        "wall_s": finished.wall_s,
        "cpu_s": finished.cpu_s,
        "answered": answered,
        "memos_per_minute": answered / (finished.wall_s / 60) if finished.wall_s else None,
        "missing": sum(1 for o in outcomes if o.bot_replies == 0),
        "duplicates": sum(max(0, o.bot_replies - 1) for o in outcomes),
        "exactly_once": all(o.bot_replies == 1 for o in outcomes),
        "seen_to_done": summary(o.seen_to_done for o in outcomes),
        "stages": stage_table(o.timings for o in outcomes),
        "peak_rss_bytes": finished.tree.peak_rss,
        "peak_pss_bytes": finished.tree.peak_pss,
        "peak_resident_bytes": finished.tree.peak_resident,
        "peak": finished.tree.peak.as_dict() if finished.tree.peak else None,
        "max_processes": finished.tree.max_count_by_kind,
        "returncode": finished.returncode,
        "killed": finished.killed,
        "worker": finished.as_dict(),
        "memo_outcomes": [o.as_dict() for o in outcomes],
    }
