"""The axes of a sweep figure: linear, log or symlog scales, their limits and their labelled ticks.

Plain numbers in, plain numbers out: :mod:`.plots` chooses a scale per axis, :mod:`.plot_svg`
maps through it. An axis spans its data (in the scale's own coordinate) with a 5 % margin on
each side. Log and symlog axes are labelled at decades only, in plain ``1e-05`` form, at most
:data:`TICKS` of them (every k-th decade when there are more); a linear axis is labelled at
1, 2, 2.5 or 5 times a power of ten, five or so ticks.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

#: Values spanning more than this ratio get a log axis.
DECADES = 100.0
#: The most decades a symlog axis shows above its linear part.
MAX_DECADES = 200
#: The most labelled decades on a log axis.
TICKS = 6
#: The margin around the data, as a fraction of its span in the scale's coordinate.
MARGIN = 0.05
#: The least distance between a symlog axis' zero and another label, as a fraction of the axis.
CROWDED = 0.04
_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_LARGEST = sys.float_info.max


@dataclass(frozen=True)
class Tick:
    value: float  # in data units
    label: str


@dataclass
class Scale:
    """One axis: how data maps to a coordinate in which the axis is linear, and its view.

    ``kind`` is ``linear``, ``log`` (all data positive) or ``symlog`` (linear within
    ``linear_below`` of zero, logarithmic beyond, so zero and both signs show)."""

    kind: str = "linear"
    linear_below: float = 1.0
    low: float = 0.0  # the view's limits, in the scale's coordinate (see :meth:`forward`)
    high: float = 1.0
    #: Whether some value is below zero, above zero: a symlog axis labels only the sides with data.
    signs: tuple[bool, bool] = (True, True)
    ticks: list[Tick] = field(default_factory=list)

    def forward(self, value: float) -> float:
        if self.kind == "log":
            return math.log10(value)
        if self.kind == "symlog":
            magnitude = abs(value)
            if magnitude <= self.linear_below:
                return value / self.linear_below
            return math.copysign(1.0 + math.log10(magnitude / self.linear_below), value)
        return value

    def inverse(self, coordinate: float) -> float:
        if self.kind == "log":
            return _power_of_ten(coordinate)
        if self.kind == "symlog":
            magnitude = abs(coordinate)
            if magnitude <= 1.0:
                return coordinate * self.linear_below
            return math.copysign(min(self.linear_below * _power_of_ten(magnitude - 1.0), _LARGEST), coordinate)
        return coordinate

    @property
    def limits(self) -> tuple[float, float]:
        """The view's limits in data units."""
        return self.inverse(self.low), self.inverse(self.high)

    def fraction(self, value: float) -> float:
        """Where ``value`` lies along the axis: 0 at its low end, 1 at its high end."""
        return (self.forward(value) - self.low) / (self.high - self.low)


def _power_of_ten(exponent: float) -> float:
    """10**exponent, the largest float where that overflows (a margin past 1e308)."""
    return 10.0**exponent if exponent < 308 else _LARGEST


def spans_decades(values: Sequence[float]) -> bool:
    positive = [abs(v) for v in values if v != 0]
    return bool(positive) and max(positive) / min(positive) > DECADES


def linear_threshold(values: Sequence[float]) -> float:
    """Where a symlog axis turns linear: at the smallest nonzero magnitude, but no more than
    :data:`MAX_DECADES` below the largest (a symlog axis over subnormals to 1e308 would spend
    most of its length on decades no value lies in)."""
    magnitudes = [abs(v) for v in values if v]
    if not magnitudes:
        return 1.0
    return max(min(magnitudes), max(magnitudes) * 10.0**-MAX_DECADES)


def scale(values: Sequence[float], linear_below: float) -> Scale:
    """The axis of ``values``: log where they span decades (symlog unless all are positive),
    linear otherwise; its view and ticks."""
    kind = "linear"
    if spans_decades(values):
        kind = "log" if all(v > 0 for v in values) else "symlog"
    axis = Scale(kind, linear_below, signs=(any(v < 0 for v in values), any(v > 0 for v in values)))
    coordinates = [axis.forward(v) for v in values] or [0.0, 1.0]
    low, high = min(coordinates), max(coordinates)
    if low == high:
        half = abs(low) * MARGIN or 1.0
        low, high = low - half, high + half
    pad = (high - low) * MARGIN
    axis.low, axis.high = low - pad, high + pad
    axis.ticks = _linear_ticks(axis) if kind == "linear" else _decade_ticks(axis)
    return axis


def _linear_ticks(axis: Scale) -> list[Tick]:
    raw = (axis.high - axis.low) / 5
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(s * power for s in _STEPS if s * power >= raw * (1 - 1e-9))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) + (1 if round(step / power, 6) == 2.5 else 0)
    first = math.ceil(axis.low / step - 1e-9)
    last = math.floor(axis.high / step + 1e-9)
    values = [index * step for index in range(first, last + 1)]
    plain = decimals <= 4 and max(abs(axis.low), abs(axis.high)) < 1e6
    return [Tick(v, f"{v:.{decimals}f}" if plain else f"{v:.6g}") for v in (v + 0.0 if v else 0.0 for v in values)]


def _decade_ticks(axis: Scale) -> list[Tick]:
    # Decades are found from the view's coordinates, not its limits in data units: those may
    # underflow to 0 below the least subnormal.
    zero = axis.kind == "symlog" and axis.low <= 0 <= axis.high
    if axis.kind == "log":
        decades = [(1, k) for k in _decades(axis.low, axis.high)]
    else:
        shift = math.log10(axis.linear_below) - 1.0  # the coordinate of 10**k is k - shift
        least = math.ceil(math.log10(axis.linear_below) - 1e-9)
        negative = [(-1, k) for k in reversed(_decades(max(least, -axis.high + shift), -axis.low + shift))]
        positive = [(1, k) for k in _decades(max(least, axis.low + shift), axis.high + shift)]
        negative, positive = negative * axis.signs[0], positive * axis.signs[1]
        decades = [*negative, *([(0, 0)] if zero else []), *positive]
    stride = max(1, math.ceil(len(decades) / TICKS))
    kept = decades[::stride]
    if (0, 0) in decades and (0, 0) not in kept:
        kept = sorted([*kept, (0, 0)], key=lambda d: d[0] * 10.0 ** d[1] if d[0] else 0.0)
    ticks = [Tick(sign * 10.0**k, _decade_label(sign, k)) for sign, k in kept]
    # A decade just past a symlog axis' linear part would print over the zero's label.
    crowded = CROWDED * (axis.high - axis.low)
    return [t for t in ticks if t.value == 0 or not zero or abs(axis.forward(t.value)) >= crowded]


def _decades(low: float, high: float) -> list[int]:
    """The powers of ten whose exponent lies in [low, high], the least subnormal's to the largest's."""
    return list(range(max(math.ceil(low), -323), min(math.floor(high), 308) + 1))


def _decade_label(sign: int, k: int) -> str:
    if sign == 0:
        return "0"
    text = str(10**k) if 0 <= k <= 4 else f"1e{k:+03d}"
    return text if sign > 0 else "-" + text
