"""The scraper in real Chromium against every page kind of the local Looker, drawn in every
skin (accessible, classic Angular with Ace, bare divs with CodeMirror 6 or Monaco; editors with
and without an exposed text model), with the default settings and no TOML.

The skins were written apart from the scraper, from how real Looker and real editors draw. The
SQL read must equal the served query exactly, and each failure must come back typed.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import (
    BlockedRequest,
    CreditBotError,
    LookerUnavailable,
    QueryNotFound,
    SessionExpired,
    SqlNotFound,
    UnsafeSQL,
    UnsupportedPage,
)
from core.policies import LookerPolicy, Selector
from core.urls import LinkKind, LookerLink, classify
from sandbox.looker import LookerSandbox
from scraper.explain import Explanation
from scraper.session import LookerBrowser

# 60 lines with what breaks naive scrapers: <>, &, quotes, comments, blank lines, indentation.
LONG_SQL = "\n".join(
    [
        "-- sql for creating the total and/or determining pivot columns",
        "WITH spend AS (",
        '  SELECT account_sid, SUM(cost_usd) AS "cost"  -- fraud & abuse',
        "  FROM usage WHERE item <> 'Authy Verify SMS' AND note = 'it''s <b>'",
        ")",
        "",
    ]
    + [f"SELECT {i} AS \"c{i}\", 'x < y & z > w' AS s{i} FROM spend UNION ALL" for i in range(52)]
    + ["", "SELECT 0, '' FROM spend", "LIMIT 500"]
)

SKINS = {
    "accessible-pre": {"skin": "accessible", "viewer": "pre"},
    "accessible-cm5": {"skin": "accessible", "viewer": "editor"},
    "accessible-cm5-no-model": {
        "skin": "accessible",
        "viewer": "editor",
        "expose_editor_model": False,
    },
    "classic-ace": {"skin": "classic"},
    "classic-ace-no-model": {"skin": "classic", "expose_editor_model": False},
    "bare-cm6": {"skin": "bare", "editor": "cm6"},
    "bare-cm6-no-model": {"skin": "bare", "editor": "cm6", "expose_editor_model": False},
    "bare-monaco": {"skin": "bare", "editor": "monaco"},
    "bare-monaco-no-model": {"skin": "bare", "editor": "monaco", "expose_editor_model": False},
}
# How each skin's viewer can be read: from its engine's model, or only by scrolling.
READER = {
    "accessible-pre": "pre text",
    "accessible-cm5": "codemirror5 model",
    "accessible-cm5-no-model": "codemirror5 scrolled",
    "classic-ace": "ace model",
    "classic-ace-no-model": "ace scrolled",
    "bare-cm6": "codemirror6 model",
    "bare-cm6-no-model": "codemirror6 scrolled",
    "bare-monaco": "monaco model",
    "bare-monaco-no-model": "monaco scrolled",
}


def browser_for(
    looker: LookerSandbox, tmp_path: Path, state: dict | None = None, **policy: object
) -> LookerBrowser:
    """No TOML: the scraper's defaults, as a desk pointing CreditBot at its Looker gets them."""
    return LookerBrowser(
        LookerPolicy(base_url=looker.base_url, **policy),  # type: ignore[arg-type]
        state or looker.storage_state(),
        artifacts_dir=tmp_path / "traces",
    )


def link(url: str) -> LookerLink:
    return LookerLink(url, classify(url))


@pytest.fixture(scope="module", params=list(SKINS))
def skin(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def looker(skin: str) -> Iterator[LookerSandbox]:
    with LookerSandbox(render_delay_ms=30, **SKINS[skin]) as sandbox:  # type: ignore[arg-type]
        yield sandbox


@pytest.fixture(scope="module")
def browser(
    looker: LookerSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LookerBrowser]:
    with browser_for(looker, tmp_path_factory.mktemp("scrape")) as scraper:
        yield scraper


def test_every_readable_link_form_gives_the_exact_query(
    skin: str, looker: LookerSandbox, browser: LookerBrowser
) -> None:
    qid = looker.add_query(LONG_SQL)
    urls = {
        LinkKind.EXPLORE: looker.explore_url(qid, toggle="dat,sql", vis="{}"),
        LinkKind.SHORT: looker.short_url(looker.add_short_link(qid)),
        LinkKind.LOOK: looker.look_url(looker.add_look(qid)),  # opens with Data collapsed
    }
    for kind, url in urls.items():
        assert classify(url) is kind
        scraped = browser.read_sql(link(url))
        assert scraped.sql == LONG_SQL, (skin, kind)
        assert READER[skin] in scraped.strategy, scraped.strategy
    # Nothing outside the Looker app was contacted with the session.
    assert {r.host for r in looker.requests} <= {looker.base_url.split("//")[1]}


def test_pages_without_sql_fail_typed_and_fast(
    looker: LookerSandbox, browser: LookerBrowser
) -> None:
    dashboard = looker.add_dashboard()
    with pytest.raises(UnsupportedPage, match="dashboard") as refused:
        browser.read_sql(link(looker.dashboard_url(dashboard)))
    assert refused.value.url == looker.dashboard_url(dashboard)
    # A link that does not look like a dashboard but opens one is recognised on the page.
    disguised = looker.short_url(looker.add_short_link_to_path(f"/dashboards/{dashboard}"))
    with pytest.raises(UnsupportedPage, match="dashboard"):
        browser.read_sql(link(disguised))
    started = time.monotonic()
    missing = f"{looker.base_url}/explore/revenue/counters_by_billable_item?qid={'A' * 22}"
    with pytest.raises(QueryNotFound, match="Query not found"):
        browser.read_sql(link(missing))
    with pytest.raises(QueryNotFound, match="Not found"):
        browser.read_sql(link(looker.look_url(999)))
    looker.fail_next(1, 503)
    with pytest.raises(LookerUnavailable, match="Something went wrong"):
        browser.read_sql(link(looker.explore_url(looker.add_query("SELECT 1"))))
    assert time.monotonic() - started < 15, "each recognised in seconds, not at the timeout"


def test_an_expired_session_is_recognised(looker: LookerSandbox, tmp_path: Path) -> None:
    state = looker.storage_state()
    qid = looker.add_query("SELECT 'Authy' AS product")
    looker.expire_sessions()
    looker.reset_requests()
    with (
        browser_for(looker, tmp_path, state) as scraper,
        pytest.raises(SessionExpired),
    ):
        scraper.read_sql(link(looker.explore_url(qid)))
    # The provider's sign-in page was never loaded with the Looker session's browser.
    assert looker.requests, "the link was opened"
    assert not any(r.host.startswith("localhost") for r in looker.requests)


# --- what does not depend on the skin ---------------------------------------------------------


@pytest.fixture(scope="module")
def classic() -> Iterator[LookerSandbox]:
    with LookerSandbox(skin="classic", render_delay_ms=30) as sandbox:
        yield sandbox


def test_a_page_with_nothing_readable_fails_in_seconds_and_says_what_it_saw(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    home = classic.short_url(classic.add_short_link_to_path("/browse"))
    explain = Explanation(home)
    started = time.monotonic()
    with (
        browser_for(classic, tmp_path, settle_ms=1500) as b,
        pytest.raises(SqlNotFound) as failed,
    ):
        b.read_sql(link(home), explain)
    assert failed.value.transient, "retried on later cycles, like any passing failure"
    assert time.monotonic() - started < 10, "not the 30 s navigation timeout"
    report = explain.render()
    assert "what the page showed:" in report and "custom elements: lk-" in report
    assert any(f.endswith(".png") for f in explain.files) and explain.survey is not None


def test_hints_are_tried_first_and_a_wrong_one_costs_nothing(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    qid = classic.add_query(LONG_SQL)
    hints = {
        "sql_tab": (Selector("css", ".no-such-tab"),),
        "sql_viewer": (Selector("css", "lk-sql-view .ace_editor"),),
    }
    with browser_for(classic, tmp_path, hints=hints) as b:
        scraped = b.read_sql(link(classic.explore_url(qid)))
    assert scraped.sql == LONG_SQL
    assert "viewer: css='lk-sql-view .ace_editor' (configured)" in scraped.strategy
    assert "SQL tab: clicked text='SQL' (built-in)" in scraped.strategy


def test_selectors_of_any_form_reach_the_editor_and_a_wrong_scroller_cannot_cut_it_short(
    tmp_path: Path,
) -> None:
    """Every selector goes through one locator function: a role or label hint for an editor
    part works like CSS. A hinted "scroller" that does not scroll the editor (here the editor's
    labelled frame) claims the bottom at once; the wheel must prove it, or the query would end
    after its first screen."""
    hints = {
        "editor_scroller": (Selector("label", "SQL query"),),
        "editor_line": (Selector("css", "pre.CodeMirror-line"),),
    }
    with LookerSandbox(viewer="editor", expose_editor_model=False, render_delay_ms=30) as lk:
        qid = lk.add_query(LONG_SQL)
        with browser_for(lk, tmp_path, hints=hints) as b:
            assert b.read_sql(link(lk.explore_url(qid))).sql == LONG_SQL


def test_a_query_shown_that_is_not_read_only_is_reported_as_such(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    delete = classic.add_query("DELETE FROM accounts WHERE note = 'authy'")
    with (
        browser_for(classic, tmp_path) as b,
        pytest.raises(UnsafeSQL, match="DELETE statement"),
    ):
        b.read_sql(link(classic.explore_url(delete)))


def test_redirects_and_links_off_the_looker_origin_are_blocked(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    classic.add_redirect("/explore/revenue/leak", "http://localhost:9/steal?cookie=1")
    with browser_for(classic, tmp_path) as b:
        with pytest.raises(BlockedRequest, match="redirected outside Looker"):
            b.read_sql(link(f"{classic.base_url}/explore/revenue/leak?qid=abc"))
        lookalike = classic.base_url.replace("127.0.0.1", "127.0.0.1.nip.io")
        with pytest.raises(BlockedRequest):
            b.read_sql(link(f"{lookalike}/explore/revenue/x?qid=abc"))
        assert "http://localhost:9/steal?cookie=1" in b.blocked


def test_a_failed_link_leaves_an_owner_only_trace_and_screenshot(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    with (
        browser_for(classic, tmp_path) as b,
        pytest.raises(QueryNotFound) as failed,
    ):
        b.read_sql(link(f"{classic.base_url}/explore/revenue/v?qid={'B' * 22}"))
    trace = Path(str(failed.value.context["trace"]))
    assert trace.suffix == ".zip" and trace.stat().st_size > 1000
    assert trace.stat().st_mode & 0o077 == 0
    shots = list(trace.parent.glob("*.png"))
    assert shots and all(s.stat().st_mode & 0o077 == 0 for s in shots)


def test_a_kept_trace_still_shows_the_requests_but_not_the_session(
    classic: LookerSandbox, tmp_path: Path
) -> None:
    """The trace is for a person debugging a page: every request is in it, with its headers,
    but the session cookie is not (a trace passed around would hand over the desk's session),
    even where a URL carried it."""
    state = classic.storage_state()
    cookie = state["cookies"][0]["value"]
    url = f"{classic.base_url}/explore/revenue/v?qid={'C' * 22}&echo={cookie}"
    with browser_for(classic, tmp_path, state) as b, pytest.raises(QueryNotFound) as failed:
        b.read_sql(link(url))
    trace = Path(str(failed.value.context["trace"]))
    assert trace.stat().st_mode & 0o077 == 0
    with zipfile.ZipFile(trace) as kept:
        entries = {name: kept.read(name) for name in kept.namelist()}
    assert not [name for name, data in entries.items() if cookie.encode() in data]
    network = [
        json.loads(line)["snapshot"]
        for name, data in entries.items()
        if name.endswith(".network")
        for line in data.splitlines()
    ]
    page = [n for n in network if "/explore/revenue/v" in n["request"]["url"]]
    assert page, "the page's own request is still in the trace"
    headers = {h["name"].lower(): h["value"] for h in page[0]["request"]["headers"]}
    assert headers["cookie"] == "[redacted]"
    assert "user-agent" in headers, "only the secret headers are blanked"
    assert b"[redacted]" in entries["trace.trace"], "the URL that carried it, in the actions"
    names = [f.name for f in trace.parent.iterdir()]
    assert all("-echo--redacted" in name for name in names), names
    assert not [n for n in names if _slugged(cookie)[:6] in n], "nor in the files' names"


def _slugged(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text)


def test_a_request_of_the_page_that_looker_redirects_elsewhere_never_leaves(
    skin: str, looker: LookerSandbox, browser: LookerBrowser
) -> None:
    """Not only navigations: the page's own fetch of its SQL, answered with a redirect to
    another origin, is not followed there. That hop never comes back through `route`; the
    browser fails it (net::ERR_FAILED) because the first request was routed, which this pins:
    without the guard's route the other origin is reached."""
    qid = looker.add_query("SELECT 'Authy' AS product")
    looker.add_redirect(f"/api/internal/queries/{qid}/sql", f"{looker.idp_url}/collect?c=1")
    looker.reset_requests()
    with pytest.raises(CreditBotError):  # the page shows its error: no SQL, no credit
        browser.read_sql(link(looker.explore_url(qid)))
    assert any(r.path.startswith(f"/api/internal/queries/{qid}/sql") for r in looker.requests)
    assert not [r for r in looker.requests if r.host.startswith("localhost")]
