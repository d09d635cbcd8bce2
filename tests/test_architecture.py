"""The floors of the architecture, as the imports say them.

`core` (the shared words) imports nothing of the project; the components (`bot`, `scraper`,
`notebooks`, `auth`, `state`) never reach up to the `worker` that orchestrates them; the product
does not depend on its test bed (`sandbox`), except the `demo` command that exists to run it; the
sandbox, a stand-in for Slack and Looker, knows nothing of the product it stands in for; and the
instruments that drive the product from outside (`bench`) may use the sandbox, while nothing of the
product or the sandbox uses them.

Every import in every module counts, including the ones inside functions. Checking each module's
direct imports is enough: a forbidden chain would need a forbidden link somewhere.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = {"auth", "bot", "notebooks", "ops", "scraper", "state"}
INSTRUMENTS = {"bench"}
PROJECT = COMPONENTS | INSTRUMENTS | {"core", "sandbox", "worker", "main"}
DEMO_ENTRY = "worker/demo.py"


def imports_in(source: str, name: str = "<source>") -> set[str]:
    """The project packages a module imports, wherever in it the import stands."""
    imported = set()
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module.split(".")[0])
    return imported & PROJECT


def modules() -> dict[str, set[str]]:
    """Each tracked Python file of the product and the sandbox, with what it imports."""
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: imports_in((REPO / name).read_text(encoding="utf-8"), name)
        for name in files
        if not name.startswith("tests/")
    }


def floor(path: str) -> str:
    return path.split("/")[0].removesuffix(".py")


Breaches = dict[str, list[str]]


def core_reaches_out(mods: dict[str, set[str]]) -> Breaches:
    return {p: sorted(i - {"core"}) for p, i in mods.items() if floor(p) == "core" and i - {"core"}}


def components_reach_up(mods: dict[str, set[str]]) -> Breaches:
    up = {"worker", "main", "sandbox"}
    return {p: sorted(i & up) for p, i in mods.items() if floor(p) in COMPONENTS and i & up}


def product_uses_the_sandbox(mods: dict[str, set[str]]) -> Breaches:
    return {
        p: ["sandbox"]
        for p, i in mods.items()
        if "sandbox" in i and floor(p) not in {"sandbox", *INSTRUMENTS} and p != DEMO_ENTRY
    }


def product_uses_the_instruments(mods: dict[str, set[str]]) -> Breaches:
    return {
        p: sorted(i & INSTRUMENTS)
        for p, i in mods.items()
        if floor(p) not in INSTRUMENTS and i & INSTRUMENTS
    }


def sandbox_uses_the_product(mods: dict[str, set[str]]) -> Breaches:
    return {
        p: sorted(i - {"sandbox"})
        for p, i in mods.items()
        if floor(p) == "sandbox" and i - {"sandbox"}
    }


RULES = (
    core_reaches_out,
    components_reach_up,
    product_uses_the_sandbox,
    sandbox_uses_the_product,
    product_uses_the_instruments,
)


@pytest.mark.parametrize("rule", RULES, ids=[r.__name__ for r in RULES])
def test_the_floors_hold(rule: Callable[[dict[str, set[str]]], Breaches]) -> None:
    assert rule(modules()) == {}


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        ("core/x.py", "from bot.links import extract_links\n", core_reaches_out),
        ("bot/x.py", "from worker.settings import Settings\n", components_reach_up),
        ("scraper/x.py", "def f():\n    import worker.cycle\n", components_reach_up),
        ("worker/x.py", "from sandbox.slack import ANALYST\n", product_uses_the_sandbox),
        ("sandbox/x.py", "from bot.reply import money\n", sandbox_uses_the_product),
        ("sandbox/x.py", "from bench.stats import percentile\n", sandbox_uses_the_product),
        ("worker/x.py", "def f():\n    import bench.procs\n", product_uses_the_instruments),
    ],
)
def test_each_rule_catches_a_breach(
    path: str, source: str, rule: Callable[[dict[str, set[str]]], Breaches]
) -> None:
    """The rules are not vacuous: a module that reaches across a floor, even lazily, is caught."""
    assert path in rule({**modules(), path: imports_in(source)})
