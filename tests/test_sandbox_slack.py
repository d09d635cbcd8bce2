"""The local Slack driven by the real `slack_sdk.WebClient`, as the product will drive it."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from http.client import RemoteDisconnected
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from sandbox.slack import (
    ANALYST,
    APP_ID,
    BOT_ID,
    BOT_SCOPES,
    BOT_TOKEN,
    BOT_USER_ID,
    FRAUDOPS,
    MEMO_CHANNEL_ID,
    MEMO_CHANNEL_NAME,
    NOT_MEMBER_CHANNEL_ID,
    WORKFLOW_BOT_ID,
    SlackSandbox,
    slack_escape,
    slack_link,
)

LOOKER = "https://acme.cloud.looker.com/explore/revenue/counters?qid=9TZ&toggle=dat,sql"


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client(slack: SlackSandbox) -> WebClient:
    """A client with no retry handlers, so each test chooses the ones it exercises."""
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])


def _error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def _old_ts(seconds_ago: float, micro: int = 100) -> str:
    return f"{int(time.time() - seconds_ago)}.{micro:06d}"


def test_links_are_escaped_like_slack() -> None:
    assert slack_escape("a & <b>") == "a &amp; &lt;b&gt;"
    assert (
        slack_link("https://x.io/?a=1&b=2", "$1 <2>") == "<https://x.io/?a=1&amp;b=2|$1 &lt;2&gt;>"
    )
    assert slack_link("https://x.io/") == "<https://x.io/>"


def test_auth_test_identifies_the_bot(client: WebClient) -> None:
    me = client.auth_test()
    assert (me["user_id"], me["bot_id"], me["user"]) == (BOT_USER_ID, BOT_ID, "creditbot")
    assert me["is_enterprise_install"] is False


def test_bad_or_missing_token_raises(slack: SlackSandbox) -> None:
    wrong = WebClient(token="xoxb-wrong", base_url=slack.api_url, retry_handlers=[])
    assert _error(wrong.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=slack.api_url, retry_handlers=[])
    assert _error(anonymous.auth_test).response["error"] == "not_authed"
    form_token = WebClient(base_url=slack.api_url, retry_handlers=[])
    assert form_token.api_call("auth.test", params={"token": BOT_TOKEN})["ok"] is True


def test_unknown_method_is_http_200(client: WebClient) -> None:
    error = _error(lambda: client.api_call("chat.teleport"))
    assert (error.response.status_code, error.response["error"]) == (200, "unknown_method")


def test_channel_list_needs_pagination_to_find_the_memo_channel(client: WebClient) -> None:
    first = client.conversations_list(exclude_archived=True, types="public_channel")
    assert len(first["channels"]) == 100
    assert MEMO_CHANNEL_ID not in {c["id"] for c in first["channels"]}
    pages = list(client.conversations_list(limit=1000))
    assert len(pages) == 1 and pages[0]["response_metadata"]["next_cursor"] == ""
    names: dict[str, str] = {}
    cursors = []
    for page in client.conversations_list(limit=120):
        names.update({c["id"]: c["name"] for c in page["channels"]})
        cursors.append(page["response_metadata"]["next_cursor"])
    assert names[MEMO_CHANNEL_ID] == MEMO_CHANNEL_NAME
    assert len(names) == 252 and len(cursors) == 3 and cursors[-1] == ""
    assert _error(lambda: client.conversations_list(cursor="bogus")).response["error"] == (
        "invalid_cursor"
    )


def test_history_pages_newest_first_within_the_window(
    client: WebClient, slack: SlackSandbox
) -> None:
    stamps = [slack.post(ANALYST, f"memo {i}", ts=_old_ts(3600 * (5 - i)))["ts"] for i in range(5)]
    parent = stamps[2]
    slack.post(FRAUDOPS, "reply, not in history", thread_ts=parent)
    broadcast = slack.post(FRAUDOPS, "also sent", thread_ts=parent, subtype="thread_broadcast")
    slack.post(ANALYST, "from the future", ts=_old_ts(-3600))
    seen: list[str] = []
    has_more = []
    for page in client.conversations_history(channel=MEMO_CHANNEL_ID, limit=2):
        seen += [m["ts"] for m in page["messages"]]
        has_more.append(page["has_more"])
    assert seen == [broadcast["ts"], *reversed(stamps)]
    assert has_more == [True, True, False]
    window = client.conversations_history(
        channel=MEMO_CHANNEL_ID, oldest=stamps[1], latest=stamps[3]
    )
    assert [m["ts"] for m in window["messages"]] == [stamps[2]]
    inclusive = client.conversations_history(
        channel=MEMO_CHANNEL_ID, oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["ts"] for m in inclusive["messages"]] == [stamps[3], stamps[2], stamps[1]]
    bad = _error(lambda: client.conversations_history(channel=MEMO_CHANNEL_ID, oldest="yesterday"))
    assert bad.response["error"] == "invalid_ts_oldest"
    recent = client.conversations_history(
        channel=MEMO_CHANNEL_ID, oldest=str(time.time() - 3 * 3600 + 60)
    )
    assert [m["text"] for m in recent["messages"]] == ["also sent", "memo 4", "memo 3"]


def test_threads_replies_and_reply_counts(client: WebClient, slack: SlackSandbox) -> None:
    memo = slack.workflow_post(f"Fraud spend: {slack_link(LOOKER, '$179.73')}")
    assert (memo["subtype"], memo["bot_id"], memo["username"]) == (
        "bot_message",
        WORKFLOW_BOT_ID,
        "Credit Memo Workflow",
    )
    slack.post(ANALYST, "looking", thread_ts=memo["ts"])
    reply = client.chat_postMessage(channel=MEMO_CHANNEL_ID, thread_ts=memo["ts"], text="Approved")
    assert reply["message"]["thread_ts"] == memo["ts"]
    assert (reply["message"]["bot_id"], reply["message"]["app_id"]) == (BOT_ID, APP_ID)
    parent = slack.message(MEMO_CHANNEL_ID, memo["ts"])
    assert parent["reply_count"] == 2 and parent["reply_users_count"] == 2
    assert parent["reply_users"] == [ANALYST, BOT_USER_ID]
    assert parent["latest_reply"] == reply["ts"] and parent["thread_ts"] == memo["ts"]
    thread = client.conversations_replies(channel=MEMO_CHANNEL_ID, ts=memo["ts"])
    assert [m["text"] for m in thread["messages"]] == [memo["text"], "looking", "Approved"]
    paged = client.conversations_replies(channel=MEMO_CHANNEL_ID, ts=memo["ts"], limit=2)
    assert paged["has_more"] is True and len(paged["messages"]) == 2
    rest = client.conversations_replies(
        channel=MEMO_CHANNEL_ID, ts=memo["ts"], cursor=paged["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["Approved"]
    by_reply = client.conversations_replies(channel=MEMO_CHANNEL_ID, ts=reply["ts"])
    assert len(by_reply["messages"]) == 3
    missing = _error(lambda: client.conversations_replies(channel=MEMO_CHANNEL_ID, ts="1.000001"))
    assert missing.response["error"] == "thread_not_found"
    assert [m["ts"] for m in slack.thread(MEMO_CHANNEL_ID, memo["ts"])][-1] == reply["ts"]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_arguments_and_errors(client: WebClient, slack: SlackSandbox) -> None:
    blocks = [
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [{"type": "link", "url": LOOKER, "text": "$1.00"}],
                }
            ],
        }
    ]
    as_form = client.api_call(
        "chat.postMessage",
        data={"channel": MEMO_CHANNEL_ID, "blocks": json.dumps(blocks), "unfurl_links": "false"},
    )
    assert slack.message(MEMO_CHANNEL_ID, as_form["ts"])["blocks"] == blocks
    first = client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="a")
    second = client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="b")
    assert float(as_form["ts"]) < float(first["ts"]) < float(second["ts"])
    assert (
        _error(lambda: client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="")).response["error"]
        == "no_text"
    )
    assert (
        _error(lambda: client.api_call("chat.postMessage", json={"text": "x"})).response["error"]
        == "invalid_arguments"
    )
    assert (
        _error(lambda: client.chat_postMessage(channel="C0NOSUCH", text="x")).response["error"]
        == "channel_not_found"
    )
    link = client.chat_getPermalink(channel=MEMO_CHANNEL_ID, message_ts=first["ts"])["permalink"]
    digits = first["ts"].replace(".", "")
    assert link == f"https://sandbox.slack.com/archives/{MEMO_CHANNEL_ID}/p{digits}"


def test_posting_to_a_user_id_writes_the_dm(client: WebClient, slack: SlackSandbox) -> None:
    opened = client.conversations_open(users=ANALYST)["channel"]["id"]
    sent = client.chat_postMessage(channel=ANALYST, text="Run `python main.py login`")
    assert sent["channel"] == opened == client.conversations_open(users=ANALYST)["channel"]["id"]
    client.chat_postMessage(channel=opened, text="second")
    assert [m["text"] for m in slack.dms(ANALYST)] == ["Run `python main.py login`", "second"]
    assert slack.dms(FRAUDOPS) == []


def test_reactions_and_their_errors(client: WebClient, slack: SlackSandbox) -> None:
    memo = slack.post(ANALYST, "memo")
    client.reactions_add(channel=MEMO_CHANNEL_ID, timestamp=memo["ts"], name="eyes")
    reactions = slack.message(MEMO_CHANNEL_ID, memo["ts"])["reactions"]
    assert reactions == [{"name": "eyes", "users": [BOT_USER_ID], "count": 1}]
    again = _error(
        lambda: client.reactions_add(channel=MEMO_CHANNEL_ID, timestamp=memo["ts"], name="eyes")
    )
    assert again.response["error"] == "already_reacted"
    client.reactions_remove(channel=MEMO_CHANNEL_ID, timestamp=memo["ts"], name="eyes")
    assert "reactions" not in slack.message(MEMO_CHANNEL_ID, memo["ts"])
    gone = _error(
        lambda: client.reactions_remove(channel=MEMO_CHANNEL_ID, timestamp=memo["ts"], name="eyes")
    )
    assert gone.response["error"] == "no_reaction"
    nowhere = _error(
        lambda: client.reactions_add(channel=MEMO_CHANNEL_ID, timestamp="1.000002", name="eyes")
    )
    assert nowhere.response["error"] == "message_not_found"


def test_metadata_is_shown_only_when_asked_except_the_apps_own(
    client: WebClient, slack: SlackSandbox
) -> None:
    foreign = {"event_type": "memo_created", "event_payload": {"case": 7}}
    slack.workflow_post("memo", metadata=foreign)
    own = {"event_type": "creditbot_reply", "event_payload": {"total": "1.00"}}
    client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="mine", metadata=own)
    plain = client.conversations_history(channel=MEMO_CHANNEL_ID)["messages"]
    assert [m.get("metadata") for m in plain] == [own, None]
    everything = client.conversations_history(channel=MEMO_CHANNEL_ID, include_all_metadata=True)
    assert [m.get("metadata") for m in everything["messages"]] == [own, foreign]


def test_deleted_parent_with_replies_leaves_a_tombstone(
    client: WebClient, slack: SlackSandbox
) -> None:
    parent = slack.post(ANALYST, "memo")
    slack.post(FRAUDOPS, "reply", thread_ts=parent["ts"])
    lonely = slack.post(ANALYST, "no replies")
    slack.delete(MEMO_CHANNEL_ID, parent["ts"])
    slack.delete(MEMO_CHANNEL_ID, lonely["ts"])
    (tombstone,) = client.conversations_history(channel=MEMO_CHANNEL_ID)["messages"]
    assert tombstone["subtype"] == "tombstone" and tombstone["hidden"] is True
    assert (tombstone["text"], tombstone["reply_count"]) == ("This message was deleted.", 1)
    replies = client.conversations_replies(channel=MEMO_CHANNEL_ID, ts=parent["ts"])["messages"]
    assert [m["text"] for m in replies] == ["This message was deleted.", "reply"]


def test_edit_and_join_are_stored_like_slack(slack: SlackSandbox) -> None:
    memo = slack.post(ANALYST, "draft")
    edited = slack.edit(MEMO_CHANNEL_ID, memo["ts"], "final")
    assert edited["text"] == "final" and edited["edited"]["user"] == ANALYST
    joined = slack.join(FRAUDOPS)
    assert joined["subtype"] == "channel_join"
    assert [m["text"] for m in slack.messages()] == ["final", joined["text"]]


def test_not_in_channel_until_invited(client: WebClient, slack: SlackSandbox) -> None:
    history = _error(lambda: client.conversations_history(channel=NOT_MEMBER_CHANNEL_ID))
    assert history.response["error"] == "not_in_channel"
    post = _error(lambda: client.chat_postMessage(channel=NOT_MEMBER_CHANNEL_ID, text="hi"))
    assert post.response["error"] == "not_in_channel"
    slack.set_member(NOT_MEMBER_CHANNEL_ID, True)
    assert client.conversations_history(channel=NOT_MEMBER_CHANNEL_ID)["ok"] is True


def test_rate_limit_is_waited_out_by_the_sdk_handler(
    client: WebClient, slack: SlackSandbox
) -> None:
    slack.inject("conversations.history", "rate_limited", retry_after=1)
    limited = _error(lambda: client.conversations_history(channel=MEMO_CHANNEL_ID))
    assert limited.response.status_code == 429
    assert limited.response.headers["Retry-After"] == "1"
    slack.reset_calls()
    slack.inject("conversations.history", "rate_limited", retry_after=1)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    started = time.monotonic()
    assert client.conversations_history(channel=MEMO_CHANNEL_ID)["ok"] is True
    assert time.monotonic() - started >= 1
    assert [c.status for c in slack.calls_of("conversations.history")] == [429, 200]


def test_server_error_is_retried_by_the_sdk_handler(client: WebClient, slack: SlackSandbox) -> None:
    slack.inject("auth.test", "server_error")
    assert _error(client.auth_test).response.status_code == 500
    slack.inject("auth.test", "server_error")
    client.retry_handlers.append(ServerErrorRetryHandler(max_retry_count=1))
    assert client.auth_test()["ok"] is True
    assert [c.status for c in slack.calls_of("auth.test")] == [500, 500, 200]


def test_hang_runs_into_the_client_timeout(slack: SlackSandbox) -> None:
    slack.hang_seconds = 2
    slack.inject("auth.test", "hang")
    impatient = WebClient(token=BOT_TOKEN, base_url=slack.api_url, timeout=1, retry_handlers=[])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        impatient.auth_test()
    assert time.monotonic() - started < 2
    assert impatient.auth_test()["ok"] is True


def test_lost_response_still_posts(client: WebClient, slack: SlackSandbox) -> None:
    slack.inject("chat.postMessage", "lost_response")
    with pytest.raises(RemoteDisconnected):
        client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="did it go out?")
    assert [m["text"] for m in slack.messages()] == ["did it go out?"]


def _control(slack: SlackSandbox, path: str, body: dict | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{slack.url}/_sandbox/{path}", data=data, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)["result"]


def test_http_control_api(client: WebClient, slack: SlackSandbox) -> None:
    memo = _control(slack, "post", {"user": ANALYST, "text": "memo"})
    _control(slack, "workflow_post", {"text": "workflow memo"})
    client.chat_postMessage(channel=MEMO_CHANNEL_ID, thread_ts=memo["ts"], text="Approved")
    client.chat_postMessage(channel=FRAUDOPS, text="alert")
    texts = [m["text"] for m in _control(slack, f"messages?channel={MEMO_CHANNEL_ID}")]
    assert texts == ["memo", "workflow memo"]
    thread = _control(slack, f"thread?channel={MEMO_CHANNEL_ID}&ts={memo['ts']}")
    assert [m["text"] for m in thread] == ["memo", "Approved"]
    assert [m["text"] for m in _control(slack, f"dms?user={FRAUDOPS}")] == ["alert"]
    _control(slack, "inject", {"method": "auth.test", "fault": "server_error"})
    assert _error(client.auth_test).response.status_code == 500
    calls = _control(slack, "calls")
    assert [(c["method"], c["status"]) for c in calls][-1] == ("auth.test", 500)
    assert all("token" not in c["params"] for c in calls)


def test_every_answer_to_the_token_names_its_scopes_as_slack_does(
    slack: SlackSandbox, client: WebClient
) -> None:
    """Slack sends the token's scopes in `x-oauth-scopes` and the method's in
    `x-accepted-oauth-scopes` (comma-separated); slack_sdk hands both over in `headers`."""
    answered = client.auth_test()
    headers = {k.lower(): v for k, v in answered.headers.items()}
    assert headers["x-oauth-scopes"].split(",") == list(BOT_SCOPES)
    assert "x-accepted-oauth-scopes" not in headers  # auth.test needs no scope
    posted = client.chat_postMessage(channel=MEMO_CHANNEL_ID, text="hello")
    headers = {k.lower(): v for k, v in posted.headers.items()}
    assert headers["x-oauth-scopes"].split(",") == list(BOT_SCOPES)
    assert "chat:write" in headers["x-accepted-oauth-scopes"].split(",")
    stranger = WebClient(token="xoxb-not-the-bot", base_url=slack.api_url, retry_handlers=[])
    refused = _error(stranger.auth_test)
    assert refused.response["error"] == "invalid_auth"
    assert "x-oauth-scopes" not in {k.lower() for k in refused.response.headers}


def test_a_method_whose_scope_the_token_lacks_is_refused(
    slack: SlackSandbox, client: WebClient
) -> None:
    slack.set_scopes([s for s in BOT_SCOPES if s != "reactions:write"])
    refused = _error(
        lambda: client.reactions_add(channel=MEMO_CHANNEL_ID, timestamp="1.000001", name="eyes")
    )
    assert refused.response["error"] == "missing_scope"
    assert refused.response["needed"] == "reactions:write"
    assert "reactions:write" not in refused.response["provided"].split(",")
    assert client.auth_test()["ok"], "a method that needs no scope still answers"
    headers = {k.lower(): v for k, v in client.auth_test().headers.items()}
    assert "reactions:write" not in headers["x-oauth-scopes"]
    # The control API over HTTP gives the scope back, as reinstalling the app would.
    request = urllib.request.Request(
        f"{slack.url}/_sandbox/set_scopes",
        data=json.dumps({"scopes": list(BOT_SCOPES)}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        assert json.loads(answer.read())["ok"] is True
    assert slack.workspace.scopes == list(BOT_SCOPES)
