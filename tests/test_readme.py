"""The README is the manual: its TOML examples must load, and its selector defaults must be the
code's, so a person copying them gets what the text says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import main
from bot.slack import BOT_SCOPES
from core.policies import Selector
from sandbox.slack import BOT_SCOPES as SANDBOX_SCOPES
from scraper.cascade import BUILT_IN, cascade
from worker.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README, re.DOTALL)


def test_the_full_toml_example_loads(tmp_path: Path) -> None:
    [full] = [b for b in TOML_BLOCKS if "[[products]]" in b]
    config = tmp_path / "creditbot.toml"
    config.write_text(full.replace('"notebooks/', f'"{REPO}/notebooks/'), encoding="utf-8")
    settings = load_settings(
        {"LOOKER_BASE_URL": "https://acme.cloud.looker.com", "CREDITBOT_CONFIG": str(config)},
        dotenv=None,
    )
    assert [p.name for p in settings.notebook.products] == ["Verify", "PSMS"]
    assert settings.retry.max_attempts == 5 and settings.session_warning_hours == 24
    assert settings.paused is False and settings.retention_days == 90
    assert settings.notebook.parameters["warehouse_url"].startswith("trino://")


def test_the_documented_cascades_are_the_built_in_ones() -> None:
    [selectors] = [b for b in TOML_BLOCKS if "[looker.selectors]  # built in" in b]
    documented = tomllib.loads(selectors)["looker"]["selectors"]
    parsed = {
        element: tuple(Selector.parse(s, element) for s in ways)
        for element, ways in documented.items()
    }
    assert parsed == BUILT_IN


def test_the_hints_example_loads(tmp_path: Path) -> None:
    [example] = [b for b in TOML_BLOCKS if "settle_ms" in b and "[[products]]" not in b]
    config = tmp_path / "creditbot.toml"
    config.write_text(example, encoding="utf-8")
    settings = load_settings(
        {"LOOKER_BASE_URL": "https://acme.cloud.looker.com", "CREDITBOT_CONFIG": str(config)},
        dotenv=None,
    )
    assert cascade(settings.looker, "sql_viewer")[1][0] == Selector("label", "Generated SQL")


def test_every_setting_is_documented() -> None:
    code = (REPO / "worker" / "settings.py").read_text() + (REPO / "auth" / "store.py").read_text()
    names = set(re.findall(r'"((?:SLACK|LOOKER|CREDITBOT|CHROMIUM|POLL|LOOKBACK)_[A-Z_]+)"', code))
    assert names and all(f"`{name}`" in README for name in names), names


def test_the_scopes_table_is_what_doctor_checks_and_what_the_sandbox_grants() -> None:
    """The README's table, `doctor`'s list and the local Slack's bot token agree, so every test
    against the sandbox proves the documented scopes are enough for what CreditBot calls."""
    _, _, rest = README.partition("| scope | why |\n| --- | --- |\n")
    rows = re.findall(r"^\| `([a-z:.]+)` \| (.+) \|$", rest.split("\n\n")[0], re.MULTILINE)
    assert dict(rows) == BOT_SCOPES
    assert list(SANDBOX_SCOPES) == list(BOT_SCOPES)


def test_every_command_is_in_the_commands_table() -> None:
    parser = main.build_parser()
    [commands] = [a for a in parser._actions if a.dest == "command"]
    _, _, table = README.partition("## Commands\n")
    for name in commands.choices:  # type: ignore[union-attr]
        assert f"| `python main.py {name}" in table.split("\n\n")[0], name
