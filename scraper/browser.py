"""Which Chromium to drive, and how to launch it.

Playwright's own Chromium is preferred where `playwright install chromium` worked (a laptop);
a system Chromium is used where that download is impossible (CI, locked-down servers).
`CHROMIUM_PATH` overrides both. `python -m scraper.browser --ensure` bootstraps one.

Headless work runs in Chromium's headless shell where there is one: the old headless mode, now a
program of its own, without the browser's profile, windows and services. On 2 cores it starts in
a third of the time a full Chromium in headless mode takes, and a page there costs half the CPU.
Playwright uses its own copy the same way; a system one comes as `chromium-headless-shell`
(Debian) or `chrome-headless-shell`. A headed browser (`login --headed`, `--headed`) is always a
full one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import SetupError

if TYPE_CHECKING:  # the sync API is 35 ms of import that only `ensure` and `main` use
    from playwright.async_api import Playwright as AsyncPlaywright
    from playwright.sync_api import Playwright

SYSTEM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HEADLESS_SHELLS = ("chromium-headless-shell", "chrome-headless-shell")

# Quiet, offline-friendly flags: without the background-networking ones Chromium keeps dialling
# Google services, which a closed network refuses (and which an SSO-only desk does not want).
BASE_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class ChromiumNotFound(SetupError):
    """No usable Chromium: says what was looked at and how to get one."""


@dataclass(frozen=True)
class ChromiumChoice:
    executable: str | None  # None: Playwright's bundled build
    source: str  # "CHROMIUM_PATH", "playwright", "system"


def _playwright_bundled(p: Playwright | AsyncPlaywright) -> str | None:
    path = p.chromium.executable_path
    return path if path and Path(path).exists() else None


def find_chromium(
    p: Playwright | AsyncPlaywright, override: str | None = None, *, headless: bool = True
) -> ChromiumChoice:
    """Pick the browser at run time: CHROMIUM_PATH, then Playwright's own, then the system's
    (its headless shell first, for headless work)."""
    if override:
        if not (Path(override).is_file() and os.access(override, os.X_OK)):
            raise ChromiumNotFound(
                f"CHROMIUM_PATH={override!r} is not an executable file", setting="CHROMIUM_PATH"
            )
        return ChromiumChoice(override, "CHROMIUM_PATH")
    if _playwright_bundled(p):
        return ChromiumChoice(None, "playwright")
    for name in (*(HEADLESS_SHELLS if headless else ()), *SYSTEM_CANDIDATES):
        found = shutil.which(name)
        if found:
            return ChromiumChoice(found, "system")
    raise ChromiumNotFound(
        "no Chromium found: run `python -m playwright install chromium`, install your "
        "distribution's chromium package, or set CHROMIUM_PATH",
        setting="CHROMIUM_PATH",
    )


def needs_headless_shell(choice: ChromiumChoice) -> bool:
    """A full Chromium of the system's doing headless work that its headless shell would do for
    half the CPU (one the person chose with CHROMIUM_PATH is theirs to choose)."""
    return choice.source == "system" and Path(choice.executable or "").name not in HEADLESS_SHELLS


def launch_args(choice: ChromiumChoice) -> list[str]:
    """Chromium's sandbox cannot start as root (containers, CI): drop it only there."""
    args = list(BASE_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    return args


def launch_options(
    p: Playwright | AsyncPlaywright,
    *,
    headless: bool = True,
    slow_mo: float = 0,
    override: str | None = None,
) -> dict:
    """Keyword arguments for `p.chromium.launch` (also used by pytest-playwright's fixture)."""
    choice = find_chromium(p, override, headless=headless)
    options: dict = {"headless": headless, "args": launch_args(choice)}
    if choice.executable:
        options["executable_path"] = choice.executable
    if slow_mo:
        options["slow_mo"] = slow_mo
    return options


def cache_driver_code(folder: Path) -> None:
    """Playwright's driver is a Node program of some 80,000 lines that Node compiles afresh at
    each start: 0.07 s of every cold `once` here. Node (22.1 and later) keeps the compiled code
    in the folder NODE_COMPILE_CACHE names; the driver inherits this process's environment, so
    it is set here, unless whoever runs CreditBot set it. An older Node ignores it."""
    os.environ.setdefault("NODE_COMPILE_CACHE", str(folder))


def ensure(override: str | None) -> str:
    """Make sure some Chromium is there: Playwright's download first, then the system's."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        try:
            return describe(find_chromium(p, override))
        except ChromiumNotFound:
            pass
    tried = subprocess.run(
        [sys.executable, "-m", "playwright", "install", "chromium"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if tried.returncode != 0 and shutil.which("apt-get") and os.geteuid() == 0:
        print("playwright could not download Chromium; installing Debian's chromium", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=False)
        # Apart: a distribution without the headless shell still gets its Chromium.
        subprocess.run(["apt-get", "install", "-y", "-q", HEADLESS_SHELLS[0]], check=False)
    with sync_playwright() as p:
        return describe(find_chromium(p, override))


def describe(choice: ChromiumChoice) -> str:
    where = choice.executable or "Playwright's bundled Chromium"
    return f"Chromium: {where} (from {choice.source})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ensure", action="store_true", help="install a Chromium if none is found")
    opts = parser.parse_args()
    override = os.environ.get("CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    try:
        if opts.ensure:
            print(ensure(override))
        else:
            with sync_playwright() as p:
                print(describe(find_chromium(p, override)))
    except ChromiumNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
