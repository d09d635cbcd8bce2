"""State of the local Slack workspace: channels, messages, threads, DMs and reactions.

Kept apart from the HTTP layer so that the Web API methods and the control API share one
thread-safe model that stores messages the way Slack does (escaped text, thread fields on the
parent, tombstones for deleted parents that still have replies).
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import Any

BOT_TOKEN = "xoxb-sandbox-creditbot"
TEAM_ID = "T0SANDBOX"
BOT_USER_ID = "U0CREDITBOT"
BOT_ID = "B0CREDITBOT"
APP_ID = "A0CREDITBOT"
ANALYST = "U0ANALYST"
FRAUDOPS = "U0FRAUDOPS"
WORKFLOW_BOT_ID = "B0WORKFLOW"
WORKFLOW_NAME = "Credit Memo Workflow"
MEMO_CHANNEL_ID = "C0MEMOS000"
MEMO_CHANNEL_NAME = "help-sms-credit-pumping-memos"
NOT_MEMBER_CHANNEL_ID = "C0NOTMEMBER"
NOT_MEMBER_CHANNEL_NAME = "credit-private-chatter"
TEAM_DOMAIN = "sandbox"
# The scopes granted to the bot token: what an app set up by the README's table holds. Slack
# names a token's scopes in the `x-oauth-scopes` header of every Web API response.
BOT_SCOPES = (
    "channels:history",
    "groups:history",
    "channels:read",
    "groups:read",
    "chat:write",
    "reactions:write",
    "im:write",
)
USERS = {
    BOT_USER_ID: ("creditbot", "CreditBot", True),
    ANALYST: ("analyst", "Ana Lyst", False),
    FRAUDOPS: ("fraudops", "Fraud Ops", False),
}
_CREATED = 1_600_000_000
_THREAD_FIELDS = ("reply_count", "reply_users", "reply_users_count", "latest_reply")


def slack_escape(text: str) -> str:
    """Escape the three characters Slack escapes in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_link(url: str, label: str | None = None) -> str:
    """Slack markup for a link, as Slack stores a link a person pasted (`<url|label>`)."""
    return f"<{slack_escape(url)}|{slack_escape(label)}>" if label else f"<{slack_escape(url)}>"


class SlackError(Exception):
    """A Web API error: answered as HTTP 200 {"ok": false, "error": code}."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Channel:
    """A conversation: public channel or the bot's DM with one user (`im_user`)."""

    id: str
    name: str
    is_member: bool = True
    im_user: str | None = None
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)

    def top_level(self) -> list[dict[str, Any]]:
        """Messages shown in the channel (parents and broadcasts), oldest first."""
        return sorted(
            (m for m in self.messages.values() if _is_top_level(m)), key=lambda m: m["ts"]
        )


def _is_top_level(message: dict[str, Any]) -> bool:
    return message.get("thread_ts", message["ts"]) == message["ts"] or (
        message.get("subtype") == "thread_broadcast"
    )


def bot_profile() -> dict[str, Any]:
    """The `bot_profile` Slack attaches to an app's messages."""
    icon = "https://sandbox.slack.com/img/creditbot.png"
    return {
        "id": BOT_ID,
        "deleted": False,
        "name": "creditbot",
        "updated": _CREATED,
        "app_id": APP_ID,
        "icons": {"image_36": icon, "image_48": icon, "image_72": icon},
        "team_id": TEAM_ID,
    }


class Workspace:
    """All channels and messages; every public method takes the lock."""

    def __init__(self, extra_channels: int) -> None:
        self.lock = threading.RLock()
        self._last_us = 0
        channels = [
            Channel(f"C0EXTRA{i:04d}", f"team-chatter-{i:04d}") for i in range(extra_channels)
        ]
        channels += [
            Channel(MEMO_CHANNEL_ID, MEMO_CHANNEL_NAME),
            Channel(NOT_MEMBER_CHANNEL_ID, NOT_MEMBER_CHANNEL_NAME, is_member=False),
        ]
        self.channels: dict[str, Channel] = {c.id: c for c in channels}
        self.scopes: list[str] = list(BOT_SCOPES)  # granted to the bot token

    def next_ts(self) -> str:
        """A fresh timestamp from the clock, strictly greater than any issued before."""
        with self.lock:
            self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
            return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def channel(self, channel_id: str) -> Channel:
        """The channel with this ID (or `#name`/name, which Slack also accepts)."""
        with self.lock:
            if channel_id in self.channels:
                return self.channels[channel_id]
            for c in self.channels.values():
                if c.im_user is None and c.name == channel_id.removeprefix("#"):
                    return c
            raise SlackError("channel_not_found")

    def dm(self, user: str) -> Channel:
        """The bot's DM with `user`, created on first use with a stable ID."""
        with self.lock:
            if user not in USERS or user == BOT_USER_ID:
                raise SlackError("user_not_found")
            dm_id = "D" + user[1:].ljust(8, "0")
            if dm_id not in self.channels:
                self.channels[dm_id] = Channel(dm_id, dm_id, im_user=user)
            return self.channels[dm_id]

    def find(self, channel: Channel, ts: str) -> dict[str, Any]:
        """The stored message at `ts` (raises message_not_found)."""
        if ts not in channel.messages:
            raise SlackError("message_not_found")
        return channel.messages[ts]

    def add(self, channel: Channel, message: dict[str, Any], thread_ts: str | None) -> dict:
        """Store a message (a reply when `thread_ts` names a message) and update its parent."""
        with self.lock:
            message.setdefault("ts", self.next_ts())
            if message["ts"] in channel.messages:
                raise SlackError("duplicate_ts")
            parent = channel.messages.get(thread_ts) if thread_ts else None
            if parent is not None:
                message["thread_ts"] = parent.get("thread_ts", parent["ts"])
                parent = channel.messages[message["thread_ts"]]
                message["parent_user_id"] = parent.get("user", "")
            channel.messages[message["ts"]] = message
            if parent is not None:
                self._refresh_parent(channel, parent)
            return copy.deepcopy(message)

    def replies(self, channel: Channel, parent_ts: str) -> list[dict[str, Any]]:
        """The replies under `parent_ts`, oldest first (the parent itself excluded)."""
        return sorted(
            (
                m
                for m in channel.messages.values()
                if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts
            ),
            key=lambda m: m["ts"],
        )

    def _refresh_parent(self, channel: Channel, parent: dict[str, Any]) -> None:
        replies = self.replies(channel, parent["ts"])
        for key in _THREAD_FIELDS:
            parent.pop(key, None)
        if not replies:
            parent.pop("thread_ts", None)
            return
        users = list(dict.fromkeys(r.get("user", r.get("bot_id", "")) for r in replies))
        parent.update(
            thread_ts=parent["ts"],
            reply_count=len(replies),
            reply_users=users,
            reply_users_count=len(users),
            latest_reply=replies[-1]["ts"],
        )

    def edit(self, channel: Channel, ts: str, text: str) -> dict[str, Any]:
        """Change a message's text the way a person's edit does."""
        with self.lock:
            message = self.find(channel, ts)
            message["text"] = text
            message["edited"] = {"user": message.get("user", BOT_USER_ID), "ts": self.next_ts()}
            return copy.deepcopy(message)

    def delete(self, channel: Channel, ts: str) -> None:
        """Remove a message; a parent with replies becomes a tombstone, as in Slack."""
        with self.lock:
            message = self.find(channel, ts)
            if message.get("thread_ts") == ts and self.replies(channel, ts):
                kept = {k: message[k] for k in ("ts", "thread_ts", *_THREAD_FIELDS)}
                message.clear()
                message.update(
                    type="message",
                    subtype="tombstone",
                    text="This message was deleted.",
                    user="USLACKBOT",
                    hidden=True,
                    **kept,
                )
                return
            del channel.messages[ts]
            parent_ts = message.get("thread_ts")
            if parent_ts and parent_ts != ts and parent_ts in channel.messages:
                parent = channel.messages[parent_ts]
                self._refresh_parent(channel, parent)
                if parent.get("subtype") == "tombstone" and "reply_count" not in parent:
                    del channel.messages[parent_ts]

    def react(self, channel: Channel, ts: str, name: str, add: bool) -> None:
        """Add or remove the bot's reaction `name` on a message."""
        with self.lock:
            message = self.find(channel, ts)
            reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
            entry = next((r for r in reactions if r["name"] == name), None)
            mine = entry is not None and BOT_USER_ID in entry["users"]
            if add and mine:
                raise SlackError("already_reacted")
            if not add and not mine:
                raise SlackError("no_reaction")
            if add:
                if entry is None:
                    entry = {"name": name, "users": [], "count": 0}
                    reactions.append(entry)
                entry["users"].append(BOT_USER_ID)
            else:
                assert entry is not None
                entry["users"].remove(BOT_USER_ID)
            entry["count"] = len(entry["users"])
            message["reactions"] = [r for r in reactions if r["count"]]
            if not message["reactions"]:
                del message["reactions"]
