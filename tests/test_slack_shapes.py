"""The local Slack's real responses checked against Slack's published response schemas.

The schemas are a trimmed copy of Slack's OpenAPI v2 spec (tests/slack_openapi/, MIT). The spec
dates from 2020, so a few newer fields Slack really sends are allowed explicitly in `ALLOWED`;
each entry is a known deviation of the spec from today's Slack, not of the sandbox.

The validator covers the JSON-Schema subset the spec uses. The spec spells alternatives
("a bot ID or null", "a channel or a DM") as a list under `items`; we read such a list as
"matches one of these", which is what the spec means and what makes those checks bite.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import ANALYST, BOT_TOKEN, FRAUDOPS, MEMO_CHANNEL_ID, SlackSandbox

HERE = Path(__file__).parent / "slack_openapi"
FULL_SPEC = (
    Path(__file__).resolve().parents[2] / "shared" / "reference" / "slack_web_openapi_v2.json"
)
TRIMMED = json.loads((HERE / "schemas.json").read_text())
# The memo channel, whose ID has the spec's shape (C + 8 or more).
CHANNEL = MEMO_CHANNEL_ID
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "integer": (int,),
    "number": (int, float),
}
# Fields Slack sends today that the 2020 spec lacks (definition -> extra properties).
ALLOWED: dict[str, dict[str, Any]] = {
    "objs_message": {
        "app_id": {"$ref": "#/definitions/defs_app_id"},
        "metadata": {
            "type": "object",
            "required": ["event_type", "event_payload"],
            "properties": {"event_type": {"type": "string"}, "event_payload": {"type": "object"}},
            "additionalProperties": False,
        },
        "edited": {"type": "object", "required": ["user", "ts"]},
        "hidden": {"type": "boolean"},
    },
}


class Invalid(AssertionError):
    """A document that does not match its schema; the message says where and why."""


def validate(value: Any, schema: dict[str, Any], defs: dict[str, Any], at: str = "$") -> None:
    """Raise Invalid unless `value` matches `schema` (the subset of JSON Schema the spec uses)."""
    if "$ref" in schema:
        validate(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs, at)
        return
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        is_bool = isinstance(value, bool)
        if not any(isinstance(value, _TYPES[n]) and (n == "boolean" or not is_bool) for n in names):
            raise Invalid(f"{at}: {value!r} is not of type {types}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{at}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        raise Invalid(f"{at}: {value!r} does not match {schema['pattern']}")
    items = schema.get("items")
    if isinstance(items, list):
        _one_of(value, items, defs, at)
    elif isinstance(value, list):
        _check_array(value, schema, defs, at)
    if isinstance(value, dict):
        _check_object(value, schema, defs, at)


def _one_of(value: Any, alternatives: list[dict[str, Any]], defs: dict[str, Any], at: str) -> None:
    reasons = []
    for alternative in alternatives:
        try:
            validate(value, alternative, defs, at)
            return
        except Invalid as exc:
            reasons.append(str(exc))
    raise Invalid(f"{at}: matches none of {len(alternatives)} alternatives: {reasons}")


def _check_array(value: list, schema: dict[str, Any], defs: dict[str, Any], at: str) -> None:
    if len(value) < schema.get("minItems", 0):
        raise Invalid(f"{at}: fewer than {schema['minItems']} items")
    if schema.get("uniqueItems") and len({json.dumps(v, sort_keys=True) for v in value}) < len(
        value
    ):
        raise Invalid(f"{at}: items are not unique")
    for i, item in enumerate(value):
        if "items" in schema:
            validate(item, schema["items"], defs, f"{at}[{i}]")


def _check_object(value: dict, schema: dict[str, Any], defs: dict[str, Any], at: str) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            raise Invalid(f"{at}: missing required {name!r}")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            validate(item, properties[name], defs, f"{at}.{name}")
        elif extra is False:
            raise Invalid(f"{at}: unexpected property {name!r}")
        elif isinstance(extra, dict):
            validate(item, extra, defs, f"{at}.{name}")


def _definitions() -> dict[str, Any]:
    defs = copy.deepcopy(TRIMMED["definitions"])
    for name, extra in ALLOWED.items():
        defs[name]["properties"].update(extra)
    # The spec's attachment allows only id/fallback/image_*; Slack returns text, color, title...
    defs["objs_message"]["properties"]["attachments"]["items"]["additionalProperties"] = True
    return defs


DEFS = _definitions()


def response_schema(method: str, ok: bool) -> dict[str, Any]:
    """The spec's success (200) or error (default) schema of a Web API method."""
    (operation,) = TRIMMED["paths"][f"/{method}"].values()
    return operation["responses"]["200" if ok else "default"]["schema"]


def check(method: str, body: dict[str, Any], **extra_properties: Any) -> None:
    """Validate a response body; `extra_properties` are deviations the caller documents."""
    schema = copy.deepcopy(response_schema(method, bool(body["ok"])))
    schema["properties"].update(extra_properties)
    validate(body, schema, DEFS)


PAGING = {"$ref": "#/definitions/objs_response_metadata"}


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackSandbox]:
    with SlackSandbox(extra_channels=3) as sandbox:
        sandbox.post(
            ANALYST,
            "memo <https://looker.example/x/abc|$10.00>",
            channel=CHANNEL,
            attachments=[{"text": "<https://looker.example/x/def|$2.00>", "color": "#36a64f"}],
        )
        yield sandbox


@pytest.fixture
def client(slack: SlackSandbox) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url)


def _error_body(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value.response.data


def test_validator_rejects_what_the_schema_forbids() -> None:
    schema = response_schema("chat.postMessage", ok=True)
    good = {
        "ok": True,
        "channel": "C0EXTRA0000",
        "ts": "1700000000.000100",
        "message": {"type": "message", "text": "hi", "ts": "1700000000.000100"},
    }
    validate(good, schema, DEFS)
    for broken in (
        {**good, "ts": "1700000000.1"},
        {**good, "surprise": 1},
        {**good, "message": {"type": "message", "ts": "1700000000.000100"}},
        {**good, "message": {**good["message"], "bot_id": 7}},
        {**good, "ok": False},
    ):
        with pytest.raises(Invalid):
            validate(broken, schema, DEFS)


def test_auth_test(client: WebClient) -> None:
    check("auth.test", client.auth_test().data)
    bad = WebClient(token="xoxb-wrong", base_url=client.base_url)
    check("auth.test", _error_body(bad.auth_test))


def test_post_history_replies_and_reactions(client: WebClient, slack: SlackSandbox) -> None:
    memo = slack.messages(CHANNEL)[0]
    posted = client.chat_postMessage(
        channel=CHANNEL,
        text="Approved, $10.00, exceptions",
        thread_ts=memo["ts"],
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}],
        metadata={"event_type": "credit", "event_payload": {"total": 10}},
    ).data
    check("chat.postMessage", posted)
    slack.post(FRAUDOPS, "thanks", channel=CHANNEL, thread_ts=memo["ts"])
    history = client.conversations_history(channel=CHANNEL, include_all_metadata=True).data
    check("conversations.history", history, response_metadata=PAGING)
    replies = client.conversations_replies(channel=CHANNEL, ts=memo["ts"]).data
    # The spec's per-message alternatives in replies allow neither bot fields nor blocks, which
    # real Slack sends; such messages are checked as message objects instead.
    message_or_spec = {"items": [*_reply_alternatives(), {"$ref": "#/definitions/objs_message"}]}
    check(
        "conversations.replies",
        replies,
        messages={"type": "array", "items": message_or_spec},
        response_metadata=PAGING,
    )
    assert len(replies["messages"]) == 3
    check(
        "reactions.add",
        client.reactions_add(channel=CHANNEL, timestamp=memo["ts"], name="eyes").data,
    )
    again = _error_body(
        lambda: client.reactions_add(channel=CHANNEL, timestamp=memo["ts"], name="eyes")
    )
    check("reactions.add", again)
    check(
        "reactions.remove",
        client.reactions_remove(channel=CHANNEL, timestamp=memo["ts"], name="eyes").data,
    )
    check(
        "reactions.remove",
        _error_body(
            lambda: client.reactions_remove(channel=CHANNEL, timestamp=memo["ts"], name="eyes")
        ),
    )
    link = client.chat_getPermalink(channel=CHANNEL, message_ts=posted["ts"]).data
    check("chat.getPermalink", link)


def _reply_alternatives() -> list[dict[str, Any]]:
    return response_schema("conversations.replies", ok=True)["properties"]["messages"]["items"][
        "items"
    ]


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_errors_of_posting_and_reading(client: WebClient) -> None:
    check(
        "chat.postMessage",
        _error_body(lambda: client.chat_postMessage(channel="C0NOSUCH00", text="x")),
    )
    check(
        "chat.postMessage", _error_body(lambda: client.chat_postMessage(channel=CHANNEL, text=""))
    )
    check(
        "conversations.history",
        _error_body(lambda: client.conversations_history(channel="C0NOSUCH00")),
    )
    check(
        "conversations.replies",
        _error_body(lambda: client.conversations_replies(channel=CHANNEL, ts="1000000000.000001")),
    )


def test_conversations_and_users(slack: SlackSandbox, client: WebClient) -> None:
    slack.set_scopes([*slack.workspace.scopes, "users:read"])  # CreditBot's app lacks it
    opened = client.conversations_open(users=ANALYST).data
    check("conversations.open", opened)
    check("conversations.open", client.conversations_open(users=ANALYST, return_im=True).data)
    check("conversations.info", client.conversations_info(channel=CHANNEL).data)
    listed = client.conversations_list(limit=2).data
    check("conversations.list", listed)
    assert listed["response_metadata"]["next_cursor"]
    check("users.info", client.users_info(user=ANALYST).data)
    check("users.info", _error_body(lambda: client.users_info(user="U0NOBODY")))


def test_trimmed_copy_is_whole_and_matches_the_full_spec() -> None:
    """Every `$ref` of the trimmed copy resolves inside it; where Slack's full description is at
    hand (../shared/reference), the copy must also equal it, schema for schema."""
    refs = set(re.findall(r'"\$ref": "#/definitions/([^"]+)"', json.dumps(TRIMMED)))
    assert refs and refs <= TRIMMED["definitions"].keys()
    assert {"/conversations.history", "/chat.postMessage"} <= TRIMMED["paths"].keys()
    if not FULL_SPEC.exists():
        return
    full = json.loads(FULL_SPEC.read_text())
    for path, operations in TRIMMED["paths"].items():
        for verb, operation in operations.items():
            for status, response in operation["responses"].items():
                assert (
                    response["schema"] == full["paths"][path][verb]["responses"][status]["schema"]
                )
    for name, definition in TRIMMED["definitions"].items():
        assert definition == full["definitions"][name], name


def test_a_missing_scope_is_refused_as_the_spec_describes() -> None:
    """`needed` and `provided` are in the spec's error schema of conversations.history."""
    with SlackSandbox(extra_channels=0) as fresh:
        fresh.set_scopes(["chat:write"])
        client = WebClient(token=BOT_TOKEN, base_url=fresh.api_url, retry_handlers=[])
        body = _error_body(lambda: client.conversations_history(channel=CHANNEL))
        check("conversations.history", body)
        assert body == {
            "ok": False,
            "error": "missing_scope",
            "needed": "channels:history",
            "provided": "chat:write",
        }
