"""What the scraper is told: timeouts, and for each page element an ordered list of ways to find it.

Every element is a cascade. Selectors a desk puts under `[looker.selectors]` are tried first, as
hints; the built-in ways follow, from the most specific to the most general: role and accessible
name (Looker's newer React pages and any accessible app), then Looker's own classic elements
(`lk-data-pane`, `lk-sql-view`, the Ace editor), then plain text ("SQL") that works on pages
nobody described. None of them is needed for the others to work, so a Looker that CreditBot has
never seen is read with no configuration at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

ROLES_WITH_LEVEL = ("heading",)
SELECTOR_KEYS = frozenset({"role", "name", "level", "label", "text", "css", "exact"})
KINDS = ("role", "label", "text", "css")


@dataclass(frozen=True)
class Selector:
    """One way to find an element: by role (and accessible name), by label, by its whole text,
    or by CSS. Built only through `parse`, which refuses what it does not understand."""

    kind: str
    value: str
    name: str | None = None
    level: int | None = None
    exact: bool = True

    @classmethod
    def parse(cls, raw: object, where: str) -> Selector:
        """`{ role = "tab", name = "SQL" }` and the like; a `ValueError` names what is wrong."""
        if not isinstance(raw, Mapping):
            raise ValueError(f'{where}: must be a table such as {{ role = "tab", name = "SQL" }}')
        unknown = sorted(set(raw) - SELECTOR_KEYS)
        if unknown:
            raise ValueError(
                f"{where}: unknown key {unknown[0]!r} (a selector has one of role, label, "
                "text or css, and optionally name, level, exact)"
            )
        kinds = [k for k in KINDS if k in raw]
        if len(kinds) != 1:
            raise ValueError(f"{where}: needs exactly one of role, label, text or css")
        kind = kinds[0]
        value = raw[kind]
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}.{kind}: must be a non-empty string")
        if ("name" in raw or "level" in raw) and kind != "role":
            raise ValueError(f"{where}: name and level go with role only")
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"{where}.name: must be a string")
        level = raw.get("level")
        if level is not None:
            if isinstance(level, str) and level.isdigit():
                level = int(level)
            if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 6:
                raise ValueError(f"{where}.level: must be a heading level from 1 to 6")
            if value not in ROLES_WITH_LEVEL:
                raise ValueError(f"{where}.level: only a heading has a level")
        exact = raw.get("exact", True)
        if not isinstance(exact, bool):
            raise ValueError(f"{where}.exact: must be true or false")
        return cls(kind, value, name, level, exact)

    def describe(self) -> str:
        """How the explanation and the log name this way of finding an element."""
        if self.kind == "role":
            extra = f" name={self.name!r}" if self.name is not None else ""
            extra += f" level={self.level}" if self.level else ""
            return f"role={self.value}{extra}"
        return f"{self.kind}={self.value!r}" + ("" if self.exact else " (partial)")

    def toml(self) -> str:
        """The same selector as a TOML inline table, for a person to paste."""
        parts = [f"{self.kind} = {toml_string(self.value)}"]
        if self.name is not None:
            parts.append(f"name = {toml_string(self.name)}")
        if self.level:
            parts.append(f"level = {self.level}")
        if not self.exact:
            parts.append("exact = false")
        return "{ " + ", ".join(parts) + " }"


def toml_string(text: str) -> str:
    """A TOML basic string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


@dataclass(frozen=True)
class LookerPolicy:
    """Everything the scraper needs to know about the Looker it reads."""

    navigation_timeout_ms: int = 30_000
    element_timeout_ms: int = 15_000
    # A page that shows nothing readable, with no request in flight and no spinner, for this
    # long has stopped loading: fail now rather than at the navigation timeout.
    settle_ms: int = 3_000
    hints: Mapping[str, tuple[Selector, ...]] = field(default_factory=dict)
    not_found_text: tuple[str, ...] = NOT_FOUND_TEXT
    error_text: tuple[str, ...] = ERROR_TEXT
    sql_dialect: str = "trino"

    def cascade(self, element: str) -> tuple[tuple[Selector, str], ...]:
        """The ways to find `element`, hints first, each with where it came from."""
        hinted = tuple((s, "configured") for s in self.hints.get(element, ()))
        return hinted + tuple((s, "built-in") for s in BUILT_IN[element])


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
