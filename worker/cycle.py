"""One poll-and-process cycle: the product's whole job, once, with its slow parts side by side.

poll the channel -> record new memos -> admit the due ones, oldest first, as far as the browser
and the kernels have room -> read their links' SQL, several pages at a time -> run each query's
notebook as soon as it is read, several kernels at once -> decide -> post the replies in the
order of the memos.

Only this thread touches the state and Slack; the browser and the kernels work on their own
threads and hand back futures. Every step writes its state first (`state.store`), so a cycle
killed anywhere resumes cleanly, and `worker.replies` keeps every reply to one per memo.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError

from auth.store import SessionStore, SessionStoreError, Stored
from bot.decision import LinkResult, decide
from bot.links import extract_links
from bot.memos import Identity, is_memo_candidate
from bot.slack import Channel, SlackGateway, SlackUnavailable
from core.errors import (
    ChannelAccessError,
    CreditBotError,
    NoSession,
    SessionExpired,
    SetupError,
    UnsafeSQL,
    UsageError,
)
from core.sqlcheck import load_parser
from core.urls import LookerLink
from ops.status import mark_cycle
from state.store import Memo, StateStore, Status
from worker.alerts import Alerts
from worker.engines import Engines
from worker.failpoints import failpoint
from worker.logs import event
from worker.outcome import as_correction, decide_outcome, review_outcome
from worker.pause import is_paused, paused_reason
from worker.preflight import preflight
from worker.replies import MemoReport, Replies
from worker.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTEXT_KEYS = ("trace", "cell", "ename", "output_path")


@dataclass
class CycleReport:
    channel: str = ""
    new: int = 0
    memos: list[MemoReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)  # every memo ever seen, by status
    paused: str | None = None  # why nothing was worked on, when paused

    def line(self) -> str:
        counts: dict[str, int] = {}
        for memo in self.memos:
            counts[memo.status] = counts.get(memo.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
        if self.paused:
            parts = f"PAUSED, nothing worked on ({self.paused})"
        return f"cycle on {self.channel}: {self.new} new memo(s); {parts}"


@dataclass
class Job:
    """A memo in flight: each link's SQL as it is read, then each query's notebook result."""

    memo: Memo
    before: Status  # where the memo was before this cycle took it
    links: list[LookerLink]
    timings: dict[str, float]
    scraped: list[dict[str, Any] | None]
    results: list[LinkResult | None]
    admitted: float = field(default_factory=time.monotonic)
    waiting: int = 0  # futures of this memo not yet landed
    outcome: dict[str, Any] | None = None  # decided: to be posted in its turn
    report: MemoReport | None = None  # resolved (posted, left for later...)

    @property
    def open(self) -> bool:
        return self.outcome is None and self.report is None


class Cycle:
    def __init__(
        self,
        settings: Settings,
        *,
        slack: SlackGateway,
        state: StateStore,
        sessions: SessionStore,
        engines: Engines,
        dry_run: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.slack = slack
        self.state = state
        self.sessions = sessions
        self.engines = engines
        self.dry_run = dry_run
        self.should_stop = should_stop or (lambda: False)
        self.report = CycleReport()
        self.alerts = Alerts(settings, slack, state, dry_run=dry_run)
        self.compute_only = False  # backtest: no thread checks, no posts, only the outcomes
        self.progress: Callable[[int], None] = lambda settled: None
        self._session_dead = False
        self._session: tuple[Stored | None, str | None] | None = None

    # --- the cycle --------------------------------------------------------------------------

    def begin(self) -> tuple[Identity, Channel]:
        """Who the worker is and where it reads; every way into the cycle starts here."""
        me = self._identity()
        channel = self._channel()
        self.replies = Replies(
            self.settings,
            self.slack,
            self.state,
            me,
            dry_run=self.dry_run,
            session_expired=self._session_expired,
        )
        self.report.channel = f"#{channel.name}"
        return me, channel

    def run(self) -> CycleReport:
        started = time.monotonic()
        me, channel = self.begin()
        self.report.new = self.poll(channel, me)
        self.report.timings["poll"] = round(time.monotonic() - started, 3)
        due = self.state.actionable(channel.id)
        self.report.paused = self._paused()
        if self.report.paused and due:  # recorded, and left as they are until `resume`
            log.warning("paused (%s): %d memo(s) wait", self.report.paused, len(due))
        elif due:
            self.only(due, channel)
        self.alerts.after_cycle(session_dead=self._session_dead, stored=self._stored_session()[0])
        self.report.timings["cycle"] = round(time.monotonic() - started, 3)
        self.report.states = self.state.counts()
        if not self.dry_run:
            mark_cycle(self.state)
        return self.report

    def only(self, memos: list[Memo], channel: Channel) -> list[MemoReport]:
        """Work these memos (the due ones; or one `retry`, or a `backtest`), in memo order. A
        problem of the setup stops it before, or in the middle of, the work: a person is told
        once, and the memos wait."""
        try:
            self._start_engines(memos)
            preflight(self.settings)
            self._work(memos, channel)
        except SetupError as exc:
            log.error("stopped before the memos: %s", exc)
            self.alerts.setup_problem(exc)
            raise
        self.alerts.setup_fine()
        self.report.memos.sort(key=lambda m: Decimal(m.key.rsplit("/", 1)[1]))
        return self.report.memos

    def _start_engines(self, memos: list[Memo]) -> None:
        """Chromium and the kernels start in processes of their own, and take longer than the
        setup check and the thread checks: they start first, and the cycle's own work on this
        thread overlaps with them."""
        links = sum(len(m.message.get("links") or ()) for m in memos)
        if not links:
            return
        if not self.compute_only:
            # No session: each memo meets that and waits (`_admit`).
            with contextlib.suppress(CreditBotError):
                self._looker().start()
        self.engines.kernels(notebooks=links)  # at most one notebook a link
        load_parser()

    def _paused(self) -> str | None:
        """The pause mark lives in the live state, so it stops a shadow run too."""
        if self.settings.shadow:
            return paused_reason(self.settings)
        return is_paused(self.settings, self.state)

    def poll(self, channel: Channel, me: Identity) -> int:
        """Record memos newer than the watermark (first start: the lookback window)."""
        key = f"watermark:{channel.id}"
        watermark = self.state.get_meta(key)
        oldest = watermark or f"{time.time() - self.settings.lookback_hours * 3600:.6f}"
        try:
            messages = self.slack.history(channel.id, oldest)
        except ChannelAccessError:
            self.state.set_meta(self._channel_key(), None)  # look it up afresh next time
            raise
        new = 0
        for message in messages:
            if not is_memo_candidate(message, me):
                continue
            links, foreign = extract_links(message, self.settings.looker_origin)
            if not links:
                continue
            record = {
                "user": message.get("user") or message.get("bot_id"),
                "links": [link.as_dict() for link in links],
                "ignored_links": foreign,
            }
            if self.state.add(channel.id, message["ts"], record):
                failpoint("after_seen")
                new += 1
                log.info(
                    "new memo with %d Looker link(s)",
                    len(links),
                    extra=event(f"{channel.id}/{message['ts']}", "poll"),
                )
        if messages:
            self.state.set_meta(key, max((m["ts"] for m in messages), key=float))
        return new

    def _identity(self) -> Identity:
        """Who the worker is in Slack, asked once per token and kept: an idle cycle makes one
        Slack call, the history read."""
        token = (self.settings.slack_bot_token or "").encode()
        key = f"identity:{hashlib.sha256(token).hexdigest()[:16]}"
        known = self.state.get_meta(key)
        if known:
            return Identity(**json.loads(known))
        me = self.slack.identity()
        self.state.set_meta(key, json.dumps({"user_id": me.user_id, "bot_id": me.bot_id}))
        return me

    def _channel(self) -> Channel:
        """The memo channel, resolved once and kept (dropped if the bot loses access)."""
        known = self.state.get_meta(self._channel_key())
        if known:
            return Channel(**json.loads(known))
        channel = self.slack.resolve_channel(self.settings.slack_channel or "")
        self.state.set_meta(
            self._channel_key(), json.dumps({"id": channel.id, "name": channel.name})
        )
        return channel

    def _channel_key(self) -> str:
        return f"channel:{self.settings.slack_channel}"

    # --- the work, side by side -------------------------------------------------------------

    def _work(self, due: list[Memo], channel: Channel) -> None:
        """Admit memos in order while there is room, keep the browser and the kernels busy,
        and post each memo's reply once it and every memo before it are settled."""
        waiting = deque(due)
        jobs: list[Job] = []  # admitted, in memo order, until their reply is out
        futures: dict[Future[Any], tuple[Job, int, str]] = {}
        room = self.settings.looker.pages + self.settings.notebook.kernels
        try:
            while waiting or futures or jobs:
                while waiting and _fits(jobs, waiting[0], room):
                    if self.should_stop():
                        log.info("stop requested: %d memo(s) left for the next run", len(waiting))
                        waiting.clear()
                        break
                    self._admit(waiting.popleft(), channel, jobs, futures)
                self._post_in_order(jobs, channel)
                self.progress(len(self.report.memos))
                if not futures:
                    if jobs and not waiting:  # nothing in flight can settle them: say so
                        raise RuntimeError(
                            f"memos stuck in the cycle: {[j.memo.key for j in jobs]}"
                        )
                    continue
                landed, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in landed:
                    job, index, stage = futures.pop(future)
                    self._landed(job, index, stage, future, futures, channel)
        except SetupError as exc:
            for job in jobs:
                if job.open:
                    self._stand_down(job, channel, exc)
            raise

    def _admit(
        self,
        memo: Memo,
        channel: Channel,
        jobs: list[Job],
        futures: dict[Future[Any], tuple[Job, int, str]],
    ) -> None:
        started = self._safely(memo, channel, lambda: self._start(memo, channel))
        if isinstance(started, MemoReport):
            self.report.memos.append(started)
            return
        jobs.append(started)
        if all(item is not None for item in started.scraped):  # resumed after the SQL was read
            for index in range(len(started.links)):
                self._safely_in(started, channel, lambda i=index: self._read(started, i, futures))
            self._settle_if_done(started)
            return
        try:
            browser = self._looker()
        except CreditBotError as exc:
            self._safely_in(started, channel, _raiser(exc))  # no session: the memo waits
            return
        for index, link in enumerate(started.links):
            futures[browser.submit(link)] = (started, index, "scrape")
            started.waiting += 1

    def _start(self, memo: Memo, channel: Channel) -> MemoReport | Job:
        """Look in the memo's thread, then answer it at once (recovered, skipped, resumed at
        posting), or take it on: a job for the browser and the kernels."""
        timings: dict[str, float] = dict(memo.timings)
        if self.compute_only:  # the caller read the thread; this is only about the amount
            links = [LookerLink.from_dict(d) for d in memo.message["links"]]
            return Job(memo, memo.status, links, timings, [None] * len(links), [None] * len(links))
        mark = time.monotonic()
        thread = self.replies.thread(memo, channel)
        timings["thread_check"] = round(time.monotonic() - mark, 3)
        if thread.own_reply_ts:
            return self.replies.recover(memo, channel, thread.own_reply_ts)
        if thread.deleted:
            self.replies.to(memo, Status.SKIPPED, "the memo was deleted")
            return MemoReport(memo.key, Status.SKIPPED, detail="memo deleted")
        if thread.person_answer and self.settings.skip_answered_by_person:
            self.replies.to(memo, Status.SKIPPED, "a person already answered in the thread")
            return MemoReport(memo.key, Status.SKIPPED, detail="answered by a person")
        before = memo.status
        if memo.permalink is None:
            memo = self.replies.to(
                memo, memo.status, permalink=self.slack.permalink(channel.id, memo.ts)
            )
        if memo.status in (Status.COMPUTED, Status.POSTING) and memo.outcome:
            return self.replies.post(memo, channel, memo.outcome, timings)
        links = [LookerLink.from_dict(d) for d in memo.message["links"]]
        limit = self.settings.max_links_per_memo
        if len(links) > limit:
            problem = (
                f"the memo has {len(links)} Looker links, more than the limit of {limit} "
                "(memos.max_links)"
            )
            outcome = review_outcome([], (problem,))
            memo = self.replies.to(memo, Status.COMPUTED, outcome=outcome)
            return self.replies.post(memo, channel, outcome, timings)
        # A memo whose SQL was read before a crash resumes at the notebooks.
        scraped = (memo.outcome or {}).get("scraped") if memo.status == Status.SCRAPED else None
        if scraped is None:
            memo = self.replies.to(memo, Status.CLAIMED, "working")
        if self.replies.in_channel:
            self.slack.react(channel.id, memo.ts, "eyes")
        return Job(
            memo,
            before,
            links,
            timings,
            scraped=list(scraped) if scraped else [None] * len(links),
            results=[None] * len(links),
        )

    def _landed(
        self,
        job: Job,
        index: int,
        stage: str,
        future: Future[Any],
        futures: dict[Future[Any], tuple[Job, int, str]],
        channel: Channel,
    ) -> None:
        job.waiting -= 1
        if not job.open:  # the memo was settled already (a sibling link failed): drop it
            return
        if stage == "scrape":
            self._safely_in(job, channel, lambda: self._scraped(job, index, future, futures))
        else:
            self._safely_in(job, channel, lambda: self._computed(job, index, future))
        if job.open:
            self._safely_in(job, channel, lambda: self._settle_if_done(job))

    def _scraped(
        self,
        job: Job,
        index: int,
        future: Future[Any],
        futures: dict[Future[Any], tuple[Job, int, str]],
    ) -> None:
        """One link's SQL is in (or its permanent problem): its notebook starts at once."""
        link = job.links[index]
        try:
            query = future.result()
        except CreditBotError as exc:
            if exc.transient or isinstance(exc, SetupError):
                raise
            log.warning("link %s failed: %s", link.url, exc, extra=event(job.memo.key, "scrape"))
            job.scraped[index] = {
                "url": link.url,
                "problem": str(exc),
                "error_kind": exc.kind,
                **_context(exc),
            }
        else:
            self.alerts.scrape_succeeded()
            job.timings[f"scrape_{index + 1}"] = query.seconds
            job.scraped[index] = {
                "url": link.url,
                "sql": query.sql,
                "final_url": query.final_url,
                "strategy": query.strategy,
            }
        if all(item is not None for item in job.scraped):
            job.memo = self.replies.to(job.memo, Status.SCRAPED, outcome={"scraped": job.scraped})
        self._read(job, index, futures)

    def _read(self, job: Job, index: int, futures: dict[Future[Any], tuple[Job, int, str]]) -> None:
        """From one link's SQL to its result: refused, skipped (no product), or a notebook."""
        from core.sqlcheck import check_read_only
        from notebooks.routing import route

        link, item = job.links[index], job.scraped[index]
        assert item is not None
        result = job.results[index] = LinkResult(link)
        if "problem" in item:
            result.problem = item["problem"]
            result.detail = {k: item[k] for k in ("error_kind", "trace") if k in item}
            return
        policy = self.settings.notebook
        sql = item["sql"]
        result.sql_digest = hashlib.sha256(sql.encode()).hexdigest()
        result.detail = {"strategy": item.get("strategy")}
        product = route(sql, policy.products)
        if product is None:
            result.skipped = "the query matches no product ([[products]] match)"
            return
        result.product = product.name
        try:
            check_read_only(sql, policy.sql_dialect)
        except UnsafeSQL as exc:
            result.problem = str(exc)
            result.detail["error_kind"] = exc.kind
            return
        output = self.settings.data_dir / "notebooks"
        name = f"{job.memo.channel}-{job.memo.ts}-{index + 1}-{product.name}.ipynb"
        work = partial(
            _run_notebook,
            product.notebook,
            {**policy.parameters, policy.parameter: sql},
            policy.result,
            output / name,
            policy.timeout_seconds,
        )
        futures[self.engines.kernels().submit(work)] = (job, index, "notebook")
        job.waiting += 1

    def _computed(self, job: Job, index: int, future: Future[Any]) -> None:
        result = job.results[index]
        assert result is not None
        try:
            ran = future.result()
        except CreditBotError as exc:
            if exc.transient or isinstance(exc, SetupError):
                raise
            result.problem = str(exc)
            result.detail.update({"error_kind": exc.kind, **_context(exc)})
            return
        job.timings[f"notebook_{index + 1}"] = round(ran.seconds, 3)
        result.credit = ran.credit
        result.detail["summary_info"] = ran.summary

    def _settle_if_done(self, job: Job) -> None:
        """Every link read and every notebook back: decide, and queue the reply."""
        if job.waiting or any(r is None for r in job.results):
            return
        results = [r for r in job.results if r is not None]
        job.timings["work"] = round(time.monotonic() - job.admitted, 3)
        outcome = decide_outcome(self.settings.reply_template, decide(results), results)
        if "correction_of" in job.memo.message and outcome["kind"] == "approved":
            outcome = as_correction(outcome, job.memo.message["correction_of"])
        job.memo = self.replies.to(job.memo, Status.COMPUTED, outcome=outcome, timings=job.timings)
        job.outcome = outcome

    def _resolve(self, job: Job, channel: Channel, exc: CreditBotError) -> None:
        """A passing failure: the memo waits for a later cycle, or (attempts used up) gets a
        note, posted in its turn."""
        waited = self.replies.wait_or_give_up(job.memo, channel, exc, job.timings)
        if isinstance(waited, MemoReport):
            job.report = waited
        else:
            job.memo, job.outcome = waited, waited.outcome

    def _post_in_order(self, jobs: list[Job], channel: Channel) -> None:
        """Replies go out in the order of the memos: each as soon as it and every earlier
        memo of the cycle are settled."""
        while jobs and not jobs[0].open:
            job = jobs.pop(0)
            if self.compute_only and job.report is None:  # backtest: decided, never posted
                outcome = job.outcome or {}
                job.report = MemoReport(
                    job.memo.key, "computed", outcome.get("text"), None, outcome
                )
            if job.report is None:
                outcome = job.outcome or {}
                job.report = self._safely(
                    job.memo,
                    channel,
                    lambda j=job, o=outcome: self.replies.post(j.memo, channel, o, j.timings),
                )
            self.report.memos.append(job.report)

    # --- when things go wrong ---------------------------------------------------------------

    def _safely(self, memo: Memo, channel: Channel, step: Callable[[], T]) -> T | MemoReport:
        """Run a step of one memo; whatever goes wrong stays with this memo, recorded, and is
        not the cycle's (a problem of the setup, or of the settings, is the cycle's)."""
        try:
            return step()
        except SlackUnavailable as exc:
            log.warning("Slack trouble, resumed next cycle: %s", exc, extra=event(memo.key))
            return MemoReport(memo.key, memo.status, detail=str(exc))
        except UsageError:
            raise
        except SlackApiError as exc:
            problem = CreditBotError(f"Slack refused a call: {exc.response.get('error')}")
        except CreditBotError as exc:
            problem = exc
        except Exception as exc:
            log.exception("unexpected failure", extra=event(memo.key))
            problem = CreditBotError(f"unexpected {type(exc).__name__} while handling the memo")
        current = self.state.get(memo.channel, memo.ts) or memo
        try:
            return self.replies.later(current, channel, problem, dict(current.timings))
        except (SlackUnavailable, SlackApiError) as exc:
            log.warning("left for the next cycle: %s", exc, extra=event(memo.key))
            return MemoReport(memo.key, current.status, detail=str(problem))

    def _safely_in(self, job: Job, channel: Channel, step: Callable[[], None]) -> None:
        """A step of a job in flight: a passing failure settles the job in order; anything
        else (as `_safely`) settles it now."""
        try:
            step()
        except CreditBotError as exc:
            if isinstance(exc, UsageError):
                raise
            if exc.transient:
                self._resolve(job, channel, exc)
            else:
                job.report = self._safely(job.memo, channel, _raiser(exc))
        except (SlackUnavailable, SlackApiError, Exception) as exc:
            job.report = self._safely(job.memo, channel, _raiser(exc))

    def _stand_down(self, job: Job, channel: Channel, problem: SetupError) -> None:
        """The machine or the settings failed, not this memo: put it back as it was (no
        attempt counted, no word in its thread) so it is answered once the problem is fixed.
        SQL already read is kept."""
        current = self.state.get(job.memo.channel, job.memo.ts) or job.memo
        if current.status is Status.CLAIMED:
            self.state.move(current, job.before, f"waiting: {problem}")
        if self.replies.in_channel:
            self.slack.react(channel.id, job.memo.ts, "eyes", add=False)

    # --- the Looker session -----------------------------------------------------------------

    def _looker(self) -> Any:
        """The browser signed in with the stored session; an expired session this cycle, or
        none stored, is the memo's reason to wait."""
        if self._session_dead:
            raise SessionExpired(
                "the session expired earlier in this cycle", url=self.settings.looker_base_url
            )
        stored, problem = self._stored_session()
        if stored is None:
            raise NoSession(
                problem or "no Looker session is stored: run `python main.py login`",
                url=self.settings.looker_base_url,
            )
        return self.engines.browser(stored)

    def _session_expired(self) -> None:
        self._session_dead = True

    def _stored_session(self) -> tuple[Stored | None, str | None]:
        """The stored session and why it is unusable, read and decrypted once per cycle (the
        store registers its cookie values with the log redactor as it loads them)."""
        if self._session is None:
            try:
                stored = self.sessions.load()
            except SessionStoreError as exc:
                self._session = (None, str(exc))
            else:
                self._session = (stored, None)
        return self._session


def _fits(jobs: list[Job], memo: Memo, room: int) -> bool:
    """Room for the memo's links beside the links in flight (always room for one memo)."""
    busy = sum(len(job.links) for job in jobs if job.open)
    return busy == 0 or busy + len(memo.message.get("links") or []) <= room


def _run_notebook(
    notebook: Any, parameters: dict[str, Any], result: str, output: Any, timeout: int, kernel: Any
) -> Any:
    """One notebook in the pool's warm kernel (imported here: an idle cycle needs no papermill)."""
    from notebooks.runner import run_notebook

    return run_notebook(
        notebook,
        parameters,
        result_name=result,
        output_path=output,
        timeout_seconds=timeout,
        kernel=kernel,
    )


def _context(exc: CreditBotError) -> dict[str, Any]:
    return {k: v for k, v in exc.context.items() if k in CONTEXT_KEYS}


def _raiser(exc: BaseException) -> Callable[[], Any]:
    def again() -> Any:
        raise exc

    return again
