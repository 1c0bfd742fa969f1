"""Figures of swept cases: each implementation's value and ULP error against the swept parameter.

Drawn with matplotlib into inline SVG: a real plotting library gives ticks, log axes and
legends that hand-drawn polylines lacked, and SVG keeps the page self-contained (no
network, no JavaScript), sharp at any zoom, and its text searchable.

A *series* is the cases of one sweep, in one dtype. A case file declares a sweep with
``sweep:``; cases written out one by one form a series too when their ids follow the
project's readable-id convention and differ only in one trailing ``name=number`` part
(``.../two-point/a=16.1``), so seed 001's figure is drawn from the seed's own two-point
cases, with ``a`` on its axis.

Every figure of an op uses one colour per implementation (:func:`palette`), the exact
value is black and dashed, and the legend sits outside the data.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import math
import re
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .records import DTYPE_ORDER, ResultRecord, Verdict

#: Matplotlib's tab10, then ColorBrewer's Dark2 and two more: dark, saturated, told apart on white.
COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#000080", "#800000", "#008080",
)  # fmt: skip
EXACT = "exact (oracle)"
#: Values spanning more than this ratio get a log axis.
DECADES = 100.0
#: The most decades a symlog axis shows above its linear part.
MAX_DECADES = 200
#: The most labelled decades on a log axis.
TICKS = 6
_TRAILING_PARAMETER = re.compile(r"^(?P<stem>.*[/,])(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[-+]?[0-9.eE+-]+)$")


@dataclass
class Series:
    """The cases of one sweep in one dtype, in order of the swept parameter."""

    key: str  # the sweep's id template, e.g. ``bce/logits/x={x}``
    parameter: str
    dtype: str
    points: list[tuple[float, ResultRecord]] = field(default_factory=list)


def available() -> bool:
    """Whether matplotlib is installed (it is the ``report`` extra, not a core dependency)."""
    return importlib.util.find_spec("matplotlib") is not None


def prepare_in_background() -> None:
    """Import matplotlib's figure and SVG backend on a daemon thread (a third of a second), for a
    caller about to wait on something else: the gate, while its worker imports the framework."""

    def load() -> None:
        with contextlib.suppress(ImportError):
            import matplotlib.backends.backend_svg
            import matplotlib.figure  # noqa: F401

    if available():
        threading.Thread(target=load, name="prepare-plots", daemon=True).start()


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


def _spans_decades(values: Sequence[float]) -> bool:
    positive = [abs(v) for v in values if v != 0]
    return bool(positive) and max(positive) / min(positive) > DECADES


def linear_threshold(values: Sequence[float]) -> float:
    """Where a symlog axis turns linear: at the smallest nonzero magnitude, but no more than
    :data:`MAX_DECADES` below the largest (a symlog axis over subnormals to 1e308 overflows)."""
    magnitudes = [abs(v) for v in values if v]
    if not magnitudes:
        return 1.0
    return max(min(magnitudes), max(magnitudes) * 10.0**-MAX_DECADES)


def _scale(axis: Any, values: Sequence[float], which: str, linear_below: float) -> None:
    """Log where the values span decades: plain log when all are positive, else symlog."""
    if not _spans_decades(values):
        return
    setter = axis.set_xscale if which == "x" else axis.set_yscale
    if all(v > 0 for v in values):
        setter("log")
    else:
        setter("symlog", linthresh=linear_below)
    # Plain "1e-05" labels, six decades labelled at most, no minor ticks: matplotlib's default
    # 10^x labels go through mathtext's parser, and every tick is a handful of artists; the
    # two together cost seconds per report, most of a gate call.
    from matplotlib.ticker import LogFormatter, LogLocator, NullLocator, SymmetricalLogLocator

    scale = axis.xaxis if which == "x" else axis.yaxis
    if scale.get_scale() == "log":
        scale.set_major_locator(LogLocator(numticks=TICKS))
    else:
        scale.set_major_locator(SymmetricalLogLocator(linthresh=linear_below, base=10))
    scale.set_major_formatter(LogFormatter(labelOnlyBase=True))
    scale.set_minor_locator(NullLocator())


def figure(entries: Sequence[Series], colours: Mapping[str, str], title: str = "") -> str:
    """One SVG: a row per series (dtype), value on the left and ULP error on the right."""
    return svg(draw(entries, colours, title))


def draw(entries: Sequence[Series], colours: Mapping[str, str], title: str = "") -> Any:
    """The matplotlib Figure of :func:`figure` (tests read its axes)."""
    from matplotlib.figure import Figure  # imported here: the rest of the report needs no matplotlib
    from matplotlib.lines import Line2D

    rows = len(entries)
    names = {record["implementation"] for entry in entries for _, record in entry.points}
    legend_rows = (len(names) + 2) // 2  # two columns, the exact value included
    # Fixed margins, in inches: a layout engine would measure every tick label and double the cost.
    top, legend, height = 0.45, 0.25 + 0.17 * legend_rows, 2.9 * rows
    total = top + height + legend + 0.35
    fig = Figure(figsize=(9.5, total))
    fig.subplots_adjust(
        left=0.09, right=0.98, top=1 - top / total, bottom=(legend + 0.35) / total, wspace=0.3, hspace=0.35
    )
    axes = fig.subplots(rows, 2, squeeze=False)
    used: dict[str, str] = {}
    for row, entry in enumerate(entries):
        for column, what in enumerate(("value", "ulp")):
            axis = axes[row][column]
            lines = _lines(entry, what)
            for name, points in sorted(lines.items(), key=lambda item: (item[0] == EXACT, item[0])):
                points.sort()
                exact = name == EXACT
                axis.plot(
                    [p[0] for p in points],
                    [p[1] for p in points],
                    color=colours.get(name, "#555555"),
                    linestyle="--" if exact else "-",
                    linewidth=1.6 if exact else 1.2,
                    marker=None if exact else "o",
                    markersize=3,
                    zorder=3 if exact else 2,
                )
                used[name] = colours.get(name, "#555555")
            xs = [x for x, _ in entry.points]
            ys = [y for points in lines.values() for _, y in points]
            _scale(axis, xs, "x", linear_below=1.0)
            _scale(axis, ys, "y", linear_below=1.0 if what == "ulp" else linear_threshold(ys))
            axis.set_xlabel(entry.parameter)
            axis.set_ylabel(f"value ({entry.dtype})" if what == "value" else f"max ULP error ({entry.dtype})")
            axis.grid(True, which="major", color="#dddddd", linewidth=0.6)
            axis.tick_params(labelsize=8)
            if not lines:
                axis.text(0.5, 0.5, "no finite points", ha="center", va="center", transform=axis.transAxes)
    handles = [
        Line2D([], [], color=colour, linestyle="--" if name == EXACT else "-", marker=None if name == EXACT else "o")
        for name, colour in sorted(used.items(), key=lambda item: (item[0] != EXACT, item[0]))
    ]
    labels = sorted(used, key=lambda name: (name != EXACT, name))
    # Below the panels, not beside them: implementation names are long and would squeeze the axes.
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=2, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element to put inline in a page."""
    from matplotlib import rc_context

    buffer = io.StringIO()
    # Text stays text (smaller, searchable); a fixed hash salt and no date make the output reproducible.
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "loss-conformance"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]
