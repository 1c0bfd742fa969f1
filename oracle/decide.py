"""Correct rounding of an enclosure into a float format, or "not yet decided".

Because an inexact :class:`~oracle.interval.Interval` is a *strict* enclosure, every
value in it lies in the open interval (lo, hi). Rounding is monotone, so the whole
open interval rounds to one value exactly when lo, nudged up by an infinitesimal, and
hi, nudged down, round to the same value (signed zeros included). A midpoint that
coincides with lo is therefore decided at once, instead of fooling a comparison of
two precisions into rounding a hair-above-the-midpoint value to even.
"""

from __future__ import annotations

import decimal
import math
from fractions import Fraction

from mpmath import libmp

from .formats import ABOVE, BELOW, EXACT, FloatFormat, round_fraction, round_signed
from .interval import Interval, Mpf

#: Significant digits of an exact (dyadic or rational) value's decimal string.
EXACT_DIGITS = 40


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
    if value.rational is not None:
        return round_fraction(value.rational, fmt)
    low, high = round_mpf(value.lo, fmt, ABOVE), round_mpf(value.hi, fmt, BELOW)
    if low == high and math.copysign(1.0, low) == math.copysign(1.0, high):
        return low
    return None


def exact_decimal(value: Interval, bits: int) -> str:
    """The value as a decimal string that shows only the digits the enclosure proves.

    An exact value (dyadic or rational) is printed correctly rounded to ``EXACT_DIGITS``
    significant digits. For a strict enclosure (lo, hi) the string is the longest n-digit
    correct rounding on which lo and hi agree: rounding to n digits is monotone, so the
    value between them rounds to the same string, whatever cancellation widened the
    enclosure. At most ``bits - 4`` bits' worth of digits are printed.
    """
    if value.is_nan:
        return "nan"
    known = value.known
    if known is not None:
        return _decimal(known, EXACT_DIGITS)
    for end, text in ((value.lo, "-inf"), (value.hi, "inf")):
        if end == (libmp.fninf if text == "-inf" else libmp.finf):
            return text
    lo, hi = _fraction(value.lo), _fraction(value.hi)
    if lo <= 0 <= hi:
        # Not even the leading digit is proven: the bound of larger magnitude says how small it is.
        return _decimal(hi if abs(hi) >= abs(lo) else lo, 1)
    cap = max(1, int((bits - 4) * 0.30103))
    # About log10(|value| / width) digits are proven; start a digit above and walk down.
    ratio = min(abs(lo), abs(hi)) / (hi - lo)
    start = min(cap, int(int(ratio).bit_length() * 0.30103) + 2)
    for digits in range(start, 0, -1):
        text = _decimal(lo, digits)
        if text == _decimal(hi, digits):
            return text
    return _decimal(hi if abs(hi) >= abs(lo) else lo, 1)


def _fraction(value: Mpf) -> Fraction:
    sign, man, exp, _ = value
    magnitude = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
    return -magnitude if sign else magnitude


def _decimal(value: Fraction, digits: int) -> str:
    """``value`` correctly rounded (half even) to ``digits`` significant digits."""
    if value == 0:
        return "0"
    context = decimal.Context(
        prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
    )
    quotient = context.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))
    return str(quotient.normalize(context))
