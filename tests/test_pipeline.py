"""The cycle's work side by side: links of several memos load at once, notebooks start as soon
as their SQL is read, replies still go out one per memo and in memo order, `run` keeps its
browser and kernels warm, and an idle cycle costs one Slack call and nothing else."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal

from auth.store import SessionStore
from sandbox.slack import MEMO_CHANNEL_ID
from state.store import StateStore
from tests.world import CLEAN_ENV, REPO, World
from worker import commands
from worker.engines import Engines

HEAVY = ("playwright", "papermill", "pandas", "sqlglot", "apscheduler", "nbclient")


def _loaded_after_once(world: World, modules: tuple[str, ...]) -> list[str]:
    """`main.py once` in a Python of its own, as an operator runs it: which of `modules` the
    worker had imported by the end of its cycle."""
    probe = (
        "import json, sys, main\n"
        "code = main.main(['once'])\n"
        f"print(json.dumps([code, [m for m in {modules!r} if m in sys.modules]]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**CLEAN_ENV, **world.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    code, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    return loaded


def test_an_idle_once_makes_one_slack_call_and_loads_no_browser_or_notebook_code(
    world: World,
) -> None:
    commands.once(world.settings)  # the first start learns who the bot is and where it reads
    calls_before = len(world.slack.calls())
    world.looker.reset_requests()
    loaded = _loaded_after_once(world, HEAVY)
    assert loaded == [], f"an idle cycle imported {loaded}"
    assert [c.method for c in world.slack.calls()[calls_before:]] == ["conversations.history"]
    assert world.looker.requests == [], "no browser opened Looker"


def test_a_once_that_runs_a_notebook_imports_no_ipython_in_the_worker(world: World) -> None:
    # IPython runs in the kernels. The worker only needs to know where `~/.ipython/kernels` is,
    # and jupyter_client would import all of IPython to ask: 0.1 s of CPU before the first claim.
    memo = world.memo("verify_pumping")
    loaded = _loaded_after_once(world, ("papermill", "IPython"))
    assert loaded == ["papermill"], "the notebook ran in the worker's papermill, without IPython"
    assert len(world.bot_replies(memo["ts"])) == 1


def test_links_of_several_memos_load_side_by_side(world: World) -> None:
    memos = [world.memo(key) for key in ("verify_pumping", "verify_second", "psms_pumping")]
    world.looker.slow_next(6, 1500)  # every page and SQL request of the three is slow
    report = commands.once(world.settings)
    assert [m.status for m in report.memos] == ["done"] * 3
    assert all(len(world.bot_replies(m["ts"])) == 1 for m in memos)
    # Looker's side saw the three memos' requests in flight at the same time.
    assert world.looker.api_in_flight_peak == 3


def test_replies_go_out_in_memo_order_even_when_a_later_memo_is_ready_first(
    world: World,
) -> None:
    slow = world.memo("verify_pumping", "verify_second", "psms_pumping")  # three links
    for qid in re.findall(r"qid=(\w+)", slow["text"]):  # whichever page is asked for first
        world.looker.slow_query(qid, 2000)
    fast = world.memo("verify_second")
    commands.once(world.settings)
    state = StateStore(world.settings.data_dir / "state.sqlite3")
    journal = {
        ts: [at for at, status in _journal(state, ts) if status == "computed"]
        for ts in (slow["ts"], fast["ts"])
    }
    assert journal[fast["ts"]][0] < journal[slow["ts"]][0], "the later memo was ready first"
    [slow_reply] = world.bot_replies(slow["ts"])
    [fast_reply] = world.bot_replies(fast["ts"])
    assert Decimal(slow_reply["ts"]) < Decimal(fast_reply["ts"]), "but its reply went second"


def test_run_keeps_the_browser_and_kernels_warm_and_renews_them_on_a_new_session(
    world: World,
) -> None:
    settings = replace(world.settings, keep_warm_seconds=3600)
    with Engines(settings, warm=True) as engines:  # as `run` makes them
        first = world.memo("verify_pumping")
        commands._cycle(settings, engines)
        assert engines.browsers_started == 1
        assert "pandas" in engines.kernels().preload, "spares boot with the notebooks' imports"
        # Each kernel thread booted one, and the one that ran the notebook boots its next spare
        # once the notebook is done: that may still be under way when the cycle has returned.
        kernels = settings.notebook.kernels + 1
        deadline = time.monotonic() + 60
        while engines.kernels_started < kernels and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engines.kernels_started == kernels
        commands._cycle(settings, engines)  # idle: nothing new starts
        assert (engines.browsers_started, engines.kernels_started) == (1, kernels)
        second = world.memo("verify_second")
        commands._cycle(settings, engines)
        assert engines.browsers_started == 1, "the same browser read the second memo"
        assert len(world.bot_replies(first["ts"])) == len(world.bot_replies(second["ts"])) == 1
        summaries = settings.data_dir / "summaries"
        work = [
            json.loads((summaries / f"{MEMO_CHANNEL_ID}-{m['ts']}.json").read_text())["timings"]
            for m in (first, second)
        ]
        assert work[1]["work"] < work[0]["work"], "warm: no browser or kernel start to wait for"

        SessionStore(settings.data_dir, looker_origin=settings.looker_origin).save(
            world.looker.storage_state()
        )  # someone ran `login`
        world.memo("psms_pumping")
        commands._cycle(settings, engines)
        assert engines.browsers_started == 2, "a new session, a new browser context"

        engines.settings = replace(settings, keep_warm_seconds=0)
        engines.rest_if_idle()
        assert engines.kernels_started == 0, "rested: the browser and the kernels are closed"


def _journal(state: StateStore, ts: str) -> list[tuple[float, str]]:
    rows = state.db.execute(
        "SELECT at, status FROM transitions WHERE channel = ? AND ts = ? ORDER BY id",
        (MEMO_CHANNEL_ID, ts),
    )
    return [(r["at"], r["status"]) for r in rows]
