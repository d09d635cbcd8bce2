"""The Slack Web API methods the product uses, answered from a `Workspace`.

Each method takes the request's parameters (strings from a query or form, or JSON values) and
returns the success body, or raises `SlackError`. Pagination, filters, defaults and limits follow
Slack's documentation so that client code written against this works against real Slack.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from sandbox.slack_store import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    USERS,
    Channel,
    SlackError,
    Workspace,
    bot_profile,
)

Params = dict[str, Any]
_CREATED = 1_600_000_000


def _required(params: Params, name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise SlackError("invalid_arguments")
    return str(value)


def _flag(params: Params, name: str) -> bool:
    return str(params.get(name, "")).lower() in ("1", "true")


def _limit(params: Params, default: int, maximum: int) -> int:
    try:
        value = int(params.get("limit") or default)
    except ValueError as exc:
        raise SlackError("invalid_limit") from exc
    return max(1, min(value if value > 0 else default, maximum))


def _json_value(value: Any, error: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def _encode_cursor(kind: str, value: str) -> str:
    return base64.b64encode(f"{kind}:{value}".encode()).decode()


def _decode_cursor(params: Params, kind: str) -> str | None:
    cursor = params.get("cursor")
    if not cursor:
        return None
    try:
        found_kind, value = base64.b64decode(cursor, validate=True).decode().split(":", 1)
    except ValueError as exc:
        raise SlackError("invalid_cursor") from exc
    if found_kind != kind:
        raise SlackError("invalid_cursor")
    return value


def _member_channel(ws: Workspace, params: Params) -> Channel:
    channel = ws.channel(_required(params, "channel"))
    if not channel.is_member:
        raise SlackError("not_in_channel")
    return channel


def _visible(message: dict[str, Any], all_metadata: bool) -> dict[str, Any]:
    """A message as history/replies show it: metadata only when asked for, or the app's own."""
    shown = copy.deepcopy(message)
    if "metadata" in shown and not all_metadata and shown.get("app_id") != APP_ID:
        del shown["metadata"]
    return shown


def _seconds(params: Params, name: str, default: float) -> float:
    try:
        return float(params.get(name) or default)
    except ValueError as exc:
        raise SlackError(f"invalid_ts_{name}") from exc


def _in_range(ts: str, params: Params) -> bool:
    """Slack's oldest/latest window: exclusive unless `inclusive`, latest defaulting to now."""
    oldest = _seconds(params, "oldest", 0.0)
    latest = _seconds(params, "latest", time.time())
    if _flag(params, "inclusive"):
        return oldest <= float(ts) <= latest
    return oldest < float(ts) < latest


def auth_test(ws: Workspace, params: Params) -> Params:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": "CreditBot Sandbox",
        "user": "creditbot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _conversation(channel: Channel) -> Params:
    if channel.im_user:
        return {
            "id": channel.id,
            "created": _CREATED,
            "is_im": True,
            "is_org_shared": False,
            "user": channel.im_user,
            "is_user_deleted": False,
            "priority": 0,
        }
    return {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": False,
        "is_archived": False,
        "is_general": False,
        "is_shared": False,
        "is_ext_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "is_member": channel.is_member,
        "created": _CREATED,
        "creator": "U0ANALYST",
        "unlinked": 0,
        "parent_conversation": None,
        "pending_shared": [],
        "shared_team_ids": [TEAM_ID],
        "topic": {"value": "", "creator": "", "last_set": 0},
        "purpose": {"value": "", "creator": "", "last_set": 0},
        "previous_names": [],
        "num_members": 3,
    }


def conversations_list(ws: Workspace, params: Params) -> Params:
    types = str(params.get("types") or "public_channel").split(",")
    with ws.lock:
        listed = [
            c for c in ws.channels.values() if ("im" if c.im_user else "public_channel") in types
        ]
    start = int(_decode_cursor(params, "offset") or 0)
    end = start + _limit(params, 100, 1000)
    more = end < len(listed)
    return {
        "channels": [_conversation(c) for c in listed[start:end]],
        "response_metadata": {"next_cursor": _encode_cursor("offset", str(end)) if more else ""},
    }


def conversations_info(ws: Workspace, params: Params) -> Params:
    return {"channel": _conversation(ws.channel(_required(params, "channel")))}


def conversations_history(ws: Workspace, params: Params) -> Params:
    channel = _member_channel(ws, params)
    before = _decode_cursor(params, "next_ts")
    with ws.lock:
        found = [
            _visible(m, _flag(params, "include_all_metadata"))
            for m in reversed(channel.top_level())
            if _in_range(m["ts"], params) and (before is None or m["ts"] <= before)
        ]
    limit = _limit(params, 100, 999)
    more = len(found) > limit
    return {
        "messages": found[:limit],
        "has_more": more,
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {
            "next_cursor": _encode_cursor("next_ts", found[limit]["ts"]) if more else ""
        },
    }


def conversations_replies(ws: Workspace, params: Params) -> Params:
    channel = _member_channel(ws, params)
    ts = _required(params, "ts")
    after = _decode_cursor(params, "next_ts")
    with ws.lock:
        if ts not in channel.messages:
            raise SlackError("thread_not_found")
        parent_ts = channel.messages[ts].get("thread_ts", ts)
        thread = [channel.messages[parent_ts], *ws.replies(channel, parent_ts)]
        found = [
            _visible(m, _flag(params, "include_all_metadata"))
            for i, m in enumerate(thread)
            if (i == 0 or _in_range(m["ts"], params)) and (after is None or m["ts"] >= after)
        ]
    limit = _limit(params, 1000, 1000)
    more = len(found) > limit
    return {
        "messages": found[:limit],
        "has_more": more,
        "response_metadata": {
            "next_cursor": _encode_cursor("next_ts", found[limit]["ts"]) if more else ""
        },
    }


def _target(ws: Workspace, params: Params) -> Channel:
    """postMessage's channel: a channel ID or name, a DM ID, or a user ID (the bot's DM)."""
    name = _required(params, "channel")
    if name[0] in "UW":
        return ws.dm(name)
    channel = ws.channel(name)
    if not channel.is_member:
        raise SlackError("not_in_channel")
    return channel


def chat_post_message(ws: Workspace, params: Params) -> Params:
    channel = _target(ws, params)
    text = str(params.get("text") or "")
    blocks = _json_value(params.get("blocks"), "invalid_blocks")
    attachments = _json_value(params.get("attachments"), "invalid_attachments")
    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    message: Params = {
        "user": BOT_USER_ID,
        "type": "message",
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "text": text,
        "team": TEAM_ID,
        "bot_profile": bot_profile(),
    }
    if blocks:
        message["blocks"] = blocks
    if attachments:
        message["attachments"] = [{"id": i + 1, **a} for i, a in enumerate(attachments)]
    metadata = _json_value(params.get("metadata"), "invalid_metadata")
    if metadata:
        if not isinstance(metadata, dict) or "event_type" not in metadata:
            raise SlackError("invalid_metadata_format")
        message["metadata"] = {
            "event_type": metadata["event_type"],
            "event_payload": metadata.get("event_payload", {}),
        }
    thread_ts = params.get("thread_ts") or None
    stored = ws.add(channel, message, str(thread_ts) if thread_ts else None)
    return {"channel": channel.id, "ts": stored["ts"], "message": stored}


def _react(ws: Workspace, params: Params, add: bool) -> Params:
    channel = _member_channel(ws, params)
    ts = _required(params, "timestamp")
    name = str(params.get("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    ws.react(channel, ts, name, add)
    return {}


def conversations_open(ws: Workspace, params: Params) -> Params:
    users = [u for u in _required(params, "users").split(",") if u]
    if len(users) != 1:
        raise SlackError("invalid_arguments")
    with ws.lock:
        existed = any(c.im_user == users[0] for c in ws.channels.values())
        channel = ws.dm(users[0])
    body: Params = {"no_op": existed, "already_open": existed}
    body["channel"] = _conversation(channel) if _flag(params, "return_im") else {"id": channel.id}
    return body


def chat_get_permalink(ws: Workspace, params: Params) -> Params:
    channel = ws.channel(_required(params, "channel"))
    ts = _required(params, "message_ts")
    with ws.lock:
        message = ws.find(channel, ts)
    link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
    thread_ts = message.get("thread_ts")
    if thread_ts and thread_ts != ts:
        link += f"?thread_ts={thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


def users_info(ws: Workspace, params: Params) -> Params:
    user = _required(params, "user")
    if user not in USERS:
        raise SlackError("user_not_found")
    name, real_name, is_bot = USERS[user]
    profile: Params = {
        "real_name": real_name,
        "real_name_normalized": real_name,
        "display_name": name,
        "display_name_normalized": name,
        "avatar_hash": "g0000000000",
        "title": "",
        "phone": "",
        "skype": "",
        "status_text": "",
        "status_emoji": "",
        "fields": None,
        "team": TEAM_ID,
    }
    if is_bot:
        profile.update(bot_id=BOT_ID, api_app_id=APP_ID)
    return {
        "user": {
            "id": user,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "tz": "America/Los_Angeles",
            "updated": _CREATED,
            "profile": profile,
        }
    }


# The scopes each method accepts (Slack lists them in the `x-accepted-oauth-scopes` header; a
# token holding none of them gets `missing_scope`, naming the first as `needed`, with the token's
# own as `provided`). From Slack's OpenAPI description (`security.slackAuth`), with today's
# granular bot scopes where the 2020 description still names the legacy ones (chat:write:bot,
# channels:write). Methods that need no scope (auth.test, chat.getPermalink) are absent.
# Simplification: real Slack wants the scope of the conversation's type (channels:history for a
# public channel, groups:history for a private one); here any one of the method's scopes will do.
ACCEPTED_SCOPES: dict[str, tuple[str, ...]] = {
    "conversations.list": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.history": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history", "mpim:history"),
    "conversations.open": ("channels:manage", "groups:write", "im:write", "mpim:write"),
    "chat.postMessage": ("chat:write", "chat:write:bot", "chat:write:user"),
    "reactions.add": ("reactions:write",),
    "reactions.remove": ("reactions:write",),
    "users.info": ("users:read",),
}


def missing_scope(method: str, granted: list[str]) -> Params | None:
    """Slack's answer to a token that holds none of the method's scopes, else None."""
    accepted = ACCEPTED_SCOPES.get(method, ())
    if not accepted or set(accepted) & set(granted):
        return None
    provided = ",".join(granted)
    return {"ok": False, "error": "missing_scope", "needed": accepted[0], "provided": provided}


METHODS: dict[str, Callable[[Workspace, Params], Params]] = {
    "auth.test": auth_test,
    "conversations.list": conversations_list,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.open": conversations_open,
    "chat.postMessage": chat_post_message,
    "chat.getPermalink": chat_get_permalink,
    "reactions.add": lambda ws, p: _react(ws, p, add=True),
    "reactions.remove": lambda ws, p: _react(ws, p, add=False),
    "users.info": users_info,
}
