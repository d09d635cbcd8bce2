"""Which channel messages are memos, and what a memo's thread already says.

The rules are design.md's: top-level messages with no subtype, `bot_message` (workflows) or
`file_share`; never the worker's own. A thread counts as handled by the worker when any reply
is its own (recognised by its bot identity, and by the metadata it attaches to every reply), and
as answered by a person only when someone else replied with an approval or a decline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MEMO_SUBTYPES = (None, "bot_message", "file_share")
REPLY_EVENT = "creditbot_reply"
DECLINES = ("Denied", "Rejected", "Declined")


@dataclass(frozen=True)
class Identity:
    """Who the worker is in this workspace (from auth.test)."""

    user_id: str
    bot_id: str

    def wrote(self, message: dict[str, Any]) -> bool:
        return message.get("user") == self.user_id or (
            bool(message.get("bot_id")) and message.get("bot_id") == self.bot_id
        )


def is_memo_candidate(message: dict[str, Any], me: Identity) -> bool:
    """Top-level, not housekeeping, not ours. (Links are checked separately.)"""
    if message.get("type", "message") != "message":
        return False
    if message.get("subtype") not in MEMO_SUBTYPES:
        return False
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != message.get("ts"):
        return False
    return not me.wrote(message)


@dataclass(frozen=True)
class ThreadState:
    own_reply_ts: str | None
    person_answer: str | None  # text of a person's approval/decline, if any
    deleted: bool


def read_thread(
    messages: list[dict[str, Any]],
    memo_ts: str,
    me: Identity,
    template: str,
    generation: int = 0,
) -> ThreadState:
    """Decide from a thread (parent first, as conversations.replies returns it) what happened.

    Any reply of the worker means the memo was handled. `generation` counts the re-runs a
    person asked for (`retry`): a re-run answers again, once, so for it only a reply carrying
    its own generation in its metadata counts as already posted."""
    parent = next((m for m in messages if m.get("ts") == memo_ts), None)
    deleted = parent is None or parent.get("subtype") in ("tombstone", "message_deleted")
    own = None
    person = None
    opening = approval_opening(template)
    for message in messages:
        if message.get("ts") == memo_ts:
            continue
        if _ours(message, memo_ts, me, generation):
            own = own or message.get("ts")
        elif me.wrote(message):
            continue  # an earlier generation's reply: neither ours now nor a person's
        elif person is None and _is_answer(message.get("text") or "", opening):
            person = message.get("text")
    return ThreadState(own, person, deleted)


def approval_opening(template: str) -> str:
    """The fixed start of the approval template: "Approved," for "Approved, {total}, exceptions"."""
    return template.split("{", 1)[0].strip()


def _is_answer(text: str, opening: str) -> bool:
    stripped = text.lstrip()
    if opening and stripped.lower().startswith(opening.lower()):
        return True
    return any(re.match(rf"{word}\b", stripped, re.IGNORECASE) for word in DECLINES)


def _ours(message: dict[str, Any], memo_ts: str, me: Identity, generation: int) -> bool:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    tagged = metadata.get("event_type") == REPLY_EVENT and payload.get("memo_ts") == memo_ts
    if generation:  # a re-run a person asked for: only its own reply counts
        return tagged and payload.get("generation") == generation
    return tagged or me.wrote(message)  # any reply of the worker, even after a lost database
