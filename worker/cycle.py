"""One poll-and-process cycle: the product's whole job, once.

poll the channel -> record new memos -> for each memo due: look in its thread, scrape its links,
check and run the SQL in its product notebook, decide, post once, alert a person if needed.
Every step writes its state first (see `state.store`), so a cycle killed anywhere resumes cleanly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError

from auth.store import SessionStore, SessionStoreError, Stored
from bot.decision import LinkResult, decide
from bot.links import extract_links
from bot.memos import Identity, ThreadState, is_memo_candidate, read_thread
from bot.reply import alert_text
from bot.slack import Channel, SlackGateway, SlackUnavailable
from core.errors import CreditBotError, NoSession, SessionExpired, SetupError, UsageError
from core.sqlcheck import check_read_only
from core.urls import LookerLink
from notebooks.routing import route
from notebooks.runner import run_notebook
from scraper.session import LookerBrowser
from state.store import Memo, StateStore, Status
from worker.alerts import Alerts
from worker.failpoints import failpoint
from worker.outcome import KEPT_FILES, decide_outcome, review_outcome, write_summary
from worker.preflight import preflight
from worker.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MemoReport:
    key: str
    status: str
    reply: str | None = None
    detail: str | None = None


@dataclass
class CycleReport:
    channel: str = ""
    new: int = 0
    memos: list[MemoReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)  # every memo ever seen, by status

    def line(self) -> str:
        counts: dict[str, int] = {}
        for memo in self.memos:
            counts[memo.status] = counts.get(memo.status, 0) + 1
        parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing due"
        return f"cycle on {self.channel}: {self.new} new memo(s); {parts}"


class Cycle:
    me: Identity  # who the worker is in Slack: asked once per cycle, in `run`

    def __init__(
        self,
        settings: Settings,
        *,
        slack: SlackGateway,
        state: StateStore,
        sessions: SessionStore,
        dry_run: bool = False,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.should_stop = should_stop or (lambda: False)
        self.slack = slack
        self.state = state
        self.sessions = sessions
        self.dry_run = dry_run
        self.report = CycleReport()
        self._browser: LookerBrowser | None = None
        self._session_dead = False
        self._session: tuple[Stored | None, str | None] | None = None
        self.alerts = Alerts(settings, slack, state, dry_run=dry_run)

    # --- the cycle --------------------------------------------------------------------------

    def run(self) -> CycleReport:
        started = time.monotonic()
        self.me = self.slack.identity()
        channel = self.slack.resolve_channel(self.settings.slack_channel or "")
        self.report.channel = f"#{channel.name}"
        self.report.new = self.poll(channel)
        self.report.timings["poll"] = round(time.monotonic() - started, 3)
        due = self.state.actionable(channel.id)
        try:
            if due:
                preflight(self.settings)
            for memo in due:
                if self.should_stop():
                    log.info("stop requested: leaving the remaining memos for the next run")
                    break
                self.report.memos.append(self.process(memo, channel))
        except SetupError as exc:
            log.error("stopped before the memos: %s", exc)
            self.alerts.setup_problem(exc)
            raise
        finally:
            if self._browser is not None:
                self._browser.close()
        if due:
            self.alerts.setup_fine()
        self.alerts.after_cycle(session_dead=self._session_dead, stored=self._stored_session()[0])
        self.report.timings["cycle"] = round(time.monotonic() - started, 3)
        self.report.states = self.state.counts()
        return self.report

    def poll(self, channel: Channel) -> int:
        """Record memos newer than the watermark (first start: the lookback window)."""
        key = f"watermark:{channel.id}"
        watermark = self.state.get_meta(key)
        oldest = watermark or f"{time.time() - self.settings.lookback_hours * 3600:.6f}"
        messages = self.slack.history(channel.id, oldest)
        new = 0
        for message in messages:
            if not is_memo_candidate(message, self.me):
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
                    "new memo %s/%s with %d Looker link(s)", channel.id, message["ts"], len(links)
                )
        if messages:
            self.state.set_meta(key, max((m["ts"] for m in messages), key=float))
        return new

    # --- one memo ---------------------------------------------------------------------------

    def process(self, memo: Memo, channel: Channel) -> MemoReport:
        """One memo; whatever goes wrong stays with this memo, recorded, and not the cycle's."""
        try:
            return self._process(memo, channel)
        except SlackUnavailable as exc:
            log.warning("Slack trouble on memo %s, will resume next cycle: %s", memo.key, exc)
            return MemoReport(memo.key, memo.status, detail=str(exc))
        except SetupError as exc:
            self._stand_down(memo, channel, exc)
            raise
        except UsageError:
            raise
        except SlackApiError as exc:
            problem = CreditBotError(f"Slack refused a call: {exc.response.get('error')}")
        except Exception as exc:
            log.exception("unexpected failure on memo %s", memo.key)
            problem = CreditBotError(f"unexpected {type(exc).__name__} while handling the memo")
        current = self.state.get(memo.channel, memo.ts) or memo
        try:
            return self._pending(current, channel, problem, dict(current.timings))
        except (SlackUnavailable, SlackApiError) as exc:
            log.warning("memo %s left for the next cycle: %s", memo.key, exc)
            return MemoReport(memo.key, current.status, detail=str(problem))

    def _stand_down(self, before: Memo, channel: Channel, problem: SetupError) -> None:
        """The machine or the settings failed, not this memo: put it back as it was (no
        attempt counted, no word in its thread) so it is answered once the problem is fixed.
        SQL already read is kept."""
        current = self.state.get(before.channel, before.ts) or before
        if current.status is Status.CLAIMED:
            self.state.move(current, before.status, f"waiting: {problem}")
        if not self.dry_run:
            self.slack.react(channel.id, before.ts, "eyes", add=False)

    def _process(self, memo: Memo, channel: Channel) -> MemoReport:
        timings: dict[str, float] = dict(memo.timings)
        mark = time.monotonic()
        thread = self._thread(memo, channel)
        timings["thread_check"] = round(time.monotonic() - mark, 3)
        if thread.own_reply_ts:
            return self._recover(memo, channel, thread.own_reply_ts)
        if thread.deleted:
            self._to(memo, Status.SKIPPED, "the memo was deleted")
            return MemoReport(memo.key, Status.SKIPPED, detail="memo deleted")
        if thread.person_answer and self.settings.skip_answered_by_person:
            self._to(memo, Status.SKIPPED, "a person already answered in the thread")
            return MemoReport(memo.key, Status.SKIPPED, detail="answered by a person")
        if memo.permalink is None:
            memo = self._to(memo, memo.status, permalink=self.slack.permalink(channel.id, memo.ts))

        if memo.status in (Status.COMPUTED, Status.POSTING) and memo.outcome:
            return self._post(memo, channel, memo.outcome, timings)

        links = [LookerLink.from_dict(d) for d in memo.message["links"]]
        if len(links) > self.settings.max_links_per_memo:
            outcome = review_outcome(
                [],
                (
                    f"the memo has {len(links)} Looker links, more than the limit of "
                    f"{self.settings.max_links_per_memo} (memos.max_links)",
                ),
            )
            return self._post(
                self._to(memo, Status.COMPUTED, outcome=outcome), channel, outcome, timings
            )

        # A memo whose SQL was read before a crash resumes at the notebooks.
        scraped = (memo.outcome or {}).get("scraped") if memo.status == Status.SCRAPED else None
        if scraped is None:
            memo = self._to(memo, Status.CLAIMED, "working")
        if not self.dry_run:
            self.slack.react(channel.id, memo.ts, "eyes")
        try:
            if scraped is None:
                scraped = self._scrape(links, timings)
                memo = self._to(memo, Status.SCRAPED, outcome={"scraped": scraped})
            results = self._compute(memo, links, scraped, timings)
        except SetupError:
            raise  # the machine's or the settings' problem: `process` stands the memo down
        except CreditBotError as exc:
            return self._pending(memo, channel, exc, timings)
        outcome = decide_outcome(self.settings.reply_template, decide(results), results)
        memo = self._to(memo, Status.COMPUTED, outcome=outcome, timings=timings)
        return self._post(memo, channel, outcome, timings)

    def _thread(self, memo: Memo, channel: Channel) -> ThreadState:
        """What the memo's thread says now: our own reply, a person's answer, or deletion."""
        messages = self.slack.thread(channel.id, memo.ts)
        return read_thread(messages, memo.ts, self.me, self.settings.reply_template)

    def _scrape(self, links: list[LookerLink], timings: dict[str, float]) -> list[dict[str, Any]]:
        """SQL per link; a permanent failure of one link is kept as that link's problem, while
        an expired session or a transient failure stops the memo for this cycle."""
        browser = self._looker()
        scraped = []
        for i, link in enumerate(links):
            mark = time.monotonic()
            try:
                query = browser.read_sql(link)
            except CreditBotError as exc:
                if exc.transient or isinstance(exc, SetupError):
                    raise
                log.warning("link %s failed: %s", link.url, exc)
                scraped.append(
                    {"url": link.url, "problem": str(exc), "error_kind": exc.kind, **_ctx(exc)}
                )
                continue
            finally:
                timings[f"scrape_{i + 1}"] = round(time.monotonic() - mark, 3)
            self.alerts.scrape_succeeded()
            scraped.append(
                {
                    "url": link.url,
                    "sql": query.sql,
                    "final_url": query.final_url,
                    "strategy": query.strategy,
                }
            )
        return scraped

    def _compute(
        self,
        memo: Memo,
        links: list[LookerLink],
        scraped: list[dict[str, Any]],
        timings: dict[str, float],
    ) -> list[LinkResult]:
        results = []
        policy = self.settings.notebook
        for i, (link, item) in enumerate(zip(links, scraped, strict=True)):
            result = LinkResult(link)
            results.append(result)
            if "problem" in item:
                result.problem = item["problem"]
                result.detail = {k: item[k] for k in ("error_kind", "trace") if k in item}
                continue
            sql = item["sql"]
            result.sql_digest = hashlib.sha256(sql.encode()).hexdigest()
            result.detail = {"strategy": item.get("strategy")}
            product = route(sql, policy.products)
            if product is None:
                result.skipped = "the query matches no product ([[products]] match)"
                continue
            result.product = product.name
            mark = time.monotonic()
            try:
                check_read_only(sql, policy.sql_dialect)
                ran = run_notebook(
                    product.notebook,
                    {**policy.parameters, policy.parameter: sql},
                    result_name=policy.result,
                    output_path=self.settings.data_dir
                    / "notebooks"
                    / f"{memo.channel}-{memo.ts}-{i + 1}-{product.name}.ipynb",
                    timeout_seconds=policy.timeout_seconds,
                )
            except CreditBotError as exc:
                if exc.transient or isinstance(exc, SetupError):
                    raise
                result.problem = str(exc)
                result.detail.update({"error_kind": exc.kind, **_ctx(exc)})
                continue
            finally:
                timings[f"notebook_{i + 1}"] = round(time.monotonic() - mark, 3)
            result.credit = ran.credit
            result.detail["summary_info"] = ran.summary
        return results

    # --- outcomes ---------------------------------------------------------------------------

    def _post(
        self, memo: Memo, channel: Channel, outcome: dict[str, Any], timings: dict[str, float]
    ) -> MemoReport:
        """Post once: state says `posting` first; a lost response is checked in the thread."""
        if self.dry_run:
            return MemoReport(memo.key, f"would post ({outcome['kind']})", reply=outcome["text"])
        memo = self._to(memo, Status.POSTING, outcome=outcome, timings=timings)
        mark = time.monotonic()
        try:
            reply_ts = self.slack.post_reply(
                channel.id, memo.ts, outcome["text"], outcome.get("blocks"), outcome["kind"]
            )
        except SlackUnavailable:
            # The post may have landed: only the thread can tell. Never post blindly again.
            thread = self._thread(memo, channel)
            if not thread.own_reply_ts:
                log.warning("reply to %s not confirmed; the next cycle checks the thread", memo.key)
                return MemoReport(memo.key, Status.POSTING, detail="reply not confirmed")
            reply_ts = thread.own_reply_ts
        except SlackApiError as exc:
            return self._pending(
                memo,
                channel,
                CreditBotError(f"Slack refused the reply: {exc.response.get('error')}"),
                timings,
            )
        failpoint("after_slack_accepted")
        timings["post"] = round(time.monotonic() - mark, 3)
        memo = self._to(memo, Status.POSTING, "reply posted", reply_ts=reply_ts, timings=timings)
        return self._finish(memo, channel, outcome, detail=None)

    def _recover(self, memo: Memo, channel: Channel, reply_ts: str) -> MemoReport:
        """Our reply is already in the thread (a crash after posting, or a lost database):
        record it, and finish what the dead run could not (reactions, DM, summary)."""
        memo = self._to(memo, memo.status, "our reply is in the thread", reply_ts=reply_ts)
        outcome = memo.outcome if memo.outcome and "kind" in memo.outcome else None
        if outcome is None:  # state lost: the thread is all we know, and it is answered
            self._to(memo, Status.DONE, "answered in an earlier run")
            return MemoReport(memo.key, Status.DONE, detail="already answered by CreditBot")
        return self._finish(memo, channel, outcome, detail="already answered by CreditBot")

    def _finish(
        self, memo: Memo, channel: Channel, outcome: dict[str, Any], detail: str | None
    ) -> MemoReport:
        """After the reply: reactions, the DM, the summary; only then is the memo final, so a
        crash in between is finished by the next run (each step is safe to repeat)."""
        if self.dry_run:
            return MemoReport(memo.key, memo.status, detail=detail)
        approved = outcome["kind"] == "approved"
        self.slack.react(channel.id, memo.ts, "eyes", add=False)
        self.slack.react(channel.id, memo.ts, "white_check_mark" if approved else "x")
        if not approved and not self._alert(memo, outcome):
            return MemoReport(memo.key, memo.status, detail="reply posted; DM to retry")
        final = Status.DONE if approved else Status.FAILED
        write_summary(self.settings.data_dir, memo, outcome, final)
        memo = self._to(memo, final, error=None)
        return MemoReport(memo.key, final, reply=outcome["text"], detail=detail)

    def _alert(self, memo: Memo, outcome: dict[str, Any]) -> bool:
        """DM the alert user once per memo; False when Slack would not take it (retry later)."""
        user = self.settings.slack_alert_user
        if not user or memo.alerted or self.dry_run:
            return True
        try:
            text = alert_text(
                memo.permalink or memo.key, outcome.get("problems", []), outcome.get("files", [])
            )
            self.slack.dm(user, text)
        except (SlackApiError, SlackUnavailable) as exc:
            log.error("could not DM %s about %s: %s", user, memo.key, exc)
            return False
        self._to(memo, memo.status, "alert sent", alerted=True)
        return True

    def _pending(
        self,
        memo: Memo,
        channel: Channel,
        exc: CreditBotError,
        timings: dict[str, float],
    ) -> MemoReport:
        """Leave the memo for a later cycle, or give up on it after the configured attempts."""
        if not self.dry_run:
            self.slack.react(channel.id, memo.ts, "eyes", add=False)
        if isinstance(exc, SessionExpired):
            self._session_dead = True
            self._to(
                memo,
                Status.NEEDS_LOGIN,
                str(exc),
                error=str(exc),
                error_kind=exc.kind,
                timings=timings,
            )
            return MemoReport(memo.key, Status.NEEDS_LOGIN, detail=str(exc))
        attempts = memo.attempts + 1
        if attempts >= self.settings.retry.max_attempts:
            problem = f"{exc} (gave up after {attempts} attempts)"
            kept = tuple(str(exc.context[k]) for k in KEPT_FILES if exc.context.get(k))
            outcome = review_outcome([], (_name_link(exc, problem),), kept)
            memo = self._to(
                memo,
                Status.COMPUTED,
                problem,
                attempts=attempts,
                error=str(exc),
                error_kind=exc.kind,
                outcome=outcome,
                timings=timings,
            )
            return self._post(memo, channel, outcome, timings)
        delay = self.settings.retry.delay(attempts)
        self._to(
            memo,
            Status.RETRY,
            str(exc),
            attempts=attempts,
            next_try_at=time.time() + delay,
            error=str(exc),
            error_kind=exc.kind,
            timings=timings,
        )
        trace = exc.context.get("trace")
        log.warning(
            "memo %s: %s; retry %d in %.0f s%s",
            memo.key,
            exc,
            attempts,
            delay,
            f" (trace: {trace})" if trace else "",
        )
        return MemoReport(memo.key, Status.RETRY, detail=str(exc))

    def _to(self, memo: Memo, status: Status, note: str | None = None, **fields: Any) -> Memo:
        """Record a transition; the failpoint after it lets tests kill the worker right there."""
        moved = self.state.move(memo, status, note, **fields)
        failpoint(f"after_{status}")
        return moved

    # --- the Looker session -----------------------------------------------------------------

    def _looker(self) -> LookerBrowser:
        """The cycle's one browser context, started on the first link that needs it."""
        if self._session_dead:
            raise SessionExpired(
                "the session expired earlier in this cycle", url=self.settings.looker_base_url
            )
        if self._browser is None:
            stored, problem = self._stored_session()
            if stored is None:
                raise NoSession(
                    problem or "no Looker session is stored: run `python main.py login`",
                    url=self.settings.looker_base_url,
                )
            self._browser = LookerBrowser(
                self.settings.looker,
                stored.state,
                artifacts_dir=self.settings.data_dir / "traces",
                options=self.settings.browser,
            )
        return self._browser

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


def _ctx(exc: CreditBotError) -> dict[str, Any]:
    return {k: v for k, v in exc.context.items() if k in ("trace", "cell", "ename", "output_path")}


def _name_link(exc: CreditBotError, problem: str) -> str:
    url = exc.context.get("url")
    return f"{url}: {problem}" if url else problem
