"""CreditBot's command line: a thin layer over `worker.commands`.

Exit status: 0 when the command did its job (a cycle in which a memo failed still ran), 2 for
bad usage or settings (the message names the setting), 1 for anything else.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import AnotherWorkerRunning, CreditBotError, UsageError

if TYPE_CHECKING:
    from worker.settings import Settings

log = logging.getLogger("creditbot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python main.py",
        description="Answers credit memos in Slack from Looker's SQL and a credit notebook.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def browser_flags(p: argparse.ArgumentParser) -> None:
        p.add_argument("--headed", action="store_true", help="show the browser (slow motion)")
        p.add_argument(
            "--slow-mo", type=float, default=None, metavar="MS", help="delay per browser action"
        )
        p.add_argument(
            "--trace",
            action="store_true",
            help="keep a Playwright trace of every link (failed links always keep one)",
        )

    p = sub.add_parser("demo", help="the whole cycle on the built-in sandbox, no credentials")
    p.add_argument(
        "--skin",
        choices=("accessible", "classic", "bare"),
        default="accessible",
        help="how the local Looker draws its pages: accessible (roles and labels), classic "
        "(AngularJS with an Ace editor), bare (plain divs, a CodeMirror 6 editor)",
    )
    p = sub.add_parser("once", help="one poll-and-process cycle, then exit")
    p.add_argument("--dry-run", action="store_true", help="post nothing, change no state")
    p.add_argument("--wait", action="store_true", help="wait for another running worker")
    browser_flags(p)
    p = sub.add_parser("run", help="poll every POLL_SECONDS until SIGINT/SIGTERM")
    p.add_argument("--wait", action="store_true", help="wait for another running worker")
    browser_flags(p)
    p = sub.add_parser("login", help="sign in to Looker through SSO and keep the session")
    p.add_argument("--from-file", type=Path, metavar="PATH", help="import a storage-state JSON")
    p.add_argument(
        "--timeout", type=float, default=600, metavar="SECONDS", help="how long to wait (600)"
    )
    p = sub.add_parser("scrape", help="print the SQL behind one Looker link")
    p.add_argument("url", metavar="URL")
    p.add_argument(
        "--explain",
        action="store_true",
        help="print each step tried (to stderr): what matched, how long it took, and when "
        "nothing worked, what the page showed and a [looker.selectors] override to paste",
    )
    browser_flags(p)
    sub.add_parser("session", help="is a session stored, until when, does it work now")
    return parser


def with_browser_flags(settings: Settings, args: argparse.Namespace) -> Settings:
    """`--headed`, `--slow-mo` and `--trace` on top of the settings' browser (CHROMIUM_PATH)."""
    headed = getattr(args, "headed", False)
    slow_mo = getattr(args, "slow_mo", None)
    browser = replace(
        settings.browser,
        headed=headed,
        slow_mo=slow_mo if slow_mo is not None else (250 if headed else 0),
        trace=getattr(args, "trace", False),
    )
    return replace(settings, browser=browser)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from worker import commands
    from worker.logs import setup_logging
    from worker.settings import load_settings

    try:
        if args.command == "demo":
            from worker.demo import demo

            setup_logging(None, verbose=args.verbose)
            return demo(skin=args.skin)
        settings = with_browser_flags(load_settings(), args)
        setup_logging(settings.data_dir, verbose=args.verbose)
        if args.command == "once":
            report = commands.once(settings, dry_run=args.dry_run, wait=args.wait)
            for memo in report.memos:
                print(f"{memo.key}: {memo.status}" + (f": {memo.reply}" if memo.reply else ""))
            print(report.line())
            print("state: " + ", ".join(f"{n} {status}" for status, n in report.states.items()))
        elif args.command == "run":
            commands.run(settings, wait=args.wait)
        elif args.command == "login":
            stored, where = commands.login(
                settings, from_file=args.from_file, timeout_seconds=args.timeout
            )
            print(f"Looker session stored in {where}; expires {commands.when(stored.expires_at)}")
        elif args.command == "scrape":
            from scraper.explain import Explanation

            explain = Explanation(args.url) if args.explain else None
            try:
                print(commands.scrape(settings, args.url, explain=explain))
            finally:
                if explain is not None:
                    print(explain.render(), file=sys.stderr)
        elif args.command == "session":
            status = commands.session_status(settings)
            print(f"stored:  {'yes' if status.stored else 'no'} ({status.where})")
            if status.stored:
                print(f"saved:   {commands.when(status.saved_at)}")
                print(f"expires: {commands.when(status.expires_at)}")
                print(
                    f"works:   {'yes' if status.works else 'no'}"
                    + (f" ({status.problem})" if status.problem else "")
                )
            if status.exit_code:
                print("run `python main.py login` to sign in again", file=sys.stderr)
            return status.exit_code
    except AnotherWorkerRunning as exc:
        print(exc, file=sys.stderr)
        return 0
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CreditBotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
