"""The library core behind each command of main.py, callable from tests as from the CLI."""

from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auth.store import SessionStore, SessionStoreError, Stored
from bot.slack import SlackGateway
from core.errors import CreditBotError, SetupError, UsageError
from core.urls import LookerLink, origin_of
from state.store import StateStore
from worker.alerts import TOLD_EXPIRED, TOLD_EXPIRING
from worker.cycle import Cycle, CycleReport
from worker.engines import Engines, looker_browser
from worker.lock import worker_lock
from worker.preflight import writable
from worker.settings import Settings

# Playwright, papermill and APScheduler are imported where they are used: `once` with nothing
# to do must start in a fraction of a second.
if TYPE_CHECKING:
    from apscheduler.events import JobExecutionEvent

    from auth.login import Fill
    from scraper.explain import Explanation

log = logging.getLogger(__name__)


def session_store(settings: Settings) -> SessionStore:
    store = SessionStore(
        settings.data_dir,
        looker_origin=settings.looker_origin,
        allow_file_fallback=settings.session_file_fallback,
    )
    warning = store.warning()
    if warning and warning not in _said:  # once per process: every start, not every cycle
        _said.add(warning)
        log.warning(warning)
    return store


_said: set[str] = set()


def state_store(settings: Settings) -> StateStore:
    writable(settings.data_dir)
    path = settings.records_dir / "state.sqlite3"
    try:
        return StateStore(path)
    except sqlite3.Error as exc:
        raise SetupError(
            f"the state database {path} cannot be opened ({exc})", setting="CREDITBOT_DATA_DIR"
        ) from None


def once(settings: Settings, *, dry_run: bool = False, wait: bool = False) -> CycleReport:
    """One cycle under the data dir's lock. A dry run posts nothing and changes no state."""
    settings.require_slack()
    writable(settings.data_dir)
    with worker_lock(settings.data_dir, wait=wait), Engines(settings) as engines:
        return _cycle(settings, engines, dry_run=dry_run)


def _cycle(
    settings: Settings,
    engines: Engines,
    *,
    dry_run: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> CycleReport:
    state = StateStore(Path(":memory:")) if dry_run else state_store(settings)
    try:
        cycle = Cycle(
            settings,
            slack=SlackGateway(settings.slack_bot_token or "", settings.slack),
            state=state,
            sessions=session_store(settings),
            engines=engines,
            dry_run=dry_run,
            should_stop=should_stop,
        )
        return cycle.run()
    finally:
        state.close()


def run(settings: Settings, *, stop: threading.Event | None = None, wait: bool = False) -> None:
    """Every POLL_SECONDS until SIGINT/SIGTERM (or `stop`): one cycle at a time, misfires
    coalesced, the first at once. A stop lets the memos in hand finish, then exits. The browser
    and the kernels stay warm between cycles (`Engines`)."""
    from apscheduler.events import EVENT_JOB_ERROR
    from apscheduler.schedulers.background import BackgroundScheduler

    from worker.instruments import retention_job

    settings.require_slack()
    writable(settings.data_dir)
    stop = stop or threading.Event()
    with worker_lock(settings.data_dir, wait=wait), Engines(settings, warm=True) as engines:
        scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

        def cycle() -> None:
            if stop.is_set():
                return
            report = _cycle(settings, engines, should_stop=stop.is_set)
            if report.memos or report.new:
                log.info(report.line())
            engines.rest_if_idle()

        fatal: list[BaseException] = []

        def failed(event: JobExecutionEvent) -> None:
            log.error("cycle failed: %s", event.exception)
            if isinstance(event.exception, UsageError):  # settings, setup or access
                fatal.append(event.exception)
                stop.set()

        scheduler.add_listener(failed, EVENT_JOB_ERROR)
        scheduler.add_job(
            cycle,
            "interval",
            seconds=settings.poll_seconds,
            next_run_time=datetime.now().astimezone(),
        )
        # Old summaries, traces and kept notebooks go daily (state rows keep their outcome).
        scheduler.add_job(
            retention_job,
            "interval",
            days=1,
            args=(settings,),
            next_run_time=datetime.now().astimezone(),
        )
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        scheduler.start()
        try:
            while not stop.wait(0.5):
                pass
            log.info("stopping: finishing the memo in hand")
        finally:
            scheduler.shutdown(wait=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if fatal:
            raise fatal[0]


def login(
    settings: Settings,
    *,
    from_file: Path | None = None,
    timeout_seconds: float = 600,
    headed: bool = True,
    fill: Fill | None = None,
) -> tuple[Stored, str]:
    """Capture (or import) a session, keep it, and clear the "already told" marks."""
    from auth.login import capture, import_file

    writable(settings.data_dir)
    store = session_store(settings)
    if from_file is not None:
        state = import_file(from_file)
    else:
        state = capture(
            settings.looker,
            timeout_seconds=timeout_seconds,
            chromium_path=settings.browser.chromium_path,
            headed=headed,
            fill=fill,
        )
    stored = store.save(state)
    db = state_store(settings)
    try:
        db.set_meta(TOLD_EXPIRED, None)
        db.set_meta(TOLD_EXPIRING, None)
    finally:
        db.close()
    return stored, store.where()


def scrape(settings: Settings, url: str, *, explain: Explanation | None = None) -> str:
    """The SQL behind one link, read exactly as a cycle would; `explain` collects each step
    tried (and, when nothing worked, what the page showed)."""
    if origin_of(url) != settings.looker_origin:
        raise UsageError(
            f"URL {url!r} is not on LOOKER_BASE_URL's origin ({settings.looker_origin}); "
            "CreditBot never opens other hosts"
        )
    writable(settings.data_dir)  # traces and screenshots of a failure go there
    stored = session_store(settings).load()
    if stored is None:
        raise UsageError("no Looker session is stored: run `python main.py login` first")
    with looker_browser(settings, stored.state) as looker:
        return looker.read_sql(LookerLink.of(url), explain).sql


@dataclass(frozen=True)
class SessionStatus:
    stored: bool
    where: str
    saved_at: float | None = None
    expires_at: float | None = None
    works: bool | None = None
    problem: str | None = None

    @property
    def exit_code(self) -> int:
        """0 works; 1 stored but not working (expired); 3 nothing stored."""
        if not self.stored:
            return 3
        return 0 if self.works else 1


def session_status(settings: Settings) -> SessionStatus:
    """Is a session stored, where, until when, and does Looker accept it right now?"""
    store = session_store(settings)
    try:
        stored = store.load()
    except SessionStoreError as exc:
        return SessionStatus(True, store.where(), works=False, problem=str(exc))
    if stored is None:
        return SessionStatus(False, store.where())
    works, problem = _check_live(settings, stored.state)
    return SessionStatus(True, store.where(), stored.saved_at, stored.expires_at, works, problem)


def _check_live(settings: Settings, state: dict[str, Any]) -> tuple[bool, str | None]:
    with looker_browser(settings, state) as looker:
        try:
            looker.check_signed_in()
        except SetupError:
            raise  # no browser to ask with: the machine's problem, not the session's
        except CreditBotError as exc:
            return False, str(exc)
    return True, None


def when(ts: float | None) -> str:
    if ts is None:
        return "unknown"
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ts))
