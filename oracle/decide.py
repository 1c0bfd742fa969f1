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
import functools
import math
from fractions import Fraction

from mpmath import libmp

from .formats import ABOVE, BELOW, EXACT, FloatFormat, round_fraction, round_signed
from .interval import Interval, Mpf

#: Significant digits of an exact (dyadic or rational) value's decimal string.
EXACT_DIGITS = 40
#: Binary exponents beyond which decimal strings come from mpmath, not exact integers.
HUGE_EXPONENT = 1 << 16


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
    enclosure. At most ``bits - 4`` bits' worth of digits are printed. An enclosure with an
    end at 0 proves no digit: its other end, to one digit, bounds the magnitude.
    """
    if value.is_nan:
        return "nan"
    known = value.known
    if known is not None:
        return decimal_digits(known, EXACT_DIGITS)
    if value.lo == libmp.fninf:
        return "-inf"
    if value.hi == libmp.finf:
        return "inf"
    lo, hi = value.lo, value.hi
    if libmp.mpf_sign(lo) != libmp.mpf_sign(hi) or lo == libmp.fzero or hi == libmp.fzero:
        # Not even the leading digit is proven: the bound of larger magnitude says how small it is.
        return _mpf_decimal(hi if libmp.mpf_cmp(libmp.mpf_abs(hi), libmp.mpf_abs(lo)) >= 0 else lo, 1)
    cap = max(1, int((bits - 4) * 0.30103))
    # About log10(|value| / width) digits are proven; start there and walk down.
    width = libmp.mpf_sub(hi, lo, 53, libmp.round_ceiling)
    smaller = min(_top(lo), _top(hi))
    start = max(1, min(cap, int((smaller - _top(width)) * 0.30103) + 1))
    for digits in range(start, 0, -1):
        text = _mpf_decimal(lo, digits)
        if text == _mpf_decimal(hi, digits):
            return text
    return _mpf_decimal(hi if libmp.mpf_cmp(libmp.mpf_abs(hi), libmp.mpf_abs(lo)) >= 0 else lo, 1)


def _top(value: Mpf) -> int:
    return int(value[2] + value[3])


def _mpf_decimal(value: Mpf, digits: int) -> str:
    """A finite mpf correctly rounded to ``digits`` significant digits, in integer arithmetic."""
    sign, man, exp, _ = value
    if abs(exp) > HUGE_EXPONENT:
        # e**-(3e38) and the like: no exact integer of that size exists; mpmath's own conversion
        # (guard digits over the digits asked) prints it.
        return str(libmp.to_str(value, digits))
    context = _context(digits)
    if exp >= 0:
        quotient = context.plus(decimal.Decimal(man << exp))
    else:
        quotient = context.divide(decimal.Decimal(man), decimal.Decimal(1 << -exp))
    text = str(quotient.normalize(context)).lower()  # 5.55e-17, as mpmath and the fast path write it
    return "-" + text if sign and text != "0" else text


@functools.cache
def _context(digits: int) -> decimal.Context:
    return decimal.Context(prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def decimal_digits(value: Fraction, digits: int) -> str:
    """``value`` correctly rounded (half even) to ``digits`` significant digits."""
    if value == 0:
        return "0"
    context = _context(digits)
    quotient = context.divide(decimal.Decimal(value.numerator), decimal.Decimal(value.denominator))
    return str(quotient.normalize(context)).lower()
