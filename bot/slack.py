"""The worker's side of Slack: the official `slack_sdk.WebClient`, with retry policies per kind
of call.

Reads (history, replies, reactions) are retried on 429 (waiting out `Retry-After`), 5xx and
connection errors. Posts are retried only on 429, which Slack answers before doing anything: a
post that failed any other way may have gone through, so the caller looks in the thread instead of
posting again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.web import SlackResponse

from bot.memos import REPLY_EVENT, Identity
from core.errors import ChannelAccessError, CreditBotError, SettingsError
from core.policies import SlackPolicy

log = logging.getLogger(__name__)

# The bot token scopes CreditBot needs, and why: the README's table says the same (a test holds
# them together), and `python main.py doctor` compares them with what Slack says the token has.
BOT_SCOPES: dict[str, str] = {
    "channels:history": "read the memo channel (public)",
    "groups:history": "read the memo channel if it is private",
    "channels:read": "resolve `#name` to an ID, check membership",
    "groups:read": "the same for a private memo channel",
    "chat:write": "reply in threads, DM the alert user",
    "reactions:write": "👀 while working, ✅ or ❌ after",
    "im:write": "open the DM with the alert user",
}


class SlackUnavailable(CreditBotError):
    """Slack could not be reached or kept failing after the retry policy: try the next cycle."""

    kind = "slack_unavailable"
    transient = True


@dataclass(frozen=True)
class Channel:
    id: str
    name: str


class SlackGateway:
    def __init__(self, token: str, policy: SlackPolicy) -> None:
        common = {
            "token": token,
            "base_url": policy.api_url,
            "timeout": int(policy.timeout_seconds),
        }
        self.reads = WebClient(
            **common,
            retry_handlers=[
                RateLimitErrorRetryHandler(max_retry_count=policy.rate_limit_retries),
                ServerErrorRetryHandler(max_retry_count=policy.server_error_retries),
                ConnectionErrorRetryHandler(max_retry_count=policy.server_error_retries),
            ],
        )
        self.writes = WebClient(
            **common,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=policy.rate_limit_retries)],
        )

    def call(self, method: str, *, write: bool = False, **params: Any) -> dict[str, Any]:
        """One API call; Slack's own errors stay `SlackApiError`, transport trouble becomes
        `SlackUnavailable` (without the token, which slack_sdk never puts in messages)."""
        return dict(self._response(method, write=write, **params).data)  # type: ignore[arg-type]

    def _response(self, method: str, *, write: bool = False, **params: Any) -> SlackResponse:
        client = self.writes if write else self.reads
        try:
            return getattr(client, method.replace(".", "_"))(**params)  # type: ignore[no-any-return]
        except SlackApiError as exc:
            if exc.response.get("error") in ("invalid_auth", "not_authed", "token_revoked"):
                raise SettingsError(
                    "SLACK_BOT_TOKEN", f"Slack refused the token ({exc.response['error']})"
                ) from None
            if exc.response.status_code >= 500 or exc.response.status_code == 429:
                raise SlackUnavailable(
                    f"Slack {method} failed with HTTP {exc.response.status_code}", method=method
                ) from None
            raise
        except OSError as exc:  # URLError, timeouts, resets: the request may or may not have landed
            raise SlackUnavailable(
                f"Slack {method} failed: {type(exc).__name__}", method=method
            ) from None

    def auth_info(self) -> tuple[dict[str, Any], frozenset[str] | None]:
        """`auth.test`'s answer, and the token's scopes: Slack names them in the
        `x-oauth-scopes` header of every Web API response (None when it sent no such header)."""
        response = self._response("auth.test")
        return dict(response.data), scopes_of(response.headers)  # type: ignore[arg-type]

    def identity(self) -> Identity:
        data = self.call("auth.test")
        return Identity(user_id=data["user_id"], bot_id=data.get("bot_id") or "")

    def resolve_channel(self, wanted: str) -> Channel:
        """`C0123ABCD` or `#name` to a channel the bot can read, or a `ChannelAccessError` that
        tells a person what to /invite."""
        if wanted.startswith("#"):
            name = wanted[1:]
            cursor = ""
            while True:
                page = self.call(
                    "conversations.list",
                    types="public_channel,private_channel",
                    exclude_archived="true",
                    limit=200,  # Slack advises at most 200 per page
                    cursor=cursor,
                )
                for channel in page.get("channels", []):
                    if channel.get("name") == name:
                        return self._member_check(channel)
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
                if not cursor:
                    raise ChannelAccessError(
                        f"channel {wanted} was not found or is private without the bot in it: "
                        f"type `/invite @CreditBot` in {wanted}",
                        channel=wanted,
                    )
        try:
            info = self.call("conversations.info", channel=wanted)
        except SlackApiError as exc:
            raise ChannelAccessError(
                f"channel {wanted} is not visible to the bot ({exc.response.get('error')}): "
                f"type `/invite @CreditBot` in that channel",
                channel=wanted,
            ) from None
        return self._member_check(info["channel"])

    def _member_check(self, channel: dict[str, Any]) -> Channel:
        found = Channel(channel["id"], channel.get("name") or channel["id"])
        if channel.get("is_member") is False:
            raise ChannelAccessError(
                f"the bot is not in #{found.name} ({found.id}): type `/invite @CreditBot` in "
                f"#{found.name}",
                channel=found.id,
            )
        return found

    def messages(self, method: str, **params: Any) -> list[dict[str, Any]]:
        """Every message of a paginated history/replies call, following cursors to the end."""
        messages: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = self.call(
                method, limit=200, cursor=cursor, include_all_metadata="true", **params
            )
            messages.extend(page.get("messages", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
            if not page.get("has_more") or not cursor:
                return messages

    def history(self, channel: str, oldest: str, latest: str | None = None) -> list[dict[str, Any]]:
        """Every message after `oldest` (and before `latest`), all pages, oldest first."""
        window = {"oldest": oldest, **({"latest": latest} if latest else {})}
        try:
            messages = self.messages("conversations.history", channel=channel, **window)
        except SlackApiError as exc:
            if exc.response.get("error") in ("not_in_channel", "channel_not_found"):
                raise ChannelAccessError(
                    f"the bot cannot read {channel} ({exc.response['error']}): type "
                    f"`/invite @CreditBot` in that channel",
                    channel=channel,
                ) from None
            raise
        return sorted(messages, key=lambda m: Decimal(m["ts"]))

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """The memo and all its replies; [] when the memo is gone."""
        try:
            return self.messages("conversations.replies", channel=channel, ts=ts)
        except SlackApiError as exc:
            if exc.response.get("error") in ("thread_not_found", "message_not_found"):
                return []
            raise

    def post_reply(
        self,
        channel: str,
        memo_ts: str,
        text: str,
        blocks: list[dict[str, Any]] | None,
        outcome: str,
        generation: int = 0,
    ) -> str:
        """Post once (no blind retry); the metadata lets a later run recognise the reply."""
        data = self.call(
            "chat.postMessage",
            write=True,
            channel=channel,
            thread_ts=memo_ts,
            text=text,
            blocks=blocks,
            unfurl_links=False,
            unfurl_media=False,
            metadata={
                "event_type": REPLY_EVENT,
                "event_payload": {
                    "memo_ts": memo_ts,
                    "outcome": outcome,
                    **({"generation": generation} if generation else {}),
                },
            },
        )
        return str(data["ts"])

    def react(self, channel: str, ts: str, name: str, *, add: bool = True) -> None:
        """Progress reactions are cosmetic: never let one fail a memo."""
        try:
            self.call(
                "reactions.add" if add else "reactions.remove",
                channel=channel,
                timestamp=ts,
                name=name,
            )
        except SlackApiError as exc:
            if exc.response.get("error") not in ("already_reacted", "no_reaction"):
                log.warning("reaction %s on %s failed: %s", name, ts, exc.response.get("error"))
        except SlackUnavailable as exc:
            log.warning("reaction %s on %s failed: %s", name, ts, exc)

    def dm(self, user: str, text: str, blocks: list[dict[str, Any]] | None = None) -> str:
        """A direct message; its ts."""
        opened = self.call("conversations.open", users=user)
        posted = self.call(
            "chat.postMessage",
            write=True,
            channel=opened["channel"]["id"],
            text=text,
            blocks=blocks,
            unfurl_links=False,
        )
        return str(posted["ts"])

    def permalink(self, channel: str, ts: str) -> str:
        try:
            return str(self.call("chat.getPermalink", channel=channel, message_ts=ts)["permalink"])
        except (SlackApiError, SlackUnavailable):
            return f"{channel}/{ts}"


def scopes_of(headers: dict[str, Any]) -> frozenset[str] | None:
    """The scopes of an `x-oauth-scopes` header (comma-separated), whatever the header's case."""
    for name, value in headers.items():
        if name.lower() == "x-oauth-scopes":
            if isinstance(value, list):  # slack_sdk keeps repeated headers as a list
                value = ",".join(value)
            return frozenset(s.strip() for s in str(value).split(",") if s.strip())
    return None
