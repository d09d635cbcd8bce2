"""Settings: every bad value is refused naming its setting, and the CLI turns that into exit 2.

The CLI tests run `main.py` in a subprocess with an environment stripped of every CreditBot
setting, from the repository root (which has no `.env` and no `creditbot.toml`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import SettingsError
from core.policies import Selector
from core.urls import origin_of
from scraper.cascade import cascade
from worker.settings import (
    DEFAULT_TEMPLATE,
    NOTEBOOKS_DIR,
    Settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parent.parent
BASE = {"LOOKER_BASE_URL": "https://acme.cloud.looker.com/"}
SETTING_NAMES = (
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
)


@pytest.fixture(autouse=True)
def no_stray_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory, so no `creditbot.toml` of the repository is picked up."""
    monkeypatch.chdir(tmp_path)


def load(env: dict[str, str]) -> Settings:
    return load_settings(env, dotenv=None)


def refused(env: dict[str, str]) -> SettingsError:
    with pytest.raises(SettingsError) as caught:
        load(env)
    return caught.value


def write_toml(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "creditbot.toml"
    path.write_text(text, encoding="utf-8")
    return {**BASE, "CREDITBOT_CONFIG": str(path)}


def test_defaults() -> None:
    s = load(BASE)
    assert s.looker_base_url == "https://acme.cloud.looker.com"
    assert s.looker_origin == "https://acme.cloud.looker.com"
    assert s.slack.api_url == "https://slack.com/api/"
    assert s.data_dir == Path("data")
    assert s.poll_seconds == 60
    assert s.lookback_hours == 24
    assert s.reply_template == DEFAULT_TEMPLATE
    assert s.notebook.parameter == "looker"
    assert s.notebook.result == "credit_amount"
    assert s.config_path is None
    assert s.slack_bot_token is None and s.slack_channel is None
    assert s.session_file_fallback is True
    assert s.paused is False and s.retention_days == 90


def test_default_products_point_at_the_shipped_notebooks() -> None:
    products = load(BASE).notebook.products
    assert [p.name for p in products] == ["Verify", "PSMS"]
    assert [p.notebook for p in products] == [
        NOTEBOOKS_DIR / "verify_credit_recommendation.ipynb",
        NOTEBOOKS_DIR / "psms_credit_recommendation.ipynb",
    ]
    assert NOTEBOOKS_DIR == ROOT / "notebooks"
    assert products[0].match.search("select * from AUTHY_events")
    assert products[1].match.search("where product = 'Programmable SMS'")
    assert products[1].match.search("programmable_sms")
    assert not products[0].match.search("select 1")


def test_environment_values_are_read() -> None:
    s = load(
        {
            **BASE,
            "SLACK_BOT_TOKEN": " xoxb-123 ",
            "SLACK_CHANNEL": "#help-sms-credit-pumping-memos",
            "SLACK_API_URL": "http://127.0.0.1:8123/api",
            "SLACK_ALERT_USER": "U0123ABCD",
            "CREDITBOT_DATA_DIR": "/tmp/cb",
            "POLL_SECONDS": "2.5",
            "LOOKBACK_HOURS": "0",
            "CREDITBOT_SESSION_FILE_FALLBACK": "no",
        }
    )
    assert s.slack_bot_token == "xoxb-123"
    assert s.slack_channel == "#help-sms-credit-pumping-memos"
    assert s.slack.api_url == "http://127.0.0.1:8123/api/"
    assert s.slack_alert_user == "U0123ABCD"
    assert s.data_dir == Path("/tmp/cb")
    assert s.poll_seconds == 2.5
    assert s.lookback_hours == 0
    assert s.session_file_fallback is False


@pytest.mark.parametrize(
    ("toml", "setting", "hint"),
    [
        ("[retry]\nmax_attempt = 1\n", "retry.max_attempt", "did you mean 'max_attempts'"),
        ("[sesion]\nfile_fallback = false\n", "sesion", "did you mean 'session'"),
        (
            "[memos]\nskip_answered_by_person = 'no'\n",
            "memos.skip_answered_by_person",
            "true or false",
        ),
        ("[looker]\nsettle_ms = 2.5\n", "looker.settle_ms", "a whole number"),
        ("[slack]\ntimeout_seconds = true\n", "slack.timeout_seconds", "a number"),
        ("[looker]\nnot_found_text = 'Oops'\n", "looker.not_found_text", "a list of strings"),
        (
            "[[products]]\nname = 'V'\nmatch = 'authy'\nnotbook = 'v.ipynb'\n",
            "products[0].notbook",
            "did you mean 'notebook'",
        ),
    ],
)
def test_typos_and_wrong_types_are_refused_naming_the_key_and_the_file(
    tmp_path: Path, toml: str, setting: str, hint: str
) -> None:
    """A typo must never fall back to a default in silence: `max_attempt = 1` would otherwise
    leave five attempts, and `"no"` would read as true."""
    error = refused(write_toml(tmp_path, toml))
    assert error.setting == setting
    assert hint in str(error) and str(tmp_path / "creditbot.toml") in str(error)


def test_an_unknown_creditbot_variable_in_dotenv_names_the_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("CREDITBOT_DATA_DRI=/srv/creditbot\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="CREDITBOT_DATA_DIR") as caught:
        load_settings(BASE, dotenv=dotenv)
    assert caught.value.setting == "CREDITBOT_DATA_DRI" and str(dotenv) in str(caught.value)


def test_dotenv_fills_but_does_not_override(tmp_path: Path) -> None:
    dotenv = tmp_path / "env.file"
    dotenv.write_text("SLACK_CHANNEL=C0DOTENV1\nPOLL_SECONDS=5\n", encoding="utf-8")
    s = load_settings({**BASE, "POLL_SECONDS": "7"}, dotenv=dotenv)
    assert s.slack_channel == "C0DOTENV1"
    assert s.poll_seconds == 7


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({}, "LOOKER_BASE_URL"),
        ({"LOOKER_BASE_URL": "  "}, "LOOKER_BASE_URL"),
        ({"LOOKER_BASE_URL": "acme.cloud.looker.com"}, "LOOKER_BASE_URL"),
        ({"LOOKER_BASE_URL": "ftp://acme.cloud.looker.com"}, "LOOKER_BASE_URL"),
        ({**BASE, "SLACK_CHANNEL": "help-sms"}, "SLACK_CHANNEL"),
        ({**BASE, "SLACK_CHANNEL": "#Has Spaces"}, "SLACK_CHANNEL"),
        ({**BASE, "SLACK_CHANNEL": "c0123abcd"}, "SLACK_CHANNEL"),
        ({**BASE, "SLACK_ALERT_USER": "someone"}, "SLACK_ALERT_USER"),
        ({**BASE, "SLACK_BOT_TOKEN": "hunter2"}, "SLACK_BOT_TOKEN"),
        ({**BASE, "SLACK_API_URL": "slack.com/api"}, "SLACK_API_URL"),
        ({**BASE, "POLL_SECONDS": "soon"}, "POLL_SECONDS"),
        ({**BASE, "POLL_SECONDS": "0"}, "POLL_SECONDS"),
        ({**BASE, "LOOKBACK_HOURS": "-1"}, "LOOKBACK_HOURS"),
        ({**BASE, "CREDITBOT_SESSION_FILE_FALLBACK": "maybe"}, "CREDITBOT_SESSION_FILE_FALLBACK"),
        ({**BASE, "CREDITBOT_CONFIG": "/nonexistent/creditbot.toml"}, "CREDITBOT_CONFIG"),
        ({**BASE, "CREDITBOT_DATADIR": "/srv/creditbot"}, "CREDITBOT_DATADIR"),
        ({**BASE, "CHROMIUM_PATH": "/nonexistent/chromium"}, "CHROMIUM_PATH"),
    ],
)
def test_bad_environment_names_the_setting(env: dict[str, str], setting: str) -> None:
    error = refused(env)
    assert error.setting == setting
    assert str(error).startswith(f"{setting}: ")


def test_bot_token_never_appears_in_the_error() -> None:
    error = refused({**BASE, "SLACK_BOT_TOKEN": "secret-value-123"})
    assert "secret-value-123" not in str(error)


def test_toml_file(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "verify.ipynb").write_text("{}", encoding="utf-8")
    env = write_toml(
        tmp_path,
        """
[notebook]
parameter = "query"
result = "credit"
timeout_seconds = 30
sql_dialect = "sqlite"

[[products]]
name = "Verify"
match = "(?i)authy"
notebook = "nb/verify.ipynb"

[reply]
template = "Credit approved: {total}"

[memos]
skip_answered_by_person = false

[worker]
paused = true

[retention]
days = 30.5

[looker.selectors]
sql_tab = { role = "tab", name = "SQL Query" }
""",
    )
    s = load(env)
    assert s.config_path == tmp_path / "creditbot.toml"
    assert s.notebook.parameter == "query"
    assert s.notebook.result == "credit"
    assert s.notebook.timeout_seconds == 30
    assert s.notebook.sql_dialect == "sqlite"
    assert [(p.name, p.notebook) for p in s.notebook.products] == [
        ("Verify", tmp_path / "nb" / "verify.ipynb")
    ]
    assert s.reply_template == "Credit approved: {total}"
    assert s.skip_answered_by_person is False
    assert s.paused is True and s.retention_days == 30.5
    # A hint is tried first; the built-in ways follow it, so a wrong hint costs nothing.
    [(hint, source), *rest] = cascade(s.looker, "sql_tab")
    assert (hint, source) == (Selector("role", "tab", name="SQL Query"), "configured")
    assert rest[0] == (Selector("role", "tab", name="SQL"), "built-in")
    assert cascade(s.looker, "data_toggle")[0][1] == "built-in"


def test_template_with_escaped_braces_is_accepted(tmp_path: Path) -> None:
    s = load(write_toml(tmp_path, "[reply]\ntemplate = 'Approved, {total}, {{exceptions}}'\n"))
    assert s.reply_template == "Approved, {total}, {{exceptions}}"


def test_creditbot_toml_in_the_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "creditbot.toml").write_text('[reply]\ntemplate = "OK {total}"\n')
    assert load(BASE).reply_template == "OK {total}"


@pytest.mark.parametrize(
    ("toml", "setting"),
    [
        ("[reply]\ntemplate = 'Approved, exceptions'\n", "reply.template"),
        ("[reply]\ntemplate = 'Approved, {total}, {exceptions}'\n", "reply.template"),
        ("[reply]\ntemplate = 'Approved, {total} {'\n", "reply.template"),
        ("[reply]\ntemplate = 'Approved {0}, {total}'\n", "reply.template"),
        ("[[products]\nname = 'x'\n", "CREDITBOT_CONFIG"),
        ("[notebook]\nparameter = 'not an identifier'\n", "notebook.parameter"),
        ("[notebook]\nresult = 3\n", "notebook.result"),
        ("[notebook]\ntimeout_seconds = 'long'\n", "notebook.timeout_seconds"),
        ("[memos]\nmax_links = 0\n", "memos.max_links"),
        ("[retry]\nmax_attempts = true\n", "retry.max_attempts"),
        ("reply = 'x'\n", "reply"),
        ("products = 'x'\n", "products"),
        ("[[products]]\nname = 'V'\nmatch = 'authy'\n", "products[0].notebook"),
        (
            "[[products]]\nname = 'V'\nmatch = '(?i)auth(y'\nnotebook = 'v.ipynb'\n",
            "products[0].match",
        ),
        (
            "[[products]]\nname = 'V'\nmatch = 'authy'\nnotebook = 'missing.ipynb'\n",
            "products[0].notebook",
        ),
        ("[looker.selectors]\nsql_tab = { name = 'SQL' }\n", "looker.selectors.sql_tab"),
        ("[looker.selectors]\nsql_tab = { css = 'a', role = 'tab' }\n", "looker.selectors.sql_tab"),
        ("[looker.selectors]\neditor_row = { css = 'a' }\n", "looker.selectors.editor_row"),
        (
            "[looker.selectors]\nsql_tab = [{ role = 'tab' }, { css = 3 }]\n",
            "looker.selectors.sql_tab[1].css",
        ),
        (
            "[looker.selectors]\nheading = { role = 'tab', level = 2 }\n",
            "looker.selectors.heading.level",
        ),
        ("[looker]\nnot_found_text = ['(unclosed']\n", "looker.not_found_text"),
        ("[worker]\npaused = 'yes'\n", "worker.paused"),
        ("[worker]\npause = true\n", "worker.pause"),
        ("[retention]\ndays = 0\n", "retention.days"),
        ("[retention]\nday = 30\n", "retention.day"),
    ],
)
def test_bad_toml_names_the_setting(tmp_path: Path, toml: str, setting: str) -> None:
    (tmp_path / "v.ipynb").write_text("{}", encoding="utf-8")
    error = refused(write_toml(tmp_path, toml))
    assert error.setting == setting


def test_missing_notebook_error_names_the_file(tmp_path: Path) -> None:
    error = refused(
        write_toml(tmp_path, "[[products]]\nname='V'\nmatch='a'\nnotebook='gone.ipynb'\n")
    )
    assert "gone.ipynb" in str(error)


def test_require_slack() -> None:
    with pytest.raises(SettingsError) as caught:
        load(BASE).require_slack()
    assert caught.value.setting == "SLACK_BOT_TOKEN"
    with pytest.raises(SettingsError) as caught:
        load({**BASE, "SLACK_BOT_TOKEN": "xoxb-1"}).require_slack()
    assert caught.value.setting == "SLACK_CHANNEL"
    load({**BASE, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CHANNEL": "C0123ABCD"}).require_slack()


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://acme.cloud.looker.com/explore/a/b?qid=1", "https://acme.cloud.looker.com"),
        ("https://ACME.Cloud.Looker.com:443/x/1", "https://acme.cloud.looker.com"),
        ("HTTPS://acme.cloud.looker.com", "https://acme.cloud.looker.com"),
        ("http://acme.cloud.looker.com:80/", "http://acme.cloud.looker.com"),
        ("https://acme.cloud.looker.com:80/", "https://acme.cloud.looker.com:80"),
        ("http://127.0.0.1:9001/x", "http://127.0.0.1:9001"),
        ("https://acme.cloud.looker.com.evil.io/", "https://acme.cloud.looker.com.evil.io"),
        ("https://user:pw@acme.cloud.looker.com/", "https://acme.cloud.looker.com"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_other_ports_are_other_origins() -> None:
    assert origin_of("http://127.0.0.1:9001") != origin_of("http://127.0.0.1:9002")


# --- the command line -------------------------------------------------------------------------


def cli(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert not (ROOT / ".env").exists(), "a stray .env would leak settings into the CLI test"
    assert not (ROOT / "creditbot.toml").exists()
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean.update({"CREDITBOT_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run(
        [sys.executable, "main.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


FULL = {
    "LOOKER_BASE_URL": "http://127.0.0.1:9",
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_CHANNEL": "C0123ABCD",
}


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["LOOKER_BASE_URL", "SLACK_BOT_TOKEN", "SLACK_CHANNEL"])
def test_once_without_a_required_setting_exits_2(missing: str, tmp_path: Path) -> None:
    env = {k: v for k, v in FULL.items() if k != missing}
    done = cli(["once"], env, tmp_path)
    assert done.returncode == 2, done.stderr
    assert missing in done.stderr
    assert done.stdout == ""


@pytest.mark.slow
def test_once_with_a_bad_setting_exits_2(tmp_path: Path) -> None:
    done = cli(["once"], {**FULL, "POLL_SECONDS": "often"}, tmp_path)
    assert done.returncode == 2, done.stderr
    assert "POLL_SECONDS" in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        "demo",
        "once",
        "run",
        "login",
        "scrape",
        "session",
        "doctor",
        "status",
        "report",
        "pause",
        "resume",
        "cleanup",
    ],
)
def test_help_of_every_command(command: str, tmp_path: Path) -> None:
    done = cli([command, "--help"], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python main.py {command}")


@pytest.mark.slow
def test_unknown_command_is_usage_error(tmp_path: Path) -> None:
    done = cli(["frobnicate"], {}, tmp_path)
    assert done.returncode == 2
    assert "frobnicate" in done.stderr
