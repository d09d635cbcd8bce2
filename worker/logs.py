"""Logging to stderr and to the data dir, with secrets scrubbed from every record.

One event, one line, in two forms:

- for people (stderr and `data/logs/creditbot.log`):
  `2026-11-23 09:15:02,118 INFO worker.cycle memo C0123ABCD/1795.123456 scrape: message`;
  the memo and the stage appear when the record carries them, and a traceback follows its line
  indented, so every line that starts with a date starts an event;
- for scripts (`data/logs/creditbot.jsonl`): one JSON object per line with `ts` (ISO 8601,
  local time with its offset), `level`, `logger`, `message`, `memo`, `stage` (null when the
  record has none) and, when there was one, `exception` (the traceback's text).

Code gives a record its memo and stage with `extra=event(memo.key, "scrape")`. Both files are
rotated (5 MB, 3 kept). This module is the one place that sets handlers up.

Code never logs a token or a cookie on purpose; the filter on every handler (`core.redact`) is
the second line of defence, for the day a library puts one into a message or an exception.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import textwrap
from datetime import datetime
from pathlib import Path

from core.errors import SetupError
from core.redact import CONTEXT_FIELDS, RedactSecrets

TEXT_LOG = "creditbot.log"
JSON_LOG = "creditbot.jsonl"
MAX_BYTES = 5_000_000
BACKUPS = 3


def event(memo: str | None = None, stage: str | None = None) -> dict[str, str]:
    """The `extra` of a record about one memo (`channel/ts`) and one stage of its work."""
    context = {"memo": memo, "stage": stage}
    return {name: value for name, value in context.items() if value}


def setup_logging(data_dir: Path | None, *, verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_creditbot", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    handlers: list[tuple[logging.Handler, logging.Formatter]] = [
        (logging.StreamHandler(), HumanFormatter())
    ]
    if data_dir is not None:
        logs = data_dir / "logs"
        try:
            logs.mkdir(parents=True, exist_ok=True, mode=0o700)
            handlers += [
                (_rotating(logs / TEXT_LOG), HumanFormatter()),
                (_rotating(logs / JSON_LOG), JsonFormatter()),
            ]
        except OSError as exc:
            for handler, _ in handlers:
                handler.close()
            raise SetupError(
                f"the log folder {logs} cannot be written ({exc.strerror or exc})",
                setting="CREDITBOT_DATA_DIR",
            ) from None
    for handler, formatter in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(RedactSecrets())
        handler._creditbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("apscheduler.executors", "slack_sdk", "urllib3", "papermill", "traitlets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _rotating(path: Path) -> logging.Handler:
    return logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )


def _context(record: logging.LogRecord) -> dict[str, str | None]:
    values = {name: getattr(record, name, None) for name in CONTEXT_FIELDS}
    return {name: None if value is None else str(value) for name, value in values.items()}


def _exception(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    """The traceback's text: kept apart by the redaction filter, or formatted here."""
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or None


class HumanFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger>[ memo <channel/ts>][ <stage>]: <message>`, then any traceback
    and any further lines of the message indented beneath it."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context(record)
        head = f"{self.formatTime(record)} {record.levelname} {record.name}"
        if context["memo"]:
            head += f" memo {context['memo']}"
        if context["stage"]:
            head += f" {context['stage']}"
        first, *rest = record.getMessage().split("\n") or [""]
        lines = [f"{head}: {first}", *rest]
        for extra in (_exception(self, record), record.stack_info):
            if extra:
                lines.extend(extra.rstrip("\n").split("\n"))
        return lines[0] + "".join("\n" + textwrap.indent(line, "    ") for line in lines[1:])


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, memo, stage (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).astimezone()
        entry: dict[str, str | None] = {
            "ts": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        exception = _exception(self, record)
        if exception:
            entry["exception"] = exception
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)
