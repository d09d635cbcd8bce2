"""`python -m bench`: measure CreditBot against the local sandbox and report against its floor.

Runs every scenario in turn (floors, memos of 1/2/5 links, the targets, an idle cycle, a long
idle `run`, a backlog), prints a table and writes the whole result as JSON. Everything runs on
loopback; nothing of a person's Slack or Looker settings is read. Progress goes to stderr, the
table to stdout.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench import load
from bench.compare import memo_floor_figures, slowest_link_floor
from bench.floors import Floors, measure_floors
from bench.launch import REPO
from bench.machine import machine_info, python_speed
from bench.plan import Plan
from bench.report import render, write_json
from bench.scenarios import backlog, cold_idle_and_long_run, memo_group, six_links_once
from bench.targets import evaluate
from bench.world import ROUTABLE, BenchWorld

T = TypeVar("T")
SCENARIOS = ("floors", "groups", "six_links", "cold_idle", "backlog")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument(
        "--out", type=Path, help="JSON result (default data/bench/bench-<timestamp>.json)"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        help="run only these scenarios (repeatable; floors always run)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the scenarios' data dirs and worker logs"
    )
    parser.add_argument("--render", type=Path, metavar="JSON", help="print a saved result, exit")
    return parser.parse_args(argv)


class Progress:
    """Timestamped lines on stderr, so a 15-minute run shows where it is."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        import json

        print(render(json.loads(args.render.read_text(encoding="utf-8"))), end="")
        return 0
    plan = Plan.quick_plan() if args.quick else Plan.full()
    wanted = set(args.only or SCENARIOS)
    stamp = datetime.now(UTC)
    out = args.out or REPO / "data" / "bench" / f"bench-{stamp:%Y%m%d-%H%M%S}.json"
    work = Path(tempfile.mkdtemp(prefix="creditbot-bench-"))
    say = Progress()
    adopted = load.adopt_orphans()
    result: dict[str, Any] = {
        "bench": {
            "mode": "quick" if args.quick else "full",
            "started_at": stamp.isoformat(timespec="seconds"),
            "work_dir": str(work) if args.keep else None,
            "scenarios": sorted(wanted | {"floors"}),
        },
        "plan": plan.as_dict(),
        "groups": {},
        "targets_runs": {},
        "scenario_seconds": {},
        "load": {},
        "errors": {},
        "notes": []
        if adopted
        else ["the bench could not adopt its descendants' orphans: their CPU counts as others'"],
    }

    def step(name: str, work_fn: Callable[[], T]) -> T | None:
        say(f"{name} ...")
        began = time.monotonic()
        cpu = load.mark()
        try:
            return work_fn()
        except Exception as exc:  # one scenario's failure is reported, the others still run
            result["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(f"{name} failed:\n{traceback.format_exc()}")
            return None
        finally:
            result["load"][name] = load.between(cpu, load.mark())
            result["scenario_seconds"][name] = round(time.monotonic() - began, 1)
            say(f"{name} done in {time.monotonic() - began:.0f} s")

    try:
        from sandbox.warehouse import build_warehouse

        step("before start (idle bench)", lambda: time.sleep(3))  # the machine's own background
        result["speed"] = {"start_cpu_s": python_speed()}

        warehouse = build_warehouse(work / "demo_warehouse.sqlite")
        floors = step("floors (start)", lambda: _floors(work, warehouse, plan, result)) or Floors()
        result["floors"] = floors.as_dict()
        if "groups" in wanted:
            for links in plan.group_links:
                group = step(
                    f"memos of {links} link(s)",
                    lambda n=links: memo_group(work, warehouse, plan, n),
                )
                if group is not None:
                    result["groups"][str(links)] = group
        if "six_links" in wanted:
            six = step("six links in one once", lambda: six_links_once(work, warehouse, plan))
            if six is not None:
                result["targets_runs"]["six_links"] = six
        if "cold_idle" in wanted:
            combined = step(
                "cold once, idle once, idle run",
                lambda: cold_idle_and_long_run(work, warehouse, plan),
            )
            if combined is not None:
                result["targets_runs"]["cold"] = combined["cold"]
                result["idle_once"] = combined["idle_once"]
                result["idle_run"] = combined["idle_run"]
                result["idle_core"] = combined["idle_core"]
                if not combined["idle_run"]["reached_target"]:
                    result["notes"].append(
                        f"idle run: {combined['idle_run']['cycles']} cycles, not "
                        f"{plan.idle_cycles_target}: POLL_SECONDS cannot go below "
                        f"{plan.poll_seconds} s and the budget is {plan.idle_run_budget_s:.0f} s; "
                        f"the cycle itself ran {plan.idle_cycles_target} times back to back"
                    )
        if "backlog" in wanted:
            done = step("backlog", lambda: backlog(work, warehouse, plan))
            if done is not None:
                result["backlog"] = done
        end = step("floors (end)", lambda: _floors(work, warehouse, plan, result))
        result["speed"]["end_cpu_s"] = python_speed()
        if end is not None:
            floors = floors.merge(end)
            result["floors"] = floors.as_dict()
        _compare(result, floors)
    finally:
        result["machine"] = machine_info(REPO, result.get("floors", {}).get("chromium_version"))
        result["targets"] = evaluate(result)
        result["bench"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        result["bench"]["duration_s"] = round(time.monotonic() - say.started, 1)
        result["bench"]["out"] = str(out)
        write_json(result, out)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(render(result), end="")
    print(f"\nJSON: {out}")
    return 1 if result["errors"] else 0


def _compare(result: dict[str, Any], floors: Floors) -> None:
    """Hold each scenario's times against the run's pooled floors."""
    for group in result["groups"].values():
        group.update(memo_floor_figures(group["memos"], floors))
    six = result["targets_runs"].get("six_links")
    if six is not None:
        six["slowest_link_floor_s"] = slowest_link_floor(six, floors)


def _floors(work: Path, warehouse: Path, plan: Plan, result: dict[str, Any]) -> Floors:
    with BenchWorld(work / "floors", warehouse, sample_interval=plan.sample_interval_s) as world:
        result["sandbox"] = {
            "looker": world.looker_settings(),
            "slack_channels": len(world.slack.workspace.channels)
            if hasattr(world.slack.workspace, "channels")
            else None,
        }
        return measure_floors(
            world,
            ROUTABLE,
            page_reps=plan.page_reps,
            notebook_reps=plan.notebook_reps,
            post_reps=plan.post_reps,
            launch_reps=plan.launch_reps,
        )


if __name__ == "__main__":
    sys.exit(main())
