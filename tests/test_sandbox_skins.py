"""Each skin of the local Looker draws what it claims, read with raw Playwright: the classic
AngularJS shapes with an Ace editor, the bare SPA with a CodeMirror 6 or Monaco model, and every
page kind (dashboards, not-found, faults, expiry) in every skin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser, Page, expect

from sandbox.looker import LookerSandbox
from tests.test_sandbox_looker import (
    LONG_LINES,
    LONG_SQL,
    SMALL_SQL,
    http_get,
    session_cookie,
    signed_in,
)

LAST_LINE = LONG_SQL.splitlines()[-1]
SKIN_ARGS = {
    "accessible": {"skin": "accessible"},
    "classic": {"skin": "classic"},
    "cm6": {"skin": "bare", "editor": "cm6"},
    "monaco": {"skin": "bare", "editor": "monaco"},
}
# The title each skin shows once a page is drawn, found the way a person would: by its text.
PROBLEMS = {
    "/explore/revenue/counters_by_billable_item?qid=AAAAAAAAAAAAAAAAAAAAAA": "Query not found",
    "/looks/999": "Not found",
    "/somewhere/else": "Not found",
}
ACE = "lk-sql-view .ace-editor-container .ace_editor"


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[dict[str, LookerSandbox]]:
    """One running sandbox per skin (and bare editor), shared by the module."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                LookerSandbox(**args, render_delay_ms=20, editor_visible_lines=10)
            )
            for name, args in SKIN_ARGS.items()
        }


@pytest.fixture(scope="module")
def hidden_models() -> Iterator[dict[str, LookerSandbox]]:
    """Classic and bare sandboxes whose editors keep their models to themselves."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                LookerSandbox(
                    **SKIN_ARGS[name],
                    expose_editor_model=False,
                    render_delay_ms=0,
                    editor_visible_lines=10,
                )
            )
            for name in ("classic", "cm6", "monaco")
        }


def open_classic(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("div.lk-page > .lk-spinner-block")).to_have_count(0)


def classic_sql_tab(page: Page) -> None:
    page.locator("lk-data-pane .titlebar").get_by_text("SQL", exact=True).click()
    expect(page.locator(ACE)).to_be_visible()
    expect(page.locator(".lk-spinner-block")).to_have_count(0)


def open_bare(page: Page, url: str, title: str) -> None:
    page.goto(url)
    expect(page.get_by_text(title, exact=True).first).to_be_visible()


def read_ace_rows(page: Page) -> str:
    """Scroll Ace's own scrollbar top to bottom, collecting drawn rows by their gutter number."""
    collected: dict[int, str] = {}
    bar = page.locator(".ace_scrollbar-v")
    step = bar.evaluate("e => e.clientHeight") // 2
    top = 0
    while True:
        rows, at_end = bar.evaluate(
            """async (e, y) => {
                e.scrollTop = y;
                for (let i = 0; i < 3; i++) await new Promise((r) => requestAnimationFrame(r));
                const editor = e.closest(".ace_editor");
                const cells = [...editor.querySelectorAll(".ace_gutter-cell")];
                const lines = [...editor.querySelectorAll(".ace_line")];
                return [cells.map((c, i) => [Number(c.textContent), lines[i].textContent]),
                    e.scrollTop + e.clientHeight >= e.scrollHeight - 1];
            }""",
            top,
        )
        collected.update(dict(rows))
        if at_end:
            return "\n".join(collected[n] for n in range(1, len(collected) + 1))
        top += step


# -- first HTML ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SKIN_ARGS)
def test_first_html_never_carries_the_query(sandboxes: dict[str, LookerSandbox], name: str) -> None:
    sandbox = sandboxes[name]
    qid = sandbox.add_query(SMALL_SQL, title="Shell check")
    status, body, _ = http_get(sandbox.explore_url(qid), session_cookie(sandbox))
    assert status == 200
    assert "dual" not in body and "Shell check" not in body
    if name == "classic":
        assert '<div class="lk-page" ng-view><div class="lk-spinner-block">' in body
    if SKIN_ARGS[name]["skin"] == "bare":
        assert '<body><div id="root"></div><script' in body
        assert not re.search(r"\b(role|aria-[a-z]+)=", body)


# -- classic -----------------------------------------------------------------------------------


def test_classic_explore_has_angular_panes_and_no_aria_tabs(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    classic = sandboxes["classic"]
    qid = classic.add_query(LONG_SQL, title="Classic long query")
    with signed_in(browser, classic) as page:
        open_classic(page, classic.explore_url(qid))
        expect(page.locator("lk-explore-dataflux .explore-header-title")).to_have_text(
            "Classic long query"
        )
        assert page.title() == "Classic long query - Looker"
        titlebar = page.locator("lk-explore-content lk-data-pane lk-expandable-pane > .titlebar")
        expect(titlebar).to_have_class(re.compile(r"\bopen\b"))
        expect(
            page.locator("lk-data-pane expandable-pane-content lk-data-table tbody tr")
        ).to_have_count(3)
        assert page.locator("[role=tab], [aria-selected], h1").count() == 0
        # Filters and Visualization are collapsed panes too: `.open` belongs to Data alone.
        expect(page.locator("lk-expandable-pane > .titlebar.open")).to_have_count(1)

        classic.slow_next(1, 500)
        titlebar.get_by_text("SQL", exact=True).click()
        expect(page.locator("expandable-pane-content .lk-spinner-block")).to_be_visible()
        classic_sql_tab(page)
        tools = page.locator("lk-sql-view .sql-view-tools button")
        expect(tools).to_have_text(["Open in SQL Runner", "Explain in SQL Runner"])

        editor = page.locator(ACE)
        lines = editor.locator(".ace_scroller .ace_content .ace_text-layer > .ace_line")
        assert 10 <= lines.count() < LONG_LINES // 4
        expect(
            editor.locator(".ace_gutter .ace_gutter-layer > .ace_gutter-cell").first
        ).to_have_text("1")
        assert editor.locator(".ace_line .ace_keyword").count() > 0
        assert editor.locator("textarea.ace_text-input").count() == 1
        assert editor.evaluate("e => ace.edit(e).getValue()") == LONG_SQL
        assert editor.evaluate("e => e.env.editor.getValue()") == LONG_SQL
        assert editor.evaluate("e => ace.edit(e) === e.env.editor") is True
        assert editor.evaluate(
            "e => [e.env.editor.session.getLength(), e.env.editor.session.getLine(2)]"
        ) == [LONG_LINES, LONG_SQL.splitlines()[2]]


def test_classic_ace_scrolls_by_its_scrollbar_and_draws_only_rows_in_view(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    classic = sandboxes["classic"]
    with signed_in(browser, classic) as page:
        open_classic(page, classic.explore_url(classic.add_query(LONG_SQL)))
        classic_sql_tab(page)
        page.locator(".ace_scrollbar-v").evaluate("e => { e.scrollTop = e.scrollHeight; }")
        expect(page.locator(".ace_text-layer > .ace_line").last).to_have_text(LAST_LINE)
        expect(page.locator(".ace_gutter-cell").last).to_have_text(str(LONG_LINES))
        assert page.locator(".ace_line").count() < LONG_LINES // 4
        assert read_ace_rows(page) == LONG_SQL


def test_classic_ace_edit_behaves_like_ace_on_other_elements(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    classic = sandboxes["classic"]
    with signed_in(browser, classic) as page:
        open_classic(page, classic.explore_url(classic.add_query(SMALL_SQL)))
        made = page.evaluate(
            """() => {
                const div = document.createElement("div");
                div.textContent = "select 2";
                document.body.append(div);
                const editor = ace.edit(div);
                let missing = "";
                try { ace.edit("no-such-id"); } catch (e) { missing = e.message; }
                return [editor.getValue(), div.classList.contains("ace_editor"), missing];
            }"""
        )
        assert made == ["select 2", True, "ace.edit can't find div #no-such-id"]


def test_classic_without_model_has_only_drawn_rows(
    browser: Browser, hidden_models: dict[str, LookerSandbox]
) -> None:
    classic = hidden_models["classic"]
    with signed_in(browser, classic) as page:
        open_classic(page, classic.explore_url(classic.add_query(LONG_SQL)))
        classic_sql_tab(page)
        assert page.evaluate("() => 'ace' in window") is False
        assert page.locator(ACE).evaluate("e => 'env' in e") is False
        assert read_ace_rows(page) == LONG_SQL


def test_classic_look_opens_with_the_data_pane_collapsed(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    classic = sandboxes["classic"]
    look = classic.add_look(classic.add_query(SMALL_SQL), title="Classic look")
    with signed_in(browser, classic) as page:
        open_classic(page, classic.look_url(look))
        expect(page.locator("lk-look .look-title")).to_have_text("Classic look")
        titlebar = page.locator("lk-data-pane .titlebar")
        expect(titlebar).not_to_have_class(re.compile(r"\bopen\b"))
        expect(page.locator("lk-data-pane .expandable-pane-content-container")).to_be_hidden()
        expect(titlebar.get_by_text("SQL", exact=True)).to_be_hidden()
        titlebar.click()
        expect(titlebar).to_have_class(re.compile(r"\bopen\b"))
        classic_sql_tab(page)
        assert page.locator(ACE).evaluate("e => e.env.editor.getValue()") == SMALL_SQL


# -- bare --------------------------------------------------------------------------------------


def assert_nothing_semantic(page: Page) -> None:
    """No roles, labels or headings anywhere; page classes are CSS-in-JS hashes only."""
    found = page.evaluate(
        """() => {
            const all = [...document.querySelectorAll("*")];
            const aria = all.filter((e) => [...e.attributes].some((a) =>
                a.name === "role" || a.name.startsWith("aria-"))).map((e) => e.outerHTML);
            const headings = document.querySelectorAll("h1,h2,h3,h4,h5,h6").length;
            const editor = ".cm-editor, .cm-editor *, .monaco-editor, .monaco-editor *";
            const classes = all.filter((e) => e.closest("#root") && !e.matches(editor))
                .flatMap((e) => [...e.classList]);
            const named = [...new Set(classes)].filter((c) => !/^css-[0-9a-z]+$/.test(c));
            return [aria, headings, named];
        }"""
    )
    assert found == [[], 0, []]


def test_bare_cm6_exposes_only_its_view_and_draws_a_fraction(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    bare = sandboxes["cm6"]
    qid = bare.add_query(LONG_SQL, title="Bare long query")
    with signed_in(browser, bare) as page:
        open_bare(page, bare.explore_url(qid), "Bare long query")
        assert page.title() == "Bare long query"
        page.get_by_text("SQL", exact=True).click()
        content = page.locator(".cm-editor > .cm-scroller > .cm-content[contenteditable=false]")
        expect(content.locator(".cm-line").first).to_have_text(LONG_SQL.splitlines()[0])
        assert_nothing_semantic(page)
        assert content.evaluate("e => e.cmView.view.state.doc.toString()") == LONG_SQL
        assert content.evaluate("e => e.cmView.view.state.doc.lines") == LONG_LINES
        assert content.locator(".cm-line").count() < LONG_LINES // 4
        expect(content.locator(".cm-gap")).to_have_count(1)
        numbers = page.locator(".cm-gutters > .cm-gutter.cm-lineNumbers > .cm-gutterElement")
        expect(numbers.nth(1)).to_have_text("1")

        page.locator(".cm-scroller").evaluate("e => { e.scrollTop = e.scrollHeight; }")
        expect(content.locator(".cm-line").last).to_have_text(LAST_LINE)
        expect(numbers.last).to_have_text(str(LONG_LINES))
        assert content.locator(".cm-line").count() < LONG_LINES // 4
        expect(content.locator(".cm-gap")).to_have_count(1)


def test_bare_monaco_exposes_only_its_model_and_scrolls_by_wheel(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    bare = sandboxes["monaco"]
    qid = bare.add_query(LONG_SQL, title="Monaco long query")
    with signed_in(browser, bare) as page:
        open_bare(page, bare.explore_url(qid), "Monaco long query")
        page.get_by_text("SQL", exact=True).click()
        editor = page.locator(".monaco-editor > .overflow-guard")
        lines = editor.locator(
            ".monaco-scrollable-element > .lines-content > .view-lines > .view-line"
        )
        expect(lines.first).to_have_text(LONG_SQL.splitlines()[0])
        assert_nothing_semantic(page)
        model = page.evaluate(
            """() => monaco.editor.getModels().map((m) =>
                [m.getValue(), m.getLineCount(), m.getLanguageId()])"""
        )
        assert model == [[LONG_SQL, LONG_LINES, "sql"]]
        assert page.evaluate("() => monaco.editor.getEditors().length") == 0
        assert lines.count() < LONG_LINES // 4
        numbers = editor.locator(".margin > .margin-view-overlays > div > .line-numbers")
        expect(numbers.first).to_have_text("1")

        editor.hover()
        page.mouse.wheel(0, 100_000)
        expect(lines.last).to_have_text(LAST_LINE)
        expect(numbers.last).to_have_text(str(LONG_LINES))
        assert lines.count() < LONG_LINES // 4
        scrollable = editor.locator(".monaco-scrollable-element")
        assert scrollable.evaluate("e => e.scrollTop") == 0

        page.get_by_text("Results", exact=True).click()
        assert page.evaluate("() => monaco.editor.getModels().length") == 0


def test_bare_monaco_takes_over_a_forced_native_scroll(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    bare = sandboxes["monaco"]
    with signed_in(browser, bare) as page:
        open_bare(page, bare.explore_url(bare.add_query(LONG_SQL)), "Counters by billable item")
        page.get_by_text("SQL", exact=True).click()
        scrollable = page.locator(".monaco-scrollable-element")
        scrollable.evaluate("e => { e.scrollTop = 19 * 50; }")
        expect(page.locator(".view-line").first).to_have_text(LONG_SQL.splitlines()[50])
        assert scrollable.evaluate("e => e.scrollTop") == 0


@pytest.mark.parametrize("name", ["cm6", "monaco"])
def test_bare_without_model_hides_it(
    browser: Browser, hidden_models: dict[str, LookerSandbox], name: str
) -> None:
    bare = hidden_models[name]
    with signed_in(browser, bare) as page:
        open_bare(page, bare.explore_url(bare.add_query(LONG_SQL)), "Counters by billable item")
        page.get_by_text("SQL", exact=True).click()
        first = ".cm-line" if name == "cm6" else ".view-line"
        expect(page.locator(first).first).to_have_text(LONG_SQL.splitlines()[0])
        assert page.evaluate("() => 'monaco' in window") is False
        assert page.locator(".cm-content, .view-lines").evaluate("e => 'cmView' in e") is False


def test_bare_look_is_collapsed_and_nothing_shows_while_loading(
    browser: Browser, sandboxes: dict[str, LookerSandbox]
) -> None:
    bare = sandboxes["cm6"]
    look = bare.add_look(bare.add_query(SMALL_SQL), title="Bare look")
    with signed_in(browser, bare) as page:
        bare.slow_next(1, 3000)  # wide enough that a slow goto cannot eat the window
        page.goto(bare.look_url(look))
        page.wait_for_timeout(300)
        assert page.evaluate("() => document.getElementById('root').childElementCount") == 0
        expect(page.get_by_text("Bare look", exact=True)).to_be_visible()
        sql = page.get_by_text("SQL", exact=True)
        expect(sql).to_have_count(0)
        page.get_by_text("Data", exact=True).click()
        sql.click()
        content = page.locator(".cm-content")
        expect(content.locator(".cm-line").first).to_have_text(SMALL_SQL.splitlines()[0])
        assert content.evaluate("e => e.cmView.view.state.doc.toString()") == SMALL_SQL
        page.get_by_text("Data", exact=True).click()
        expect(sql).to_have_count(0)


# -- every skin --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SKIN_ARGS)
def test_dashboard_behind_a_short_link_has_no_sql_tab(
    browser: Browser, sandboxes: dict[str, LookerSandbox], name: str
) -> None:
    sandbox = sandboxes[name]
    dashboard = sandbox.add_dashboard("Skin overview")
    slug = sandbox.add_short_link_to_path(f"/dashboards/{dashboard}")
    with signed_in(browser, sandbox) as page:
        page.goto(sandbox.short_url(slug))
        expect(page.get_by_text("Pumped numbers", exact=True)).to_be_visible()
        assert page.url == sandbox.dashboard_url(dashboard)
        expect(page.get_by_text("Skin overview", exact=True)).to_be_visible()
        expect(page.get_by_text("SQL", exact=True)).to_have_count(0)
        if name == "classic":
            expect(page.locator("lk-dashboard lk-dashboard-element")).to_have_count(3)


@pytest.mark.parametrize("name", SKIN_ARGS)
def test_unknown_pages_and_faults_draw_in_every_skin(
    browser: Browser, sandboxes: dict[str, LookerSandbox], name: str
) -> None:
    sandbox = sandboxes[name]
    with signed_in(browser, sandbox) as page:
        for path, text in PROBLEMS.items():
            page.goto(sandbox.base_url + path)
            expect(page.get_by_text(text, exact=True)).to_be_visible()
            expect(page.get_by_text("SQL", exact=True)).to_have_count(0)
        sandbox.fail_next(1, status=502)
        page.goto(sandbox.explore_url(sandbox.add_query(SMALL_SQL)))
        expect(page.get_by_text("Something went wrong", exact=True)).to_be_visible()
        if name != "accessible":
            assert page.title() in ("Something went wrong", "Error - Looker")


@pytest.mark.parametrize("name", ["classic", "cm6"])
def test_sql_fault_and_session_expiry_while_open(
    browser: Browser, sandboxes: dict[str, LookerSandbox], name: str
) -> None:
    sandbox = sandboxes[name]
    qid = sandbox.add_query(SMALL_SQL, title="Open and failing")
    with signed_in(browser, sandbox) as page:
        for fault in ("5xx", "expiry"):
            page.goto(sandbox.explore_url(qid))
            expect(page.get_by_text("Results", exact=True)).to_be_visible()
            if fault == "5xx":
                sandbox.fail_next()
            else:
                sandbox.expire_sessions()
            page.get_by_text("SQL", exact=True).click()
            if fault == "5xx":
                expect(page.get_by_text("Something went wrong", exact=True)).to_be_visible()
        expect(page.get_by_role("heading", name="Sign in to Acme SSO")).to_be_visible()
        assert page.url.startswith(sandbox.idp_url)


def test_bad_skin_or_editor_or_link_path_is_refused() -> None:
    with pytest.raises(ValueError, match="skin"):
        LookerSandbox(skin="fancy")
    with pytest.raises(ValueError, match="editor"):
        LookerSandbox(skin="bare", editor="ace")
    with pytest.raises(ValueError, match="path"):
        LookerSandbox().add_short_link_to_path("dashboards/1")
