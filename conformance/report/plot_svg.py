"""A :class:`~.plots.Figure` as an inline ``<svg>`` element: presentation only, no layout decisions.

Units are points (the figure's ``width``/``height``), y grows downward. Text stays text, and
the output depends on nothing but the figure, so the same report renders byte for byte alike.
No element has an ``id``: several figures share one page.
"""

from __future__ import annotations

from html import escape

from .plot_scales import Scale
from .plots import EXACT, LEGEND_LINE, Figure, Line, Panel

FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
TICK_LENGTH = 3.5
GRID = 'stroke="#dddddd" stroke-width="0.6"'
DASH = "5.9,2.6"
#: The width of an average character of 8-point text, to size the legend's columns.
CHARACTER = 4.6


def render(figure: Figure) -> str:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(figure.width)}pt" height="{_n(figure.height)}pt" '
        f'viewBox="0 0 {_n(figure.width)} {_n(figure.height)}" {FONT}>',
        f'<rect width="{_n(figure.width)}" height="{_n(figure.height)}" fill="#ffffff"/>',
    ]
    if figure.title:
        parts.append(_text(figure.width / 2, 18, figure.title, 10, anchor="middle"))
    for panel in figure.panels:
        parts.extend(_panel(panel))
    parts.extend(_legend(figure))
    parts.append("</svg>")
    return "\n".join(parts)


def _panel(panel: Panel) -> list[str]:
    left, top, right, bottom = panel.box
    parts = ["<g>"]
    for tick in panel.x.ticks:
        x = _along(panel.x, tick.value, left, right)
        parts.append(f'<line x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(bottom)}" {GRID}/>')
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(bottom)}" x2="{_n(x)}" y2="{_n(bottom + TICK_LENGTH)}" stroke="#000"/>'
        )
        parts.append(_text(x, bottom + TICK_LENGTH + 9, tick.label, 8, anchor="middle"))
    for tick in panel.y.ticks:
        y = _along(panel.y, tick.value, bottom, top)
        parts.append(f'<line x1="{_n(left)}" y1="{_n(y)}" x2="{_n(right)}" y2="{_n(y)}" {GRID}/>')
        parts.append(f'<line x1="{_n(left - TICK_LENGTH)}" y1="{_n(y)}" x2="{_n(left)}" y2="{_n(y)}" stroke="#000"/>')
        parts.append(_text(left - TICK_LENGTH - 2, y + 3, tick.label, 8, anchor="end"))
    for line in panel.lines:
        parts.extend(_line(panel, line))
    if not panel.lines:
        parts.append(_text((left + right) / 2, (top + bottom) / 2, "no finite points", 10, anchor="middle"))
    parts.append(
        f'<rect x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" height="{_n(bottom - top)}" '
        'fill="none" stroke="#000" stroke-width="0.8"/>'
    )
    parts.append(_text((left + right) / 2, bottom + TICK_LENGTH + 22, panel.x_label, 10, anchor="middle"))
    middle = (top + bottom) / 2
    parts.append(
        f'<text x="0" y="0" font-size="10" text-anchor="middle" '
        f'transform="translate({_n(left - 44)} {_n(middle)}) rotate(-90)">{escape(panel.y_label)}</text>'
    )
    parts.append("</g>")
    return parts


def _line(panel: Panel, line: Line) -> list[str]:
    left, top, right, bottom = panel.box
    points = [(_along(panel.x, x, left, right), _along(panel.y, y, bottom, top)) for x, y in line.points]
    path = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    if line.exact:
        return [
            f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="1.6" '
            f'stroke-dasharray="{DASH}"/>'
        ]
    return [
        f'<polyline points="{path}" fill="none" stroke="{line.colour}" stroke-width="1.2"/>',
        f'<g fill="{line.colour}">'
        + "".join(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="1.8"/>' for x, y in points)
        + "</g>",
    ]


def _legend(figure: Figure) -> list[str]:
    """Two columns, centred below the panels, each as wide as its longest name."""
    names = [name for name, _ in figure.legend]
    widths = [max((len(name) * CHARACTER for name in names[column::2]), default=0.0) + 40 for column in (0, 1)]
    start = (figure.width - sum(widths)) / 2
    columns = (start, start + widths[0])
    parts = ["<g>"]
    for index, (name, colour) in enumerate(figure.legend):
        x = columns[index % 2]
        y = figure.legend_top + 12 + LEGEND_LINE * (index // 2)
        dash = f' stroke-dasharray="{DASH}"' if name == EXACT else ""
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 20)}" y2="{_n(y)}" '
            f'stroke="{colour}" stroke-width="1.4"{dash}/>'
        )
        if not dash:
            parts.append(f'<circle cx="{_n(x + 10)}" cy="{_n(y)}" r="3" fill="{colour}"/>')
        parts.append(_text(x + 26, y + 3, name, 8, anchor="start"))
    parts.append("</g>")
    return parts


def _along(scale: Scale, value: float, start: float, end: float) -> float:
    """The coordinate of ``value`` on an axis drawn from ``start`` (its low end) to ``end``."""
    return start + (end - start) * scale.fraction(value)


def _text(x: float, y: float, text: str, size: int, anchor: str) -> str:
    return f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" text-anchor="{anchor}">{escape(text)}</text>'


def _n(number: float) -> str:
    """A coordinate to a hundredth of a point: finer than any screen, and short."""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
