"""Folders a killed worker left in the temporary folder are removed by the next one, and only
those: never a running worker's, another user's, or one that is not CreditBot's."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from core import scratch
from core.policies import LookerPolicy
from core.urls import LookerLink, classify
from sandbox.looker import LookerSandbox
from sandbox.queries import demo_queries
from scraper.session import LookerBrowser


def gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def folder(root: Path, name: str, *, age: float) -> Path:
    made = root / name
    made.mkdir()
    (made / "trace.network").write_text("Cookie: looker_session=...")
    stamp = time.time() - age
    os.utime(made, (stamp, stamp))
    return made


def test_only_old_folders_of_workers_that_are_gone_are_removed(tmp_path: Path) -> None:
    dead, alive = gone_pid(), os.getpid()
    left = folder(tmp_path, f"creditbot-browser-{dead}-abc", age=7200)
    recent = folder(tmp_path, f"creditbot-browser-{dead}-def", age=60)
    running = folder(tmp_path, f"creditbot-browser-{alive}-ghi", age=7200)
    other_kind = folder(tmp_path, f"creditbot-kernels-{dead}-jkl", age=7200)
    unnamed = folder(tmp_path, "creditbot-browser-mno", age=7200)
    a_file = tmp_path / f"creditbot-browser-{dead}-file"
    a_file.write_text("")
    os.utime(a_file, (time.time() - 7200,) * 2)

    assert scratch.sweep("browser", root=tmp_path) == [left]
    assert not left.exists()
    assert all(p.exists() for p in (recent, running, other_kind, unnamed, a_file))


def test_the_browser_clears_a_killed_worker_s_trace_folder_when_it_starts(tmp_path: Path) -> None:
    """What SIGKILL leaves: the scratch folder of the browser, with the session in its log."""
    tmp = Path(tempfile.gettempdir())
    left = folder(tmp, f"creditbot-browser-{gone_pid()}-killed", age=7200)
    query = demo_queries()["psms_pumping"]
    with LookerSandbox(render_delay_ms=30) as looker:
        url = looker.explore_url(looker.add_query(query.sql))
        policy = LookerPolicy(base_url=looker.base_url)
        with LookerBrowser(policy, looker.storage_state(), artifacts_dir=tmp_path) as browser:
            assert browser.read_sql(LookerLink(url, classify(url))).sql == query.sql
            assert not left.exists()
            mine = Path(str(browser._scratch))
            assert mine.name.startswith(scratch.prefix("browser"))
            assert mine.stat().st_mode & 0o077 == 0
        assert not mine.exists(), "its own is removed when it closes"


def test_where_folders_have_no_owner_nothing_is_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows: no uid to compare, and `os.kill(pid, 0)` there would interrupt the process."""
    left = folder(tmp_path, f"creditbot-browser-{gone_pid()}-abc", age=7200)
    monkeypatch.delattr(os, "getuid")
    assert scratch.sweep("browser", root=tmp_path) == []
    assert left.exists()
