"""For each page element, the ordered ways the scraper looks for it.

Every element is a cascade. Selectors a desk puts under `[looker.selectors]` (the policy's
hints) are tried first; the built-in ways follow, from the most specific to the most general:
role and accessible name (Looker's newer React pages and any accessible app), then Looker's own
classic elements (`lk-data-pane`, `lk-sql-view`, the Ace editor), then plain text ("SQL") that
works on pages nobody described. None of them is needed for the others to work, so a Looker that
CreditBot has never seen is read with no configuration at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.policies import LookerPolicy, Selector


def _cascade(*raw: Mapping[str, object]) -> tuple[Selector, ...]:
    return tuple(Selector.parse(r, "built-in") for r in raw)


EDITORS_CSS = ".ace_editor, .CodeMirror, .cm-editor, .monaco-editor"

BUILT_IN: dict[str, tuple[Selector, ...]] = {
    # The Data section of an Explore or a Look: the scope in which the SQL tab is looked for.
    "data_panel": _cascade(
        {"role": "region", "name": "Data", "exact": False},
        {"css": "lk-data-pane"},
        {"css": "lk-expandable-pane"},
    ),
    # What a person clicks to open a collapsed Data section (saved Looks open that way).
    "data_toggle": _cascade(
        {"role": "button", "name": "Data"},
        {"css": ".titlebar"},
        {"text": "Data"},
    ),
    # Inside the Data section (the whole page where none was found).
    "sql_tab": _cascade(
        {"role": "tab", "name": "SQL"},
        {"text": "SQL"},
    ),
    # The element that shows the query: its text model is read where it has one.
    "sql_viewer": _cascade(
        {"label": "SQL", "exact": False},
        {"css": "lk-sql-view"},
        {"css": EDITORS_CSS},
        {"css": "textarea"},
        {"css": "pre, code"},
    ),
    # Titles that say what page this is ("Query not found", "Something went wrong").
    "heading": _cascade(
        {"role": "heading"},
        {"role": "alert"},
        {"css": "h1, h2, h3, [class*=title i], [class*=error i], [class*=message i]"},
    ),
    "spinner": _cascade(
        {"role": "progressbar"},
        {"css": ".lk-spinner-block, [class*=spinner i], [class*=loading i], [aria-busy=true]"},
    ),
    "dashboard": _cascade(
        {"css": "lk-dashboard, lk-dashboard-element, [data-testid*=dashboard i]"},
    ),
    # Inside a virtualised editor without a text model: what scrolls, a drawn line, its number.
    "editor_scroller": _cascade(
        {"css": ".ace_scrollbar-v, .CodeMirror-scroll, .cm-scroller"},
    ),
    "editor_line": _cascade(
        {"css": ".ace_line, pre.CodeMirror-line, .CodeMirror-line, .cm-line, .view-line"},
    ),
    "editor_line_number": _cascade(
        {"css": ".ace_gutter-cell, .CodeMirror-linenumber, .cm-gutterElement, .line-numbers"},
    ),
}

NOT_FOUND_TEXT = (
    r"(?i)\bnot found\b",
    r"(?i)\b(does not|doesn't|no longer) exists?\b",
    r"(?i)\bcould not be found\b",
    r"(?i)\b(page|look|query) (is )?(missing|unavailable)\b",
)
ERROR_TEXT = (
    r"(?i)\bsomething went wrong\b",
    r"(?i)\b(internal )?server error\b",
    r"(?i)\ban? (unexpected )?error (has )?occurred\b",
)
SIGNIN_PATHS = ("/login", "/sso/", "/saml/", "/oauth/", "/auth/")
DASHBOARD_PATH = re.compile(r"^/(embed/)?dashboards(-next|-legacy)?/")


def cascade(policy: LookerPolicy, element: str) -> tuple[tuple[Selector, str], ...]:
    """The ways to find `element`, the desk's hints first, each with where it came from."""
    hinted = tuple((s, "configured") for s in policy.hints.get(element, ()))
    return hinted + tuple((s, "built-in") for s in BUILT_IN[element])


def not_found_text(policy: LookerPolicy) -> tuple[str, ...]:
    return policy.not_found_text + NOT_FOUND_TEXT


def error_text(policy: LookerPolicy) -> tuple[str, ...]:
    return policy.error_text + ERROR_TEXT


def parse_hints(raw: Mapping[str, object], where: str) -> dict[str, tuple[Selector, ...]]:
    """`[looker.selectors]`: each element takes one selector table or an array of them."""
    hints: dict[str, tuple[Selector, ...]] = {}
    for element, value in raw.items():
        at = f"{where}.{element}"
        if element not in BUILT_IN:
            known = ", ".join(sorted(BUILT_IN))
            raise ValueError(f"{at}: unknown element (known: {known})")
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValueError(f"{at}: an empty list finds nothing")
        hints[element] = tuple(
            Selector.parse(item, f"{at}[{i}]" if isinstance(value, list) else at)
            for i, item in enumerate(items)
        )
    return hints
