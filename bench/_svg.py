"""A tiny, dependency-free SVG writer for the benchmark plots: a line chart and a bar chart.

The output is plain, readable SVG text and the same for the same input (every coordinate
is rounded to one decimal), so a re-run with equal numbers gives an equal file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 400
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
GREY = "#a0a4a8"
GRID, AXIS = 'stroke="#e4e6e8"', 'stroke="#333"'


def _n(value: float) -> str:
    """A coordinate rounded to one decimal, without a trailing ".0" (and never "-0")."""
    return f"{round(value, 1) + 0.0:.1f}".removesuffix(".0")


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    where = f'x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"'
    return f"<text {where}{extra}>{escape(text)}</text>"


def _line(x1: float, y1: float, x2: float, y2: float, style: str) -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" {style}/>'


def _box(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    """A filled rectangle between two opposite corners, in any order."""
    x, y, w, h = (_n(v) for v in (min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1)))
    return f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{colour}"/>'


def _y_title(text: str, middle: float) -> str:
    return _text(18, middle, text, "middle", f' transform="rotate(-90 18 {_n(middle)})"')


def _ticks(top: float) -> list[float]:
    """Round tick values from 0 up to at least ``top``: about five steps of 1, 2, 2.5 or 5."""
    raw = max(top, 1e-9) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _start(title: str, legend: Sequence[tuple[str, str]], left: float) -> tuple[list[str], float]:
    """The SVG head, the title and the legend rows; gives the y where the plot may begin."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        _text(WIDTH / 2, 24, title, "middle", ' font-size="16" font-weight="bold"'),
    ]
    x, y = left, 46.0
    for label, colour in legend:
        width = 34 + 6.4 * len(label)
        if x + width > WIDTH - 20 and x > left:
            x, y = left, y + 18
        out.append(_box(x, y - 9, x + 18, y + 1, colour))
        out.append(_text(x + 24, y, label))
        x += width
    return out, y + (16 if legend else 0)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    x_title: str,
    y_title: str,
    reference: tuple[str, float] | None = None,
) -> str:
    """Lines through each named series' (x, y) points, both axes from 0, optional dashed y line."""
    legend = [(name, COLORS[i % len(COLORS)]) for i, name in enumerate(series)]
    out, top = _start(title, legend, 70)
    left, right, bottom = 70.0, WIDTH - 20.0, HEIGHT - 50.0
    points = [p for line in series.values() for p in line]
    x_ticks = _ticks(max(x for x, _ in points))
    y_ticks = _ticks(max([y for _, y in points] + ([reference[1]] if reference else [])))

    def px(x: float) -> float:
        return left + (right - left) * x / x_ticks[-1]

    def py(y: float) -> float:
        return bottom - (bottom - top) * y / y_ticks[-1]

    for y in y_ticks:
        out.append(_line(left, py(y), right, py(y), GRID))
        out.append(_text(left - 6, py(y) + 4, f"{y:,g}", "end"))
    for x in x_ticks:
        out.append(_line(px(x), bottom, px(x), bottom + 4, AXIS))
        out.append(_text(px(x), bottom + 17, f"{x:,g}", "middle"))
    out.append(_line(left, bottom, right, bottom, AXIS))
    out.append(_line(left, top, left, bottom, AXIS))
    if reference:
        label, value = reference
        dashed = f'stroke="{GREY}" stroke-dasharray="6 4"'
        out.append(_line(left, py(value), right, py(value), dashed))
        out.append(_text(right, py(value) - 5, label, "end", ' fill="#555"'))
    for (_, colour), line in zip(legend, series.values(), strict=True):
        path = " ".join(f"{_n(px(x))},{_n(py(y))}" for x, y in line)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in line:
            out.append(f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="3" fill="{colour}"/>')
    out.append(_text((left + right) / 2, HEIGHT - 12, x_title, "middle"))
    out.append(_y_title(y_title, (top + bottom) / 2))
    return "\n".join([*out, "</svg>", ""])


def bar_chart(
    bars: Sequence[tuple[str, float, float | None]],
    *,
    title: str,
    value_title: str,
    pair_names: tuple[str, str] = ("ours", "reference"),
    horizontal: bool = True,
) -> str:
    """One bar per (name, value, reference); a grey reference bar beside it when one is given."""
    paired = any(ref is not None for _, _, ref in bars)
    legend = [(pair_names[0], COLORS[0]), (pair_names[1], GREY)] if paired else []
    out, top = _start(title, legend, 160 if horizontal else 70)
    ticks = _ticks(max(max(value, ref or 0) for _, value, ref in bars))
    if horizontal:  # categories down the left, values along x (room for labels at the right)
        cat0, cat1, v0, v1 = top, HEIGHT - 50.0, 160.0, WIDTH - 70.0
    else:  # categories along the bottom, values up the y axis
        cat0, cat1, v0, v1 = 70.0, WIDTH - 20.0, HEIGHT - 50.0, top + 14

    def at(value: float) -> float:
        return v0 + (v1 - v0) * value / ticks[-1]

    def xy(cat: float, value: float) -> tuple[float, float]:
        return (value, cat) if horizontal else (cat, value)

    for tick in ticks:
        out.append(_line(*xy(cat0, at(tick)), *xy(cat1, at(tick)), GRID))
        x, y = xy(cat1 + 17, at(tick)) if horizontal else xy(cat0 - 6, at(tick) + 4)
        out.append(_text(x, y, f"{tick:,g}", "middle" if horizontal else "end"))
    band = (cat1 - cat0) / len(bars)
    thick = band * 0.7 / (2 if paired else 1)
    for i, (name, value, ref) in enumerate(bars):
        for j, amount in enumerate([value, ref] if paired else [value]):
            if amount is None:
                continue
            a, end = cat0 + band * (i + 0.15) + j * thick, at(amount)
            out.append(_box(*xy(a, v0), *xy(a + thick, end), GREY if j else COLORS[0]))
            x, y = (end + 4, a + thick / 2 + 4) if horizontal else (a + thick / 2, end - 4)
            small = ' font-size="11"'
            out.append(_text(x, y, f"{amount:,.1f}", "start" if horizontal else "middle", small))
        middle = cat0 + band * (i + 0.5)
        x, y = (v0 - 8, middle + 4) if horizontal else (middle, v0 + 17)
        out.append(_text(x, y, name, "end" if horizontal else "middle"))
    out.append(_line(*xy(cat0, v0), *xy(cat1, v0), AXIS))
    if horizontal:
        out.append(_text((v0 + v1) / 2, HEIGHT - 12, value_title, "middle"))
    else:
        out.append(_y_title(value_title, (v0 + v1) / 2))
    return "\n".join([*out, "</svg>", ""])
