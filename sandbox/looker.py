"""A local Looker behind SSO, for developing and testing the scraper against a real browser.

Two loopback servers: the app (`127.0.0.1`, a single-page app drawn by JavaScript from a JSON
API) and an identity provider (`localhost`, so that its cookies are separate). The sign-in
round trip, session expiry, async rendering, a virtualised code editor and server faults behave
the way they do on real Looker, so a scraper that works here has met the hard cases. The app is
drawn in one of several skins (`sandbox/looker_skins`): the accessible modern UI, the classic
AngularJS Explore with an Ace editor, or a bare SPA of plain divs with a CodeMirror 6 or Monaco
editor, so the scraper can be proven against page shapes it was not written for.

The IdP sets its own cookie but never skips its form: an expired app session always ends on the
sign-in page, which is what the product must detect. `add_redirect` paths answer before any
sign-in check. `Request.host` is "127.0.0.1:PORT" for the app and "localhost:PORT" for the IdP.
"""

from __future__ import annotations

import json
import random
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from sandbox import looker_pages as pages
from sandbox import looker_skins

DEMO_EMAIL = "analyst@example.com"
DEMO_PASSWORD = "demo-password"
SESSION_COOKIE = "looker_session"
IDP_COOKIE = "acme_sso"
CLIENT_ID = "looker"
_BASE62 = string.digits + string.ascii_letters
_CODE_TTL_SECONDS = 60


@dataclass(frozen=True)
class Request:
    """One request seen by either server; `path` includes the query string."""

    host: str
    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _Query:
    sql: str
    model: str
    view: str
    title: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: LookerSandbox, label: str, role: str, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.sandbox = sandbox
        self.label = label
        self.role = role


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP plumbing; every decision is made by the sandbox."""

    server: _Server
    server_version = "LookerSandbox/1.0"

    def do_GET(self) -> None:
        self.server.sandbox._route(self, self.server.role)

    def do_POST(self) -> None:
        self.server.sandbox._route(self, self.server.role)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        port = self.server.server_address[1]
        host = f"{self.server.label}:{port}"
        self.server.sandbox._log(Request(host, self.command, self.path, int(code)))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is `LookerSandbox.requests`."""

    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))

    def cookie(self, name: str) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def send(
        self,
        status: int,
        body: str | bytes = b"",
        content_type: str = "text/html; charset=utf-8",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def json(self, status: int, payload: dict) -> None:
        self.send(status, json.dumps(payload), "application/json")

    def redirect(self, location: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send(302, b"", "text/plain", (("Location", location), *headers))


class LookerSandbox:
    """The app and its IdP on loopback; register queries, links, looks and dashboards on it."""

    def __init__(
        self,
        *,
        skin: str = "accessible",
        viewer: str = "pre",
        editor: str = "cm6",
        expose_editor_model: bool = True,
        render_delay_ms: int = 150,
        session_ttl_seconds: int = 8 * 3600,
        editor_visible_lines: int = 18,
        app_port: int = 0,
        idp_port: int = 0,
    ) -> None:
        """`skin` is one of `looker_skins.SKINS`; `viewer` ("pre" or "editor") is the accessible
        skin's SQL viewer and `editor` ("cm6" or "monaco") the bare skin's (the classic skin always
        uses Ace). `expose_editor_model` leaves the editor's text model reachable from the page,
        as each real editor does; without it only the drawn lines can be read."""
        if skin not in looker_skins.SKINS:
            raise ValueError(f"skin must be one of {looker_skins.SKINS}, not {skin!r}")
        if viewer not in ("pre", "editor"):
            raise ValueError(f"viewer must be 'pre' or 'editor', not {viewer!r}")
        if editor not in looker_skins.EDITORS:
            raise ValueError(f"editor must be one of {looker_skins.EDITORS}, not {editor!r}")
        self.skin = skin
        self.viewer = viewer
        self.editor = editor
        self.expose_editor_model = expose_editor_model
        self.render_delay_ms = render_delay_ms
        self.session_ttl_seconds = session_ttl_seconds
        self.editor_visible_lines = editor_visible_lines
        self.ports = (app_port, idp_port)
        self.base_url = ""
        self.idp_url = ""
        self.sessions_issued = 0
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._rng = random.Random("looker-sandbox")  # qids and slugs repeat from run to run
        self._queries: dict[str, _Query] = {}
        self._short_links: dict[str, str] = {}
        self._looks: dict[int, tuple[str, str]] = {}
        self._dashboards: dict[int, str] = {}
        self._redirects: dict[str, str] = {}
        self._sessions: dict[str, float] = {}  # token -> expiry (epoch seconds)
        self._login_states: dict[str, str] = {}  # opaque state -> return_to
        self._codes: dict[str, float] = {}  # authorization code -> expiry
        self._faults: list[int] = []
        self._expire_countdown: int | None = None
        self._delays: list[int] = []
        self._slow_queries: dict[str, int] = {}  # qid -> delay of every API call about it
        self._api_in_flight = 0
        self.api_in_flight_peak = 0  # most API requests being answered at once, ever
        self._servers: list[_Server] = []

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LookerSandbox:
        app = _Server(self, "127.0.0.1", "app", self.ports[0])
        idp = _Server(self, "localhost", "idp", self.ports[1])
        self._servers = [app, idp]
        self.base_url = f"http://127.0.0.1:{app.server_address[1]}"
        self.idp_url = f"http://localhost:{idp.server_address[1]}"
        for server in self._servers:
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def __enter__(self) -> LookerSandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- content ---------------------------------------------------------------------------

    def add_query(
        self,
        sql: str,
        *,
        model: str = "revenue",
        view: str = "counters_by_billable_item",
        title: str = "Counters by billable item",
    ) -> str:
        """Register a query; its qid is 22 base62 characters like Looker's."""
        with self._lock:
            qid = "".join(self._rng.choice(_BASE62) for _ in range(22))
            self._queries[qid] = _Query(sql, model, view, title)
        return qid

    def explore_url(self, qid: str, **extra_params: str) -> str:
        return self.base_url + self._explore_path(qid, **extra_params)

    def _explore_path(self, qid: str, **extra_params: str) -> str:
        query = self._query(qid)
        params = urllib.parse.urlencode({"qid": qid, **extra_params}, safe=",")
        return f"/explore/{query.model}/{query.view}?{params}"

    def add_short_link(self, qid: str) -> str:
        """A /x/ link to the query's explore, with the Data and SQL toggles as Looker's have."""
        return self.add_short_link_to_path(self._explore_path(qid, toggle="dat,sql"))

    def add_short_link_to_path(self, path: str) -> str:
        """A /x/ link to any app path (a dashboard, say): a link that does not show where it goes.
        Like every /x/ link it answers only a signed-in session."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        with self._lock:
            slug = "".join(self._rng.choice(_BASE62) for _ in range(10))
            self._short_links[slug] = path
        return slug

    def short_url(self, slug: str) -> str:
        return f"{self.base_url}/x/{slug}"

    def add_look(self, qid: str, title: str = "Fraud spend by billable item") -> int:
        self._query(qid)
        with self._lock:
            look_id = 100 + len(self._looks) + 1
            self._looks[look_id] = (qid, title)
        return look_id

    def look_url(self, look_id: int) -> str:
        return f"{self.base_url}/looks/{look_id}"

    def add_dashboard(self, title: str = "SMS pumping overview") -> int:
        with self._lock:
            dash_id = 200 + len(self._dashboards) + 1
            self._dashboards[dash_id] = title
        return dash_id

    def dashboard_url(self, dash_id: int) -> str:
        return f"{self.base_url}/dashboards/{dash_id}"

    def add_redirect(self, path: str, url: str) -> None:
        """GET `path` on the app answers 302 to `url` (any host), before any sign-in check."""
        with self._lock:
            self._redirects[path] = url

    # -- sessions, faults, log -----------------------------------------------------------

    def expire_sessions(self) -> None:
        with self._lock:
            self._sessions.clear()

    def storage_state(self) -> dict:
        """A signed-in Playwright storage state for the app host, issued without a browser."""
        token, expires = self._issue_session()
        cookie = {
            "name": SESSION_COOKIE,
            "value": token,
            "domain": "127.0.0.1",
            "path": "/",
            "expires": expires,
            "httpOnly": True,
            "secure": False,
            "sameSite": "Lax",
        }
        return {"cookies": [cookie], "origins": []}

    def expire_after(self, sql_reads: int) -> None:
        """Expire every session once `sql_reads` more queries have been served: a session that
        dies in the middle of a cycle."""
        with self._lock:
            self._expire_countdown = sql_reads

    def _count_sql_read(self) -> None:
        with self._lock:
            if self._expire_countdown is None:
                return
            self._expire_countdown -= 1
            if self._expire_countdown <= 0:
                self._expire_countdown = None
                self._sessions.clear()

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        with self._lock:
            self._faults.extend([status] * count)

    def slow_next(self, count: int, delay_ms: int) -> None:
        with self._lock:
            self._delays.extend([delay_ms] * count)

    def slow_query(self, qid: str, delay_ms: int) -> None:
        """Every API call about this query (its page, its SQL) answers after `delay_ms`,
        whichever order the browser asks in."""
        with self._lock:
            self._slow_queries[qid] = delay_ms

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _query(self, qid: str) -> _Query:
        try:
            return self._queries[qid]
        except KeyError:
            raise KeyError(f"unknown qid {qid!r}") from None

    def _issue_session(self) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        expires = time.time() + self.session_ttl_seconds
        with self._lock:
            self._sessions[token] = expires
            self.sessions_issued += 1
        return token, expires

    def _signed_in(self, handler: _Handler) -> bool:
        token = handler.cookie(SESSION_COOKIE)
        with self._lock:
            return token is not None and self._sessions.get(token, 0.0) > time.time()

    # -- routing -------------------------------------------------------------------------

    def _route(self, h: _Handler, role: str) -> None:
        path = urllib.parse.urlsplit(h.path).path
        if role == "idp":
            self._idp(h, path)
        elif h.command != "GET":
            h.send(405, pages.message("Method not allowed", h.command))
        else:
            self._app(h, path)

    def _app(self, h: _Handler, path: str) -> None:
        if path == "/favicon.ico":
            h.send(404, b"", "text/plain")
        elif path in self._redirects:
            h.redirect(self._redirects[path])
        elif path == "/login":
            self._login(h)
        elif path == "/sso/callback":
            self._callback(h)
        elif path.startswith("/api/internal/"):
            if self._signed_in(h):
                self._api(h, path)
            else:
                h.json(401, {"error": "session_expired"})
        elif not self._signed_in(h):
            h.redirect("/login?" + urllib.parse.urlencode({"return_to": h.path}))
        elif path.startswith("/x/") and path[3:] in self._short_links:
            h.redirect(self.base_url + self._short_links[path[3:]])
        else:
            h.send(200, self._shell())

    def _shell(self) -> str:
        return looker_skins.shell(
            skin=self.skin,
            viewer=self.viewer,
            editor=self.editor,
            expose_editor_model=self.expose_editor_model,
            visible_lines=self.editor_visible_lines,
        )

    def _login(self, h: _Handler) -> None:
        return_to = h.query().get("return_to", "/browse")
        state = secrets.token_urlsafe(16)
        with self._lock:
            self._login_states[state] = return_to
        params = {
            "client_id": CLIENT_ID,
            "redirect_uri": f"{self.base_url}/sso/callback",
            "state": state,
        }
        h.redirect(f"{self.idp_url}/sso/authorize?{urllib.parse.urlencode(params)}")

    def _callback(self, h: _Handler) -> None:
        params = h.query()
        with self._lock:
            return_to = self._login_states.pop(params.get("state", ""), None)
        if return_to is None:
            h.send(400, pages.message("Sign-in failed", "Unknown or reused sign-in state."))
        elif not self._exchange(params.get("code", "")):
            h.send(400, pages.message("Sign-in failed", "The sign-in code was not accepted."))
        else:
            token, _ = self._issue_session()
            cookie = (
                f"{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; "
                f"Max-Age={self.session_ttl_seconds}"
            )
            h.redirect(_safe_return(return_to), (("Set-Cookie", cookie),))

    def _exchange(self, code: str) -> bool:
        """Server-to-server code exchange with the IdP, as an OIDC client does."""
        data = urllib.parse.urlencode({"client_id": CLIENT_ID, "code": code}).encode()
        try:
            with urllib.request.urlopen(f"{self.idp_url}/sso/token", data, timeout=5) as resp:
                return json.load(resp).get("email") == DEMO_EMAIL
        except urllib.error.HTTPError:
            return False

    def _api(self, h: _Handler, path: str) -> None:
        parts = path.strip("/").split("/")
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
            delay = self._delays.pop(0) if self._delays else self.render_delay_ms
            delay = max(delay, self._slow_queries.get(self._qid_of(parts, h.query()), 0))
            self._api_in_flight += 1
            self.api_in_flight_peak = max(self.api_in_flight_peak, self._api_in_flight)
        try:
            time.sleep(delay / 1000)
        finally:
            with self._lock:
                self._api_in_flight -= 1
        if fault is not None:
            h.json(fault, {"error": "internal_error"})
        elif parts == ["api", "internal", "page"]:
            h.json(200, self._page(h.query().get("path", "/")))
        elif len(parts) == 5 and parts[2] == "queries" and parts[4] == "sql":
            query = self._queries.get(parts[3])
            if query is None:
                h.json(404, {"error": "not_found"})
            else:
                h.json(200, {"qid": parts[3], "sql": query.sql})
                self._count_sql_read()
        else:
            h.json(404, {"error": "not_found"})

    def _qid_of(self, parts: list[str], params: dict[str, str]) -> str | None:
        """The query an API call is about: its SQL, or the page of its explore or Look."""
        if len(parts) == 5 and parts[2] == "queries":
            return parts[3]
        if parts == ["api", "internal", "page"]:
            return self._page(params.get("path", "/")).get("qid")
        return None

    def _page(self, target: str) -> dict:
        """What the SPA should draw at `target` (a path with its query)."""
        url = urllib.parse.urlsplit(target)
        parts = [p for p in url.path.split("/") if p]
        if parts in ([], ["browse"]):
            return {"kind": "home", "title": "Home"}
        if len(parts) == 3 and parts[0] == "explore":
            qid = dict(urllib.parse.parse_qsl(url.query)).get("qid", "")
            if qid not in self._queries:
                return {"kind": "query_not_found", "title": "Query not found"}
            return _explore("explore", self._queries[qid].title, qid)
        if len(parts) == 2 and parts[1].isdigit():
            number = int(parts[1])
            if parts[0] == "looks" and number in self._looks:
                qid, title = self._looks[number]
                return _explore("look", title, qid)
            if parts[0] == "dashboards" and number in self._dashboards:
                return _dashboard(self._dashboards[number])
        return {"kind": "not_found", "title": "Not found"}

    def _idp(self, h: _Handler, path: str) -> None:
        if h.command == "GET" and path == "/sso/authorize":
            params = h.query()
            if not self._known_client(params):
                h.send(400, pages.message("Unknown client", "This application is not registered."))
            else:
                h.send(200, pages.idp_form(**_form_fields(params)))
        elif h.command == "POST" and path == "/sso/login":
            self._idp_login(h, h.form())
        elif h.command == "POST" and path == "/sso/token":
            form = h.form()
            with self._lock:
                expiry = self._codes.pop(form.get("code", ""), 0.0)
            if form.get("client_id") == CLIENT_ID and expiry > time.time():
                h.json(200, {"email": DEMO_EMAIL})
            else:
                h.json(400, {"error": "invalid_grant"})
        else:
            h.send(404, pages.message("Not found", "No such page on Acme SSO."))

    def _known_client(self, params: dict[str, str]) -> bool:
        return params.get("client_id") == CLIENT_ID and params.get("redirect_uri") == (
            f"{self.base_url}/sso/callback"
        )

    def _idp_login(self, h: _Handler, form: dict[str, str]) -> None:
        if not self._known_client(form):
            h.send(400, pages.message("Unknown client", "This application is not registered."))
            return
        email = form.get("email", "").strip()
        if email.lower() != DEMO_EMAIL or form.get("password") != DEMO_PASSWORD:
            page = pages.idp_form(
                **_form_fields(form), email=email, error="Invalid email or password"
            )
            h.send(401, page)
            return
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = time.time() + _CODE_TTL_SECONDS
        back = urllib.parse.urlencode({"code": code, "state": form.get("state", "")})
        idp_cookie = f"{IDP_COOKIE}={secrets.token_urlsafe(16)}; HttpOnly; SameSite=Lax; Path=/"
        h.redirect(f"{form['redirect_uri']}?{back}", (("Set-Cookie", idp_cookie),))


def _form_fields(params: dict[str, str]) -> dict[str, str]:
    return {key: params.get(key, "") for key in ("client_id", "redirect_uri", "state")}


def _safe_return(return_to: str) -> str:
    """Only same-site paths: an open redirect after sign-in would be a phishing aid."""
    if return_to.startswith("/") and not return_to.startswith(("//", "/\\")):
        return return_to
    return "/browse"


def _explore(kind: str, title: str, qid: str) -> dict:
    rng = random.Random(qid)
    items = ("Authy SMS", "Verify SMS", "Programmable SMS")
    rows = [[item, rng.randint(100, 9999), f"{rng.uniform(5, 500):.2f}"] for item in items]
    return {
        "kind": kind,
        "title": title,
        "qid": qid,
        "results": {"columns": ["Billable item", "Counters", "Spend ($)"], "rows": rows},
    }


def _dashboard(title: str) -> dict:
    tiles = [
        {"title": "Fraud spend (7 days)", "value": "$1,204.55"},
        {"title": "Pumped numbers", "value": "318"},
        {"title": "Open memos", "value": "4"},
    ]
    return {"kind": "dashboard", "title": title, "tiles": tiles}
