"""Horizontal bar charts as inline SVG, drawn on the server: no chart library, nothing from the network."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#0891b2", "#16a34a", "#ca8a04", "#ea580c", "#dc2626", "#7c3aed", "#db2777")
BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 150
BAR_WIDTH = 300
VALUE_WIDTH = 60
MAX_BARS = 12


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    counts: Mapping[str, int | float],
    *,
    title: str,
    label: Callable[[object], str] = str,
    sort: bool = True,
) -> Markup:
    """An accessible SVG bar chart of `counts` (largest first when `sort`), the rest summed as "…" past 12 bars."""
    items = list(counts.items())
    if sort:
        items.sort(key=lambda kv: (-kv[1], str(kv[0])))
    if len(items) > MAX_BARS:
        rest = sum(v for _, v in items[MAX_BARS - 1 :])
        items = items[: MAX_BARS - 1] + [("…", rest)]
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = max(1, len(items)) * (BAR_HEIGHT + GAP) + GAP
    top = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not items:
        parts.append(f'<text x="0" y="{BAR_HEIGHT}" class="chart-empty">—</text>')
    for i, (key, value) in enumerate(items):
        y = GAP + i * (BAR_HEIGHT + GAP)
        bar = 0 if value <= 0 else max(2, round(BAR_WIDTH * value / top))
        name = label(key) if key != "…" else "…"
        colour = PALETTE[i % len(PALETTE)]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(
            f'<g class="bar" data-key="{escape(key)}" data-value="{escape(shown)}">'
            f"<title>{escape(name)}: {escape(shown)}</title>"
            f'<text x="{LABEL_WIDTH - 8}" y="{y + BAR_HEIGHT * 0.7:.1f}" text-anchor="end">'
            f"{escape(_short(name))}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{bar}" height="{BAR_HEIGHT}" rx="3" fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + bar + 6}" y="{y + BAR_HEIGHT * 0.7:.1f}">{escape(shown)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
