"""`python main.py retry <permalink or ts>`: work one memo again because a person asked.

A memo CreditBot already approved is refused unless `--force`, which posts a correction that
says it replaces the earlier reply. A memo that ended with a note, was skipped, or is still
waiting is simply worked again. Each re-run is a new generation of the memo: it answers once
more, and exactly once, because only a reply of its own generation counts as already posted.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bot.links import extract_links
from bot.memos import is_memo_candidate
from bot.slack import Channel, SlackGateway
from core.errors import UsageError
from state.store import FINAL, Memo, Status
from worker.commands import session_store, state_store
from worker.cycle import Cycle
from worker.engines import Engines
from worker.lock import worker_lock
from worker.preflight import writable
from worker.replies import MemoReport
from worker.settings import Settings

PERMALINK = re.compile(r"/archives/(?P<channel>[CGD][A-Z0-9]+)/p(?P<sec>\d{10})(?P<frac>\d{6})")
TS = re.compile(r"(?:(?P<channel>[CGD][A-Z0-9]+)/)?(?P<ts>\d{10}\.\d{6})")


def parse_memo(ref: str) -> tuple[str | None, str]:
    """A permalink (`https://acme.slack.com/archives/C0123/p1795531713493672`), a ts
    (`1795531713.493672`) or a key (`C0123/1795531713.493672`): the channel, if named, and ts."""
    ref = ref.strip()
    link = PERMALINK.search(ref)
    if link:
        return link["channel"], f"{link['sec']}.{link['frac']}"
    plain = TS.fullmatch(ref)
    if plain:
        return plain["channel"], plain["ts"]
    raise UsageError(
        f"{ref!r} is not a memo's permalink, its ts (1795531713.493672) or its key "
        "(C0123/1795531713.493672)"
    )


def retry(settings: Settings, ref: str, *, force: bool = False) -> MemoReport:
    settings.require_slack()
    named, ts = parse_memo(ref)
    writable(settings.data_dir)
    # Asked for on purpose: a person's answer in the thread does not stop it.
    settings = replace(settings, skip_answered_by_person=False)
    with worker_lock(settings.data_dir), Engines(settings) as engines:
        state = state_store(settings)
        try:
            slack = SlackGateway(settings.slack_bot_token or "", settings.slack)
            cycle = Cycle(
                settings,
                slack=slack,
                state=state,
                sessions=session_store(settings),
                engines=engines,
            )
            _, channel = cycle.begin()
            if named and named != channel.id:
                raise UsageError(f"{ref} is in {named}, not in the memo channel {channel.id}")
            memo = state.get(channel.id, ts) or _record(cycle, slack, channel, ts)
            memo = _again(cycle, memo, ref, force)
            [report] = cycle.only([memo], channel) or [MemoReport(memo.key, memo.status)]
            return report
        finally:
            state.close()


def _record(cycle: Cycle, slack: SlackGateway, channel: Channel, ts: str) -> Memo:
    """A memo the state has not seen (older than the lookback, or a lost database)."""
    thread = slack.thread(channel.id, ts)
    message = next((m for m in thread if m.get("ts") == ts), None)
    me = cycle.replies.me
    if message is None or not is_memo_candidate(message, me):
        raise UsageError(f"{channel.id}/{ts} is not a memo of the channel (or it was deleted)")
    links, foreign = extract_links(message, cycle.settings.looker_origin)
    if not links:
        raise UsageError(f"{channel.id}/{ts} has no link to {cycle.settings.looker_origin}")
    record = {
        "user": message.get("user") or message.get("bot_id"),
        "links": [link.as_dict() for link in links],
        "ignored_links": foreign,
    }
    cycle.state.add(channel.id, ts, record)
    memo = cycle.state.get(channel.id, ts)
    assert memo is not None
    return memo


def _again(cycle: Cycle, memo: Memo, ref: str, force: bool) -> Memo:
    """Make the memo due now; a finished one becomes a new generation of itself."""
    approved = memo.status is Status.DONE
    if approved and not force:
        raise UsageError(
            f"memo {ref} was already approved by CreditBot ({(memo.outcome or {}).get('text')}); "
            "`retry --force` posts a correction that replaces that reply"
        )
    if memo.status not in FINAL:
        return cycle.state.move(memo, memo.status, "retry requested: due now", next_try_at=0)
    message = {**memo.message, "generation": memo.message.get("generation", 0) + 1}
    if approved:
        message["correction_of"] = (memo.outcome or {}).get("text") or ""
    return cycle.state.move(
        memo,
        Status.SEEN,
        "retry requested" + (" (a correction)" if approved else ""),
        message=message,
        attempts=0,
        next_try_at=0,
        alerted=False,
        outcome=None,
        reply_ts=None,
        error=None,
        error_kind=None,
        timings={},
    )
