"""`python main.py doctor` against the sandbox: the real Slack API (through slack_sdk), the real
Chromium, a real Jupyter kernel, the real session store and Looker's own answer.

Each prerequisite is broken the way a desk breaks it (a scope not granted, a bot not invited, an
expired session, a notebook without its `parameters` tag...), and the doctor must say so on its
line, keep going, and say how to fix it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import keyring
import nbformat
import pytest
from keyring.backends import fail

from bot.slack import BOT_SCOPES
from core.policies import Product
from notebooks import runner
from sandbox.slack import MEMO_CHANNEL_ID
from tests.notebook_files import make_notebook
from tests.test_session_store import MemoryKeyring
from tests.world import World
from worker import doctor as doc
from worker.doctor import (
    FAIL,
    OK,
    SKIP,
    assigned_in,
    check_kernel,
    check_keyring,
    check_notebook,
    check_slack,
    doctor,
)
from worker.settings import Settings

NAMES = [
    "settings",
    "data dir",
    "keyring",
    "slack token",
    "slack scopes",
    "slack channel",
    "chromium",
    "jupyter kernel",
    "notebook Verify",
    "notebook PSMS",
    "looker session",
]
LINE = re.compile(r"^(ok|FAIL|skip) +(.+?)  +(.*)$")


def lines(stdout: str) -> dict[str, tuple[str, str]]:
    """name -> (state, detail) of each check line."""
    found = {}
    for line in stdout.splitlines():
        if not line.strip():
            break
        match = LINE.match(line)
        assert match, f"not a check line: {line!r}"
        found[match[2].strip()] = (match[1], match[3])
    return found


def fixes(stdout: str) -> dict[str, str]:
    _, _, tail = stdout.partition("To fix:\n")
    return dict(line.strip().split(": ", 1) for line in tail.splitlines() if line.strip())


@pytest.fixture
def keyring_restored() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


def test_a_good_setup_passes_every_check(world: World) -> None:
    done = world.run("doctor", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    checks = lines(done.stdout)
    assert list(checks) == NAMES
    assert {state for state, _ in checks.values()} == {"ok"}, done.stdout
    assert world.env["CREDITBOT_CONFIG"] in checks["settings"][1]
    assert "0600 file fallback" in checks["keyring"][1]  # this machine has no OS keyring
    assert "U0CREDITBOT" in checks["slack token"][1]
    assert f"all {len(BOT_SCOPES)}" in checks["slack scopes"][1]
    assert MEMO_CHANNEL_ID in checks["slack channel"][1] and "member" in checks["slack channel"][1]
    assert "started headless and closed" in checks["chromium"][1]
    assert "forked from the fork server, started and answered" in checks["jupyter kernel"][1]
    assert "`credit_amount` assigned in cell" in checks["notebook Verify"][1]
    assert "accepts it" in checks["looker session"][1]
    assert done.stdout.rstrip().endswith(f"all {len(NAMES)} checks passed")
    # It asked Slack for real: auth.test for the token and its scopes, then the channel.
    assert {c.method for c in world.slack.calls()} >= {"auth.test", "conversations.list"}


def test_two_broken_prerequisites_are_each_reported_with_the_fix(world: World) -> None:
    world.slack.set_scopes([s for s in BOT_SCOPES if s not in ("reactions:write", "im:write")])
    world.looker.expire_sessions()
    done = world.run("doctor", timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    checks = lines(done.stdout)
    assert list(checks) == NAMES, "every check ran, after the failures too"
    failed = {name for name, (state, _) in checks.items() if state == "FAIL"}
    assert failed == {"slack scopes", "looker session"}, done.stdout
    assert "missing reactions:write" in checks["slack scopes"][1]
    assert "im:write" in checks["slack scopes"][1]
    assert "does not accept it" in checks["looker session"][1]
    how = fixes(done.stdout)
    assert "2 of 11 checks failed. To fix:" in done.stdout
    assert "reactions:write, im:write" in how["slack scopes"]
    assert "reinstall" in how["slack scopes"] and "Bot Token Scopes" in how["slack scopes"]
    assert "python main.py login" in how["looker session"]


def test_settings_that_do_not_load_exit_2_and_name_the_setting(world: World) -> None:
    done = world.run("doctor", POLL_SECONDS="often", timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    checks = lines(done.stdout)
    assert checks["settings"][0] == "FAIL" and "POLL_SECONDS" in checks["settings"][1]
    assert {state for name, (state, _) in checks.items() if name != "settings"} == {"skip"}
    assert "POLL_SECONDS" in fixes(done.stdout)["settings"]
    assert "Traceback" not in done.stderr


def test_a_refused_token_skips_what_needs_it(world: World) -> None:
    checks = {c.name: c for c in check_slack(replace(world.settings, slack_bot_token="xoxb-gone"))}
    assert checks["slack token"].state == FAIL and "invalid_auth" in checks["slack token"].detail
    assert "Bot User OAuth Token" in (checks["slack token"].fix or "")
    assert checks["slack scopes"].state == checks["slack channel"].state == SKIP
    assert "xoxb-gone" not in repr(checks)


def test_a_missing_token_and_channel_say_which_setting(world: World) -> None:
    checks = {c.name: c for c in check_slack(replace(world.settings, slack_bot_token=None))}
    assert checks["slack token"].state == FAIL and "SLACK_BOT_TOKEN" in checks["slack token"].detail
    checks = {c.name: c for c in check_slack(replace(world.settings, slack_channel=None))}
    assert checks["slack token"].state == OK
    assert checks["slack channel"].state == FAIL
    assert "SLACK_CHANNEL" in (checks["slack channel"].fix or "")


def test_a_bot_not_in_the_channel_is_told_the_invite(world: World) -> None:
    world.slack.set_member(MEMO_CHANNEL_ID, False)
    checks = {c.name: c for c in check_slack(world.settings)}
    channel = checks["slack channel"]
    assert channel.state == FAIL and "not in #help-sms-credit-pumping-memos" in channel.detail
    assert "/invite @CreditBot" in (channel.fix or "")
    assert checks["slack token"].state == checks["slack scopes"].state == OK


def test_a_chromium_that_will_not_start(world: World) -> None:
    report = doctor({**world.env, "CHROMIUM_PATH": "/bin/false"}, dotenv=None)
    checks = {c.name: c for c in report.checks}
    assert checks["chromium"].state == FAIL and "did not start" in checks["chromium"].detail
    assert "CHROMIUM_PATH" in (checks["chromium"].fix or "")
    assert checks["looker session"].state == SKIP
    assert checks["jupyter kernel"].state == OK


def test_a_missing_kernel(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "KERNEL", "no-such-kernel")  # as in test_setup_problems
    kernel = check_kernel(world.settings)
    assert kernel.state == FAIL and "no-such-kernel" in kernel.detail
    assert "ipykernel" in (kernel.fix or "")


def test_the_kernel_check_says_how_kernels_start(world: World, tmp_path: Path) -> None:
    off = replace(world.settings, notebook=replace(world.settings.notebook, fork_kernels=False))
    kernel = check_kernel(off)
    assert kernel.state == OK and "booted ([notebook] fork_kernels = false)" in kernel.detail
    # A module a notebook imports that CreditBot's Python lacks is named before a memo meets it.
    notebook = make_notebook(
        tmp_path / "n.ipynb", ["import no_such_module_here", "credit_amount = 1"]
    )
    product = Product(name="Odd", match="x", notebook=notebook)
    odd = replace(world.settings, notebook=replace(world.settings.notebook, products=(product,)))
    kernel = check_kernel(odd)
    assert kernel.state == OK and "forked from the fork server" in kernel.detail
    assert "could not import no_such_module_here" in kernel.detail


def notebook_settings(world: World, *notebooks: Path) -> Settings:
    products = tuple(
        Product(f"P{i}", re.compile("x"), path) for i, path in enumerate(notebooks, start=1)
    )
    return replace(world.settings, notebook=replace(world.settings.notebook, products=products))


def test_notebooks_without_parameters_or_result_fail_each_on_its_line(
    world: World, tmp_path: Path
) -> None:
    untagged = make_notebook(tmp_path / "untagged.ipynb", ["credit_amount = 1"], parameters=None)
    no_result = make_notebook(tmp_path / "no_result.ipynb", ["credit = 1", "print(credit)"])
    in_function = make_notebook(
        tmp_path / "in_function.ipynb", ["def f():\n    credit_amount = 1\n    return 1"]
    )
    good = make_notebook(tmp_path / "good.ipynb", ["%matplotlib inline\ncredit_amount, x = 1, 2"])
    missing = tmp_path / "gone.ipynb"
    settings = notebook_settings(world, untagged, no_result, in_function, good, missing)
    checks = {c.name: c for c in (check_notebook(settings, p) for p in settings.notebook.products)}
    assert checks["notebook P1"].state == FAIL
    assert "no cell tagged `parameters`" in checks["notebook P1"].detail
    assert "tag the cell" in (checks["notebook P1"].fix or "")
    for name in ("notebook P2", "notebook P3"):
        assert checks[name].state == FAIL and "no code cell assigns `credit_amount`" in (
            checks[name].detail
        )
        assert "[notebook] result" in (checks[name].fix or "")
    assert (
        checks["notebook P4"].state == OK and "assigned in cell 2" in checks["notebook P4"].detail
    )
    assert (
        checks["notebook P5"].state == FAIL
        and "cannot read notebook" in checks["notebook P5"].detail
    )


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("credit_amount = 1", True),
        ("credit_amount: float = 1.0", True),
        ("credit_amount: float", False),
        ("a, (b, *credit_amount) = 1, (2, 3)", True),
        ("credit_amount += 1", True),
        ("if x:\n    credit_amount = 1\nelse:\n    credit_amount = 0", True),
        ("try:\n    credit_amount = f()\nexcept Exception:\n    raise", True),
        ("for credit_amount in range(3):\n    pass", True),
        ("with open('f') as credit_amount:\n    pass", True),
        ("print(credit_amount := 4)", True),
        ("from decimal import Decimal as credit_amount", True),
        ("def f():\n    credit_amount = 1", False),
        ("def f():\n    global credit_amount\n    credit_amount = 1", True),
        ("class C:\n    credit_amount = 1", False),
        ("[credit_amount for credit_amount in range(3)]", False),
        ("credit_amount_total = 1", False),
        ("print(credit_amount)", False),
        ("# credit_amount = 1", False),
        ("x = 'credit_amount = 1'", False),
        ("!pip install x\ncredit_amount = 1", True),
        ("credit_amount = (\n", False),  # does not parse: skipped
    ],
)
def test_the_result_assignment_is_found_in_the_source(source: str, found: bool) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("credit_amount = 1"),
        nbformat.v4.new_code_cell(source),
    ]
    assert (assigned_in(nb, "credit_amount") == 2) is found


def test_a_data_dir_that_cannot_be_written_is_one_failure_among_the_checks(
    world: World, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    report = doctor({**world.env, "CREDITBOT_DATA_DIR": str(blocker / "data")}, dotenv=None)
    checks = {c.name: c for c in report.checks}
    assert checks["data dir"].state == FAIL and "cannot be written" in checks["data dir"].detail
    assert "CREDITBOT_DATA_DIR" in (checks["data dir"].fix or "")
    assert checks["slack token"].state == OK and checks["chromium"].state == OK
    assert report.exit_code == 1


def test_the_keyring_backend_is_named_or_the_file_fallback_said(
    world: World, keyring_restored: None
) -> None:
    keyring.set_keyring(fail.Keyring())
    check = check_keyring(world.settings)
    assert check.state == OK and "0600 file fallback" in check.detail
    forbidden = check_keyring(replace(world.settings, session_file_fallback=False))
    assert forbidden.state == FAIL
    assert "CREDITBOT_SESSION_FILE_FALLBACK" in (forbidden.fix or "")
    keyring.set_keyring(MemoryKeyring())
    check = check_keyring(world.settings)
    assert check.state == OK and "tests.test_session_store.MemoryKeyring" in check.detail


def test_without_the_scopes_header_the_check_is_skipped_not_passed(world: World) -> None:
    check = doc._scopes_check(None)
    assert check.state == SKIP and "x-oauth-scopes" in check.detail
    assert doc._scopes_check(frozenset(BOT_SCOPES)).state == OK


def test_the_report_renders_one_line_per_check_and_the_fixes() -> None:
    report = doc.DoctorReport(
        [
            doc.Check("settings", OK, "loaded"),
            doc.Check("slack scopes", FAIL, "missing chat:write", "add chat:write"),
            doc.Check("slack channel", SKIP, "needs the token"),
        ]
    )
    assert report.render() == (
        "ok    settings       loaded\n"
        "FAIL  slack scopes   missing chat:write\n"
        "skip  slack channel  needs the token\n"
        "\n"
        "1 of 3 checks failed. To fix:\n"
        "  slack scopes: add chat:write\n"
    )
    assert report.exit_code == 1


def test_a_check_that_never_answers_is_cut_short_not_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(doc.Stuck, match=r"no answer within 0\.2 s"):
        doc._within(0.2, lambda: time.sleep(5))
    assert time.monotonic() - started < 2
    with pytest.raises(ValueError, match="its own"):
        doc._within(5, lambda: int("its own"))
    assert doc._within(5, lambda: 42) == 42
