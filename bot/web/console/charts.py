"""Owns the dashboard's charts: stacked bars per day, one colour per advisor, as inline SVG.

Drawn on the server: no chart library to vendor, nothing to run in the browser, and the chart
is in the page's HTML (so a screenshot, a printout and a screen reader's title all see it).
"""

from __future__ import annotations

from datetime import date
from html import escape

from bot.web.console.rendering import localized

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 420, 180, 46, 24, 10  # LEFT fits "0.0058" (a day in dollars)


def colour(index: int) -> str:
    """The colour of the index-th advisor, the same in every chart and in the legend."""
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    title: str, days: list[date], series: list[tuple[str, list[float]]], *, language: str = "en"
) -> str:
    """An SVG of one bar per day, stacked by advisor; `series` is (advisor name, value per day).

    Its numbers are written the page's language's way (0,023 in Spanish).
    """
    totals = [sum(values[i] for _, values in series) for i in range(len(days))]
    peak = max(totals, default=0) or 1
    plot_w, plot_h = WIDTH - LEFT - 4, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1)
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - 4}" y2="{TOP + plot_h}" stroke="#94a3b8"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end" class="axis">{_number(peak, language)}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        y = float(TOP + plot_h)
        for index, (name, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            height = value / peak * plot_h
            y -= height
            label = f"{escape(name)} · {day.isoformat()}: {_number(value, language)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                f'fill="{colour(index)}"><title>{label}</title></rect>'
            )
        if i % -(-len(days) // 7) == 0:  # at most seven day labels fit under a bar chart
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" class="axis">'
                f"{day.strftime('%d/%m')}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float, language: str) -> str:
    """A count as a count, a small amount (a day's cost in dollars) with its significant digits."""
    if value >= 10 or value == int(value):
        written = f"{value:.0f}"
    else:
        written = f"{value:.1f}" if value >= 1 else f"{value:.2g}"
    return localized(written, language)
