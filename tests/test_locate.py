"""A cascade with nothing on the page is turned down in one call, in real Chromium: each call
costs a DOM snapshot while the context is traced, and most ways find nothing on most looks."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Locator, async_playwright

from core.policies import Selector
from scraper.browser import launch_options
from scraper.locate import union, worth_trying
from scraper.loop import run_once

PAGE = """
<section aria-label="Data panel"><button>Data</button>
  <div hidden><div role="tab">SQL</div></div>
</section>
"""


def ways(*raw: dict[str, Any]) -> list[Selector]:
    return [Selector.parse(r, "test") for r in raw]


def test_a_cascade_is_asked_in_one_call_and_only_when_it_has_more_than_one_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real_count = Locator.count

    async def count(locator: Locator) -> int:
        calls.append(str(locator))
        return await real_count(locator)

    monkeypatch.setattr(Locator, "count", count)
    absent = ways({"role": "region", "name": "Orders"}, {"css": "lk-data-pane"}, {"text": "Nope"})
    hidden = ways({"role": "tab", "name": "SQL"}, {"css": "[role=tab]"})  # roles skip hidden ones
    present = ways({"role": "region", "name": "data", "exact": False}, {"css": "lk-data-pane"})
    same = ways({"css": "section button"}, {"text": "Data", "exact": True})

    async def ask() -> list[object]:
        async with async_playwright() as p:
            browser = await p.chromium.launch(**launch_options(p))
            page = await browser.new_page()
            await page.set_content(PAGE)
            answers: list[object] = []
            for cascade in (absent, hidden, present, absent[:1]):
                before = len(calls)
                answers.append((await worth_trying(page, cascade), len(calls) - before))
            answers.append(await union(page, same).count())
            await browser.close()
            return answers

    assert run_once(ask()) == [(False, 1), (True, 1), (True, 1), (True, 0), 1]
