"""The README is the manual: its TOML examples must load, and its selector defaults must be the
code's, so a person copying them gets what the text says."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from core.policies import Selector
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
