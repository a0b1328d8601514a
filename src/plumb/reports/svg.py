"""Bar charts as standalone SVG text (no scripts, no external files) for pages to embed.

``bar_chart`` draws one bar per label; ``flagged`` values draw the part of each bar that rests
on records failing a check in a second shade, so a chart shows what it rests on as a table does.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

Number = int | float | Decimal

WIDTH = 640
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 160
VALUE_WIDTH = 90


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[Number],
    flagged: Sequence[Number] | None = None,
) -> str:
    """A horizontal bar chart. ``flagged[i]`` (at most ``values[i]``) is drawn hatched."""
    if len(labels) != len(values) or (flagged is not None and len(flagged) != len(values)):
        raise ValueError("labels, values and flagged must have the same length")
    top = max((float(v) for v in values), default=0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = 30 + len(values) * (BAR_HEIGHT + GAP)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-family="sans-serif" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 30 + i * (BAR_HEIGHT + GAP)
        w = span * float(value) / top
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-family="sans-serif" '
            f'font-size="12">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" fill="#4a78b5"/>'
        )
        if flagged is not None and float(flagged[i]) > 0:
            fw = span * min(float(flagged[i]), float(value)) / top
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{fw:.1f}" height="{BAR_HEIGHT}" '
                f'fill="#d9822b"><title>{escape(str(flagged[i]))} rests on flagged records'
                "</title></rect>"
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + w + 6:.1f}" y="{y + 15}" font-family="sans-serif" '
            f'font-size="12">{escape(str(value))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
