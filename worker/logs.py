"""Logging to stderr and to the data dir, with secrets scrubbed from every record.

Code never logs a token or a cookie on purpose; the filter is the second line of defence, for
the day a library puts one into an exception message.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

REDACTED = "[redacted]"


class RedactSecrets(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, *values: str | None) -> None:
        self.secrets.update(v for v in values if v and len(v) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = None
        for secret in self.secrets:
            message = message.replace(secret, REDACTED)
        record.msg, record.args = message, ()
        return True


redactor = RedactSecrets()


def setup_logging(data_dir: Path | None, *, verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_creditbot", False):
            root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if data_dir is not None:
        (data_dir / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                data_dir / "logs" / "creditbot.log", maxBytes=5_000_000, backupCount=3
            )
        )
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(redactor)
        handler._creditbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("apscheduler.executors", "slack_sdk", "urllib3", "papermill", "traitlets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def scrub_session(state: dict | None) -> None:
    """Register every cookie and local-storage value of a session with the redactor."""
    if not state:
        return
    redactor.add(*(c.get("value") for c in state.get("cookies", [])))
    for origin in state.get("origins", []):
        redactor.add(*(item.get("value") for item in origin.get("localStorage", [])))
