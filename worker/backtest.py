"""`python main.py backtest --since DATE [--until DATE]`: CreditBot's answers against the desk's,
before anyone trusts it with the channel.

For every memo of the window that a person already answered, CreditBot works out its own answer
exactly as a cycle would (the same Looker pages read the same way, the same notebooks), but it
posts nothing and records nothing: its state for the run lives in memory. The person's amount is
read from the thread (`ops.human_answer`) and the two are compared (`ops.backtest_report`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from bot.links import extract_links
from bot.memos import is_memo_candidate
from bot.slack import SlackGateway
from core.errors import UsageError
from core.policies import RetryPolicy
from ops.backtest_report import BacktestRow, render_html, write_csv, write_json
from ops.human_answer import HumanAnswer, find_human_answer
from state.store import StateStore
from worker.commands import session_store
from worker.cycle import Cycle
from worker.engines import Engines
from worker.replies import MemoReport
from worker.settings import Settings


def window(since: str, until: str | None) -> tuple[datetime, datetime | None]:
    """`2026-11-01` (local midnight) or an ISO date-time; a bare `--until` date counts whole."""

    def parse(value: str, name: str, *, end: bool) -> datetime:
        try:
            if len(value) == 10:
                day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
                return datetime.combine(day, time()).astimezone()
            return datetime.fromisoformat(value).astimezone()
        except ValueError:
            raise UsageError(
                f"{name} {value!r} is not a date (2026-11-01) or a date-time"
            ) from None

    start = parse(since, "--since", end=False)
    stop = parse(until, "--until", end=True) if until else None
    if stop is not None and stop <= start:
        raise UsageError(f"--until {until} is not after --since {since}")
    return start, stop


def backtest(
    settings: Settings,
    *,
    since: datetime,
    until: datetime | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[BacktestRow]:
    settings.require_slack()
    slack = SlackGateway(settings.slack_bot_token or "", settings.slack)
    state = StateStore(Path(":memory:"))  # nothing of a backtest is recorded
    # One attempt: a passing failure is reported as such, not retried for an hour.
    settings = replace(settings, retry=RetryPolicy(max_attempts=1))
    with Engines(settings) as engines:
        cycle = Cycle(
            settings,
            slack=slack,
            state=state,
            sessions=session_store(settings),
            engines=engines,
            dry_run=True,
        )
        cycle.compute_only = True
        me, channel = cycle.begin()
        oldest = f"{since.timestamp():.6f}"
        latest = f"{until.timestamp():.6f}" if until else None
        answers: dict[str, tuple[HumanAnswer, str]] = {}
        for message in slack.history(channel.id, oldest, latest):
            if not is_memo_candidate(message, me):
                continue
            links, foreign = extract_links(message, settings.looker_origin)
            if not links:
                continue
            thread = slack.thread(channel.id, message["ts"])
            answer = find_human_answer(thread, me, settings.reply_template)
            if answer is None:
                continue  # nobody answered it: nothing to compare with
            record = {"links": [link.as_dict() for link in links], "ignored_links": foreign}
            state.add(channel.id, message["ts"], record)
            answers[message["ts"]] = (answer, slack.permalink(channel.id, message["ts"]))
        memos = [m for m in state.all(channel.id) if m.ts in answers]
        cycle.progress = lambda done: progress(done, len(memos))
        reports = {r.key.rsplit("/", 1)[1]: r for r in cycle.only(memos, channel)} if memos else {}
    return [_row(answers[m.ts], reports.get(m.ts), len(m.message["links"])) for m in memos]


def write_outputs(rows: list[BacktestRow], folder: Path) -> list[Path]:
    """The rows as CSV and JSON, and the HTML report with its chart, side by side."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = folder / f"backtest-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    csv_path, json_path, html_path = (stem.with_suffix(s) for s in (".csv", ".json", ".html"))
    write_csv(rows, csv_path)
    write_json(rows, json_path)
    html_path.write_text(render_html(rows, title="CreditBot backtest"), encoding="utf-8")
    return [csv_path, json_path, html_path]


def _row(answered: tuple[HumanAnswer, str], report: MemoReport | None, links: int) -> BacktestRow:
    answer, permalink = answered
    outcome = (report.outcome if report else None) or {}
    products = tuple(
        sorted({str(x["product"]) for x in outcome.get("links", []) if x.get("product")})
    )
    row = BacktestRow(permalink, answer.amount, None, links, products)
    if outcome.get("kind") == "approved":
        return replace(row, bot=Decimal(outcome["total"]))
    if outcome.get("kind") == "review":
        return replace(row, reason="; ".join(outcome.get("problems", [])) or "needs a person")
    detail = report.detail if report else None
    return replace(row, reason=detail or (report.status if report else "not worked on"))
