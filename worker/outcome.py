"""What a memo's answer is (an approval or a note for a person), and the summary it leaves."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.decision import Decision, LinkResult
from bot.reply import approval_text, breakdown_blocks, review_text
from state.store import Memo, Status

KEPT_FILES = ("trace", "output_path")  # failure context kept on disk for a person


def decide_outcome(template: str, decision: Decision, results: list[LinkResult]) -> dict[str, Any]:
    """The reply to post, as JSON the state can keep until it is posted."""
    if not decision.approved:
        return review_outcome(results, decision.problems)
    assert decision.total is not None
    text = approval_text(template, decision.total)
    return {
        "kind": "approved",
        "total": str(decision.total),
        "text": text,
        "blocks": breakdown_blocks(text, results),
        "links": [r.as_dict() for r in results],
    }


def as_correction(outcome: dict[str, Any], earlier: str) -> dict[str, Any]:
    """A re-run of an approved memo (`retry --force`): the text still starts with the approval,
    as the desk searches for it, and says plainly that it replaces the earlier reply."""
    note = "Correction: this replaces CreditBot's earlier reply in this thread" + (
        f" ({earlier})." if earlier else "."
    )
    blocks = list(outcome.get("blocks") or [])
    marked = {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{note}*"}]}
    return {
        **outcome,
        "text": f"{outcome['text']}\n{note}",
        "blocks": [*blocks[:1], marked, *blocks[1:]],
        "correction_of": earlier,
    }


def review_outcome(
    results: list[LinkResult], problems: tuple[str, ...], files: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A note for the thread; traces and executed notebooks are named only in the DM."""
    text = review_text(problems)
    kept = [str(r.detail[key]) for r in results for key in KEPT_FILES if r.detail.get(key)]
    return {
        "kind": "review",
        "text": text,
        "blocks": breakdown_blocks(text, results) if results else None,
        "problems": list(problems),
        "files": kept + list(files),
        "links": [r.as_dict() for r in results],
    }


def write_summary(data_dir: Path, memo: Memo, outcome: dict[str, Any], final: Status) -> Path:
    """A compact JSON record per memo for people and audits (no SQL text, no secrets)."""
    folder = data_dir / "summaries"
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "memo": memo.key,
        "permalink": memo.permalink,
        "status": str(final),
        "reply_ts": memo.reply_ts,
        "outcome": outcome["kind"],
        "text": outcome["text"],
        "total": outcome.get("total"),
        "problems": outcome.get("problems", []),
        "files": outcome.get("files", []),
        "links": outcome.get("links", []),
        "timings": memo.timings,
    }
    path = folder / f"{memo.channel}-{memo.ts}.json"
    path.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n", encoding="utf-8")
    return path


def _json_default(value: object) -> str:
    if isinstance(value, Decimal | Path):
        return str(value)
    raise TypeError(type(value).__name__)
