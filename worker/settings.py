"""Settings from the environment (and `.env`), plus the TOML file for what is not secret.

Every problem is a `SettingsError` naming the setting, so the CLI can exit 2 with a message a
person can act on. Secrets (the bot token) are accepted only from the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from notebooks.sqlcheck import dialect_for
from scraper.policy import ERROR_TEXT, NOT_FOUND_TEXT, LookerPolicy, parse_hints
from worker.errors import SettingsError

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_TEMPLATE = "Approved, {total}, exceptions"

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass(frozen=True)
class Product:
    name: str
    match: re.Pattern[str]
    notebook: Path


# Without [[products]] in the TOML: the two notebooks shipped in notebooks/, as in design.md.
DEFAULT_PRODUCTS = (
    Product(
        "Verify", re.compile("(?i)authy"), NOTEBOOKS_DIR / "verify_credit_recommendation.ipynb"
    ),
    Product(
        "PSMS",
        re.compile("(?i)programmable[ _]?sms|psms"),
        NOTEBOOKS_DIR / "psms_credit_recommendation.ipynb",
    ),
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0

    def delay(self, attempts: int) -> float:
        """Exponential backoff after `attempts` failures, capped."""
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)


@dataclass(frozen=True)
class SlackPolicy:
    timeout_seconds: float = 30.0
    rate_limit_retries: int = 5
    server_error_retries: int = 3


@dataclass(frozen=True)
class Settings:
    looker_base_url: str
    data_dir: Path
    slack_bot_token: str | None = None
    slack_channel: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_alert_user: str | None = None
    chromium_path: str | None = None
    poll_seconds: float = 60.0
    lookback_hours: float = 24.0
    config_path: Path | None = None
    notebook_parameter: str = "looker"
    notebook_result: str = "credit_amount"
    notebook_parameters: Mapping[str, Any] = field(default_factory=dict)
    notebook_timeout_seconds: int = 600
    products: tuple[Product, ...] = ()
    reply_template: str = DEFAULT_TEMPLATE
    max_links_per_memo: int = 10
    skip_answered_by_person: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    slack: SlackPolicy = field(default_factory=SlackPolicy)
    looker: LookerPolicy = field(default_factory=LookerPolicy)
    session_file_fallback: bool = True
    session_warning_hours: float = 24.0
    sql_dialect: str | None = None  # default: from warehouse_url, else Trino

    @property
    def looker_origin(self) -> str:
        return origin_of(self.looker_base_url)

    def require_slack(self) -> None:
        """`once` and `run` need the Slack settings; `scrape` and `login` do not."""
        if not self.slack_bot_token:
            raise SettingsError(
                "SLACK_BOT_TOKEN", "is required (set it in the environment or .env)"
            )
        if not self.slack_channel:
            raise SettingsError(
                "SLACK_CHANNEL", "is required (a channel ID like C0123ABCD or #name)"
            )


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


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> Settings:
    """Read everything once, validating as it goes; the first problem raises `SettingsError`."""
    env = dict(os.environ if environ is None else environ)
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            if value is not None:
                env.setdefault(key, value)

    config_path, config = _read_toml(env)
    base = env.get("LOOKER_BASE_URL", "").strip()
    if not base:
        raise SettingsError(
            "LOOKER_BASE_URL", "is required (for example https://acme.cloud.looker.com)"
        )
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError("LOOKER_BASE_URL", f"{base!r} is not an http(s) URL")

    api_url = env.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if urlsplit(api_url).scheme not in ("http", "https"):
        raise SettingsError("SLACK_API_URL", f"{api_url!r} is not an http(s) URL")
    if not api_url.endswith("/"):
        api_url += "/"

    channel = env.get("SLACK_CHANNEL", "").strip() or None
    if channel and not re.fullmatch(r"[CGD][A-Z0-9]{2,}|#[a-z0-9][a-z0-9._-]{0,79}", channel):
        raise SettingsError("SLACK_CHANNEL", f"{channel!r} is neither a channel ID nor #name")
    alert = env.get("SLACK_ALERT_USER", "").strip() or None
    if alert and not re.fullmatch(r"[UW][A-Z0-9]{2,}", alert):
        raise SettingsError("SLACK_ALERT_USER", f"{alert!r} is not a Slack user ID (U...)")
    token = env.get("SLACK_BOT_TOKEN", "").strip() or None
    if token and not token.startswith("xox"):
        raise SettingsError("SLACK_BOT_TOKEN", "does not look like a Slack token (xoxb-...)")

    notebook = _table(config, "notebook", config_path)
    reply = _table(config, "reply", config_path)
    memos = _table(config, "memos", config_path)
    retry = _table(config, "retry", config_path)
    slack = _table(config, "slack", config_path)
    looker = _table(config, "looker", config_path)
    session = _table(config, "session", config_path)

    template = str(reply.get("template", DEFAULT_TEMPLATE))
    if "{total}" not in template:
        raise SettingsError("reply.template", "must contain {total}")
    try:  # fail now, not when the first approval is about to be posted
        template.format(total="$0.00")
    except (KeyError, IndexError, ValueError) as exc:
        raise SettingsError(
            "reply.template", f"only {{total}} can be filled in ({type(exc).__name__}: {exc})"
        ) from None
    try:
        hints = parse_hints(_table(looker, "selectors", config_path), "looker.selectors")
    except ValueError as exc:
        setting, _, problem = str(exc).partition(": ")
        raise SettingsError(setting, f"{problem} (in {config_path})") from None
    notebook_parameters = dict(_table(notebook, "parameters", config_path))
    sql_dialect = str(notebook["sql_dialect"]) if notebook.get("sql_dialect") else None

    return Settings(
        looker_base_url=base.rstrip("/"),
        data_dir=Path(env.get("CREDITBOT_DATA_DIR", "").strip() or "data"),
        slack_bot_token=token,
        slack_channel=channel,
        slack_api_url=api_url,
        slack_alert_user=alert,
        chromium_path=env.get("CHROMIUM_PATH") or None,
        poll_seconds=_number(env, "POLL_SECONDS", 60, minimum=1),
        lookback_hours=_number(env, "LOOKBACK_HOURS", 24, minimum=0),
        config_path=config_path,
        notebook_parameter=_identifier(notebook.get("parameter", "looker"), "notebook.parameter"),
        notebook_result=_identifier(notebook.get("result", "credit_amount"), "notebook.result"),
        notebook_parameters=notebook_parameters,
        notebook_timeout_seconds=int(
            _cfg_number(notebook, "timeout_seconds", 600, "notebook", minimum=1)
        ),
        products=_products(config.get("products", []), config_path),
        reply_template=template,
        max_links_per_memo=int(_cfg_number(memos, "max_links", 10, "memos", minimum=1)),
        skip_answered_by_person=bool(memos.get("skip_answered_by_person", True)),
        retry=RetryPolicy(
            max_attempts=int(_cfg_number(retry, "max_attempts", 5, "retry", minimum=1)),
            backoff_seconds=_cfg_number(retry, "backoff_seconds", 60, "retry"),
            backoff_max_seconds=_cfg_number(retry, "backoff_max_seconds", 3600, "retry"),
        ),
        slack=SlackPolicy(
            timeout_seconds=_cfg_number(slack, "timeout_seconds", 30, "slack", minimum=1),
            rate_limit_retries=int(_cfg_number(slack, "rate_limit_retries", 5, "slack")),
            server_error_retries=int(_cfg_number(slack, "server_error_retries", 3, "slack")),
        ),
        looker=LookerPolicy(
            navigation_timeout_ms=int(
                _cfg_number(looker, "navigation_timeout_ms", 30_000, "looker", minimum=100)
            ),
            element_timeout_ms=int(
                _cfg_number(looker, "element_timeout_ms", 15_000, "looker", minimum=100)
            ),
            settle_ms=int(_cfg_number(looker, "settle_ms", 3_000, "looker", minimum=100)),
            hints=hints,
            not_found_text=_patterns(looker, "not_found_text") + NOT_FOUND_TEXT,
            error_text=_patterns(looker, "error_text") + ERROR_TEXT,
            sql_dialect=dialect_for(notebook_parameters.get("warehouse_url"), sql_dialect),
        ),
        session_file_fallback=_flag(
            env, "CREDITBOT_SESSION_FILE_FALLBACK", session.get("file_fallback", True)
        ),
        session_warning_hours=_cfg_number(session, "expiry_warning_hours", 24, "session"),
        sql_dialect=sql_dialect,
    )


def _read_toml(env: Mapping[str, str]) -> tuple[Path | None, dict[str, Any]]:
    named = env.get("CREDITBOT_CONFIG", "").strip()
    path = Path(named) if named else Path("creditbot.toml")
    if not path.is_file():
        if named:
            raise SettingsError("CREDITBOT_CONFIG", f"{named!r} does not exist")
        return None, {}
    try:
        return path, tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError("CREDITBOT_CONFIG", f"{path} is not valid TOML: {exc}") from None


def _table(config: Mapping[str, Any], name: str, path: Path | None) -> dict[str, Any]:
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise SettingsError(f"{name}", f"must be a TOML table in {path}")
    return value


def _products(raw: object, path: Path | None) -> tuple[Product, ...]:
    if raw == []:
        return DEFAULT_PRODUCTS
    if not isinstance(raw, list):
        raise SettingsError("products", f"must be an array of tables ([[products]]) in {path}")
    base = path.parent if path else Path(".")
    products = []
    for i, item in enumerate(raw):
        where = f"products[{i}]"
        if not isinstance(item, dict):
            raise SettingsError(where, "must be a table")
        for key in ("name", "match", "notebook"):
            if not isinstance(item.get(key), str) or not item[key]:
                raise SettingsError(f"{where}.{key}", "is required")
        try:
            pattern = re.compile(item["match"])
        except re.error as exc:
            raise SettingsError(f"{where}.match", f"is not a regular expression: {exc}") from None
        notebook = Path(item["notebook"])
        if not notebook.is_absolute():
            notebook = base / notebook
        if not notebook.is_file():
            raise SettingsError(f"{where}.notebook", f"{item['notebook']!r} does not exist")
        products.append(Product(item["name"], pattern, notebook))
    return tuple(products)


def _patterns(table: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """Extra regular expressions that recognise a page by what it says."""
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingsError(f"looker.{key}", "must be a list of regular expressions")
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SettingsError(f"looker.{key}", f"{pattern!r} is not valid: {exc}") from None
    return tuple(value)


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return float(default)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(name, f"must be at least {minimum:g}")
    return value


def _cfg_number(
    table: Mapping[str, Any], key: str, default: float, section: str, minimum: float = 0
) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise SettingsError(f"{section}.{key}", f"must be a number of at least {minimum:g}")
    return float(value)


def _identifier(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise SettingsError(name, f"{value!r} is not a Python variable name")
    return value


def _flag(env: Mapping[str, str], name: str, default: object) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return bool(default)
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, f"{raw!r} is not true/false")
