"""Looker's URLs: which origin a link belongs to, what kind of page it opens, and the fraud
spend its Slack label names.

The origin (scheme, host and port) decides everything about trust: a link on any other origin is
never opened, and the signed-in browser never leaves it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

DOLLARS = re.compile(r"^\s*\$\s*([0-9][0-9,]*(?:\.[0-9]{1,2})?)\s*$")


def origin_of(url: str) -> str:
    """Scheme, host and port: what decides whether a link belongs to our Looker."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    suffix = f":{port}" if port and port != default else ""
    return f"{scheme}://{host}{suffix}"


class LinkKind(StrEnum):
    EXPLORE = "explore"
    SHORT = "short"
    LOOK = "look"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class LookerLink:
    url: str
    kind: LinkKind
    label: str | None = None
    fraud_spend: Decimal | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "kind": str(self.kind),
            "label": self.label,
            "fraud_spend": None if self.fraud_spend is None else str(self.fraud_spend),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LookerLink:
        spend = data.get("fraud_spend")
        return cls(
            data["url"],
            LinkKind(data["kind"]),
            data.get("label"),
            Decimal(spend) if spend else None,
        )

    @classmethod
    def of(cls, url: str, label: str | None = None) -> LookerLink:
        """A link with its kind read from its path and its fraud spend from its label."""
        return cls(url, classify(url), label, dollar_amount(label))


def classify(url: str) -> LinkKind:
    """Which Looker page a link points at, from its path alone."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    segments = [s for s in path.split("/") if s]
    if len(segments) == 3 and segments[0] == "explore" and "qid=" in parts.query:
        return LinkKind.EXPLORE
    if len(segments) == 2 and segments[0] == "x" and segments[1]:
        return LinkKind.SHORT
    if len(segments) == 2 and segments[0] == "looks" and segments[1].isdigit():
        return LinkKind.LOOK
    return LinkKind.UNSUPPORTED


def dollar_amount(label: str | None) -> Decimal | None:
    """`$4,948.80` -> Decimal('4948.80'); anything else (no label, words) -> None."""
    if not label:
        return None
    match = DOLLARS.match(label)
    if not match:
        return None
    try:
        return Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
