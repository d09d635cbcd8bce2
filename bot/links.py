"""Find the Looker links of a Slack message, wherever Slack put them.

Slack sends a link three ways: in `text` as `<url|label>` with `&amp;`/`&lt;`/`&gt;` escapes, in
`blocks` as rich_text `link` elements (workflow posts often have them only there), and in legacy
`attachments`. Only links on the configured Looker origin count; the rest are ignored and never
opened. The dollar label of a link is that link's fraud spend, the ceiling of its credit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from core.urls import LookerLink, origin_of

TEXT_LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]*))?>")
BARE_URL = re.compile(r"(?<![<|])\bhttps?://[^\s<>|]+")


def extract_links(
    message: dict[str, Any], looker_origin: str
) -> tuple[list[LookerLink], list[str]]:
    """Looker links (deduplicated, in order of appearance) and the foreign URLs skipped."""
    found: dict[str, LookerLink] = {}
    foreign: list[str] = []
    for raw_url, label in _raw_links(message):
        url = unescape(raw_url).strip()
        if not _well_formed(url):
            foreign.append(url)
            continue
        if origin_of(url) != looker_origin:
            if url not in foreign:
                foreign.append(url)
            continue
        label = unescape(label).strip() if label else None
        if label and label == url:
            label = None
        previous = found.get(url)
        if previous is None or (previous.label is None and label):
            found[url] = LookerLink.of(url, label)
    return list(found.values()), foreign


def unescape(text: str) -> str:
    """Undo exactly Slack's three escapes (html.unescape would also eat `&copy=` in a URL)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _well_formed(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _raw_links(message: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    yield from _text_links(message.get("text") or "")
    for block in message.get("blocks") or []:
        yield from _block_links(block)
    for attachment in message.get("attachments") or []:
        if not isinstance(attachment, dict):
            continue
        for key in ("title_link", "from_url", "original_url"):
            if isinstance(attachment.get(key), str):
                yield attachment[key], attachment.get("title") if key == "title_link" else None
        for key in ("text", "pretext", "fallback"):
            yield from _text_links(attachment.get(key) or "")
        for f in attachment.get("fields") or []:
            if isinstance(f, dict):
                yield from _text_links(str(f.get("value") or ""))
        for block in attachment.get("blocks") or []:
            yield from _block_links(block)


def _text_links(text: str) -> Iterator[tuple[str, str | None]]:
    for match in TEXT_LINK.finditer(text):
        yield match.group(1), match.group(2)
    for match in BARE_URL.finditer(TEXT_LINK.sub(" ", text)):
        yield match.group(0).rstrip(".,;:)"), None


def _block_links(node: object) -> Iterator[tuple[str, str | None]]:
    """Walk any Block Kit structure: rich_text link elements, mrkdwn text, button URLs."""
    if isinstance(node, list):
        for item in node:
            yield from _block_links(item)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind == "link" and isinstance(node.get("url"), str):
            yield node["url"], node.get("text")
        elif kind in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
            yield from _text_links(node["text"])
        elif kind == "button" and isinstance(node.get("url"), str):
            yield node["url"], None
        for value in node.values():
            if isinstance(value, list | dict):
                yield from _block_links(value)
