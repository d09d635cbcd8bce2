"""Each component's policy: what it is told by the settings, and nothing more.

The worker reads the settings once and hands every component its own policy (the scraper a
`LookerPolicy`, the Slack gateway a `SlackPolicy`, the notebook runner a `NotebookPolicy`), so
no component depends on the settings as a whole or on the worker that reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.urls import origin_of

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


@dataclass(frozen=True)
class LookerPolicy:
    """The Looker the scraper reads, and how patiently. `hints` and the text patterns are the
    desk's own; the scraper tries them before its built-in ones."""

    base_url: str
    navigation_timeout_ms: int = 30_000
    element_timeout_ms: int = 15_000
    # A page that shows nothing readable, with no request in flight and no spinner, for this
    # long has stopped loading: fail now rather than at the navigation timeout.
    settle_ms: int = 3_000
    hints: Mapping[str, tuple[Selector, ...]] = field(default_factory=dict)
    not_found_text: tuple[str, ...] = ()
    error_text: tuple[str, ...] = ()
    sql_dialect: str = "trino"
    pages: int = 4  # links read side by side in the one browser context

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)


@dataclass(frozen=True)
class BrowserOptions:
    """Which Chromium, and how it shows itself (`--headed`, `--slow-mo`, `--trace`)."""

    chromium_path: str | None = None
    headed: bool = False
    slow_mo: float = 0
    trace: bool = False


@dataclass(frozen=True)
class SlackPolicy:
    api_url: str = "https://slack.com/api/"
    timeout_seconds: float = 30.0
    rate_limit_retries: int = 5
    server_error_retries: int = 3


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Exponential backoff after `attempts` failures, capped."""
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)


@dataclass(frozen=True)
class Product:
    name: str
    match: re.Pattern[str]
    notebook: Path


@dataclass(frozen=True)
class NotebookPolicy:
    """Which notebook answers which query, and how it is run."""

    parameter: str = "looker"
    result: str = "credit_amount"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    timeout_seconds: int = 600
    sql_dialect: str = "trino"
    products: tuple[Product, ...] = ()
    kernels: int = 2  # notebooks run side by side, each in its own kernel
    fork_kernels: bool = True  # fork each kernel from one that imported everything (Linux)
