"""Figures of swept cases: each implementation's value and ULP error against the swept parameter.

:func:`draw` lays a figure out as plain data (panels, their scales and lines, a legend);
:mod:`.plot_svg` writes it as inline SVG: the page stays self-contained (no network, no
JavaScript), sharp at any zoom, and its text searchable. A plotting library drew these once,
and its import and per-tick artists were most of a gate call's own time; what the figures
need (log and symlog axes labelled at decades, lines with markers, a legend) is small.

A *series* is the cases of one sweep, in one dtype. A case file declares a sweep with
``sweep:``; cases written out one by one form a series too when their ids follow the
project's readable-id convention and differ only in one trailing ``name=number`` part
(``.../two-point/a=16.1``), so seed 001's figure is drawn from the seed's own two-point
cases, with ``a`` on its axis.

Every figure of an op uses one colour per implementation (:func:`palette`), the exact
value is black and dashed, and the legend sits outside the data.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import plot_scales
from .plot_scales import linear_threshold
from .records import DTYPE_ORDER, ResultRecord, Verdict

#: Matplotlib's tab10, then ColorBrewer's Dark2 and two more: dark, saturated, told apart on white.
COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#000080", "#800000", "#008080",
)  # fmt: skip
EXACT = "exact (oracle)"
_TRAILING_PARAMETER = re.compile(r"^(?P<stem>.*[/,])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[-+]?[0-9.eE+-]+)$")


@dataclass
class Series:
    """The cases of one sweep in one dtype, in order of the swept parameter."""

    key: str  # the sweep's id template, e.g. ``bce/logits/x={x}``
    parameter: str
    dtype: str
    points: list[tuple[float, ResultRecord]] = field(default_factory=list)


def plotted_palette(records: Iterable[ResultRecord]) -> dict[str, str]:
    """The palette of the implementations that some series of ``records`` plots: given one op's
    records, every figure of that op colours an implementation alike, and an op's few plotted
    implementations stay within the distinct colours."""
    return palette(record["implementation"] for entry in series(records) for _, record in entry.points)


def palette(implementations: Iterable[str]) -> dict[str, str]:
    """One colour per implementation, the same in every panel and figure it is given to."""
    names = sorted(set(implementations) - {EXACT})
    colours = {name: COLOURS[index % len(COLOURS)] for index, name in enumerate(names)}
    colours[EXACT] = "#000000"
    return colours


def _swept(record: ResultRecord) -> tuple[str, str, float] | None:
    """(series key, parameter name, x) of a record, or None when it is not on a numeric axis."""
    sweep = record.get("sweep") or {}
    if len(sweep) == 1:
        ((name, text),) = sweep.items()
        key = record["sweep_group"]
    elif not sweep and (match := _TRAILING_PARAMETER.match(record["case"])):
        name, text = match["name"], match["value"]
        key = f"{match['stem']}{name}={{{name}}}"
    else:
        return None
    try:
        x = float(text)
    except ValueError:
        return None  # a sweep over tokens (max, eps, ...) has no numeric axis
    return (key, name, x) if math.isfinite(x) else None


def series(records: Iterable[ResultRecord]) -> list[Series]:
    """The series of ``records`` with at least three points, by key then dtype."""
    found: dict[tuple[str, str], Series] = {}
    cases: dict[tuple[str, str], set[str]] = defaultdict(set)
    for record in records:
        if record["quantity"] != "value" or record["verdict"] == Verdict.UNSUPPORTED:
            continue
        swept = _swept(record)
        if swept is None:
            continue
        key, name, x = swept
        entry = found.setdefault((key, record["dtype"]), Series(key, name, record["dtype"]))
        entry.points.append((x, record))
        cases[(key, record["dtype"])].add(record["case"])
    kept = [s for k, s in found.items() if len(cases[k]) >= 3]
    for entry in kept:
        entry.points.sort(key=lambda point: point[0])
    return sorted(kept, key=lambda s: (s.key, DTYPE_ORDER.get(s.dtype, 9)))


def scalar(value: Any) -> float | None:
    """A plotted number: a scalar, or the only element of a one-element array; else None."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _lines(entry: Series, what: str) -> dict[str, list[tuple[float, float]]]:
    lines: dict[str, list[tuple[float, float]]] = defaultdict(list)
    exact_seen: set[float] = set()
    for x, record in entry.points:
        y = scalar(record["actual"] if what == "value" else record["max_ulp_error"])
        if y is not None:
            lines[record["implementation"]].append((x, y))
        if what == "value" and x not in exact_seen:
            exact = scalar(record["exact"])
            if exact is not None:
                exact_seen.add(x)
                lines[EXACT].append((x, exact))
    return lines


@dataclass
class Line:
    """One implementation's points in one panel (the exact value's, dashed, when ``exact``)."""

    name: str
    colour: str
    points: list[tuple[float, float]]

    @property
    def exact(self) -> bool:
        return self.name == EXACT


@dataclass
class Panel:
    """One Axes: a series' values or max ULP errors against its swept parameter."""

    x_label: str
    y_label: str
    x: plot_scales.Scale
    y: plot_scales.Scale
    lines: list[Line]
    #: (left, top, right, bottom) of the plotting area, in the figure's units (points, y down).
    box: tuple[float, float, float, float]


@dataclass
class Figure:
    """What :func:`draw` lays out and :mod:`.plot_svg` renders: rows of (value, ULP error) panels,
    one per series, and a legend below them in two columns, the exact value first."""

    width: float
    height: float
    title: str
    panels: list[Panel]
    legend: list[tuple[str, str]]  # (name, colour)
    legend_top: float


#: Layout, in points (1/72 inch): the figure's width, a row's height with its labels.
WIDTH, ROW = 684.0, 208.8
#: Margins, in points: above the first row, below the last panel for its labels, a legend line.
TOP, BELOW, LEGEND_LINE = 32.4, 30.0, 12.24
#: The panels' share of the width, and the gaps between them as a fraction of a panel.
LEFT, RIGHT, WIDTH_GAP, HEIGHT_GAP = 0.09, 0.98, 0.3, 0.35


def figure(entries: Sequence[Series], colours: Mapping[str, str], title: str = "") -> str:
    """One SVG: a row per series (dtype), value on the left and ULP error on the right."""
    from .plot_svg import render

    return render(draw(entries, colours, title))


def draw(entries: Sequence[Series], colours: Mapping[str, str], title: str = "") -> Figure:
    """The :class:`Figure` of :func:`figure` (tests read its panels)."""
    rows = len(entries)
    names = {record["implementation"] for entry in entries for _, record in entry.points}
    legend_rows = (len(names) + 2) // 2  # two columns, the exact value included
    legend = 18.0 + LEGEND_LINE * legend_rows
    height = TOP + ROW * rows + legend + BELOW
    panel_width = WIDTH * (RIGHT - LEFT) / (2 + WIDTH_GAP)
    panel_height = ROW * rows / (rows + HEIGHT_GAP * (rows - 1)) if rows else 0.0
    panels: list[Panel] = []
    used: dict[str, str] = {}
    for row, entry in enumerate(entries):
        for column, what in enumerate(("value", "ulp")):
            lines = _lines(entry, what)
            drawn = [
                Line(name, colours.get(name, "#555555"), sorted(points))
                for name, points in sorted(lines.items(), key=lambda item: (item[0] == EXACT, item[0]))
            ]
            used.update((line.name, line.colour) for line in drawn)
            xs = [x for x, _ in entry.points]
            ys = [y for points in lines.values() for _, y in points]
            left = WIDTH * LEFT + column * panel_width * (1 + WIDTH_GAP)
            top = TOP + row * panel_height * (1 + HEIGHT_GAP)
            panels.append(
                Panel(
                    x_label=entry.parameter,
                    y_label=f"value ({entry.dtype})" if what == "value" else f"max ULP error ({entry.dtype})",
                    x=plot_scales.scale(xs, linear_below=1.0),
                    y=plot_scales.scale(ys, 1.0 if what == "ulp" else linear_threshold(ys)),
                    lines=drawn,
                    box=(left, top, left + panel_width, top + panel_height),
                )
            )
    keys = sorted(used, key=lambda name: (name != EXACT, name))
    # Below the panels, not beside them: implementation names are long and would squeeze the axes.
    return Figure(WIDTH, height, title, panels, [(name, used[name]) for name in keys], height - legend)
