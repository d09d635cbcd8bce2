"""Mistakes of the operator or problems of the machine never reach a memo thread.

No browser, no kernel, a notebook missing or refused, a data dir that cannot be written: the
command exits 2 naming what to fix, a person gets one DM however many runs meet it, no memo
thread gets a word, and the memos are answered once it is fixed.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from core.errors import SetupError
from notebooks import runner
from sandbox.slack import ANALYST
from state.store import StateStore, Status
from tests.notebook_files import make_notebook
from tests.world import World
from worker import commands


def state_of(world: World, ts: str) -> tuple[Status, int]:
    db = StateStore(world.settings.data_dir / "state.sqlite3")
    try:
        memo = db.get("C0MEMOS000", ts)
        assert memo is not None
        return memo.status, memo.attempts
    finally:
        db.close()


def test_a_chromium_path_that_does_not_exist_is_a_setting_error(world: World) -> None:
    for command in ("session", "once", "scrape"):
        args = [command, world.looker.base_url + "/x/abc"] if command == "scrape" else [command]
        done = world.run(*args, CHROMIUM_PATH="/nonexistent/chromium", timeout=60)
        assert done.returncode == 2, (command, done.stderr)
        assert "CHROMIUM_PATH" in done.stderr and "Traceback" not in done.stderr


def test_a_browser_that_will_not_start_stops_the_cycle_without_a_word_in_any_thread(
    world: World,
) -> None:
    memo = world.memo("verify_pumping")
    for _ in range(2):  # as cron would run it: the same problem twice
        done = world.run("once", CHROMIUM_PATH="/bin/false", timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Chromium" in done.stderr and "CHROMIUM_PATH" in done.stderr
        assert world.replies(memo["ts"]) == [], "no word in the memo's thread"
        assert state_of(world, memo["ts"]) == (Status.SEEN, 0), "waiting, no attempt counted"
    dms = world.slack.dms(ANALYST)
    assert len(dms) == 1, "one DM for the problem, not one per run"
    assert "stopped without touching any memo" in dms[0]["text"]
    assert "CHROMIUM_PATH" in dms[0]["text"]
    [posted] = [m for m in world.slack.messages() if m["ts"] == memo["ts"]]
    assert not posted.get("reactions"), "no 👀 left behind"
    fixed = world.run("once", timeout=180)  # the browser is back: the memo is answered
    assert fixed.returncode == 0, fixed.stderr
    assert next(r["text"] for r in world.bot_replies(memo["ts"])).startswith("Approved, $")


def test_a_missing_notebook_is_found_before_any_memo_is_claimed(
    world: World, tmp_path: Path
) -> None:
    # A copy of the product's notebook goes missing, never the repository's own: other tests
    # run the real one at the same time.
    memo = world.memo("verify_pumping")
    verify = world.settings.notebook.products[0]
    copy = tmp_path / verify.notebook.name
    shutil.copyfile(verify.notebook, copy)
    products = (replace(verify, notebook=copy), *world.settings.notebook.products[1:])
    settings = replace(world.settings, notebook=replace(world.settings.notebook, products=products))
    moved = copy.with_suffix(".away")
    copy.rename(moved)
    with pytest.raises(SetupError, match="cannot read notebook"):
        commands.once(settings)
    assert state_of(world, memo["ts"]) == (Status.SEEN, 0)
    moved.rename(copy)
    commands.once(settings)
    assert world.bot_replies(memo["ts"])[0]["text"].startswith("Approved, $")


def test_a_notebook_without_a_parameters_cell_is_refused_as_a_setup_problem(
    world: World, tmp_path: Path
) -> None:
    memo = world.memo("verify_pumping")
    untagged = make_notebook(tmp_path / "untagged.ipynb", ["credit_amount = 1"], parameters=None)
    verify = replace(world.settings.notebook.products[0], notebook=untagged)
    settings = replace(
        world.settings, notebook=replace(world.settings.notebook, products=(verify,))
    )
    with pytest.raises(SetupError, match="no cell tagged `parameters`"):
        commands.once(settings)
    assert world.replies(memo["ts"]) == []
    assert len(world.slack.dms(ANALYST)) == 1


def test_no_kernel_to_run_the_notebooks_in(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    memo = world.memo("verify_pumping")
    monkeypatch.setattr(runner, "KERNEL", "no-such-kernel")
    with pytest.raises(SetupError, match="no Jupyter kernel named 'no-such-kernel'"):
        commands.once(world.settings)
    assert world.replies(memo["ts"]) == []
    assert state_of(world, memo["ts"]) == (Status.SEEN, 0)


def test_a_data_dir_that_cannot_be_written(world: World, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    exported = tmp_path / "state.json"
    exported.write_text(json.dumps(world.looker.storage_state()))
    inside_a_file = str(blocker / "data")
    for args in (
        ["once"],
        ["run"],
        ["login", "--from-file", str(exported)],
        ["scrape", world.looker.base_url + "/x/abc"],
    ):
        done = world.run(*args, CREDITBOT_DATA_DIR=inside_a_file, timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert "CREDITBOT_DATA_DIR" in done.stderr and "Traceback" not in done.stderr
