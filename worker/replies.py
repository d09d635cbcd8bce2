"""What the cycle says in Slack about a memo, each step recorded before its side effect.

One reply per memo: state says `posting` before the post, and a post whose answer was lost is
looked for in the thread, never repeated. After the reply come the reactions, the DM and the
summary, and only then is the memo final, so a crash in between is finished by the next run.
A memo that cannot be answered now is left for later (a retry, or a new login), or, after the
configured attempts, gets a note for a person.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.memos import Identity, ThreadState, read_thread
from bot.reply import alert_text, shadow_text
from bot.slack import Channel, SlackGateway, SlackUnavailable
from core.errors import CreditBotError, SessionExpired
from state.store import Memo, StateStore, Status
from worker.failpoints import failpoint
from worker.logs import event
from worker.outcome import KEPT_FILES, review_outcome, write_summary
from worker.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class MemoReport:
    key: str
    status: str
    reply: str | None = None
    detail: str | None = None
    outcome: dict[str, Any] | None = None  # what was decided (backtest reads the amount)


class Replies:
    def __init__(
        self,
        settings: Settings,
        slack: SlackGateway,
        state: StateStore,
        me: Identity,
        *,
        dry_run: bool = False,
        session_expired: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.slack = slack
        self.state = state
        self.me = me
        self.dry_run = dry_run
        self.session_expired = session_expired  # told when a memo waits for a new login

    def to(self, memo: Memo, status: Status, note: str | None = None, **fields: Any) -> Memo:
        """Record a transition; the failpoint after it lets tests kill the worker right there."""
        moved = self.state.move(memo, status, note, **fields)
        failpoint(f"after_{status}")
        return moved

    def thread(self, memo: Memo, channel: Channel) -> ThreadState:
        """What the memo's thread says now: our own reply, a person's answer, or deletion."""
        messages = self.slack.thread(channel.id, memo.ts)
        generation = memo.message.get("generation", 0)
        return read_thread(messages, memo.ts, self.me, self.settings.reply_template, generation)

    @property
    def in_channel(self) -> bool:
        """Whether anything may change in the memo channel (not so in a dry run or shadow)."""
        return not (self.dry_run or self.settings.shadow)

    def post(
        self, memo: Memo, channel: Channel, outcome: dict[str, Any], timings: dict[str, float]
    ) -> MemoReport:
        """Post once: state says `posting` first; a lost response is checked in the thread."""
        if self.dry_run:
            return MemoReport(
                memo.key, f"would post ({outcome['kind']})", outcome["text"], None, outcome
            )
        memo = self.to(memo, Status.POSTING, outcome=outcome, timings=timings)
        mark = time.monotonic()
        if self.settings.shadow:
            return self._shadow(memo, channel, outcome, timings, mark)
        try:
            reply_ts = self.slack.post_reply(
                channel.id,
                memo.ts,
                outcome["text"],
                outcome.get("blocks"),
                outcome["kind"],
                memo.message.get("generation", 0),
            )
        except SlackUnavailable:
            # The post may have landed: only the thread can tell. Never post blindly again.
            thread = self.thread(memo, channel)
            if not thread.own_reply_ts:
                log.warning(
                    "reply not confirmed; the next cycle checks the thread",
                    extra=event(memo.key, "post"),
                )
                return MemoReport(memo.key, Status.POSTING, detail="reply not confirmed")
            reply_ts = thread.own_reply_ts
        except SlackApiError as exc:
            refused = CreditBotError(f"Slack refused the reply: {exc.response.get('error')}")
            return self.later(memo, channel, refused, timings)
        failpoint("after_slack_accepted")
        timings["post"] = round(time.monotonic() - mark, 3)
        memo = self.to(memo, Status.POSTING, "reply posted", reply_ts=reply_ts, timings=timings)
        return self.finish(memo, channel, outcome, detail=None)

    def _shadow(
        self,
        memo: Memo,
        channel: Channel,
        outcome: dict[str, Any],
        timings: dict[str, float],
        mark: float,
    ) -> MemoReport:
        """Shadow mode: the reply goes to the alert user as a DM, and the channel is left as it
        was; the shadow's own state (`records_dir`) says the memo was handled."""
        text = shadow_text(memo.permalink or memo.key, outcome["text"])
        try:
            dm_ts = self.slack.dm(self.settings.slack_alert_user or "", text, outcome.get("blocks"))
        except (SlackApiError, SlackUnavailable) as exc:
            log.warning(
                "shadow DM failed; the next cycle tries again: %s",
                exc,
                extra=event(memo.key, "post"),
            )
            return MemoReport(memo.key, Status.POSTING, detail="shadow DM not sent")
        timings["post"] = round(time.monotonic() - mark, 3)
        memo = self.to(memo, Status.POSTING, "shadow DM sent", reply_ts=dm_ts, timings=timings)
        return self.finish(memo, channel, outcome, detail="shadow: DMed, not posted")

    def recover(self, memo: Memo, channel: Channel, reply_ts: str) -> MemoReport:
        """Our reply is already in the thread (a crash after posting, or a lost database):
        record it, and finish what the dead run could not (reactions, DM, summary)."""
        memo = self.to(memo, memo.status, "our reply is in the thread", reply_ts=reply_ts)
        outcome = memo.outcome if memo.outcome and "kind" in memo.outcome else None
        if outcome is None:  # state lost: the thread is all we know, and it is answered
            self.to(memo, Status.DONE, "answered in an earlier run")
            return MemoReport(memo.key, Status.DONE, detail="already answered by CreditBot")
        return self.finish(memo, channel, outcome, detail="already answered by CreditBot")

    def finish(
        self, memo: Memo, channel: Channel, outcome: dict[str, Any], detail: str | None
    ) -> MemoReport:
        """After the reply: reactions, the DM, the summary; only then is the memo final (each
        step is safe to repeat)."""
        if self.dry_run:
            return MemoReport(memo.key, memo.status, detail=detail)
        approved = outcome["kind"] == "approved"
        if self.in_channel:
            self.slack.react(channel.id, memo.ts, "eyes", add=False)
            self.slack.react(channel.id, memo.ts, "white_check_mark" if approved else "x")
            if not approved and not self.alert(memo, outcome):
                return MemoReport(memo.key, memo.status, detail="reply posted; DM to retry")
        final = Status.DONE if approved else Status.FAILED
        write_summary(self.settings.records_dir, memo, outcome, final)
        memo = self.to(memo, final, error=None)
        how = f"{final} ({detail})" if detail else final
        log.info("%s: %s", how, outcome["text"], extra=event(memo.key, "reply"))
        return MemoReport(memo.key, final, reply=outcome["text"], detail=detail)

    def alert(self, memo: Memo, outcome: dict[str, Any]) -> bool:
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
            log.error("could not DM %s: %s", user, exc, extra=event(memo.key, "alert"))
            return False
        self.to(memo, memo.status, "alert sent", alerted=True)
        return True

    def later(
        self, memo: Memo, channel: Channel, exc: CreditBotError, timings: dict[str, float]
    ) -> MemoReport:
        """Leave the memo for a later cycle, or give up on it after the configured attempts."""
        given_up = self.wait_or_give_up(memo, channel, exc, timings)
        if isinstance(given_up, MemoReport):
            return given_up
        return self.post(given_up, channel, given_up.outcome or {}, timings)

    def wait_or_give_up(
        self, memo: Memo, channel: Channel, exc: CreditBotError, timings: dict[str, float]
    ) -> MemoReport | Memo:
        """The memo waits (for a retry or a login): its report. Its attempts are used up: the
        memo, `computed` with a note for a person, for the caller to post."""
        if self.in_channel:
            self.slack.react(channel.id, memo.ts, "eyes", add=False)
        if isinstance(exc, SessionExpired):
            self.session_expired()
            self.to(
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
            return self.to(
                memo,
                Status.COMPUTED,
                problem,
                attempts=attempts,
                error=str(exc),
                error_kind=exc.kind,
                outcome=outcome,
                timings=timings,
            )
        delay = self.settings.retry.delay(attempts)
        self.to(
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
            "%s; retry %d in %.0f s%s",
            exc,
            attempts,
            delay,
            f" (trace: {trace})" if trace else "",
            extra=event(memo.key, "retry"),
        )
        return MemoReport(memo.key, Status.RETRY, detail=str(exc))


def _name_link(exc: CreditBotError, problem: str) -> str:
    url = exc.context.get("url")
    return f"{url}: {problem}" if url else problem
