"""Small SVG charts rendered on the server for the progress page.

Each function returns geometry for a template to draw (`web/study/_chart_*.html`), not markup:
the template escapes every label, so a topic named `<script>` is text. Charts work offline and
under the CSP (no script, no external resource); colours come from CSS classes, so dark mode
applies. Each chart also carries its figures as a table for screen readers."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 640
HEIGHT = 220
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 36, 12, 12, 40


@dataclass
class Chart:
    label: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[dict] = field(default_factory=list)
    points: str = ""
    dots: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)  # horizontal grid lines with their value
    rows: list[tuple[str, float]] = field(default_factory=list)  # the data, for the table


def _ticks(maximum: float, top: float, bottom: float) -> list[dict]:
    steps = 4
    return [
        {"y": round(bottom - (bottom - top) * i / steps, 1), "value": round(maximum * i / steps)}
        for i in range(steps + 1)
    ]


def _nice_max(values: list[float]) -> float:
    """A y-axis top at or above the largest value that divides into 4 whole steps."""
    largest = max(values, default=0)
    return max(4, -(-largest // 4) * 4)


def bar_chart(rows: list[tuple[str, float]], *, label: str) -> Chart:
    """Vertical bars, one per row (e.g. cards due per day)."""
    chart = Chart(label=label, rows=rows)
    top, bottom = PAD_TOP, HEIGHT - PAD_BOTTOM
    maximum = _nice_max([value for _, value in rows])
    slot = (WIDTH - PAD_LEFT - PAD_RIGHT) / max(1, len(rows))
    for index, (name, value) in enumerate(rows):
        height = (bottom - top) * value / maximum
        x = PAD_LEFT + index * slot
        chart.bars.append({
            "x": round(x + slot * 0.15, 1), "y": round(bottom - height, 1), "width": round(slot * 0.7, 1),
            "height": round(height, 1), "label": name, "value": value, "label_x": round(x + slot / 2, 1),
            "label_y": bottom + 16, "show_label": index % 2 == 0 or len(rows) <= 8,
        })
    chart.ticks = _ticks(maximum, top, bottom)
    return chart


def horizontal_bars(rows: list[tuple[str, float]], *, label: str, maximum: float) -> Chart:
    """One labelled bar per row, 0..maximum (e.g. mastery per topic)."""
    row_height = 26
    chart = Chart(label=label, rows=rows, height=PAD_TOP + row_height * len(rows) + 8)
    left, right = 200, WIDTH - 50
    for index, (name, value) in enumerate(rows):
        y = PAD_TOP + index * row_height
        chart.bars.append({
            "x": left, "y": y, "width": round((right - left) * min(value, maximum) / maximum, 1),
            "height": row_height - 8, "label": name if len(name) <= 28 else name[:27] + "…", "value": value,
            "label_x": left - 8, "label_y": y + row_height / 2, "value_x": right + 6,
        })
    return chart


def line_chart(rows: list[tuple[str, float]], *, label: str, maximum: float) -> Chart:
    """A line through the values in order (e.g. quiz scores over time), with a dot on each."""
    chart = Chart(label=label, rows=rows)
    top, bottom = PAD_TOP, HEIGHT - PAD_BOTTOM
    left, right = PAD_LEFT, WIDTH - PAD_RIGHT
    step = (right - left) / max(1, len(rows) - 1)
    for index, (name, value) in enumerate(rows):
        x = left + step * index if len(rows) > 1 else (left + right) / 2
        y = bottom - (bottom - top) * min(value, maximum) / maximum
        chart.dots.append({"x": round(x, 1), "y": round(y, 1), "label": name, "value": value,
                           "label_y": bottom + 16, "show_label": index % max(1, len(rows) // 6) == 0})
    chart.points = " ".join(f"{d['x']},{d['y']}" for d in chart.dots)
    chart.ticks = _ticks(maximum, top, bottom)
    return chart
