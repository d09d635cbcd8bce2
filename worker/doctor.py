"""`python main.py doctor`: every prerequisite of a working CreditBot, checked for real.

Each check says `ok`, `FAIL` or `skip` (it needs one that failed), what it found, and on failure
how to fix it. A failed check never stops the others. Exit status, for scripts: 0 all passed,
1 some check failed, 2 the settings could not even be loaded (nothing else can be checked).

The checks reuse what the worker itself runs: the settings reader, `preflight` (data dir,
kernel), the notebook runner's `prepare` (the `parameters` cell), the Slack gateway, Chromium's
launch options, and `session_status` (Looker asked, headlessly, whether it accepts the session).
"""

from __future__ import annotations

import ast
import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nbformat
from slack_sdk.errors import SlackApiError

from auth.store import FALLBACK_SETTING, SessionStore
from bot.slack import BOT_SCOPES, SlackGateway, SlackUnavailable
from core.errors import ChannelAccessError, CreditBotError, SettingsError, SetupError
from core.policies import Product
from notebooks import runner
from worker import preflight
from worker.settings import Settings, load_settings

OK, FAIL, SKIP = "ok", "FAIL", "skip"
BROWSER_SECONDS = 30  # to start Chromium, and again to close it
KERNEL_SECONDS = 90  # to start the kernel and hear from it
T = TypeVar("T")


class Stuck(Exception):
    """A check's browser or kernel did not answer in time."""


SLACK_APPS = "https://api.slack.com/apps"


@dataclass(frozen=True)
class Check:
    name: str
    state: str  # OK, FAIL or SKIP
    detail: str
    fix: str | None = None

    @property
    def failed(self) -> bool:
        return self.state == FAIL


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    settings_loaded: bool = True

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.failed]

    @property
    def exit_code(self) -> int:
        if not self.settings_loaded:
            return 2
        return 1 if self.failed else 0

    def render(self) -> str:
        """One line per check (`ok`/`FAIL`/`skip`, name, detail), then the fixes."""
        width = max((len(c.name) for c in self.checks), default=0)
        lines = [f"{c.state:<5} {c.name:<{width}}  {c.detail}" for c in self.checks]
        failed = self.failed
        skipped = sum(c.state == SKIP for c in self.checks)
        lines.append("")
        if not failed:
            lines.append(
                f"all {len(self.checks) - skipped} checks passed"
                + (f" ({skipped} skipped)" if skipped else "")
            )
            return "\n".join(lines) + "\n"
        lines.append(f"{len(failed)} of {len(self.checks)} checks failed. To fix:")
        for check in failed:
            lines.append(f"  {check.name}: {check.fix or check.detail}")
        return "\n".join(lines) + "\n"


# What is checked, in order; those that need the settings are skipped when they do not load.
NEEDS_SETTINGS = (
    "data dir",
    "keyring",
    "slack token",
    "slack scopes",
    "slack channel",
    "chromium",
    "jupyter kernel",
    "notebooks",
    "looker session",
)


def doctor(
    environ: Mapping[str, str] | None = None, *, dotenv: Path | None = Path(".env")
) -> DoctorReport:
    """Load the settings (as every command does) and check everything they point at."""
    try:
        settings = load_settings(environ, dotenv=dotenv)
    except SettingsError as exc:
        report = DoctorReport(settings_loaded=False)
        report.checks.append(
            Check(
                "settings",
                FAIL,
                str(exc),
                f"fix {exc.setting} (in the environment, .env or the TOML file named above); "
                "the other checks need the settings",
            )
        )
        report.checks += [Check(name, SKIP, "needs the settings") for name in NEEDS_SETTINGS]
        return report
    sources = ["the environment"]
    if dotenv is not None and dotenv.is_file():
        sources.append(str(dotenv))
    toml = (
        f"TOML file {settings.config_path}"
        if settings.config_path
        else "no TOML file (CREDITBOT_CONFIG unset, no creditbot.toml here): defaults"
    )
    first = Check("settings", OK, f"loaded from {' and '.join(sources)}; {toml}")
    return DoctorReport([first, *check_all(settings)])


def check_all(settings: Settings) -> list[Check]:
    """Every check but the settings', against settings already loaded."""
    checks = [check_data_dir(settings), check_keyring(settings)]
    checks += check_slack(settings)
    chromium = check_chromium(settings)
    checks += [chromium, check_kernel(settings)]
    checks += [check_notebook(settings, product) for product in settings.notebook.products]
    checks.append(check_looker_session(settings, chromium_ok=not chromium.failed))
    return checks


# --- the machine ------------------------------------------------------------------------------


def check_data_dir(settings: Settings) -> Check:
    try:
        preflight.writable(settings.data_dir)
    except SetupError as exc:
        return Check(
            "data dir",
            FAIL,
            str(exc),
            "set CREDITBOT_DATA_DIR to a folder the CreditBot user can create and write, "
            "or fix that folder's owner and permissions",
        )
    return Check("data dir", OK, f"{settings.data_dir.resolve()} is writable")


def check_keyring(settings: Settings) -> Check:
    store = SessionStore(
        settings.data_dir,
        looker_origin=settings.looker_origin,
        allow_file_fallback=settings.session_file_fallback,
    )
    backend = store.keyring_backend()
    if backend:
        return Check("keyring", OK, f"{backend} keeps the session key")
    if settings.session_file_fallback:
        return Check(
            "keyring",
            OK,
            f"no OS keyring backend: the 0600 file fallback is in use (key in {store.key_file})",
        )
    return Check(
        "keyring",
        FAIL,
        f"no OS keyring backend, and {FALLBACK_SETTING}=false forbids the 0600 file fallback",
        "run CreditBot where an OS keyring is unlocked (macOS Keychain, Windows Credential "
        "Manager, Secret Service), or allow the file fallback: remove "
        f"{FALLBACK_SETTING}=false (or [session] file_fallback = false)",
    )


def check_chromium(settings: Settings) -> Check:
    """Find Chromium as the scraper does, start it headless with the scraper's options, close it."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    from scraper.browser import (
        ChromiumNotFound,
        describe,
        find_chromium,
        launch_options,
        needs_headless_shell,
    )
    from scraper.loop import run_once

    override = settings.browser.chromium_path

    async def launch() -> tuple[str, str, float, str]:
        async with async_playwright() as p:
            choice = find_chromium(p, override)
            where = describe(choice).removeprefix("Chromium: ")
            hint = (
                "; a full Chromium does the headless work, for twice the CPU of its headless "
                "shell (`apt-get install chromium-headless-shell` on Debian)"
                if needs_headless_shell(choice)
                else ""
            )
            started = time.monotonic()
            browser = await p.chromium.launch(
                **launch_options(p, override=override), timeout=BROWSER_SECONDS * 1000
            )
            version = browser.version
            try:
                await asyncio.wait_for(browser.close(), BROWSER_SECONDS)
            except TimeoutError:
                raise Stuck(f"started, but did not close within {BROWSER_SECONDS} s") from None
            return where, version, time.monotonic() - started, hint

    try:
        where, version, seconds, hint = _within(3 * BROWSER_SECONDS, lambda: run_once(launch()))
    except ChromiumNotFound as exc:
        return Check(
            "chromium",
            FAIL,
            exc.message,
            "run `python -m playwright install chromium`, or install your distribution's "
            "chromium (`apt-get install chromium`), or set CHROMIUM_PATH to a Chromium/Chrome",
        )
    except (PlaywrightError, Stuck) as exc:
        what = "" if isinstance(exc, Stuck) else "did not start: "
        problem = f"Chromium ({override or 'auto-detected'}) {what}{_first_line(exc)}"
        return Check(
            "chromium",
            FAIL,
            problem,
            "set CHROMIUM_PATH to a Chromium or Chrome that runs on this machine (try it: "
            "`<path> --headless --dump-dom about:blank`), or unset it to use Playwright's own",
        )
    detail = f"Chromium {version} at {where}: started headless and closed in {seconds:.1f} s"
    return Check("chromium", OK, detail + hint)


def check_kernel(settings: Settings) -> Check:
    """The notebooks' kernel is installed (`preflight`), and starts and answers, the way the
    worker starts it: forked from the fork server (which imports the notebooks' modules), or
    booted, and if so why."""
    try:
        preflight.kernel_available()
    except SetupError as exc:
        return Check(
            "jupyter kernel",
            FAIL,
            str(exc),
            "install ipykernel in CreditBot's Python: `.venv/bin/python -m pip install ipykernel`",
        )
    try:
        seconds, how = _within(KERNEL_SECONDS, lambda: _start_kernel(settings))
    except Exception as exc:
        return Check(
            "jupyter kernel",
            FAIL,
            f"kernel {runner.KERNEL!r} is installed but did not start: {_first_line(exc)}",
            f"reinstall it: `.venv/bin/python -m ipykernel install --user --name {runner.KERNEL}`",
        )
    return Check(
        "jupyter kernel", OK, f"{runner.KERNEL!r} {how}, started and answered in {seconds:.1f} s"
    )


def _start_kernel(settings: Settings) -> tuple[float, str]:
    """One kernel from the pool the worker uses, asked whether it is ready; how it started."""
    from notebooks.kernels import pool_for

    policy = settings.notebook
    pool = pool_for(policy, warm=False, size=1)
    started = time.monotonic()
    try:
        pool.submit(_ready).result(timeout=KERNEL_SECONDS)
        seconds = time.monotonic() - started
        problem, failed = pool.fork_problem, pool.preload_failed
        forked = pool.kernels_forked > 0
    finally:
        pool.close()
    if forked:
        how = "forked from the fork server"
        if failed:
            how += f" (which could not import {', '.join(failed)}: a notebook that does fails)"
    elif pool.fork:
        how = f"booted, not forked ({problem or 'the fork server gave no kernel'})"
    elif policy.fork_kernels:
        how = "booted (kernels are forked on Linux only)"
    else:
        how = "booted ([notebook] fork_kernels = false)"
    return seconds, how


def _ready(kernel: Any) -> None:
    from jupyter_core.utils import run_sync

    client = kernel.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=KERNEL_SECONDS - 10)
    finally:
        client.stop_channels()


# --- the notebooks ----------------------------------------------------------------------------


def check_notebook(settings: Settings, product: Product) -> Check:
    """Present, with a `parameters` cell (the runner's own check), and the result variable
    assigned somewhere in its code (a static look at the source: nothing is run)."""
    name = f"notebook {product.name}"
    result = settings.notebook.result
    try:
        runner.prepare(product.notebook, result)
    except SetupError as exc:
        fix = (
            f'tag the cell that holds the inputs (`{settings.notebook.parameter} = ""`) with '
            "`parameters` (Jupyter: View > Cell Toolbar > Tags)"
            if "parameters" in str(exc)
            else f"check [[products]] notebook = … for {product.name} (paths are relative to "
            "the TOML file)"
        )
        return Check(name, FAIL, str(exc), fix)
    nb = nbformat.read(product.notebook, as_version=4)
    parameters = next(
        i for i, c in enumerate(nb.cells, 1) if "parameters" in c.metadata.get("tags", [])
    )
    cell = assigned_in(nb, result)
    if cell is None:
        return Check(
            name,
            FAIL,
            f"{product.notebook}: no code cell assigns `{result}`",
            f"make the notebook assign its answer to `{result}` (e.g. `{result} = credit`), "
            "or set [notebook] result to the variable it does assign",
        )
    found = f"`parameters` in cell {parameters}, `{result}` assigned in cell {cell}"
    return Check(name, OK, f"{product.notebook}: {found}")


MAGIC = re.compile(r"^\s*[%!]")


def assigned_in(nb: Any, variable: str) -> int | None:
    """The number (1-based, as Jupyter counts) of the first code cell that assigns `variable`
    at the notebook's top level, or None. IPython magics are ignored; a cell that still does
    not parse is skipped."""
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = "\n".join(
            "pass" if MAGIC.match(line) else line for line in str(cell.source).splitlines()
        )
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        if variable in _bound_names(tree.body, variable):
            return number
    return None


def _bound_names(body: list[ast.stmt], variable: str) -> set[str]:
    """Names bound at module level by these statements (not inside functions and classes,
    unless a function declares the name `global`)."""
    bound: set[str] = set()

    def targets(node: ast.AST) -> Iterator[str]:
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                yield from targets(element)
        elif isinstance(node, ast.Starred):
            yield from targets(node.value)

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            declared = any(
                isinstance(n, ast.Global) and variable in n.names for n in ast.walk(node)
            )
            if declared:
                for inner in ast.walk(node):
                    visit_binding(inner)
            return
        visit_binding(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    def visit_binding(node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                bound.update(targets(target))
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor, ast.NamedExpr)) or (
            isinstance(node, ast.AnnAssign) and node.value is not None
        ):
            bound.update(targets(node.target))
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if item.optional_vars is not None:
                    bound.update(targets(item.optional_vars))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)

    for statement in body:
        visit(statement)
    return bound


# --- Slack ------------------------------------------------------------------------------------


def check_slack(settings: Settings) -> list[Check]:
    """The token (`auth.test`), its scopes (Slack's `x-oauth-scopes` header) against the
    README's list, and the channel (it resolves, and the bot is a member)."""
    if not settings.slack_bot_token:
        return [
            Check(
                "slack token",
                FAIL,
                "SLACK_BOT_TOKEN is not set",
                "set SLACK_BOT_TOKEN (environment or .env) to the app's Bot User OAuth Token "
                f"(xoxb-…), from {SLACK_APPS} > your app > OAuth & Permissions",
            ),
            Check("slack scopes", SKIP, "needs the token"),
            Check("slack channel", SKIP, "needs the token"),
        ]
    slack = SlackGateway(settings.slack_bot_token, settings.slack)
    try:
        who, scopes = slack.auth_info()
    except SettingsError as exc:  # Slack refused the token
        token = Check(
            "slack token",
            FAIL,
            str(exc),
            "copy the Bot User OAuth Token (xoxb-…) again from "
            f"{SLACK_APPS} > your app > OAuth & Permissions into SLACK_BOT_TOKEN "
            "(reinstalling the app issues a new one)",
        )
        return [token, *_skipped("the token")]
    except (SlackUnavailable, SlackApiError) as exc:
        token = Check(
            "slack token",
            FAIL,
            f"cannot ask Slack at {settings.slack.api_url}: {_slack_error(exc)}",
            "check SLACK_API_URL (normally https://slack.com/api/) and that this machine "
            "reaches it (proxy, firewall)",
        )
        return [token, *_skipped("Slack")]
    token = Check(
        "slack token",
        OK,
        f"accepted: {who.get('user')} ({who.get('user_id')}, bot {who.get('bot_id') or '?'}) "
        f"in {who.get('team')}",
    )
    return [token, _scopes_check(scopes), _channel_check(slack, settings.slack_channel)]


def _skipped(needs: str) -> list[Check]:
    return [Check(name, SKIP, f"needs {needs}") for name in ("slack scopes", "slack channel")]


def _scopes_check(scopes: frozenset[str] | None) -> Check:
    if scopes is None:
        return Check(
            "slack scopes",
            SKIP,
            "Slack sent no x-oauth-scopes header: compare the app's Bot Token Scopes with "
            "the README by hand",
        )
    missing = [s for s in BOT_SCOPES if s not in scopes]
    if not missing:
        return Check("slack scopes", OK, f"the token has all {len(BOT_SCOPES)} the README lists")
    return Check(
        "slack scopes",
        FAIL,
        "missing " + "; ".join(f"{s} ({BOT_SCOPES[s]})" for s in missing),
        f"at {SLACK_APPS} > your app > OAuth & Permissions > Bot Token Scopes add "
        f"{', '.join(missing)}; reinstall the app to the workspace (Slack asks to), and put "
        "the Bot User OAuth Token it shows in SLACK_BOT_TOKEN if it changed",
    )


def _channel_check(slack: SlackGateway, wanted: str | None) -> Check:
    if not wanted:
        return Check(
            "slack channel",
            FAIL,
            "SLACK_CHANNEL is not set",
            "set SLACK_CHANNEL to the memo channel's ID (C0123ABCD) or #name",
        )
    try:
        channel = slack.resolve_channel(wanted)
    except ChannelAccessError as exc:
        where = f"#{wanted.lstrip('#')}" if wanted.startswith("#") else "the memo channel"
        return Check(
            "slack channel",
            FAIL,
            str(exc),
            f"type `/invite @CreditBot` in {where} (CreditBot never joins by itself); "
            "check SLACK_CHANNEL if it names the wrong channel",
        )
    except (SlackUnavailable, SlackApiError, SettingsError) as exc:
        return Check(
            "slack channel",
            FAIL,
            f"Slack could not look up {wanted}: {_slack_error(exc)}",
            "see the scopes check above (channels:read), then run doctor again",
        )
    return Check("slack channel", OK, f"#{channel.name} ({channel.id}): the bot is a member")


def _slack_error(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        body = exc.response.data if isinstance(exc.response.data, dict) else {}
        needed = f" (needed {body['needed']})" if body.get("needed") else ""
        return f"{body.get('error') or exc.response.status_code}{needed}"
    return str(exc)


# --- Looker -----------------------------------------------------------------------------------


def check_looker_session(settings: Settings, *, chromium_ok: bool = True) -> Check:
    """Stored, and accepted by Looker right now (`session_status`, the `session` command)."""
    from worker.commands import session_status, when

    login = "run `python main.py login` (or `login --from-file state.json` without a display)"
    if not chromium_ok:
        return Check("looker session", SKIP, "needs Chromium")
    deadline = 2 * settings.looker.navigation_timeout_ms / 1000 + 2 * BROWSER_SECONDS
    try:
        status = _within(deadline, lambda: session_status(settings))
    except CreditBotError as exc:
        return Check("looker session", FAIL, f"cannot be checked: {exc}", login)
    except Stuck as exc:
        return Check(
            "looker session",
            FAIL,
            f"Looker at {settings.looker_base_url} gave {exc}",
            "check that this machine reaches LOOKER_BASE_URL, then try `python main.py session`",
        )
    if not status.stored:
        return Check("looker session", FAIL, f"none stored ({status.where})", login)
    if not status.works:
        return Check(
            "looker session",
            FAIL,
            f"stored, but Looker does not accept it: {status.problem}",
            login,
        )
    return Check(
        "looker session",
        OK,
        f"Looker at {settings.looker_base_url} accepts it; expires {when(status.expires_at)}",
    )


# --- helpers ----------------------------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _within(seconds: float, work: Callable[[], T]) -> T:
    """Run `work` on a thread of its own (clear of any event loop this thread has), re-raising
    what it raises; `Stuck` if it has not returned after `seconds` (the doctor never hangs: the
    thread is left behind, a daemon, and the process exits without it)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(work())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="creditbot-doctor", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise Stuck(f"no answer within {seconds:g} s")
    if error:
        raise error[0]
    return result[0]
