"""The scraper against the local Looker in real Chromium: every page kind, both viewer styles.

The SQL read must equal the served query exactly, and each failure must come back typed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.sync_api import Playwright

from bot.links import LinkKind, LookerLink, classify
from sandbox.looker import LookerSandbox
from scraper.session import LookerBrowser
from worker.errors import (
    BlockedRequest,
    LookerUnavailable,
    QueryNotFound,
    SessionExpired,
    UnsupportedPage,
)
from worker.settings import LookerPolicy, Settings

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


def settings_for(looker: LookerSandbox, tmp_path: Path) -> Settings:
    return Settings(
        looker_base_url=looker.base_url,
        data_dir=tmp_path,
        looker=replace(LookerPolicy(), navigation_timeout_ms=8000, element_timeout_ms=5000),
    )


def link(url: str) -> LookerLink:
    return LookerLink(url, classify(url))


@pytest.fixture(scope="module", params=["pre", "editor", "editor-no-model"])
def looker(request: pytest.FixtureRequest) -> Iterator[LookerSandbox]:
    viewer = "pre" if request.param == "pre" else "editor"
    with LookerSandbox(
        viewer=viewer, expose_editor_model=request.param != "editor-no-model", render_delay_ms=50
    ) as sandbox:
        yield sandbox


@pytest.fixture
def browser(
    looker: LookerSandbox, playwright: Playwright, tmp_path: Path
) -> Iterator[LookerBrowser]:
    with LookerBrowser(
        settings_for(looker, tmp_path), looker.storage_state(), playwright=playwright
    ) as scraper:
        yield scraper


def test_every_readable_link_form_gives_the_exact_query(
    looker: LookerSandbox, browser: LookerBrowser
) -> None:
    qid = looker.add_query(LONG_SQL)
    urls = {
        LinkKind.EXPLORE: looker.explore_url(qid, toggle="dat,sql", vis="{}"),
        LinkKind.SHORT: looker.short_url(looker.add_short_link(qid)),
        LinkKind.LOOK: looker.look_url(looker.add_look(qid)),
    }
    for kind, url in urls.items():
        assert classify(url) is kind
        scraped = browser.read_sql(link(url))
        assert scraped.sql == LONG_SQL, kind
    # Nothing outside the Looker app was contacted with the session.
    assert {r.host for r in looker.requests} <= {looker.base_url.split("//")[1]}


def test_pages_without_sql_fail_typed(looker: LookerSandbox, browser: LookerBrowser) -> None:
    dashboard = looker.dashboard_url(looker.add_dashboard())
    with pytest.raises(UnsupportedPage, match="dashboard") as unsupported:
        browser.read_sql(link(dashboard))
    assert unsupported.value.url == dashboard
    missing = (
        f"{looker.base_url}/explore/revenue/counters_by_billable_item?qid=AAAAAAAAAAAAAAAAAAAAAA"
    )
    with pytest.raises(QueryNotFound, match="Query not found"):
        browser.read_sql(link(missing))
    looker.fail_next(1, 503)
    with pytest.raises(LookerUnavailable):
        browser.read_sql(link(looker.explore_url(looker.add_query("SELECT 1"))))


def test_an_expired_session_is_recognised(
    looker: LookerSandbox, playwright: Playwright, tmp_path: Path
) -> None:
    state = looker.storage_state()
    qid = looker.add_query("SELECT 'Authy' AS product")
    looker.expire_sessions()
    looker.reset_requests()
    with (
        LookerBrowser(settings_for(looker, tmp_path), state, playwright=playwright) as scraper,
        pytest.raises(SessionExpired),
    ):
        scraper.read_sql(link(looker.explore_url(qid)))
    # The provider's sign-in page was never loaded with the Looker session's browser.
    assert looker.requests, "the link was opened"
    assert not any(r.host.startswith("localhost") for r in looker.requests)


def test_redirects_and_links_off_the_looker_origin_are_blocked(
    looker: LookerSandbox, browser: LookerBrowser
) -> None:
    looker.add_redirect("/explore/revenue/leak", "http://localhost:9/steal?cookie=1")
    looker.reset_requests()
    with pytest.raises(BlockedRequest, match="redirected outside Looker"):
        browser.read_sql(link(f"{looker.base_url}/explore/revenue/leak?qid=abc"))
    lookalike = looker.base_url.replace("127.0.0.1", "127.0.0.1.nip.io")
    with pytest.raises(BlockedRequest):
        browser.read_sql(link(f"{lookalike}/explore/revenue/x?qid=abc"))
    assert "http://localhost:9/steal?cookie=1" in browser.blocked


def test_a_failed_link_leaves_an_owner_only_trace_and_screenshot(
    looker: LookerSandbox, browser: LookerBrowser, tmp_path: Path
) -> None:
    with pytest.raises(QueryNotFound) as failed:
        browser.read_sql(link(f"{looker.base_url}/explore/revenue/v?qid=BBBBBBBBBBBBBBBBBBBBBB"))
    trace = Path(str(failed.value.context["trace"]))
    assert trace.suffix == ".zip" and trace.stat().st_size > 1000
    assert trace.stat().st_mode & 0o077 == 0
    shots = list(trace.parent.glob("*.png"))
    assert shots and all(s.stat().st_mode & 0o077 == 0 for s in shots)
