"""The printed table and the JSON file. Rendering reads only the result dict (what the JSON
holds), so a saved result can be printed again and the test can render a small fake one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.targets import evaluate

MIB = 2**20


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) < 0.01:
        return f"{value * 1000:.1f} ms"
    if abs(value) < 10:
        return f"{value:.2f} s"
    return f"{value:.1f} s"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def spread(stats: dict[str, Any] | None) -> str:
    """`p50 / p95` of a summary."""
    stats = stats or {}
    return f"{seconds(stats.get('p50'))} / {seconds(stats.get('p95'))}"


def mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:,.0f} MiB"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ", align: str = ""
) -> str:
    """Columns aligned per `align` ("l"/"r" per column; default: first left, others right);
    short rows are padded."""
    align = align or "l" + "r" * (len(headers) - 1)
    rows = [[*r, *[""] * (len(headers) - len(r))] for r in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return indent + "  ".join(parts).rstrip()

    return "\n".join([line(headers), indent + "  ".join("-" * w for w in widths), *map(line, rows)])


def signed_mib(value: float | None) -> str:
    return "-" if value is None else f"{value / MIB:+,.1f} MiB"


def pairs(rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """`label  value` lines, labels padded to one width."""
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{indent}{r[0].ljust(width)}  {r[1]}".rstrip() for r in rows)


def _get(data: Any, *path: str | int) -> Any:
    for key in path:
        in_dict = isinstance(data, dict) and key in data
        in_list = isinstance(data, list) and isinstance(key, int) and -len(data) <= key < len(data)
        if not (in_dict or in_list):
            return None
        data = data[key]
    return data


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def render(result: dict[str, Any]) -> str:
    """The whole table; targets are judged here when the result does not carry them yet."""
    if "targets" not in result:
        result = {**result, "targets": evaluate(result)}
    sections = [
        _header(result),
        _floors(result),
        _groups(result),
        _targets(result),
        _six_links(result),
        _backlog(result),
        _idle_once(result),
        _memory(result),
        _load(result),
        _problems(result),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(r: dict[str, Any]) -> str:
    b, m = r.get("bench", {}), r.get("machine", {})
    mem = m.get("memory_total_bytes")
    pkgs = m.get("packages", {})
    took = b.get("duration_s")
    took_text = "-" if took is None else f"{took:.0f} s ({took / 60:.1f} min)"
    looker = _get(r, "sandbox", "looker") or {}
    return "\n".join(
        [
            f"CreditBot benchmark ({b.get('mode', '?')}), started {b.get('started_at', '?')}, "
            f"took {took_text}",
            f"machine: {m.get('cpu_model')}, {m.get('cores')} cores, "
            f"{'-' if mem is None else f'{mem / 2**30:.1f} GiB'}, Python {m.get('python')}, "
            f"Chromium {m.get('chromium')}, Playwright {pkgs.get('playwright')}, "
            f"papermill {pkgs.get('papermill')}",
            _speed(r.get("speed") or {}),
            f"code: {m.get('branch')} @ {str(m.get('commit'))[:12]}"
            f"{' (product files modified)' if m.get('dirty') else ''}; local Looker "
            f"{looker.get('skin')}/{looker.get('viewer')}, "
            f"{looker.get('render_delay_ms')} ms per API call",
        ]
    )


def _speed(speed: dict[str, Any]) -> str:
    start, end = speed.get("start_cpu_s"), speed.get("end_cpu_s")
    if start is None:
        return "speed: not measured"
    at_end = "" if end is None else f", {end * 1000:.0f} ms at its end"
    return (
        f"speed: a fixed piece of Python took {start * 1000:.0f} ms of CPU at the run's start"
        f"{at_end} (bench.machine.python_speed; lower is faster)"
    )


def _floors(r: dict[str, Any]) -> str:
    f = r.get("floors")
    if not f:
        return ""

    def row(what: str, stats: dict[str, Any]) -> list[str]:
        return [what, *(seconds(stats.get(k)) for k in ("min", "p50", "p95")), str(stats.get("n"))]

    rows = [row("Chromium launch + context", f.get("browser_launch_s", {}))]
    for key, stats in f.get("page_load_s", {}).items():
        rows.append(row(f"page load {key}", stats))
    for key, stats in f.get("notebook_s", {}).items():
        name = Path(_get(f, "notebook_path", key) or "?").stem
        rows.append(row(f"notebook {key} ({name})", stats))
    rows.append(row("chat.postMessage", f.get("post_message_s", {})))
    for key, value in (f.get("link_s") or {}).items():
        rows.append([f"link floor {key} (fastest page + notebook)", seconds(value), "", "", ""])
    return "FLOORS (the same work done the bare way, this run; a floor is the fastest)\n" + table(
        ["what", "fastest", "p50", "p95", "n"], rows
    )


def _groups(r: dict[str, Any]) -> str:
    groups = r.get("groups") or {}
    if not groups:
        return ""
    names = list(groups)
    headers = ["per memo (run idle, one memo at a time)"]
    for name in names:
        headers += [f"{name} link{'s' if name != '1' else ''} p50", "p95"]

    def row(label: str, path: tuple[str, ...], fmt: Any = seconds) -> list[str]:
        cells = [label]
        for name in names:
            stats = _get(groups[name], *path) or {}
            cells += [fmt(stats.get("p50")), fmt(stats.get("p95"))]
        return cells

    rows = [
        row("seen -> done (journal)", ("end_to_end", "seen_to_done")),
        row("seen -> reply in thread", ("end_to_end", "seen_to_reply")),
        row("posted -> reply (incl. poll wait)", ("end_to_end", "posted_to_reply")),
        row("floor: slowest page + slowest notebook", ("floor",)),
        row("ratio seen -> done / floor", ("ratio_to_floor",), times),
    ]
    stages: list[str] = []
    for name in names:
        for stage in _get(groups[name], "stages") or {}:
            if stage not in stages:
                stages.append(stage)
    for stage in stages:
        rows.append(row(f"stage {stage}: per memo", ("stages", stage, "per_memo")))
        if any(
            _get(groups[n], "stages", stage, "each", "n")
            != _get(groups[n], "stages", stage, "per_memo", "n")
            for n in names
        ):
            rows.append(row(f"stage {stage}: each", ("stages", stage, "each")))
    held = [s for n in names for s in (_get(groups[n], "stage_vs_floor") or {})]
    for stage in dict.fromkeys(held):
        rows.append(row(f"stage {stage} / its floor", ("stage_vs_floor", stage), times))
    for label, key in (
        ("peak memory of the worker tree (each page once)", "peak_resident_bytes"),
        ("peak RSS of the worker tree (summed)", "peak_rss_bytes"),
    ):
        peaks = [label]
        for name in names:
            peaks += [mib(_get(groups[name], "worker", "tree", key)), ""]
        rows.append(peaks)
    counts = ["memos answered / posted"]
    for name in names:
        g = groups[name]
        counts += [f"{g.get('answered')}/{g.get('count')}", f"dup {g.get('duplicates')}"]
    rows.append(counts)
    return "PER MEMO, BY NUMBER OF LINKS\n" + table(headers, rows)


def _targets(r: dict[str, Any]) -> str:
    targets = r.get("targets") or []
    if not targets:
        return ""
    rows = []
    for t in targets:
        measured, limit = t.get("measured"), t.get("limit")
        if t.get("unit") == "s":
            measured_text = seconds(measured)
            limit_text = f"< {seconds(limit)}" if limit is not None else "-"
        elif t.get("unit") == "GB":
            measured_text = "-" if measured is None else f"{measured:.2f} GB"
            limit_text = f"< {limit:.1f} GB"
        elif t.get("unit") == "MiB":
            measured_text = "-" if measured is None else f"{measured:+.2f} MiB"
            limit_text = f"< {limit:g} MiB"
        else:
            measured_text = "-" if measured is None else str(measured)
            limit_text = str(limit)
        rows.append([t["name"], measured_text, limit_text, t["verdict"], t.get("detail", "")])
    return "TARGETS\n" + table(
        ["target", "measured", "limit", "result", "detail"], rows, align="lrrll"
    )


def _six_links(r: dict[str, Any]) -> str:
    """Each run's CPU, by process: with every core busy, CPU / cores bounds the wall time."""
    runs = _get(r, "targets_runs", "six_links", "runs") or []
    runs = [run for run in runs if run.get("tree_cpu_s") is not None]
    if not runs:
        return ""
    cores = _get(r, "machine", "cores")
    by_role = [_get(run, "worker", "tree", "cpu_by_role") or {} for run in runs]
    roles: list[str] = []
    for cpu in by_role:
        roles += [k for k in cpu if k not in roles]
    rows = [
        ["wall", *(seconds(run.get("wall_s")) for run in runs)],
        ["CPU, the whole tree", *(seconds(run["tree_cpu_s"]) for run in runs)],
    ]
    if cores:
        rows.append([f"CPU / {cores} cores", *(seconds(run["tree_cpu_s"] / cores) for run in runs)])
    for name in roles:
        if all(cpu.get(name, 0) < 0.005 for cpu in by_role):
            continue  # a shell that only started Chromium, say
        rows.append([f"  {name}", *(seconds(cpu.get(name)) for cpu in by_role)])
    rows.append(["  (sampled, all processes)", *(seconds(sum(cpu.values())) for cpu in by_role)])
    headers = ["six links in one `once`", *(f"run {i}" for i in range(1, len(runs) + 1))]
    return (
        "SIX LINKS: WHERE THE CPU WENT (user+sys; by process, each at its last sample)\n"
        + table(headers, rows)
    )


def _backlog(r: dict[str, Any]) -> str:
    b = r.get("backlog")
    if not b:
        return ""
    peak = b.get("peak") or {}
    by_kind = peak.get("rss_by_kind") or {}
    rows = [
        ["memos x links waiting at start", f"{b['memos']} x {b['links_per_memo']}"],
        ["one `once`: wall time", seconds(b.get("wall_s"))],
        [
            "throughput",
            f"{b['memos_per_minute']:.1f} memos/min"
            if b.get("memos_per_minute") is not None
            else "-",
        ],
        [
            "answered / duplicates / missing",
            " / ".join(text(b.get(k)) for k in ("answered", "duplicates", "missing")),
        ],
        [
            "seen -> done p50 / p95 (queueing included)",
            spread(b.get("seen_to_done")),
        ],
        ["CPU (user+sys, worker and reaped children)", seconds(b.get("cpu_s"))],
        ["pages / kernels configured", f"{text(b.get('pages'))} / {text(b.get('kernels'))}"],
        ["peak RSS of the worker tree (summed over its processes)", mib(b.get("peak_rss_bytes"))],
        [
            "  of which worker / chromium / kernels / fork server / driver",
            " / ".join(
                mib(by_kind.get(k))
                for k in ("worker", "chromium", "kernel", "fork server", "playwright")
            ),
        ],
        ["peak PSS of the worker tree (shared pages split)", mib(b.get("peak_pss_bytes"))],
        [
            "peak resident memory of the tree (each page once)",
            mib(b.get("peak_resident_bytes"))
            if b.get("peak_resident_bytes") is not None
            else "- (frame numbers hidden: not root)",
        ],
        [
            "most processes at once (chromium / kernel)",
            " / ".join(text(_get(b, "max_processes", k)) for k in ("chromium", "kernel")),
        ],
    ]
    return "BACKLOG (all memos waiting at start)\n" + pairs(rows)


def _idle_once(r: dict[str, Any]) -> str:
    i = r.get("idle_once")
    if not i:
        return ""
    methods = _get(i, "runs", 0, "slack_methods") or {}
    rows = [
        ["runs", str(len(i.get("runs", [])))],
        [
            "wall time p50 / p95",
            spread(i.get("wall_s")),
        ],
        ["CPU user+sys p50", seconds(_get(i, "cpu_s", "p50"))],
        ["Slack API calls p50", f"{_get(i, 'slack_calls', 'p50')}"],
        ["  methods (first run)", ", ".join(f"{k} x{v}" for k, v in methods.items()) or "-"],
        [
            "browsers / drivers / kernels started (all runs)",
            " / ".join(
                str(i.get(k)) for k in ("browsers_started", "drivers_started", "kernels_started")
            ),
        ],
        ["Looker requests (all runs)", str(i.get("looker_requests"))],
    ]
    return "IDLE CYCLE (`once` with nothing new)\n" + pairs(rows)


def _memory(r: dict[str, Any]) -> str:
    m = r.get("idle_run")
    if not m:
        return ""
    early, late = m.get("early") or {}, m.get("late") or {}
    reached = (
        "reached"
        if m.get("reached_target")
        else f"NOT reached in {m.get('budget_s'):.0f} s at POLL_SECONDS={m.get('poll_seconds')}"
    )

    def tree_at(shot: dict[str, Any]) -> str:
        return (
            f"RSS {mib(shot.get('rss'))} (PSS {mib(shot.get('pss'))}; worker process alone "
            f"{mib(_get(shot, 'rss_by_kind', 'worker'))}, {shot.get('count', '-')} process(es))"
        )

    calls = m.get("slack_calls_per_cycle")
    rows = [
        [
            "idle cycles counted (Slack log; log lines)",
            f"{m.get('cycles')} ({m.get('cycles_in_log')}); target {m.get('target_cycles')} "
            f"{reached}",
        ],
        [f"worker tree after {early.get('cycles', '-')} cycles", tree_at(early)],
        [f"worker tree after {late.get('cycles', '-')} cycles", tree_at(late)],
        [
            "growth",
            f"RSS {signed_mib(m.get('rss_growth_bytes'))}, "
            f"PSS {signed_mib(m.get('pss_growth_bytes'))}",
        ],
        ["CPU per idle cycle (worker tree)", seconds(m.get("cpu_per_cycle_s"))],
        ["Slack calls per cycle", "-" if calls is None else f"{calls:.1f}"],
        [
            "browsers / kernels started, Looker requests",
            f"{m.get('browsers_started')} / {m.get('kernels_started')}, {m.get('looker_requests')}",
        ],
    ]
    core = r.get("idle_core") or {}
    if core.get("error"):
        rows.append(["the idle cycle back to back, one process", f"failed: {core['error']}"])
    elif core:
        rows += [
            [
                "the idle cycle back to back, one process",
                f"{core.get('cycles')} cycles ({core.get('polls')} polls) in "
                f"{seconds(core.get('wall_s'))}, as `run` calls it, without the scheduler's wait",
            ],
            [
                f"  after {core.get('early_cycles')} / {core.get('cycles')} cycles",
                f"RSS {mib(_get(core, 'early', 'rss'))} / {mib(_get(core, 'late', 'rss'))}, "
                f"PSS {mib(_get(core, 'early', 'pss'))} / {mib(_get(core, 'late', 'pss'))}",
            ],
            [
                "  growth",
                f"RSS {signed_mib(core.get('rss_growth_bytes'))}, "
                f"PSS {signed_mib(core.get('pss_growth_bytes'))}",
            ],
            [
                "  browsers / kernels started, Looker requests",
                f"{core.get('browsers_started')} / {core.get('kernels_started')}, "
                f"{core.get('looker_requests')}",
            ],
        ]
    return "MEMORY OF AN IDLE `run` (POLL_SECONDS at its minimum, quiet desk)\n" + pairs(rows)


def _load(r: dict[str, Any]) -> str:
    loads = r.get("load") or {}
    if not loads:
        return ""
    rows = [
        [
            name,
            seconds(v.get("wall_s")),
            f"{v.get('busy_cores', 0):.2f}",
            f"{v.get('workers_cores', 0):.2f}",
            f"{v.get('bench_cores', 0):.2f}",
            f"{v.get('background_cores', 0):.2f}",
        ]
        for name, v in loads.items()
    ]
    cores = next(iter(loads.values())).get("cores")
    return (
        f"MACHINE LOAD (average cores busy, of {cores}; bench's children = the workers with their "
        "browsers and kernels, and the floors' own)\n"
        + table(["scenario", "wall", "all", "bench's children", "bench itself", "others"], rows)
    )


BUSY_BACKGROUND_CORES = 0.25


def _problems(r: dict[str, Any]) -> str:
    lines = [f"- {name}: {error}" for name, error in (r.get("errors") or {}).items()]
    busy = {
        name: v["background_cores"]
        for name, v in (r.get("load") or {}).items()
        if v.get("background_cores", 0) > BUSY_BACKGROUND_CORES
    }
    if busy:
        worst = max(busy, key=busy.__getitem__)
        lines.append(
            f"- other processes kept more than {BUSY_BACKGROUND_CORES} core busy during "
            f"{len(busy)} of {len(r['load'])} scenarios (most: {busy[worst]:.2f} cores, {worst}); "
            "those figures include that contention (MACHINE LOAD above)"
        )
    lines += [f"- {note}" for note in r.get("notes") or []]
    for name, g in (r.get("groups") or {}).items():
        lines += [f"- group {name}: {note}" for note in g.get("notes", [])]
    for command, left in _leftovers(r):
        lines.append(
            f"- `{command}` left {len(left)} process(es) running after it exited: "
            f"{', '.join(sorted(set(left)))} (ended by the bench)"
        )
    return "NOTES\n" + "\n".join(lines) if lines else ""


def _leftovers(data: Any) -> list[tuple[str, list[str]]]:
    """Every worker in the result that left processes behind, wherever it sits."""
    found = []
    if isinstance(data, dict):
        if data.get("leftovers") and "command" in data:
            found.append((str(data["command"]), list(data["leftovers"])))
        for value in data.values():
            found += _leftovers(value)
    elif isinstance(data, list):
        for value in data:
            found += _leftovers(value)
    return found


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return path
