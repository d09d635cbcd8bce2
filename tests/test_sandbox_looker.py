"""The local Looker behaves like the real one where the scraper cares: SSO, async SPA, viewers."""

from __future__ import annotations

import re
import string
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from sandbox.looker import DEMO_EMAIL, DEMO_PASSWORD, LookerSandbox, Request

SMALL_SQL = "SELECT 1 AS one -- tiny & <simple>\nFROM dual"

# 100+ lines with everything an escaper or a line collector could get wrong.
LONG_SQL = "\n".join(
    [
        "-- Verify credit check: <pumped> & 'quoted' \"ids\"",
        "SELECT",
        "\tc.account_sid,  ",
        "   ",
    ]
    + [
        f"  SUM(CASE WHEN c.count_{i} <> 0 AND c.note = 'a&b \"{i}\"' THEN {i} END) AS col_{i},"
        if i % 9
        else ""
        for i in range(1, 110)
    ]
    + [
        "  1 AS done",
        "FROM counters c  -- trailing comment with </pre> and &amp;",
        "WHERE c.product = 'Authy' AND 1 < 2 AND c.x >= 3",
        "",
        "LIMIT 500",
    ]
)
LONG_LINES = LONG_SQL.count("\n") + 1


@pytest.fixture(scope="module")
def looker() -> Iterator[LookerSandbox]:
    with LookerSandbox(render_delay_ms=50) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def editor_looker() -> Iterator[LookerSandbox]:
    with LookerSandbox(viewer="editor", render_delay_ms=20, editor_visible_lines=10) as sandbox:
        yield sandbox


@contextmanager
def signed_in(browser: Browser, sandbox: LookerSandbox) -> Iterator[Page]:
    """A page in a fresh context that carries the sandbox's storage state (no form)."""
    context = browser.new_context(storage_state=sandbox.storage_state())
    try:
        yield context.new_page()
    finally:
        context.close()


def open_rendered(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("main")).to_have_attribute("aria-busy", "false")


def open_sql_tab(page: Page) -> None:
    sql_tab = page.get_by_role("tab", name="SQL")
    sql_tab.click()
    expect(sql_tab).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Results")).to_have_attribute("aria-selected", "false")
    expect(page.locator("main")).to_have_attribute("aria-busy", "false")


def sign_in_with_form(page: Page, sandbox: LookerSandbox, password: str = DEMO_PASSWORD) -> None:
    expect(page.get_by_role("heading", name="Sign in to Acme SSO")).to_be_visible()
    page.get_by_label("Email").fill(DEMO_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def http_get(url: str, cookie: str = "") -> tuple[int, str, dict[str, str]]:
    """One request without following redirects: status, body, headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def session_cookie(sandbox: LookerSandbox) -> str:
    cookie = sandbox.storage_state()["cookies"][0]
    return f"{cookie['name']}={cookie['value']}"


def read_editor_rows(page: Page) -> str:
    """Scroll the virtualised editor top to bottom, collecting rows by their line number."""
    collected: dict[int, str] = {}
    scroller = page.locator(".CodeMirror-scroll")
    step = scroller.evaluate("e => e.clientHeight") // 2
    top = 0
    while True:
        rows, at_end = scroller.evaluate(
            """async (e, y) => {
                e.scrollTop = y;
                await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                const rows = [...e.querySelectorAll(".CodeMirror-row")].map((row) => [
                    Number(row.querySelector(".CodeMirror-linenumber").textContent),
                    row.querySelector("pre.CodeMirror-line").textContent]);
                return [rows, e.scrollTop + e.clientHeight >= e.scrollHeight - 1];
            }""",
            top,
        )
        collected.update({number: text.replace("\u200b", "") for number, text in rows})
        if at_end:
            break
        top += step
    assert sorted(collected) == list(range(1, len(collected) + 1))
    return "\n".join(collected[n] for n in sorted(collected))


def test_first_html_is_a_busy_shell_and_the_sql_comes_from_the_api(
    looker: LookerSandbox,
) -> None:
    qid = looker.add_query(SMALL_SQL, title="Shell check")
    cookie = session_cookie(looker)
    status, body, _ = http_get(looker.explore_url(qid), cookie)
    assert status == 200
    assert '<main aria-busy="true"><div role="progressbar" aria-label="Loading">' in body
    assert "<header>Looker</header>" in body
    assert "dual" not in body and "Shell check" not in body
    status, body, _ = http_get(f"{looker.base_url}/api/internal/queries/{qid}/sql", cookie)
    assert status == 200 and '"sql": "SELECT 1 AS one -- tiny & <simple>\\nFROM dual"' in body


def test_sign_in_through_the_idp_form_returns_to_the_link(
    page: Page, looker: LookerSandbox
) -> None:
    qid = looker.add_query(SMALL_SQL, title="After sign-in")
    url = looker.explore_url(qid, toggle="dat")
    issued = looker.sessions_issued
    looker.reset_requests()
    page.goto(url)
    assert page.url.startswith(f"{looker.idp_url}/sso/authorize?client_id=looker&redirect_uri=")
    sign_in_with_form(page, looker)
    expect(page.get_by_role("heading", name="After sign-in")).to_be_visible()
    assert page.url == url
    assert looker.sessions_issued == issued + 1

    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["looker_session"]
    assert (session["domain"], session["httpOnly"], session["sameSite"]) == (
        "127.0.0.1",
        True,
        "Lax",
    )
    assert len(session["value"]) >= 43  # 32 random bytes, base64url
    assert cookies["acme_sso"]["domain"] == "localhost"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: not visible to scripts

    app, idp = looker.base_url.removeprefix("http://"), looker.idp_url.removeprefix("http://")
    seen = [(r.host, r.method, r.path.split("?")[0], r.status) for r in looker.requests]
    expected = [
        (app, "GET", "/explore/revenue/counters_by_billable_item", 302),
        (app, "GET", "/login", 302),
        (idp, "GET", "/sso/authorize", 200),
        (idp, "POST", "/sso/login", 302),
        (idp, "POST", "/sso/token", 200),
        (app, "GET", "/sso/callback", 302),
        (app, "GET", "/explore/revenue/counters_by_billable_item", 200),
        (app, "GET", "/api/internal/page", 200),
    ]
    assert [s for s in seen if s[2] != "/favicon.ico"] == expected

    callback = next(r for r in looker.requests if r.path.startswith("/sso/callback"))
    status, body, _ = http_get(looker.base_url + callback.path)
    assert status == 400 and "Sign-in failed" in body  # state and code are single use


def test_wrong_password_is_refused_with_the_form_again(page: Page, looker: LookerSandbox) -> None:
    page.goto(f"{looker.base_url}/browse")
    with page.expect_response(re.compile(r"/sso/login$")) as answer:
        sign_in_with_form(page, looker, password="wrong")
    assert answer.value.status == 401
    expect(page.get_by_text("Invalid email or password")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(DEMO_EMAIL)
    sign_in_with_form(page, looker)
    expect(page.get_by_role("heading", name="Home")).to_be_visible()
    assert page.url == f"{looker.base_url}/browse"


def test_explore_shows_results_then_the_exact_sql_in_pre(
    browser: Browser, looker: LookerSandbox
) -> None:
    qid = looker.add_query(LONG_SQL, title="Long query")
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.explore_url(qid, toggle="vis"))
        expect(page.get_by_role("heading", name="Long query")).to_be_visible()
        panel = page.get_by_role("region", name="Data panel")
        expect(panel.get_by_role("button", name="Data")).to_have_attribute("aria-expanded", "true")
        results = panel.get_by_role("tab", name="Results")
        expect(results).to_have_attribute("aria-selected", "true")
        expect(panel.get_by_role("tabpanel").get_by_role("table")).to_be_visible()
        assert panel.get_by_role("tab", name="SQL").get_attribute("aria-controls") == (
            panel.get_by_role("tabpanel").get_attribute("id")
        )
        open_sql_tab(page)
        viewer = page.get_by_role("tabpanel").locator("pre[aria-label='SQL query'] > code")
        assert viewer.text_content() == LONG_SQL
        results.click()
        expect(page.get_by_role("tabpanel").get_by_role("table")).to_be_visible()
        expect(page.locator("pre[aria-label='SQL query']")).to_have_count(0)


def test_short_link_redirects_to_the_explore_with_extra_params(
    browser: Browser, looker: LookerSandbox
) -> None:
    qid = looker.add_query(SMALL_SQL, title="Via short link")
    slug = looker.add_short_link(qid)
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.short_url(slug))
        assert page.url == looker.explore_url(qid, toggle="dat,sql")
        expect(page.get_by_role("heading", name="Via short link")).to_be_visible()
        open_rendered(page, looker.short_url("nosuchslug"))
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_look_has_a_collapsed_data_panel(browser: Browser, looker: LookerSandbox) -> None:
    look = looker.add_look(looker.add_query(SMALL_SQL), title="Weekly pumping look")
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.look_url(look))
        expect(page.get_by_role("heading", name="Weekly pumping look")).to_be_visible()
        data = page.get_by_role("button", name="Data")
        expect(data).to_have_attribute("aria-expanded", "false")
        expect(page.get_by_role("tab", name="SQL")).to_have_count(0)
        data.click()
        expect(data).to_have_attribute("aria-expanded", "true")
        open_sql_tab(page)
        assert page.locator("pre[aria-label='SQL query']").text_content() == SMALL_SQL


def test_dashboard_has_tiles_but_no_data_panel(browser: Browser, looker: LookerSandbox) -> None:
    dashboard = looker.add_dashboard("Pumping overview")
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.dashboard_url(dashboard))
        expect(page.get_by_role("heading", name="Pumping overview", exact=True)).to_be_visible()
        expect(page.locator(".tile")).to_have_count(3)
        expect(page.get_by_role("region", name="Data panel")).to_have_count(0)
        expect(page.get_by_role("tab", name="SQL")).to_have_count(0)


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        (
            "/explore/revenue/counters_by_billable_item?qid=AAAAAAAAAAAAAAAAAAAAAA",
            "Query not found",
        ),
        ("/looks/999", "Not found"),
        ("/dashboards/999", "Not found"),
        ("/somewhere/else", "Not found"),
    ],
)
def test_unknown_pages(browser: Browser, looker: LookerSandbox, path: str, heading: str) -> None:
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.base_url + path)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.get_by_role("region", name="Data panel")).to_have_count(0)


def test_editor_is_virtualised_and_reads_back_exactly(
    browser: Browser, editor_looker: LookerSandbox
) -> None:
    qid = editor_looker.add_query(LONG_SQL)
    with signed_in(browser, editor_looker) as page:
        open_rendered(page, editor_looker.explore_url(qid))
        open_sql_tab(page)
        editor = page.get_by_role("textbox", name="SQL query")
        expect(editor).to_have_attribute("aria-readonly", "true")
        rows = page.locator(".CodeMirror-row")
        assert 10 <= rows.count() < LONG_LINES // 4
        expect(rows.first.locator(".CodeMirror-linenumber")).to_have_text("1")
        assert page.locator(".CodeMirror-code .cm-keyword").count() > 0
        assert (
            page.locator(".CodeMirror-code .cm-comment").first.text_content()
            == (LONG_SQL.splitlines()[0])
        )
        assert editor.evaluate("e => e.CodeMirror.getValue()") == LONG_SQL
        assert read_editor_rows(page) == LONG_SQL
        assert rows.count() < LONG_LINES // 4  # still virtualised at the bottom
        assert page.locator(".CodeMirror-scroll").evaluate("e => e.scrollTop") > 0


def test_editor_without_model_still_reads_by_rows(browser: Browser) -> None:
    with LookerSandbox(viewer="editor", expose_editor_model=False, render_delay_ms=0) as sandbox:
        qid = sandbox.add_query(LONG_SQL)
        with signed_in(browser, sandbox) as page:
            open_rendered(page, sandbox.explore_url(qid))
            open_sql_tab(page)
            editor = page.locator(".CodeMirror")
            assert editor.evaluate("e => 'CodeMirror' in e") is False
            assert read_editor_rows(page) == LONG_SQL


def test_expired_session_sends_the_next_navigation_to_the_idp(
    browser: Browser, looker: LookerSandbox
) -> None:
    qid = looker.add_query(SMALL_SQL)
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.explore_url(qid))
        looker.expire_sessions()
        page.goto(looker.explore_url(qid))
        expect(page.get_by_role("heading", name="Sign in to Acme SSO")).to_be_visible()
        assert page.url.startswith(looker.idp_url)


def test_api_401_while_open_sends_the_spa_to_login(browser: Browser, looker: LookerSandbox) -> None:
    qid = looker.add_query(SMALL_SQL)
    with signed_in(browser, looker) as page:
        open_rendered(page, looker.explore_url(qid))
        looker.expire_sessions()
        looker.reset_requests()
        page.get_by_role("tab", name="SQL").click()
        expect(page.get_by_role("heading", name="Sign in to Acme SSO")).to_be_visible()
        app = looker.base_url.removeprefix("http://")
        assert Request(app, "GET", f"/api/internal/queries/{qid}/sql", 401) in looker.requests
        login = next(r for r in looker.requests if r.path.startswith("/login?"))
        assert "return_to=%2Fexplore%2Frevenue%2Fcounters_by_billable_item%3Fqid%3D" in login.path


def test_storage_state_is_fresh_per_call(looker: LookerSandbox) -> None:
    issued = looker.sessions_issued
    first, second = looker.storage_state(), looker.storage_state()
    assert looker.sessions_issued == issued + 2
    assert first["cookies"][0]["value"] != second["cookies"][0]["value"]
    assert first["cookies"][0]["httpOnly"] is True
    status, _, _ = http_get(f"{looker.base_url}/browse", session_cookie(looker))
    assert status == 200
    status, body, _ = http_get(f"{looker.base_url}/api/internal/page?path=/browse")
    assert (status, body) == (401, '{"error": "session_expired"}')


def test_sessions_also_expire_on_the_server_after_their_ttl() -> None:
    with LookerSandbox(session_ttl_seconds=0) as sandbox:
        status, _, headers = http_get(f"{sandbox.base_url}/browse", session_cookie(sandbox))
    assert (status, headers["Location"]) == (302, "/login?return_to=%2Fbrowse")


def test_fail_next_and_slow_next(browser: Browser, looker: LookerSandbox) -> None:
    qid = looker.add_query(SMALL_SQL, title="Flaky")
    with signed_in(browser, looker) as page:
        looker.fail_next(1, status=503)
        open_rendered(page, looker.explore_url(qid))
        expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")
        looker.slow_next(1, 600)
        page.goto(looker.explore_url(qid))
        page.wait_for_timeout(300)
        expect(page.locator("main")).to_have_attribute("aria-busy", "true")
        expect(page.get_by_role("progressbar", name="Loading")).to_be_visible()
        expect(page.get_by_role("heading", name="Flaky")).to_be_visible()
        expect(page.get_by_role("progressbar")).to_have_count(0)
        looker.fail_next()
        page.get_by_role("tab", name="SQL").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Something went wrong")


def test_add_redirect_points_anywhere(looker: LookerSandbox) -> None:
    looker.add_redirect("/go/elsewhere", "https://evil.example.com/x")
    looker.reset_requests()
    status, _, headers = http_get(f"{looker.base_url}/go/elsewhere")
    assert (status, headers["Location"]) == (302, "https://evil.example.com/x")
    app = looker.base_url.removeprefix("http://")
    assert looker.requests == [Request(app, "GET", "/go/elsewhere", 302)]


def test_qids_are_looker_like_and_deterministic() -> None:
    first, second = LookerSandbox(), LookerSandbox()
    qids = [first.add_query(f"select {n}") for n in range(3)]
    assert qids == [second.add_query("other") for _ in range(3)]
    assert len(set(qids)) == 3
    alphabet = set(string.ascii_letters + string.digits)
    assert all(len(q) == 22 and set(q) <= alphabet for q in qids)
