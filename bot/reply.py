"""The words CreditBot posts: the approval, the breakdown, notes for people, and DMs.

The approval's `text` is the configured template with `{total}` as US dollars (`$4,948.80`), so
the desk's existing habits and searches keep working; the Block Kit breakdown is extra.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.decision import CENT, LinkResult
from core.errors import SetupError

LOGIN_COMMAND = "python main.py login"


def money(amount: Decimal) -> str:
    """US dollars with thousands separators and cents: Decimal('4948.8') -> '$4,948.80'."""
    quantized = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    return f"{sign}${abs(quantized):,.2f}"


def approval_text(template: str, total: Decimal) -> str:
    return template.format(total=money(total))


def breakdown_blocks(headline: str, results: list[LinkResult]) -> list[dict[str, Any]]:
    """One line per link: product, fraud spend, credit, or why it was skipped."""
    lines = []
    for r in results:
        spend = money(r.link.fraud_spend) if r.link.fraud_spend is not None else "no label"
        target = f"<{r.link.url}|{r.link.kind} link>"
        if r.problem:
            lines.append(f"• {target}: needs review, {_escape(r.problem)}")
        elif r.skipped:
            lines.append(f"• {target} (fraud spend {spend}): skipped, {_escape(r.skipped)}")
        else:
            credit = money(r.credit) if r.credit is not None else "n/a"
            lines.append(f"• {target}: {r.product}, fraud spend {spend}, credit {credit}")
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _escape(headline)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines) or "no links"}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Posted by CreditBot from the Looker SQL"}],
        },
    ]


def review_text(problems: tuple[str, ...] | list[str]) -> str:
    """The thread note when a person has to decide: never an amount that reads as approved."""
    reasons = "; ".join(problems)
    return f"Needs manual review: {reasons}"


def alert_text(
    permalink: str, problems: tuple[str, ...] | list[str], files: list[str] | tuple[str, ...] = ()
) -> str:
    """The DM: the memo, what is wrong with which link, and where the evidence is kept (paths
    on the CreditBot host only: traces hold session data and are never uploaded)."""
    bullets = "\n".join(f"• {p}" for p in problems)
    text = f"CreditBot could not answer the memo {permalink}:\n{bullets}"
    if files:
        text += "\nKept on the CreditBot host for debugging:\n" + "\n".join(f"• {f}" for f in files)
    return text


def shadow_text(permalink: str, reply: str) -> str:
    """Shadow mode's DM: what would have gone into the memo's thread, quoted."""
    quoted = "\n".join(f"> {line}" for line in reply.splitlines())
    return f"Shadow mode: CreditBot would have replied to {permalink}:\n{quoted}"


def setup_problem_text(problem: SetupError) -> str:
    """The DM when CreditBot stopped before any memo: no memo is at fault, none was touched."""
    return (
        f"CreditBot stopped without touching any memo: {problem}. The memos are "
        "waiting and will be answered on the first cycle after it is fixed; "
        "`python main.py once` tries again."
    )


def session_expired_text(looker_url: str) -> str:
    return (
        f"CreditBot's Looker session for {looker_url} has expired, so memos are waiting. "
        f"Please run `{LOGIN_COMMAND}` on the CreditBot host to sign in again."
    )


def session_expiring_text(looker_url: str, when: str) -> str:
    return (
        f"CreditBot's Looker session for {looker_url} expires {when}. "
        f"Run `{LOGIN_COMMAND}` before then to keep memos flowing."
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
