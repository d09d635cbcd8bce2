"""A local Slack Web API on loopback that the official `slack_sdk.WebClient` uses unchanged.

It is the product's test bed: methods, pagination, errors, rate limits and message shapes follow
Slack's documentation (see `sandbox.slack_api`), and faults can be injected per method to test
retries, timeouts and lost responses. A control API (in-process, and JSON under `/_sandbox/`)
plays the people and workflows that post memos.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from sandbox.slack_api import ACCEPTED_SCOPES, METHODS, missing_scope
from sandbox.slack_store import (
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
    TEAM_ID,
    WORKFLOW_BOT_ID,
    WORKFLOW_NAME,
    SlackError,
    Workspace,
    slack_escape,
    slack_link,
)

__all__ = [
    "ANALYST",
    "APP_ID",
    "BOT_ID",
    "BOT_SCOPES",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "FRAUDOPS",
    "MEMO_CHANNEL_ID",
    "MEMO_CHANNEL_NAME",
    "NOT_MEMBER_CHANNEL_ID",
    "TEAM_ID",
    "WORKFLOW_BOT_ID",
    "Call",
    "SlackSandbox",
    "slack_escape",
    "slack_link",
]
FAULTS = ("rate_limited", "server_error", "hang", "lost_response")


@dataclass(frozen=True)
class Call:
    """One Web API request as the sandbox saw it (token left out of `params`)."""

    method: str
    params: dict[str, Any]
    status: int
    error: str | None
    at: float


@dataclass
class _Fault:
    kind: str
    count: int
    retry_after: int


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sandbox: SlackSandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, lost response) is expected here; others are not."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the call log is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _params(self) -> dict[str, Any]:
        url = urllib.parse.urlsplit(self.path)
        params: dict[str, Any] = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if "json" in (self.headers.get("Content-Type") or ""):
            params.update(json.loads(body or "{}"))
        elif body:
            params.update(urllib.parse.parse_qsl(body))
        return params

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        try:
            params = self._params()
        except ValueError:
            self._send(200, {"ok": False, "error": "invalid_json"})
            return
        sandbox = self.server.sandbox
        if path.startswith("/api/"):
            self._web_api(sandbox, path.removeprefix("/api/"), params)
        elif path.startswith("/_sandbox/"):
            status, body = sandbox.control(self.command, path.removeprefix("/_sandbox/"), params)
            self._send(status, body)
        else:
            self._send(404, {"ok": False, "error": "not_found"})

    def _web_api(self, sandbox: SlackSandbox, method: str, params: dict[str, Any]) -> None:
        auth = self.headers.get("Authorization") or ""
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(params.pop("token", ""))
        params.pop("token", None)
        fault = sandbox.take_fault(method)
        status, headers = 200, {}
        if fault is not None and fault.kind != "lost_response":
            status, body = self._fault(sandbox, fault, headers)
        else:
            body = sandbox.apply(method, params, token)
            headers.update(sandbox.scope_headers(method, token))
        sandbox.record(Call(method, params, status, body.get("error"), time.time()))
        if fault is not None and fault.kind == "lost_response":
            self.close_connection = True
            return
        self._send(status, body, headers)

    def _fault(
        self, sandbox: SlackSandbox, fault: _Fault, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        if fault.kind == "rate_limited":
            headers["Retry-After"] = str(fault.retry_after)
            return 429, {"ok": False, "error": "ratelimited"}
        if fault.kind == "hang":
            sandbox.stopping.wait(sandbox.hang_seconds)
        return 500, {"ok": False, "error": "internal_error"}


class SlackSandbox:
    """The local Slack: a ThreadingHTTPServer on 127.0.0.1 plus the control API."""

    def __init__(self, port: int = 0, extra_channels: int = 250) -> None:
        self.workspace = Workspace(extra_channels)
        self.hang_seconds: float = 5
        self.stopping = threading.Event()
        self._port = port
        self._calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.api_url = ""

    def start(self) -> SlackSandbox:
        """Bind and serve in a daemon thread."""
        self.stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler)
        self._server.sandbox = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.url}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests stuck in a `hang` fault are released."""
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- Web API plumbing -------------------------------------------------------------------

    def apply(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        """Run one Web API method and return its body (errors as Slack returns them)."""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != BOT_TOKEN:
            return {"ok": False, "error": "invalid_auth"}
        handler = METHODS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        with self.workspace.lock:
            refused = missing_scope(method, self.workspace.scopes)
        if refused is not None:
            return refused
        try:
            return {"ok": True, **handler(self.workspace, params)}
        except SlackError as exc:
            return {"ok": False, "error": exc.code}

    def scope_headers(self, method: str, token: str) -> dict[str, str]:
        """What Slack says about scopes on each response to a valid token: the token's own
        (`x-oauth-scopes`) and, for a method that needs one, those it accepts."""
        if token != BOT_TOKEN:
            return {}
        with self.workspace.lock:
            headers = {"x-oauth-scopes": ",".join(self.workspace.scopes)}
        if method in ACCEPTED_SCOPES:
            headers["x-accepted-oauth-scopes"] = ",".join(ACCEPTED_SCOPES[method])
        return headers

    def set_scopes(self, scopes: list[str]) -> None:
        """The app's bot token scopes, as if changed under OAuth & Permissions and reinstalled."""
        with self.workspace.lock:
            self.workspace.scopes = list(scopes)

    def take_fault(self, method: str) -> _Fault | None:
        """The next injected fault for `method`, consuming one of its count."""
        with self._lock:
            queue = self._faults.get(method) or []
            if not queue:
                return None
            fault = queue[0]
            fault.count -= 1
            if fault.count <= 0:
                queue.pop(0)
            return fault

    def record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def inject(self, method: str, fault: str, count: int = 1, retry_after: int = 1) -> None:
        """Make the next `count` calls of `method` fail with `fault` (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.setdefault(method, []).append(_Fault(fault, count, retry_after))

    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_of(self, method: str) -> list[Call]:
        return [c for c in self.calls() if c.method == method]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # --- control API: what people and workflows do -------------------------------------------

    def post(
        self,
        user: str,
        text: str = "",
        *,
        channel: str = MEMO_CHANNEL_ID,
        blocks: list | None = None,
        attachments: list | None = None,
        thread_ts: str | None = None,
        ts: str | None = None,
        subtype: str | None = None,
    ) -> dict:
        """A person posts (text is Slack markup, already escaped); `ts` may date it back."""
        message: dict[str, Any] = {"user": user, "type": "message", "text": text, "team": TEAM_ID}
        return self._store(message, channel, blocks, attachments, thread_ts, ts, subtype)

    def workflow_post(
        self,
        text: str = "",
        *,
        blocks: list | None = None,
        attachments: list | None = None,
        channel: str = MEMO_CHANNEL_ID,
        ts: str | None = None,
        metadata: dict | None = None,
    ) -> dict:
        """The memo workflow posts: subtype bot_message from B0WORKFLOW, as Slack shows it.

        `metadata` ({event_type, event_payload}) is another app's: history hides it unless
        asked with include_all_metadata.
        """
        message: dict[str, Any] = {
            "type": "message",
            "text": text,
            "bot_id": WORKFLOW_BOT_ID,
            "username": WORKFLOW_NAME,
        }
        if metadata:
            message["metadata"] = metadata
        return self._store(message, channel, blocks, attachments, None, ts, "bot_message")

    def _store(
        self,
        message: dict[str, Any],
        channel: str,
        blocks: list | None,
        attachments: list | None,
        thread_ts: str | None,
        ts: str | None,
        subtype: str | None,
    ) -> dict:
        if subtype:
            message["subtype"] = subtype
        if blocks:
            message["blocks"] = blocks
        if attachments:
            message["attachments"] = [{"id": i + 1, **a} for i, a in enumerate(attachments)]
        if ts:
            message["ts"] = ts
        return self.workspace.add(self.workspace.channel(channel), message, thread_ts)

    def join(self, user: str, channel: str = MEMO_CHANNEL_ID) -> dict:
        """`user` joins: Slack posts a channel_join message."""
        return self.post(
            user, f"<@{user}> has joined the channel", channel=channel, subtype="channel_join"
        )

    def edit(self, channel: str, ts: str, text: str) -> dict:
        return self.workspace.edit(self.workspace.channel(channel), ts, text)

    def delete(self, channel: str, ts: str) -> None:
        self.workspace.delete(self.workspace.channel(channel), ts)

    def set_member(self, channel: str, member: bool) -> None:
        self.workspace.channel(channel).is_member = member

    def messages(self, channel: str = MEMO_CHANNEL_ID) -> list[dict]:
        """Top-level messages, oldest first."""
        with self.workspace.lock:
            return json.loads(json.dumps(self.workspace.channel(channel).top_level()))

    def thread(self, channel: str, ts: str) -> list[dict]:
        """Parent and replies, oldest first."""
        ws = self.workspace
        with ws.lock:
            found = ws.channel(channel)
            return json.loads(json.dumps([ws.find(found, ts), *ws.replies(found, ts)]))

    def dms(self, user: str) -> list[dict]:
        """What the bot said in its DM with `user`."""
        with self.workspace.lock:
            sent = self.workspace.dm(user).top_level()
            return json.loads(json.dumps([m for m in sent if m.get("user") == BOT_USER_ID]))

    def message(self, channel: str, ts: str) -> dict:
        ws = self.workspace
        with ws.lock:
            return json.loads(json.dumps(ws.find(ws.channel(channel), ts)))

    def control(self, verb: str, action: str, params: dict[str, Any]) -> tuple[int, dict]:
        """The control API over HTTP: `/_sandbox/<action>` with JSON or query parameters."""
        route = self._routes().get((verb, action))
        if route is None:
            return 404, {"ok": False, "error": f"no control action {verb} {action}"}
        try:
            return 200, {"ok": True, "result": route(params)}
        except (SlackError, KeyError, TypeError, ValueError) as exc:
            return 400, {"ok": False, "error": str(exc)}

    def _routes(self) -> dict[tuple[str, str], Callable[[dict[str, Any]], Any]]:
        return {
            ("POST", "post"): lambda p: self.post(**p),
            ("POST", "workflow_post"): lambda p: self.workflow_post(**p),
            ("POST", "join"): lambda p: self.join(**p),
            ("POST", "edit"): lambda p: self.edit(**p),
            ("POST", "delete"): lambda p: self.delete(**p),
            ("POST", "set_member"): lambda p: self.set_member(p["channel"], bool(p["member"])),
            ("POST", "set_scopes"): lambda p: self.set_scopes(list(p["scopes"])),
            ("POST", "inject"): lambda p: self.inject(**p),
            ("POST", "reset_calls"): lambda p: self.reset_calls(),
            ("GET", "messages"): lambda p: self.messages(**p),
            ("GET", "thread"): lambda p: self.thread(p["channel"], p["ts"]),
            ("GET", "dms"): lambda p: self.dms(p["user"]),
            ("GET", "message"): lambda p: self.message(p["channel"], p["ts"]),
            ("GET", "calls"): lambda p: [c.__dict__ for c in self.calls()],
        }
