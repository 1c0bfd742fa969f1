"""Correct rounding of an enclosure into a float format, or "not yet decided".

Because an inexact :class:`~oracle.interval.Interval` is a *strict* enclosure, every
value in it lies in the open interval (lo, hi). Rounding is monotone, so the whole
open interval rounds to one value exactly when lo, nudged up by an infinitesimal, and
hi, nudged down, round to the same value (signed zeros included). A midpoint that
coincides with lo is therefore decided at once, instead of fooling a comparison of
two precisions into rounding a hair-above-the-midpoint value to even.
"""

from __future__ import annotations

import math

from mpmath import libmp

from .formats import ABOVE, BELOW, EXACT, FloatFormat, round_signed
from .interval import Interval, Mpf


def round_mpf(value: Mpf, fmt: FloatFormat, toward: int = EXACT) -> float:
    """Round one exact mpf (+ an infinitesimal ``toward``) into ``fmt``."""
    if value == libmp.fnan:
        return math.nan
    if value == libmp.finf:
        return math.inf
    if value == libmp.fninf:
        return -math.inf
    sign, man, exp, _ = value
    return round_signed(bool(sign), int(man), int(exp), fmt, toward)


def decide(value: Interval, fmt: FloatFormat) -> float | None:
    """The correctly rounded value, or None when the enclosure is still too wide."""
    if value.is_nan:
        return math.nan
    if value.exact:
        return round_mpf(value.lo, fmt)
    low, high = round_mpf(value.lo, fmt, ABOVE), round_mpf(value.hi, fmt, BELOW)
    if low == high and math.copysign(1.0, low) == math.copysign(1.0, high):
        return low
    return None


def exact_decimal(value: Interval, bits: int) -> str:
    """The value as a decimal string, with only the digits the enclosure vouches for.

    ``bits`` is the working precision the enclosure was computed at; its width is a
    few units in that last place, so the digits of ``bits - 4`` bits are printed
    (at least 18 significant digits, since the Ziv loop starts at 64 bits).
    """
    if value.is_nan:
        return "nan"
    middle = value.midpoint()
    if middle == libmp.finf:
        return "inf"
    if middle == libmp.fninf:
        return "-inf"
    if middle == libmp.fzero:
        return "0"
    digits = int((bits - 4) * 0.30103)
    return str(libmp.to_str(middle, digits, strip_zeros=True))
