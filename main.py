"""CreditBot's command line: a thin layer over `worker.commands`.

Exit status: 0 when the command did its job (a cycle in which a memo failed still ran), 2 for
bad usage or settings (the message names the setting), 1 for anything else.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
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

    def shadow_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--shadow",
            action="store_true",
            help="do the whole job but DM the alert user what would be posted, instead of "
            "posting it; the channel is left as it is ([worker] shadow = true does the same)",
        )

    p = sub.add_parser("once", help="one poll-and-process cycle, then exit")
    p.add_argument("--dry-run", action="store_true", help="post nothing, change no state")
    p.add_argument("--wait", action="store_true", help="wait for another running worker")
    shadow_flag(p)
    browser_flags(p)
    p = sub.add_parser("run", help="poll every POLL_SECONDS until SIGINT/SIGTERM")
    p.add_argument("--wait", action="store_true", help="wait for another running worker")
    shadow_flag(p)
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
    p = sub.add_parser(
        "retry",
        help="work one memo again because a person asked (a correction needs --force)",
        description="Work one memo again: one that ended with a note, was skipped or still waits "
        "is simply worked; one CreditBot already approved is refused unless --force, which posts a "
        "correction saying it replaces the earlier reply.",
    )
    p.add_argument("memo", metavar="MEMO", help="its permalink, its ts, or channel/ts")
    p.add_argument("--force", action="store_true", help="post a correction to an approved memo")
    p = sub.add_parser(
        "backtest",
        help="compare CreditBot's answers with the desk's over a past window, posting nothing",
        description="For every memo of the window that a person already answered, work out "
        "CreditBot's amount exactly as a cycle would, without posting or recording anything, and "
        "compare it with the person's. Prints a table; writes CSV, JSON and an HTML report.",
    )
    p.add_argument("--since", required=True, metavar="DATE", help="2026-11-01 or an ISO time")
    p.add_argument("--until", metavar="DATE", help="the last day (whole) or an ISO time")
    p.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where the CSV, JSON and HTML go (default: <data dir>/backtest)",
    )
    add_operator_commands(sub)
    return parser


def add_operator_commands(sub: argparse._SubParsersAction) -> None:
    """doctor, status, report, pause, resume, cleanup: operating the bot with confidence."""
    sub.add_parser(
        "doctor",
        help="check every prerequisite, say how to fix what fails",
        description="Check every prerequisite (settings, Slack token, scopes and channel, "
        "Looker session, Chromium, notebooks, Jupyter kernel, data dir, keyring); one line per "
        "check, then the fixes. Exit 0: all passed; 1: some check failed; 2: the settings "
        "could not be loaded.",
    )
    p = sub.add_parser(
        "status",
        help="memos today/7/30 days, processing times, what is pending or failed, paused?",
    )
    p.add_argument("--json", action="store_true", help="the same as one JSON object, for scripts")
    p = sub.add_parser("report", help="write the HTML report of the last 30 days")
    p.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="where to write it (default: <data dir>/reports/report-<date>.html)",
    )
    p = sub.add_parser(
        "pause",
        help="panic mode: record memos but post nothing and open no browser, until `resume`",
    )
    p.add_argument("--reason", metavar="TEXT", help="why, shown by `status` and at every start")
    sub.add_parser("resume", help="clear the mark `pause` left")
    p = sub.add_parser(
        "cleanup", help="delete old summaries, traces and kept notebooks from the data dir"
    )
    p.add_argument(
        "--older-than",
        type=float,
        metavar="DAYS",
        help="age in days (default: [retention] days, 90)",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be deleted")


def progress_bar(done: int, total: int) -> None:
    """On a terminal, one line redrawn; elsewhere (cron, CI), nothing until the table."""
    if total and sys.stderr.isatty():
        filled = round(30 * done / total)
        print(
            f"\rbacktest [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} memos",
            end="",
            file=sys.stderr,
            flush=True,
        )
        if done == total:
            print(file=sys.stderr)


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
    return replace(
        settings, browser=browser, shadow=settings.shadow or getattr(args, "shadow", False)
    )


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
        if args.command == "doctor":  # before the settings: their failure is one of its checks
            from worker.doctor import doctor

            setup_logging(None, verbose=args.verbose)
            checked = doctor()
            print(checked.render(), end="")
            return checked.exit_code
        settings = with_browser_flags(load_settings(), args)
        setup_logging(settings.data_dir, verbose=args.verbose)
        if args.command in ("once", "run"):
            from worker.pause import announce_pause

            announce_pause(settings)
        if args.command in OPERATOR_COMMANDS:
            return operator_command(settings, args)
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
        elif args.command == "retry":
            from worker.retry import retry

            memo = retry(settings, args.memo, force=args.force)
            print(f"{memo.key}: {memo.status}" + (f": {memo.reply}" if memo.reply else ""))
        elif args.command == "backtest":
            from ops.backtest_report import render_table
            from worker.backtest import backtest, window, write_outputs

            since, until = window(args.since, args.until)
            rows = backtest(settings, since=since, until=until, progress=progress_bar)
            print(render_table(rows))
            for path in write_outputs(rows, args.out or settings.data_dir / "backtest"):
                print(f"written: {path}")
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


OPERATOR_COMMANDS = ("status", "report", "pause", "resume", "cleanup")


def operator_command(settings: Settings, args: argparse.Namespace) -> int:
    from worker import instruments, pause

    if args.command == "status":
        status = instruments.status(settings)
        if args.json:
            print(json.dumps(status.as_json(), indent=2, ensure_ascii=False))
        else:
            print(status.text(), end="")
    elif args.command == "report":
        print(instruments.write_report(settings, args.out))
    elif args.command == "pause":
        mark = pause.pause(settings, args.reason)
        print(f"CreditBot {mark.describe()}")
        print(
            "it records memos but posts nothing and opens no browser; running workers stop "
            "posting from their next cycle. `python main.py resume` to resume"
        )
    elif args.command == "resume":
        resumed = pause.resume(settings)
        print(f"cleared: {resumed.cleared.describe()}" if resumed.cleared else "no pause mark")
        if resumed.still_paused:
            print(
                f"still PAUSED: {resumed.still_paused}. {pause.how_to_resume(settings)}",
                file=sys.stderr,
            )
            return 1
        print("CreditBot is not paused: the next cycle answers memos again")
    elif args.command == "cleanup":
        result = instruments.cleanup(
            settings, older_than_days=args.older_than, dry_run=args.dry_run
        )
        days = settings.retention_days if args.older_than is None else args.older_than
        print(f"in {settings.data_dir}, files older than {days:g} days:")
        print(result.describe())
        return 1 if result.errors else 0
    return 0


def _end_without_teardown(status: list[int]) -> None:
    """Freeing a thousand modules one by one took 0.15 s of every `once` after its work was
    done. Registered first, this exit handler runs last: the threads that were not daemons have
    been joined and every other handler has run (temporary folders removed). It closes the logs,
    flushes the output and ends the process with the status `main` returned. An exception that
    escaped `main` leaves no status, and Python's own exit."""
    if not status:
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to tell
            stream.flush()
    os._exit(status[0])


if __name__ == "__main__":
    status: list[int] = []
    atexit.register(_end_without_teardown, status)
    status.append(main())
    sys.exit(status[0])
