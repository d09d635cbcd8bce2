"""`status`, `report` and `cleanup` as the desk runs them, and the retention job of `run`.

The numbers themselves are `ops/`'s and counted by hand in test_ops_status.py; here the state
database is the seeded scenario (tests/ops_seed.py) in a real data dir, the session comes from
the real session store, and the commands run as `python main.py ...`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from auth.store import SessionStore
from tests.ops_seed import NOW, permalink, seed
from tests.world import World
from worker import instruments
from worker.pause import pause

DAY = 86400


def seeded(world: World) -> Path:
    return seed(world.settings.data_dir / "state.sqlite3")


def stored_expiry(world: World) -> float:
    stored = SessionStore(world.settings.data_dir, looker_origin=world.settings.looker_origin)
    loaded = stored.load()
    assert loaded is not None and loaded.expires_at is not None
    return loaded.expires_at


# --- status -----------------------------------------------------------------------------------


def test_status_reads_the_state_and_the_session_store(world: World) -> None:
    seeded(world)
    status = instruments.status(world.settings, now=NOW)
    assert status.report.session_expires_at == stored_expiry(world)
    assert (status.report.today.approved, status.report.month.memos) == (1, 7)
    text = status.text()
    first, blank, worker, *_ = text.splitlines()
    assert first == "CreditBot status at 2024-03-15 09:00 UTC-05:00"
    assert (blank, worker) == ("", "worker          running (not paused)")
    assert "last cycle      2024-03-15 08:57 (3 min ago)" in text
    expires = datetime.fromtimestamp(stored_expiry(world), NOW.tzinfo)
    assert f"Looker session  expires {expires:%Y-%m-%d %H:%M}" in text
    assert permalink("1710504000.000500") in text  # pending, retrying
    pause(world.settings, "checking a notebook", by="ana@desk")
    paused = instruments.status(world.settings, now=NOW).text()
    assert "worker          PAUSED: paused by ana@desk at " in paused
    assert "checking a notebook" in paused


def test_status_and_its_json_from_the_command_line(world: World) -> None:
    seeded(world)
    done = world.run("status", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CreditBot status at ")
    assert "running (not paused)" in done.stdout and "Pending (2)" in done.stdout
    as_json = world.run("status", "--json", timeout=60)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert set(data) == {
        "now",
        "paused",
        "paused_reason",
        "database",
        "database_found",
        "counts",
        "processing_seconds",
        "last_cycle_at",
        "session",
        "pending",
        "failed",
    }
    assert data["paused"] is False and data["database_found"] is True
    assert set(data["counts"]) == {"today", "7_days", "30_days"}
    assert data["session"]["stored"] is True and data["session"]["problem"] is None
    assert datetime.fromisoformat(data["session"]["expires_at"]).timestamp() == pytest.approx(
        stored_expiry(world), abs=1
    )
    assert [m["memo"] for m in data["pending"]] == [
        "C0123ABCD/1709647200.000600",
        "C0123ABCD/1710504000.000500",
    ]
    assert data["pending"][1]["reason"] == "Looker timed out"


def test_status_before_any_cycle_and_without_a_session(world: World) -> None:
    (world.settings.data_dir / "session.enc").unlink()
    status = instruments.status(world.settings)
    assert not status.database_found and status.report.empty
    text = status.text()
    assert "no database yet at" in text and "no memos yet" in text
    assert "Looker session: none stored; run `python main.py login`" in text
    assert not (world.settings.data_dir / "state.sqlite3").exists(), "status creates nothing"


# --- report -----------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_report_writes_an_owner_only_page_in_the_data_dir(world: World) -> None:
    seeded(world)
    done = world.run("report", timeout=60)
    assert done.returncode == 0, done.stderr
    written = Path(done.stdout.strip())
    today = datetime.now().astimezone()
    assert written == world.settings.data_dir / "reports" / f"report-{today:%Y-%m-%d}.html"
    assert mode(written) == 0o600 and mode(written.parent) == 0o700
    html = written.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "CreditBot report: #help-sms" in html
    assert list(written.parent.iterdir()) == [written], "no temporary file left behind"


def test_report_to_a_path_of_ones_choosing(world: World, tmp_path: Path) -> None:
    seeded(world)
    out = tmp_path / "out" / "march.html"
    path = instruments.write_report(world.settings, out, now=NOW)
    assert path == out and mode(out) == 0o600
    html = out.read_text(encoding="utf-8")
    assert permalink("1709647200.000600") in html  # stuck for 10 days: needs a person
    out.chmod(0o644)  # an earlier copy, readable by others: replaced owner-only
    instruments.write_report(world.settings, out, now=NOW)
    assert mode(out) == 0o600
    folder = world.run("report", "--out", str(tmp_path), timeout=60)
    assert folder.returncode == 2 and "is a folder" in folder.stderr


# --- cleanup and retention --------------------------------------------------------------------


def artefacts(data_dir: Path, now: float) -> dict[str, Path]:
    """An old and a new file in each folder retention looks at, plus what it must never touch."""
    files = {}
    for folder, suffix in (("summaries", ".json"), ("traces", ".zip"), ("notebooks", ".ipynb")):
        (data_dir / folder).mkdir(parents=True, exist_ok=True)
        for age, label in ((120, "old"), (10, "new")):
            path = data_dir / folder / f"{label}{suffix}"
            path.write_text("x" * 100)
            os.utime(path, (now - age * DAY, now - age * DAY))
            files[f"{folder}/{label}"] = path
    log = data_dir / "logs" / "creditbot.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("old log")
    os.utime(log, (now - 400 * DAY, now - 400 * DAY))
    files["log"] = log
    return files


def test_cleanup_dry_run_then_for_real(world: World) -> None:
    files = artefacts(world.settings.data_dir, time.time())
    dry = world.run("cleanup", "--dry-run", timeout=60)
    assert dry.returncode == 0, dry.stderr
    assert "files older than 90 days" in dry.stdout
    assert "total      would delete 3 file(s), 300 bytes" in dry.stdout
    assert all(path.exists() for path in files.values())
    done = world.run("cleanup", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "total      deleted 3 file(s), 300 bytes" in done.stdout
    gone = {name for name, path in files.items() if not path.exists()}
    assert gone == {"summaries/old", "traces/old", "notebooks/old"}
    younger = world.run("cleanup", "--older-than", "5", timeout=60)
    assert "deleted 3 file(s)" in younger.stdout
    assert files["log"].exists() and (world.settings.data_dir / "session.enc").exists()


def test_the_default_age_is_the_setting(world: World) -> None:
    now = time.time()
    files = artefacts(world.settings.data_dir, now)
    with Path(world.env["CREDITBOT_CONFIG"]).open("a", encoding="utf-8") as toml:
        toml.write("\n[retention]\ndays = 200\n")
    done = world.run("cleanup", timeout=60)
    assert "files older than 200 days" in done.stdout and "deleted 0 file(s)" in done.stdout
    assert instruments.cleanup(world.settings, now=now).files == 3  # world.settings: 90
    assert not files["summaries/old"].exists()
    negative = world.run("cleanup", "--older-than", "-1", timeout=60)
    assert negative.returncode == 2 and "must not be negative" in negative.stderr


def test_the_retention_job_logs_what_it_removed_and_never_raises(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    artefacts(world.settings.data_dir, time.time())
    with caplog.at_level(logging.INFO, logger="worker.instruments"):
        instruments.retention_job(world.settings)
    [line] = [r.getMessage() for r in caplog.records if r.name == "worker.instruments"]
    assert line == (
        "retention: deleted 3 file(s), 300 bytes, older than 90 days "
        "(summaries 1, traces 1, notebooks 1)"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="worker.instruments"):
        instruments.retention_job(replace(world.settings, retention_days=-1))  # cannot run
    [failed] = caplog.records
    assert failed.levelno == logging.ERROR and "retention: cleanup of" in failed.getMessage()
