"""Logging to stderr and to the data dir, with secrets scrubbed from every record.

Code never logs a token or a cookie on purpose; the filter on every handler (`core.redact`) is
the second line of defence, for the day a library puts one into a message or an exception.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from core.errors import SetupError
from core.redact import RedactSecrets


def setup_logging(data_dir: Path | None, *, verbose: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_creditbot", False):
            root.removeHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if data_dir is not None:
        try:
            (data_dir / "logs").mkdir(parents=True, exist_ok=True, mode=0o700)
            handlers.append(
                logging.handlers.RotatingFileHandler(
                    data_dir / "logs" / "creditbot.log", maxBytes=5_000_000, backupCount=3
                )
            )
        except OSError as exc:
            raise SetupError(
                f"the log folder {data_dir / 'logs'} cannot be written ({exc.strerror or exc})",
                setting="CREDITBOT_DATA_DIR",
            ) from None
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(RedactSecrets())
        handler._creditbot = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("apscheduler.executors", "slack_sdk", "urllib3", "papermill", "traitlets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
