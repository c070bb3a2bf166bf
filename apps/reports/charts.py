"""Inline SVG charts for the dashboard: no chart library, no CDN, no build step.

Every label and value is escaped; the markup is built here and marked safe once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#417690", "#e3a21a", "#70bf2b", "#ba2121", "#7b57b8", "#3aa6a6", "#888888"]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10.0 * magnitude


def bar_chart(
    *, labels: Sequence[str], series: Sequence[Series], width: int = 640, height: int = 220, title: str = ""
) -> SafeString:
    """Grouped vertical bars, one group per label; a legend when there is more than one series."""
    left, right, top, bottom = 44, 8, 24 if len(series) > 1 else 10, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((v for s in series for v in s.values), default=0))
    group_w = plot_w / max(1, len(labels))
    bar_w = max(1.0, group_w * 0.8 / max(1, len(series)))
    # Thin out x labels so they never overlap.
    label_every = max(1, int(len(labels) * 42 / plot_w) + 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    ]
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 4:.1f}" class="axis" text-anchor="end">{_fmt(peak * i / 4)}</text>')
    for g, label in enumerate(labels):
        x0 = left + g * group_w + group_w * 0.1
        for s_index, s in enumerate(series):
            value = s.values[g]
            h = plot_h * value / peak
            x = x0 + s_index * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s_index % len(PALETTE)]}"><title>{escape(label)} {escape(s.name)}: '
                f"{_fmt(value)}</title></rect>"
            )
        if g % label_every == 0:
            parts.append(
                f'<text x="{left + g * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" class="axis" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if len(series) > 1:
        x = left
        for s_index, s in enumerate(series):
            colour = PALETTE[s_index % len(PALETTE)]
            parts.append(f'<rect x="{x}" y="4" width="10" height="10" fill="{colour}"/>')
            parts.append(f'<text x="{x + 14}" y="13" class="legend">{escape(s.name)}</text>')
            # Wide (CJK) characters take about twice the width of Latin ones at this size.
            x += 34 + sum(13 if ord(ch) > 0x2E80 else 7 for ch in s.name)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every interpolated text is escaped above)


def hbar_chart(*, rows: Sequence[tuple[str, float, str]], width: int = 420, title: str = "") -> SafeString:
    """Horizontal bars for (label, value 0..1, shown text) rows, e.g. rates by category."""
    row_h, left, right = 24, 150, 70
    height = max(1, len(rows)) * row_h + 8
    peak = max((v for _, v, _ in rows), default=0) or 1.0
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value, shown) in enumerate(rows):
        y = 4 + i * row_h
        w = (width - left - right) * value / peak
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{left - 6}" y="{y + 15}" class="axis" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}" class="axis">{escape(shown)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every interpolated text is escaped above)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
