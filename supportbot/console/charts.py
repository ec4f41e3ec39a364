"""Charts as inline SVG, drawn on the server: no JavaScript, no library, nothing from a CDN.

Labels are escaped here (the SVG is inserted into the page as markup); colours are
presentation attributes, not ``style``, so the Content-Security-Policy needs no
``unsafe-inline``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 36
INK = "#1f3a5f"
GRID = "#d8dee6"


def _frame(title: str, lower: float, upper: float, body: list[str], labels: Sequence[str]) -> Markup:
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + (1 - fraction) * (HEIGHT - TOP - BOTTOM)
        value = lower + fraction * (upper - lower)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{value:g}</text>')
    step = max(1, len(labels) // 8)
    for index, label in enumerate(labels):
        if index % step == 0:
            x = _x(index, len(labels))
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="10">{escape(label)}</text>'
            )
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + span * (index + 0.5) / max(count, 1)


def _y(value: float, lower: float, upper: float) -> float:
    fraction = (value - lower) / (upper - lower) if upper > lower else 0.0
    return TOP + (1 - fraction) * (HEIGHT - TOP - BOTTOM)


def bar_chart(title: str, points: Sequence[tuple[str, float]]) -> Markup:
    upper = max([value for _, value in points] + [1.0])
    width = max(2.0, (WIDTH - LEFT - RIGHT) / max(len(points), 1) * 0.7)
    body = []
    for index, (label, value) in enumerate(points):
        y = _y(value, 0.0, upper)
        body.append(
            f'<rect class="bar" x="{_x(index, len(points)) - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="{HEIGHT - BOTTOM - y:.1f}" fill="{INK}"><title>{escape(label)}: {value:g}</title></rect>'
        )
    return _frame(title, 0.0, upper, body, [label for label, _ in points])


def line_chart(title: str, points: Sequence[tuple[str, float | None]], *, lower: float, upper: float) -> Markup:
    """A line through the points that have a value; a gap where a period has none."""
    body = []
    segment: list[str] = []
    for index, (label, value) in enumerate(points):
        if value is None:
            if len(segment) > 1:
                body.append(f'<polyline fill="none" stroke="{INK}" stroke-width="2" points="{" ".join(segment)}"/>')
            segment = []
            continue
        x, y = _x(index, len(points)), _y(value, lower, upper)
        segment.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{INK}">'
            f"<title>{escape(label)}: {value:.1f}</title></circle>"
        )
    if len(segment) > 1:
        body.append(f'<polyline fill="none" stroke="{INK}" stroke-width="2" points="{" ".join(segment)}"/>')
    return _frame(title, lower, upper, body, [label for label, _ in points])


SPARK_WIDTH, SPARK_HEIGHT = 120, 28


def sparkline(title: str, points: Sequence[tuple[str, float | None]]) -> Markup:
    """A small line (a table cell's trend), no axes; its title and each point's tooltip say the values."""
    known = [value for _, value in points if value is not None]
    if len(known) < 2:
        return Markup(f'<span class="muted" title="{escape(title)}">–</span>')
    lower, upper = min(known), max(known)
    span = (upper - lower) or 1.0
    step = (SPARK_WIDTH - 4) / max(len(points) - 1, 1)
    coords = [
        (2 + i * step, SPARK_HEIGHT - 3 - (value - lower) / span * (SPARK_HEIGHT - 6), label, value)
        for i, (label, value) in enumerate(points)
        if value is not None
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.5" fill="{INK}"><title>{escape(label)}: {value:g}</title></circle>'
        for x, y, label, value in coords
    )
    return Markup(
        f'<svg class="spark" role="img" aria-label="{escape(title)}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
        f'width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'<polyline fill="none" stroke="{INK}" stroke-width="1.5" points="{line}"/>{dots}</svg>'
    )


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value``: axis labels a person reads at a glance."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return float(next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value))
