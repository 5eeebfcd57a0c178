"""Bar and line charts as inline SVG strings: no library, no script, no network.

Every data point is one element with class "mark" (a bar's <rect>, a line's <circle>), so a
browser test can count what was drawn against the figure's `data-marks`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 28, 64
COLOURS = ("#2f6db5", "#e07b39", "#3a9d5d", "#b8424b", "#7d5ba6", "#8c6d31", "#d45aa0")


@dataclass(frozen=True)
class Chart:
    """One chart: category labels on x, one or more named series of values on y."""

    chart_id: str
    title: str
    labels: Sequence[str]
    series: Mapping[str, Sequence[float | None]]
    unit: str = ""
    kind: str = "bar"  # "bar" (grouped) or "line"

    @property
    def points(self) -> int:
        """Data points that get a mark (None is a gap)."""
        return sum(1 for values in self.series.values() for v in values if v is not None)


def _number(value: float) -> str:
    """An axis or tooltip number: thousands separated, at most two decimals."""
    return f"{value:,.0f}" if abs(value) >= 100 or value == int(value) else f"{value:,.2f}"


def _nice(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (axis ends)."""
    if value <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def _scale(chart: Chart) -> tuple[float, float]:
    values = [v for vs in chart.series.values() for v in vs if v is not None]
    low = -_nice(-min(0.0, *values)) if values else 0.0
    high = _nice(max(0.0, *values)) if values else 1.0
    return low, (high if high > low else low + 1.0)


def _axes(chart: Chart, low: float, high: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = low + (high - low) * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}</text>'
        )
    step = (WIDTH - LEFT - RIGHT) / max(len(chart.labels), 1)
    every = max(1, len(chart.labels) // 16)  # at most ~16 labels fit under the axis
    for i, label in enumerate(chart.labels):
        if i % every:
            continue
        x = LEFT + step * (i + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {HEIGHT - BOTTOM + 14})">{escape(label[:18])}</text>'
        )
    if chart.unit:
        parts.append(f'<text x="4" y="{TOP - 12}" class="unit">{escape(chart.unit)}</text>')
    return parts


def _marks(chart: Chart, low: float, high: float) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(len(chart.labels), 1)

    def y_of(value: float) -> float:
        return TOP + plot_h - plot_h * (value - low) / (high - low)

    parts = []
    names = list(chart.series)
    for s, name in enumerate(names):
        colour = COLOURS[s % len(COLOURS)]
        values = chart.series[name]
        if chart.kind == "line":
            xy = [(LEFT + step * (i + 0.5), y_of(v)) for i, v in enumerate(values) if v is not None]
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        bar_w = step * 0.8 / len(names)
        for i, value in enumerate(values):
            if value is None:
                continue
            tip = f"<title>{escape(name)} {escape(chart.labels[i])}: {_number(value)}</title>"
            if chart.kind == "line":
                x, y = LEFT + step * (i + 0.5), y_of(value)
                parts.append(
                    f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" '
                    f'data-value="{value}">{tip}</circle>'
                )
                continue
            x = LEFT + step * i + step * 0.1 + bar_w * s
            top, bottom = sorted((y_of(value), y_of(0.0)))
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}" '
                f'height="{max(bottom - top, 0.5):.1f}" fill="{colour}" '
                f'data-value="{value}">{tip}</rect>'
            )
    return parts


def _legend(chart: Chart) -> str:
    if len(chart.series) < 2:
        return ""
    items = "".join(
        f'<span><i style="background:{COLOURS[s % len(COLOURS)]}"></i>{escape(name)}</span>'
        for s, name in enumerate(chart.series)
    )
    return f'<div class="legend">{items}</div>'


def render_chart(chart: Chart) -> str:
    """A <figure> holding the chart's SVG (or a "no data" note) and its legend."""
    head = (
        f'<figure class="chart" id="{escape(chart.chart_id)}" data-marks="{chart.points}">'
        f"<figcaption>{escape(chart.title)}</figcaption>"
    )
    if not chart.points:
        return head + '<p class="empty">no data yet</p></figure>'
    low, high = _scale(chart)
    body = "".join([*_axes(chart, low, high), *_marks(chart, low, high)])
    svg = (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(chart.title)}">{body}</svg>'
    )
    return head + svg + _legend(chart) + "</figure>"
