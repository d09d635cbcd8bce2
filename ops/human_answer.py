"""What a person answered in a memo's thread, so the bot can be backtested against history.

The answer is the first reply by a person (not CreditBot, nor any other bot or workflow) that
declines ("Denied", "Rejected", "Declined"), starts with the approval template's fixed opening
("Approved," for "Approved, {total}, exceptions"; case, spacing and its punctuation are
forgiven), or states a dollar figure and is not a question. A reply that names two different
figures without the opening is an answer whose amount cannot be read (None), not a guess.
Dollar figures inside Slack links (`<https://…|$179.73>`) are fraud-spend labels quoted back,
and lines quoted with `>` are someone else's words: neither is an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.decision import CENT
from bot.memos import DECLINES, Identity, approval_opening

SLACK_MARKUP = re.compile(r"<[^<>]*>")  # links, mentions, channels: literal < > arrive escaped
NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d,]*\d)"
DOLLARS = re.compile(r"\$\s*" + NUMBER)
BARE = re.compile(r"^[\s,:–—-]*" + NUMBER)  # "Approved, 4948.8": the figure right after the opening
DECLINE = re.compile(rf"(?:{'|'.join(DECLINES)})\b", re.IGNORECASE)
EMPHASIS = "*_~` \t"  # Slack's bold/italic/strike/code marks around a whole reply


@dataclass(frozen=True)
class HumanAnswer:
    amount: Decimal | None  # the credit approved, to the cent; None for a decline
    declined: bool
    ts: str  # the reply's ts
    text: str  # the reply as Slack sent it


def find_human_answer(
    messages: list[dict[str, Any]], me: Identity, template: str
) -> HumanAnswer | None:
    """The first person's answer in a thread (parent first, as conversations.replies returns
    it), or None when nobody answered."""
    opening = _opening_pattern(approval_opening(template))
    parent_ts = messages[0].get("ts") if messages else None
    for message in messages:
        if message.get("ts") == parent_ts or me.wrote(message) or _from_a_bot(message):
            continue
        answer = _read_answer(message.get("text") or "", opening)
        if answer is not None:
            amount, declined = answer
            return HumanAnswer(amount, declined, str(message.get("ts")), message.get("text") or "")
    return None


def _read_answer(text: str, opening: re.Pattern[str]) -> tuple[Decimal | None, bool] | None:
    """(amount, declined) when `text` is an answer; None when it is not."""
    words = _own_words(text)
    if DECLINE.match(words):
        return None, True
    approval = opening.match(words)
    if approval:
        rest = words[approval.end() :]
        figure = DOLLARS.search(rest) or BARE.match(rest)
        return (_amount(figure) if figure else None), False
    figures = {_amount(m) for m in DOLLARS.finditer(words)}
    if not figures or "?" in words:
        return None
    return (figures.pop() if len(figures) == 1 else None), False


def _own_words(text: str) -> str:
    """The reply's own text: Slack markup removed, entities unescaped, quotes and emphasis
    dropped."""
    plain = SLACK_MARKUP.sub(" ", text)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    lines = [line for line in plain.splitlines() if not line.lstrip().startswith(">")]
    return " ".join(lines).strip(EMPHASIS)


def _opening_pattern(opening: str) -> re.Pattern[str]:
    """For "Approved,": matches "Approved,", "approved" and "APPROVED ," but not "Approvedly"."""
    tokens = re.findall(r"\w+|[^\w\s]", opening)
    if not tokens:  # a template that starts with {total} has no opening to recognise
        return re.compile(r"(?!)")
    parts = [re.escape(t) if t[0].isalnum() or t[0] == "_" else re.escape(t) + "?" for t in tokens]
    return re.compile(r"\s*".join(parts) + r"(?!\w)", re.IGNORECASE)


def _from_a_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def _amount(match: re.Match[str]) -> Decimal:
    whole, fraction = match.group(1), match.group(2) or ""
    return Decimal(whole.replace(",", "") + fraction).quantize(CENT, rounding=ROUND_HALF_UP)
