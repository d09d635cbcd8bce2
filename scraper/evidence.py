"""A failed link's trace, kept without the session in it.

Playwright's trace records every request with its headers, and so the Looker session cookie of
each: a trace shared to debug a page would hand the desk's session to whoever opens it. Before a
trace is kept, the cookie and authorization headers (and the HAR `cookies` lists) are blanked,
and every registered secret (`core.redact`: the bot token, the session's values) is replaced
wherever else it shows, in a page that echoes it or a URL that carries it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

from core.redact import REDACTED, scrub_bytes

SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})


def scrub_trace(path: Path) -> None:
    """Rewrite the trace zip in place: a new owner-only file, renamed over the old one."""
    scrubbing = path.with_name(path.name + ".scrubbing")
    fd = os.open(scrubbing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with (
            os.fdopen(fd, "wb") as out,
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
        ):
            for entry in source.infolist():
                data = source.read(entry)
                if entry.filename.endswith(".network"):
                    data = _network(data)
                target.writestr(entry, scrub_bytes(data))
        os.replace(scrubbing, path)
    finally:
        scrubbing.unlink(missing_ok=True)


def _network(data: bytes) -> bytes:
    """The trace's network log: one JSON resource snapshot (a HAR entry) a line."""
    lines = []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # left to the secrets pass
            lines.append(line)
            continue
        snapshot = event.get("snapshot") if isinstance(event, dict) else None
        if isinstance(snapshot, dict):
            for side in ("request", "response"):
                _blank(snapshot.get(side))
        lines.append(json.dumps(event, separators=(",", ":")).encode())
    return b"\n".join(lines) + b"\n"


def _blank(message: Any) -> None:
    if not isinstance(message, dict):
        return
    for header in message.get("headers") or ():
        if isinstance(header, dict) and str(header.get("name", "")).lower() in SECRET_HEADERS:
            header["value"] = REDACTED
    for cookie in message.get("cookies") or ():
        if isinstance(cookie, dict) and "value" in cookie:
            cookie["value"] = REDACTED
