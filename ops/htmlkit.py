"""Static HTML pages with inline SVG charts, shared by the ops report and the backtest report.

A page is one file an operator can open, mail or print: no scripts, no fetched CSS or fonts (a
Content-Security-Policy forbids them even if a bug tried), and every string that came from data
is escaped on the way in. `Safe` marks markup built here from escaped parts; anything else given
to these helpers is treated as text.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from bot.reply import money

CSP = "default-src 'none'; style-src 'unsafe-inline'"
STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
       max-width: 1040px; margin: 24px auto; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 4px; }
.sub, .note { color: #555; margin: 0 0 8px; }
section { break-inside: avoid; page-break-inside: avoid; }
.tiles { display: flex; flex-wrap: wrap; gap: 8px; margin: 16px 0 0; padding: 0; }
.tiles div { border: 1px solid #ccc; border-radius: 6px; padding: 6px 12px; min-width: 96px; }
.tiles dt { color: #555; font-size: 12px; } .tiles dd { margin: 0; font-size: 20px; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.legend { display: flex; gap: 16px; margin: 4px 0; font-size: 12px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; }
td.wrap { word-break: break-all; } td.nowrap { white-space: nowrap; }
@media print { body { margin: 0; max-width: none; } a { color: #000; } }
"""

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 72, 12, 12, 36
GRID = "#e3e3e3"


class Safe(str):
    """Markup made by this module from escaped parts: inserted as is, never escaped again."""


def esc(value: object) -> Safe:
    return value if isinstance(value, Safe) else Safe(html.escape(str(value), quote=True))


def join(parts: Iterable[object], sep: str = "") -> Safe:
    return Safe(sep.join(esc(p) for p in parts))


def link(href: str | None, label: object) -> Safe:
    """A link only to http(s) addresses: a `javascript:` permalink stays plain text."""
    if not href or urlsplit(href).scheme.lower() not in ("http", "https"):
        return esc(label)
    return Safe(f'<a href="{esc(href)}">{esc(label)}</a>')


def page(title: str, subtitle: str, body: Iterable[object]) -> str:
    content = join(body, "\n")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style></head>\n"
        f'<body>\n<h1>{esc(title)}</h1>\n<p class="sub">{esc(subtitle)}</p>\n'
        f"{content}\n</body></html>\n"
    )


def section(heading: str, *content: object, note: str | None = None) -> Safe:
    intro = f'<p class="note">{esc(note)}</p>' if note else ""
    return Safe(f"<section><h2>{esc(heading)}</h2>{intro}{join(content)}</section>")


def paragraph(text: str) -> Safe:
    return Safe(f'<p class="note">{esc(text)}</p>')


def tiles(items: Sequence[tuple[str, object]]) -> Safe:
    """Headline numbers in a row of boxes."""
    cells = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in items)
    return Safe(f'<dl class="tiles">{cells}</dl>')


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = ""  # "num" (right-aligned), "nowrap", or "wrap" (long URLs may break anywhere)


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> Safe:
    head = "".join(f"<th>{esc(c.heading)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{c.kind}">{esc(v)}</td>' if c.kind else f"<td>{esc(v)}</td>"
            for c, v in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    return Safe(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


# --- charts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]
    color: str


def legend(series: Sequence[Series]) -> Safe:
    keys = "".join(
        f'<span><i style="background:{esc(s.color)}"></i>{esc(s.name)}</span>' for s in series
    )
    return Safe(f'<div class="legend">{keys}</div>')


def column_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    stacked: bool = False,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
    integer: bool = False,
    label_every: int = 1,
    show_values: bool = False,
) -> Safe:
    """Vertical bars per category: one series, several side by side, or stacked.

    Every bar carries a `<title>` (its exact value, shown on hover without any script).
    """
    n = len(categories)
    heights = [
        sum(s.values[i] for s in series)
        if stacked
        else max((s.values[i] for s in series), default=0)
        for i in range(n)
    ]
    ticks = _ticks(max(heights, default=0), integer=integer)
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)
    parts = _axes(ticks, fmt, plot_w, plot_h)
    for i, category in enumerate(categories):
        x0 = LEFT + i * slot
        if i % label_every == 0 or i == n - 1:
            parts.append(_text(x0 + slot / 2, HEIGHT - BOTTOM + 16, category, "middle"))
        base = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            if stacked:
                width, x = slot * 0.7, x0 + slot * 0.15
                y0 = base
                base += value
            else:
                width = slot * 0.8 / len(series)
                x, y0 = x0 + slot * 0.1 + j * width, 0.0
            y = TOP + plot_h * (1 - (y0 + value) / top)
            h = plot_h * value / top
            tip = f"{category} · {s.name}: {fmt(value)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
                f'fill="{esc(s.color)}"><title>{esc(tip)}</title></rect>'
            )
            if show_values and value:
                parts.append(_text(x + width / 2, y - 3, fmt(value), "middle"))
    if not any(heights):
        parts.append(_text(LEFT + plot_w / 2, TOP + plot_h / 2, "no data", "middle"))
    return _svg(title, WIDTH, HEIGHT, parts)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    color: str


def scatter_chart(
    title: str,
    points: Sequence[Point],
    *,
    x_name: str,
    y_name: str,
    fmt: Callable[[float], str],
) -> Safe:
    """Points on equal axes with the diagonal y = x: on the line means the two agree."""
    size, margin = 420, LEFT
    ticks = _ticks(max((max(p.x, p.y) for p in points), default=0))
    top = ticks[-1]
    span = size - margin - 36  # room for the last x label
    parts = [
        f'<line x1="{margin}" y1="{TOP + span}" x2="{margin + span}" y2="{TOP}" '
        f'stroke="#999" stroke-dasharray="4 3"/>'
    ]
    for tick in ticks:
        offset = span * tick / top
        parts += [
            f'<line x1="{margin}" y1="{TOP + span - offset:.1f}" x2="{margin + span}" '
            f'y2="{TOP + span - offset:.1f}" stroke="{GRID}"/>',
            _text(margin - 6, TOP + span - offset + 4, fmt(tick), "end"),
            _text(margin + offset, TOP + span + 16, fmt(tick), "middle"),
        ]
    parts += [
        _text(margin + span / 2, TOP + span + 32, x_name, "middle"),
        f'<text x="14" y="{TOP + span / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {TOP + span / 2:.1f})">{esc(y_name)}</text>',
    ]
    for p in points:
        cx, cy = margin + span * p.x / top, TOP + span * (1 - p.y / top)
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{esc(p.color)}" '
            f'fill-opacity="0.8"><title>{esc(p.label)}</title></circle>'
        )
    if not points:
        parts.append(_text(margin + span / 2, TOP + span / 2, "no data", "middle"))
    return _svg(title, size, TOP + span + 42, parts, max_width=520)


def dollars(value: float) -> str:
    """Axis and hover labels: `$2,500` for round amounts, `$4,948.80` otherwise."""
    return money(Decimal(str(value))).removesuffix(".00")


def _ticks(peak: float, *, integer: bool = False, count: int = 4) -> list[float]:
    """Round axis steps (1, 2, 2.5 or 5 times a power of ten) from 0 to at least `peak`."""
    if peak <= 0:
        return [0.0, 1.0]
    raw = peak / count
    power = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 5, 10) if integer else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in steps if m * power >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    return [i * step for i in range(math.ceil(peak / step - 1e-9) + 1)]


def _axes(
    ticks: list[float], fmt: Callable[[float], str], plot_w: float, plot_h: float
) -> list[str]:
    parts = []
    for tick in ticks:
        y = TOP + plot_h * (1 - tick / ticks[-1])
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>'
        )
        parts.append(_text(LEFT - 6, y + 4, fmt(tick), "end"))
    return parts


def _text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{esc(text)}</text>'


def _svg(title: str, width: int, height: int, parts: list[str], max_width: int = 0) -> Safe:
    limit = f' style="max-width:{max_width}px"' if max_width else ""
    return Safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img"'
        f'{limit} aria-label="{esc(title)}"><title>{esc(title)}</title>{"".join(parts)}</svg>'
    )
