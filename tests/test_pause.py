"""The panic button: `pause` / `resume`, the `[worker] paused` setting, and what says so.

The cycle's own behaviour while paused (record, post nothing, open no browser) is wired by the
cycle; these tests hold the mark, the setting, `is_paused`, and every place that must say it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from state.store import StateStore
from tests.world import World
from worker.pause import (
    PAUSED_KEY,
    PauseMark,
    is_paused,
    pause,
    paused_reason,
    resume,
)


def mark_in(world: World) -> str | None:
    db = StateStore(world.settings.data_dir / "state.sqlite3")
    try:
        return db.get_meta(PAUSED_KEY)
    finally:
        db.close()


def with_paused_setting(world: World) -> dict[str, str]:
    with Path(world.env["CREDITBOT_CONFIG"]).open("a", encoding="utf-8") as toml:
        toml.write("\n[worker]\npaused = true\n")
    return world.env


def test_pause_and_resume_from_the_command_line(world: World) -> None:
    paused = world.run("pause", "--reason", "notebook bug, Ana looks at it", timeout=60)
    assert paused.returncode == 0, paused.stderr
    assert "paused by" in paused.stdout and "notebook bug, Ana looks at it" in paused.stdout
    stored = json.loads(mark_in(world) or "{}")
    assert set(stored) == {"by", "at", "reason"}
    assert stored["reason"] == "notebook bug, Ana looks at it" and "@" in stored["by"]

    db = StateStore(world.settings.data_dir / "state.sqlite3")
    try:  # what the cycle asks, on the worker's own store
        reason = is_paused(world.settings, db)
    finally:
        db.close()
    assert reason is not None and "notebook bug, Ana looks at it" in reason

    status = world.run("status", timeout=60)
    assert status.returncode == 0, status.stderr
    assert "PAUSED: paused by" in status.stdout and "notebook bug" in status.stdout
    as_json = json.loads(world.run("status", "--json", timeout=60).stdout)
    assert as_json["paused"] is True and "notebook bug" in as_json["paused_reason"]

    once = world.run("once", timeout=120)  # its start says so, on stderr and in the log
    assert once.returncode == 0, once.stderr
    warning = next(line for line in once.stderr.splitlines() if "PAUSED" in line)
    assert "WARNING" in warning and "notebook bug" in warning and "main.py resume" in warning
    assert warning in (world.settings.data_dir / "logs" / "creditbot.log").read_text()

    resumed = world.run("resume", timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert "cleared: paused by" in resumed.stdout and "not paused" in resumed.stdout
    assert mark_in(world) is None
    assert "running (not paused)" in world.run("status", timeout=60).stdout
    assert "PAUSED" not in world.run("once", timeout=120).stderr
    again = world.run("resume", timeout=60)
    assert again.returncode == 0 and "no pause mark" in again.stdout


def test_the_setting_pauses_whatever_the_mark_and_resume_says_so(world: World) -> None:
    env = with_paused_setting(world)
    once = world.run("once", timeout=120)
    assert once.returncode == 0, once.stderr
    assert "[worker] paused = true" in once.stderr and env["CREDITBOT_CONFIG"] in once.stderr
    run = world.start("run")  # `run` says it at its start too
    try:
        line = run.stderr.readline() if run.stderr else ""
        while line and "PAUSED" not in line:
            line = run.stderr.readline() if run.stderr else ""
        assert "PAUSED" in line and "[worker] paused = true" in line
    finally:
        run.terminate()
        run.communicate(timeout=60)
    resumed = world.run("resume", timeout=60)
    assert resumed.returncode == 1
    assert "still PAUSED" in resumed.stderr and "remove `paused = true`" in resumed.stderr


def test_is_paused_names_both_reasons_and_only_those(world: World) -> None:
    assert paused_reason(world.settings) is None  # no database yet: not paused, none created
    assert not (world.settings.data_dir / "state.sqlite3").exists()
    mark = pause(world.settings, "  ", by="ana@desk")
    assert mark.reason is None and mark.by == "ana@desk"
    reason = paused_reason(world.settings)
    assert reason is not None and reason.startswith("paused by ana@desk at ")
    both = paused_reason(replace(world.settings, paused=True))
    assert both is not None
    assert both.startswith("paused by the setting [worker] paused = true")
    assert "; paused by ana@desk" in both
    resumed = resume(world.settings)
    assert resumed.cleared is not None and resumed.cleared.by == "ana@desk"
    assert resumed.still_paused is None
    assert paused_reason(world.settings) is None


def test_a_mark_that_cannot_be_read_still_pauses(world: World) -> None:
    db = StateStore(world.settings.data_dir / "state.sqlite3")
    try:
        db.set_meta(PAUSED_KEY, "yes please")
        reason = is_paused(world.settings, db)
    finally:
        db.close()
    assert reason is not None and "unreadable pause mark" in reason
    assert PauseMark.from_json(None) is None
