"""The register of secrets that must never reach a log, and the filter that keeps them out.

Whoever holds a secret registers it here: the settings when they read the bot token, the session
store whenever it loads or saves a session (every cookie and local-storage value). Every log
handler CreditBot installs carries `RedactSecrets`, so a secret that a library puts into a message
or an exception is replaced before the record is written anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
_secrets: set[str] = set()


def register(*values: str | None) -> None:
    """Remember values to scrub; short ones are skipped (they would mangle ordinary words)."""
    _secrets.update(v for v in values if v and len(v) >= 8)


def register_session(state: Mapping[str, Any] | None) -> None:
    """Every cookie and local-storage value of a Playwright storage state."""
    if not state:
        return
    register(*(c.get("value") for c in state.get("cookies", [])))
    for origin in state.get("origins", []):
        register(*(item.get("value") for item in origin.get("localStorage", [])))


def scrub(text: str) -> str:
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


def scrub_bytes(data: bytes) -> bytes:
    """`scrub` for files kept as evidence (a trace's entries), whatever their encoding."""
    for secret in _secrets:
        data = data.replace(secret.encode(), REDACTED.encode())
    return data


# Context a record may carry (`extra={"memo": ..., "stage": ...}`), written by the log formats.
CONTEXT_FIELDS = ("memo", "stage")


class RedactSecrets(logging.Filter):
    """Rewrites each record's message, its traceback (kept apart, as `exc_text`, for formats
    that write it in a field of its own), its stack and its context with every registered
    secret replaced; a handler that carries it never writes one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        record.msg, record.args = scrub(record.getMessage()), ()
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, str):
                setattr(record, name, scrub(value))
        return True
