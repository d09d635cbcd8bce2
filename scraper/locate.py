"""The one place a selector becomes a Playwright locator.

Every element the scraper looks for goes through `locate`, whether the selector is built in or
came from a desk's TOML file, so a selector of any form works wherever an element is looked up.
"""

from __future__ import annotations

from playwright.async_api import Error as PlaywrightError
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


async def visible(locator: Locator, limit: int = 5) -> list[Locator]:
    """The first few visible matches: hidden copies (closed panels, templates) are not there to
    a person, so they are not there to the scraper either."""
    found = []
    for i in range(min(await locator.count(), 20)):
        candidate = locator.nth(i)
        try:
            if await candidate.is_visible():
                found.append(candidate)
        except PlaywrightError:  # detached while looking: the page redrew, so it is not there now
            continue
        if len(found) >= limit:
            break
    return found
