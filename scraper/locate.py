"""The one place a selector becomes a Playwright locator.

Every element the scraper looks for goes through `locate`, whether the selector is built in or
came from a desk's TOML file, so a selector of any form works wherever an element is looked up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from playwright.async_api import Locator, Page

from core.policies import Selector


def locate(root: Page | Locator, selector: Selector) -> Locator:
    if selector.kind == "role":
        options: dict[str, object] = {}
        if selector.name is not None:
            options["name"] = selector.name
            options["exact"] = selector.exact
        if selector.level:
            options["level"] = selector.level
        return root.get_by_role(selector.value, **options)  # type: ignore[arg-type]
    if selector.kind == "label":
        return root.get_by_label(selector.value, exact=selector.exact)
    if selector.kind == "text":
        return root.get_by_text(selector.value, exact=selector.exact)
    return root.locator(selector.value)


def union(root: Page | Locator, selectors: Iterable[Selector]) -> Locator:
    """One locator for everything any of `selectors` matches."""
    ways = [locate(root, selector) for selector in selectors]
    found = ways[0]
    for way in ways[1:]:
        found = found.or_(way)
    return found


async def worth_trying(root: Page | Locator, selectors: Sequence[Selector]) -> bool:
    """False when none of `selectors` matches anything under `root`, asked in one call. Most
    ways of a cascade find nothing on most looks, and every call costs a DOM snapshot while the
    context is traced (three times the call itself): one call for the whole cascade, then one a
    way only when something is there. A lone selector is worth its own call."""
    return len(selectors) < 2 or await union(root, selectors).count() > 0


async def visible(locator: Locator, limit: int = 5) -> list[Locator]:
    """The first few visible matches: hidden copies (closed panels, templates) are not there to
    a person, so they are not there to the scraper either. Playwright's own visibility filter
    picks them in the page, in one call (a call per match, each with its DOM snapshot, made up a
    quarter of the reading loop's calls)."""
    shown = locator.filter(visible=True)
    return [shown.nth(i) for i in range(min(await shown.count(), limit))]
