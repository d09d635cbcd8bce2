"""Settings from the environment (and `.env`), plus the TOML file for what is not secret.

Every problem is a `SettingsError` naming the setting (and the file it came from), so the CLI can
exit 2 with a message a person can act on. Nothing unknown is accepted: a TOML table or key that
is not declared in `SCHEMA`, a value of the wrong type, or a `CREDITBOT_*` variable CreditBot
does not read is refused, with the nearest known name, because a typo that silently falls back
to a default is a setting nobody knows is not applied. Secrets (the bot token) are accepted only
from the environment. The settings are read once and handed to each component as its own policy.

A hand-written reader rather than pydantic-settings: importing pydantic costs about 0.2 s on every
start, and an idle `once` must finish in under 0.5 s.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core import redact
from core.errors import SettingsError
from core.policies import (
    BrowserOptions,
    LookerPolicy,
    NotebookPolicy,
    Product,
    RetryPolicy,
    SlackPolicy,
)
from core.sqlcheck import dialect_for
from scraper.cascade import parse_hints
from worker.engines import default_kernels

DEFAULT_SLACK_API_URL = SlackPolicy.api_url
DEFAULT_TEMPLATE = "Approved, {total}, exceptions"
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"

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

ENVIRONMENT = (
    "SLACK_BOT_TOKEN",
    "SLACK_CHANNEL",
    "SLACK_API_URL",
    "SLACK_ALERT_USER",
    "LOOKER_BASE_URL",
    "CREDITBOT_DATA_DIR",
    "CREDITBOT_CONFIG",
    "CHROMIUM_PATH",
    "POLL_SECONDS",
    "LOOKBACK_HOURS",
    "CREDITBOT_SESSION_FILE_FALLBACK",
    "CREDITBOT_FAILPOINTS",  # the crash tests' kill switch (worker.failpoints)
)


@dataclass(frozen=True)
class Key:
    """What one TOML key holds: its type, and the least value a number may take."""

    kind: str  # string, integer, number, boolean, strings (a list), table (free-form)
    minimum: float | None = None


SCHEMA: dict[str, dict[str, Key]] = {
    "notebook": {
        "parameter": Key("string"),
        "result": Key("string"),
        "timeout_seconds": Key("integer", 1),
        "sql_dialect": Key("string"),
        "parameters": Key("table"),
        "kernels": Key("integer", 1),
        "fork_kernels": Key("boolean"),
    },
    "reply": {"template": Key("string")},
    "memos": {"max_links": Key("integer", 1), "skip_answered_by_person": Key("boolean")},
    "retry": {
        "max_attempts": Key("integer", 1),
        "backoff_seconds": Key("number", 0),
        "backoff_max_seconds": Key("number", 0),
    },
    "slack": {
        "timeout_seconds": Key("number", 1),
        "rate_limit_retries": Key("integer", 0),
        "server_error_retries": Key("integer", 0),
    },
    "looker": {
        "navigation_timeout_ms": Key("integer", 100),
        "element_timeout_ms": Key("integer", 100),
        "settle_ms": Key("integer", 100),
        "pages": Key("integer", 1),
        "selectors": Key("table"),
        "not_found_text": Key("strings"),
        "error_text": Key("strings"),
    },
    "session": {"expiry_warning_hours": Key("number", 0), "file_fallback": Key("boolean")},
    "worker": {
        "keep_warm_seconds": Key("number", 0),
        "paused": Key("boolean"),
        "shadow": Key("boolean"),
    },
    "retention": {"days": Key("number", 1)},
}
PRODUCT_KEYS = {"name": Key("string"), "match": Key("string"), "notebook": Key("string")}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    looker: LookerPolicy
    slack: SlackPolicy = field(default_factory=SlackPolicy)
    notebook: NotebookPolicy = field(default_factory=NotebookPolicy)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    browser: BrowserOptions = field(default_factory=BrowserOptions)
    slack_bot_token: str | None = None
    slack_channel: str | None = None
    slack_alert_user: str | None = None
    poll_seconds: float = 60.0
    lookback_hours: float = 24.0
    config_path: Path | None = None
    reply_template: str = DEFAULT_TEMPLATE
    max_links_per_memo: int = 10
    skip_answered_by_person: bool = True
    session_file_fallback: bool = True
    session_warning_hours: float = 24.0
    keep_warm_seconds: float = 600.0  # `run` keeps the browser and kernels this long unused
    paused: bool = False  # [worker] paused: post nothing, open no browser, whatever the mark
    shadow: bool = False  # [worker] shadow or --shadow: DM what would be posted, post nothing
    retention_days: float = 90.0  # [retention] days: artefacts older than this are removed

    @property
    def records_dir(self) -> Path:
        """Where the state and the summaries go: the data dir, or its `shadow/` folder in
        shadow mode, so that going live later starts from the live record, not the shadow's."""
        return self.data_dir / "shadow" if self.shadow else self.data_dir

    @property
    def code_cache_dir(self) -> Path:
        """Compiled code kept between runs (the Playwright driver's): a cache, safe to delete."""
        return self.data_dir / "cache" / "node"

    @property
    def looker_base_url(self) -> str:
        return self.looker.base_url

    @property
    def looker_origin(self) -> str:
        return self.looker.origin

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
        if self.shadow and not self.slack_alert_user:
            raise SettingsError(
                "SLACK_ALERT_USER",
                "is required in shadow mode: what CreditBot would post is DMed to that person",
            )


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> Settings:
    """Read everything once, validating as it goes; the first problem raises `SettingsError`."""
    env = dict(os.environ if environ is None else environ)
    from_file: set[str] = set()
    if dotenv is not None and dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            if value is not None and key not in env:
                env[key] = value
                from_file.add(key)
    _refuse_unknown_environment(env, from_file, dotenv)

    config_path, config = _read_toml(env)
    toml = Toml(config, config_path)
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
    redact.register(token)

    template = toml.get("reply", "template", DEFAULT_TEMPLATE)
    if "{total}" not in template:
        raise SettingsError("reply.template", "must contain {total}")
    try:  # fail now, not when the first approval is about to be posted
        template.format(total="$0.00")
    except (KeyError, IndexError, ValueError) as exc:
        raise SettingsError(
            "reply.template", f"only {{total}} can be filled in ({type(exc).__name__}: {exc})"
        ) from None
    try:
        hints = parse_hints(toml.get("looker", "selectors", {}), "looker.selectors")
    except ValueError as exc:
        setting, _, problem = str(exc).partition(": ")
        raise SettingsError(setting, f"{problem} (in {config_path})") from None
    parameters = dict(toml.get("notebook", "parameters", {}))
    configured_dialect = toml.get("notebook", "sql_dialect", None)
    dialect = dialect_for(parameters.get("warehouse_url"), configured_dialect)

    return Settings(
        data_dir=Path(env.get("CREDITBOT_DATA_DIR", "").strip() or "data"),
        looker=LookerPolicy(
            base_url=base.rstrip("/"),
            navigation_timeout_ms=toml.get("looker", "navigation_timeout_ms", 30_000),
            element_timeout_ms=toml.get("looker", "element_timeout_ms", 15_000),
            settle_ms=toml.get("looker", "settle_ms", 3_000),
            hints=hints,
            not_found_text=toml.patterns("looker", "not_found_text"),
            error_text=toml.patterns("looker", "error_text"),
            sql_dialect=dialect,
            pages=toml.get("looker", "pages", 4),
        ),
        slack=SlackPolicy(
            api_url=api_url,
            timeout_seconds=float(toml.get("slack", "timeout_seconds", 30)),
            rate_limit_retries=toml.get("slack", "rate_limit_retries", 5),
            server_error_retries=toml.get("slack", "server_error_retries", 3),
        ),
        notebook=NotebookPolicy(
            parameter=toml.identifier("notebook", "parameter", "looker"),
            result=toml.identifier("notebook", "result", "credit_amount"),
            parameters=parameters,
            timeout_seconds=toml.get("notebook", "timeout_seconds", 600),
            sql_dialect=dialect,
            products=_products(config.get("products", []), config_path),
            kernels=toml.get("notebook", "kernels", default_kernels()),
            fork_kernels=toml.get("notebook", "fork_kernels", True),
        ),
        retry=RetryPolicy(
            max_attempts=toml.get("retry", "max_attempts", 5),
            backoff_seconds=float(toml.get("retry", "backoff_seconds", 60)),
            backoff_max_seconds=float(toml.get("retry", "backoff_max_seconds", 3600)),
        ),
        browser=BrowserOptions(chromium_path=_chromium_path(env)),
        slack_bot_token=token,
        slack_channel=channel,
        slack_alert_user=alert,
        poll_seconds=_number(env, "POLL_SECONDS", 60, minimum=1),
        lookback_hours=_number(env, "LOOKBACK_HOURS", 24, minimum=0),
        config_path=config_path,
        reply_template=template,
        max_links_per_memo=toml.get("memos", "max_links", 10),
        skip_answered_by_person=toml.get("memos", "skip_answered_by_person", True),
        session_file_fallback=_flag(
            env, "CREDITBOT_SESSION_FILE_FALLBACK", toml.get("session", "file_fallback", True)
        ),
        session_warning_hours=float(toml.get("session", "expiry_warning_hours", 24)),
        keep_warm_seconds=float(toml.get("worker", "keep_warm_seconds", 600)),
        paused=toml.get("worker", "paused", False),
        shadow=toml.get("worker", "shadow", False),
        retention_days=float(toml.get("retention", "days", 90)),
    )


class Toml:
    """The TOML file, checked against `SCHEMA` as a whole before any value is read."""

    def __init__(self, config: dict[str, Any], path: Path | None) -> None:
        self.config = config
        self.path = path
        for table, value in config.items():
            if table == "products":
                continue  # an array of tables, read by `_products`
            keys = SCHEMA.get(table)
            if keys is None:
                self.refuse(table, f"is not a table CreditBot reads{_near(table, SCHEMA)}")
            if not isinstance(value, dict):
                self.refuse(table, "must be a table ([table])")
            for key, item in value.items():
                if key not in keys:
                    self.refuse(f"{table}.{key}", f"is not a key of [{table}]{_near(key, keys)}")
                self.check(f"{table}.{key}", item, keys[key])

    def refuse(self, setting: str, problem: str) -> None:
        raise SettingsError(setting, f"{problem} (in {self.path})")

    def check(self, setting: str, value: object, key: Key) -> None:
        wanted = {
            "string": (str, "a string"),
            "integer": (int, "a whole number"),
            "number": ((int, float), "a number"),
            "boolean": (bool, "true or false"),
            "strings": (list, "a list of strings"),
            "table": (dict, "a table"),
        }[key.kind]
        is_bool = isinstance(value, bool)
        if not isinstance(value, wanted[0]) or (is_bool and key.kind != "boolean"):
            self.refuse(setting, f"must be {wanted[1]}, not {value!r}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            self.refuse(setting, f"must be {wanted[1]}")
        if key.minimum is not None and value < key.minimum:  # type: ignore[operator]
            self.refuse(setting, f"must be at least {key.minimum:g}, not {value!r}")

    def get(self, table: str, key: str, default: Any) -> Any:
        assert key in SCHEMA[table], f"{table}.{key} is read but not declared in SCHEMA"
        return self.config.get(table, {}).get(key, default)

    def identifier(self, table: str, key: str, default: str) -> str:
        """A name the notebook code uses: it must be a Python variable name."""
        value = self.get(table, key, default)
        if not value.isidentifier():
            self.refuse(f"{table}.{key}", f"{value!r} is not a Python variable name")
        return str(value)

    def patterns(self, table: str, key: str) -> tuple[str, ...]:
        """Regular expressions that recognise a page by what it says."""
        value = tuple(self.get(table, key, []))
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.refuse(f"{table}.{key}", f"{pattern!r} is not valid: {exc}")
        return value


def _near(word: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"


def _refuse_unknown_environment(
    env: Mapping[str, str], from_file: set[str], dotenv: Path | None
) -> None:
    """A `CREDITBOT_*` name CreditBot does not read is a typo (others' variables may share the
    SLACK_ and LOOKER_ prefixes, and are left alone)."""
    for name in sorted(env):
        if name.startswith("CREDITBOT_") and name not in ENVIRONMENT:
            where = f"in {dotenv}" if name in from_file else "in the environment"
            near = _near(name, dict.fromkeys(ENVIRONMENT))
            raise SettingsError(name, f"is not a setting CreditBot reads ({where}){near}")


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


def _products(raw: object, path: Path | None) -> tuple[Product, ...]:
    if raw == []:
        return DEFAULT_PRODUCTS
    if not isinstance(raw, list):
        raise SettingsError("products", f"must be an array of tables ([[products]]) in {path}")
    base = path.parent if path else Path(".")
    products = []
    toml = Toml({}, path)
    for i, item in enumerate(raw):
        where = f"products[{i}]"
        if not isinstance(item, dict):
            raise SettingsError(where, f"must be a table (in {path})")
        for key, value in item.items():
            if key not in PRODUCT_KEYS:
                near = _near(key, PRODUCT_KEYS)
                toml.refuse(f"{where}.{key}", f"is not a key of [[products]]{near}")
            toml.check(f"{where}.{key}", value, PRODUCT_KEYS[key])
        for key in PRODUCT_KEYS:
            if not item.get(key):
                raise SettingsError(f"{where}.{key}", f"is required (in {path})")
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


def _chromium_path(env: Mapping[str, str]) -> str | None:
    """CHROMIUM_PATH, if set, must name a program that can be run: a wrong path is a setting to
    fix, not a browser crash on every memo."""
    path = env.get("CHROMIUM_PATH", "").strip() or None
    if path and not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise SettingsError("CHROMIUM_PATH", f"{path!r} is not an executable file")
    return path


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


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(name, f"{raw!r} is not true/false")
