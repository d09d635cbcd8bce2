"""The SQL read out of the real editors, not imitations of them: Ace, CodeMirror 5, CodeMirror 6
and Monaco as their own releases draw them (`tests/real_editors/vendor/`, see its `build.sh`),
on a Looker-like page written apart from the sandbox's skins, with the default settings.

Each editor holds a 400-line query in a box that shows about twenty lines, so each draws only
some of it; the query read must be the whole one, exactly. Monaco is tried twice: with the
`window.monaco` global its AMD build sets, and bundled into an app that exposes nothing (it is
then copied, as a person would: select all, copy). Copying is also tried on each engine alone,
since it is what any editor whose model cannot be reached relies on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import async_playwright

from core.policies import LookerPolicy
from core.urls import LookerLink, classify
from scraper.browser import launch_options
from scraper.loop import run_once
from scraper.session import LookerBrowser
from scraper.sql_viewer import copy_text

HERE = Path(__file__).parent / "real_editors"
# What breaks naive readers: <>, &, quotes, tabs, trailing spaces, blank lines, long lines.
SQL = "\n".join(
    ["WITH spend AS (", '  SELECT account_sid, SUM(cost_usd) AS "cost"  -- fraud & abuse', ")"]
    + [
        f"SELECT {i} AS c{i}, 'x < y & z > w' AS s{i},\t'{'wide ' * (i % 40)}' FROM spend"
        f"{' UNION ALL' if i < 389 else ''}{'  ' if i % 7 == 0 else ''}"
        + ("\n" if i % 50 == 0 else "")
        for i in range(390)
    ]
)
ENGINES = {  # the engine named in the page's URL -> how the scraper must have read it
    "ace": "ace model",
    "codemirror5": "codemirror5 model",
    "codemirror6": "codemirror6 model",
    "monaco-global": "monaco model",
    "monaco": "monaco copied",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path.startswith("/explore/"):
            self._send((HERE / "explore.html").read_bytes(), "text/html")
        elif parts.path == "/api/sql" and parse_qs(parts.query).get("qid") == ["q1"]:
            self._send(SQL.encode(), "text/plain; charset=utf-8")
        elif parts.path.startswith("/vendor/") and "/.." not in parts.path:
            kind = "text/css" if parts.path.endswith(".css") else "text/javascript"
            self._send((HERE / parts.path.lstrip("/")).read_bytes(), kind)
        else:
            self._send(b"not found", "text/plain", 404)

    def _send(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def looker() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(looker: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LookerBrowser]:
    policy = LookerPolicy(base_url=looker)
    with LookerBrowser(policy, None, artifacts_dir=tmp_path_factory.mktemp("traces")) as scraper:
        yield scraper


@pytest.mark.parametrize("engine", list(ENGINES))
def test_a_real_editor_gives_the_whole_query(
    engine: str, looker: str, browser: LookerBrowser
) -> None:
    url = f"{looker}/explore/revenue/counters_by_billable_item?qid=q1&engine={engine}"
    scraped = browser.read_sql(LookerLink(url, classify(url)))
    assert scraped.sql == SQL
    assert ENGINES[engine] in scraped.strategy, scraped.strategy


@pytest.mark.parametrize("engine", ["ace", "codemirror5", "codemirror6", "monaco"])
def test_copying_a_real_editor_gives_the_whole_query(engine: str, looker: str) -> None:
    async def copy() -> tuple[str, str | None]:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(**launch_options(playwright))
            page = await browser.new_page()
            await page.goto(f"{looker}/explore/m/v?qid=q1&engine={engine}")
            await page.get_by_text("SQL", exact=True).click()
            viewer = page.locator(".ace_editor, .CodeMirror, .cm-editor, .monaco-editor")
            lines = viewer.locator(".ace_line, .CodeMirror-line, .cm-line, .view-line")
            await lines.filter(visible=True).first.wait_for()
            policy = LookerPolicy(base_url=looker)
            reading = await copy_text(page, viewer.first, policy, engine)
            await browser.close()
            assert reading is not None, "the editor's copy handler gave nothing"
            return reading.method, reading.text

    method, text = run_once(copy())
    assert method == "copied"
    assert text == SQL
