"""Enclosures of real numbers: the arithmetic every oracle formula is written in.

An :class:`Interval` is either *exact* (``lo == hi``: the value is that dyadic) or a
*strict* enclosure (``lo < value < hi``). A strict enclosure may also know its value as
an exact rational (``rational``): a mean over three samples, a smoothing of ls / 3, a
ratio of two inputs. Arithmetic on known values stays exact (Fractions, or mpf sums and
products without rounding), so an exact result reached through a division is decided
by rounding the rational itself, never by an enclosure that straddles its midpoint.

Basic operations on enclosures round outward with mpmath's correctly rounded directed
arithmetic, so the invariant holds by construction; the transcendental kernels
(:mod:`oracle.kernels`) keep it by widening.

Strictness is what makes rounding decidable without ever computing a negligible
tail: if ``lo`` is exactly a rounding midpoint, the value is strictly above it and
rounds up (see :func:`oracle.decide.decide`). Comparing two working precisions could
not tell that apart; the enclosure can.

The working precision lives in a context variable set by the Ziv loop, so formulas
read like mathematics: ``x * (one - y) + log1p(exp(-x))``.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

from mpmath import libmp

Mpf = tuple[Any, ...]  # mpmath's raw (sign, man, exp, bc) representation

_precision: contextvars.ContextVar[int] = contextvars.ContextVar("oracle_precision", default=64)

FLOOR, CEILING = libmp.round_floor, libmp.round_ceiling


@contextlib.contextmanager
def working_precision(bits: int) -> Iterator[None]:
    """Evaluate enclosures with ``bits`` of working precision; restored on exit."""
    token = _precision.set(bits)
    try:
        yield
    finally:
        _precision.reset(token)


def precision() -> int:
    return _precision.get()


class Interval:
    """A value known exactly (``lo == hi``) or strictly inside ``(lo, hi)``."""

    __slots__ = ("hi", "lo", "rational")

    def __init__(self, lo: Mpf, hi: Mpf | None = None, rational: Fraction | None = None) -> None:
        self.lo = lo
        self.hi = lo if hi is None else hi
        #: The exact value of a strict enclosure whose value is a non-dyadic rational.
        self.rational = rational

    # -- construction -------------------------------------------------------
    @classmethod
    def of(cls, value: float | int | Fraction) -> Interval:
        """An exact interval; floats are taken bit for bit, never via decimal."""
        if isinstance(value, Fraction):
            return of_fraction(value)
        if isinstance(value, int):
            return cls(libmp.from_int(value))
        return cls(libmp.from_float(value))

    @property
    def exact(self) -> bool:
        return self.lo == self.hi

    @property
    def is_nan(self) -> bool:
        return bool(self.lo == libmp.fnan or self.hi == libmp.fnan)

    @property
    def known(self) -> Fraction | None:
        """The exact value as a rational, when it is known and finite."""
        if self.rational is not None:
            return self.rational
        if self.lo is not self.hi and self.lo != self.hi:
            return None
        if self.lo in _NON_FINITE:
            return None
        sign, man, exp, _ = self.lo
        magnitude = Fraction(man << exp) if exp >= 0 else Fraction(man, 1 << -exp)
        return -magnitude if sign else magnitude

    def _finite_dyadic(self) -> bool:
        return self.rational is None and self.lo == self.hi and self.lo not in _NON_FINITE

    # -- arithmetic ---------------------------------------------------------
    def __neg__(self) -> Interval:
        rational = None if self.rational is None else -self.rational
        return Interval(libmp.mpf_neg(self.hi), libmp.mpf_neg(self.lo), rational)

    def __add__(self, other: Interval | int) -> Interval:
        other = _lift(other)
        if self._finite_dyadic() and other._finite_dyadic():
            return Interval(libmp.mpf_add(self.lo, other.lo))  # exact: no precision, no rounding
        if (self.rational is not None or other.rational is not None) and (exact := _rational(self, other, "+")):
            return exact
        w = _precision.get()
        return Interval(libmp.mpf_add(self.lo, other.lo, w, FLOOR), libmp.mpf_add(self.hi, other.hi, w, CEILING))

    __radd__ = __add__

    def __sub__(self, other: Interval | int) -> Interval:
        return self + (-_lift(other))

    def __rsub__(self, other: Interval | int) -> Interval:
        return _lift(other) + (-self)

    def __mul__(self, other: Interval | int) -> Interval:
        other = _lift(other)
        if self._finite_dyadic() and other._finite_dyadic():
            return Interval(libmp.mpf_mul(self.lo, other.lo))
        if (self.rational is not None or other.rational is not None) and (exact := _rational(self, other, "*")):
            return exact
        return _extremes(libmp.mpf_mul, self, other)

    __rmul__ = __mul__

    def __truediv__(self, other: Interval | int) -> Interval:
        other = _lift(other)
        if _contains_zero(other):
            raise ZeroDivisionError("oracle formula divided by an interval containing 0")
        if (exact := _rational(self, other, "/")) is not None:
            return exact
        return _extremes(libmp.mpf_div, self, other)

    def __rtruediv__(self, other: Interval | int) -> Interval:
        return _lift(other) / self

    # -- inspection ---------------------------------------------------------
    def sign(self) -> int | None:
        """-1, 0 or +1 when the sign is known, None when the enclosure straddles 0."""
        if self.exact:
            return int(libmp.mpf_sign(self.lo))
        if self.rational is not None:
            return 1 if self.rational > 0 else -1
        if libmp.mpf_sign(self.lo) >= 0:
            return 1
        if libmp.mpf_sign(self.hi) <= 0:
            return -1
        return None

    def midpoint(self) -> Mpf:
        if self.exact:
            return self.lo
        middle: Mpf = libmp.mpf_shift(libmp.mpf_add(self.lo, self.hi, _precision.get() + 2, libmp.round_nearest), -1)
        return middle

    def __repr__(self) -> str:
        if self.exact:
            return f"Interval({libmp.to_str(self.lo, 20)})"
        return f"Interval({libmp.to_str(self.lo, 20)}, {libmp.to_str(self.hi, 20)})"


ZERO = Interval(libmp.fzero)
ONE = Interval(libmp.fone)
INF = Interval(libmp.finf)
NEG_INF = Interval(libmp.fninf)
NAN = Interval(libmp.fnan)


_NON_FINITE = (libmp.finf, libmp.fninf, libmp.fnan)


def of_fraction(value: Fraction) -> Interval:
    """An exact rational: an exact interval when it is dyadic, else its strict enclosure at the
    working precision, carrying the rational itself."""
    numerator, denominator = value.numerator, value.denominator
    if not denominator & (denominator - 1):
        return Interval(libmp.from_man_exp(numerator, 1 - denominator.bit_length()))
    w = _precision.get()
    lo = libmp.from_rational(numerator, denominator, w, FLOOR)
    hi = libmp.from_rational(numerator, denominator, w, CEILING)
    return Interval(lo, hi, value)


def _rational(a: Interval, b: Interval, operation: str) -> Interval | None:
    """The exact result of ``a operation b`` when both values are known, else None."""
    if not (a.rational is not None or a.lo == a.hi) or not (b.rational is not None or b.lo == b.hi):
        return None
    x, y = a.known, b.known
    if x is None or y is None:
        return None
    if operation == "+":
        return of_fraction(x + y)
    if operation == "*":
        return of_fraction(x * y)
    return of_fraction(x / y)


def _lift(value: Interval | int) -> Interval:
    return value if isinstance(value, Interval) else Interval(libmp.from_int(value))


def _contains_zero(value: Interval) -> bool:
    return value.sign() in (0, None)


def _extremes(operation: object, a: Interval, b: Interval) -> Interval:
    """Outward-rounded image of a bilinear operation over the corners of two intervals.

    Where neither interval straddles 0 and every end is finite, the corners that hold the
    minimum and the maximum follow from the signs alone (x y and x / y are monotone in each
    argument on each sign's side), and directed rounding is monotone, so rounding just those
    two gives the same ends as rounding all four and comparing: ``_signed_corners``, 2
    operations instead of 8 and no comparisons (tests/test_oracle_fast_reduced.py checks
    the two agree).
    """
    corners = _signed_corners(operation, a, b)
    if corners is not None:
        w = _precision.get()
        (x_lo, y_lo), (x_hi, y_hi) = corners
        return Interval(operation(x_lo, y_lo, w, FLOOR), operation(x_hi, y_hi, w, CEILING))  # type: ignore[operator]
    return _all_corners(operation, a, b)


def _signed_corners(operation: object, a: Interval, b: Interval) -> tuple[tuple[Mpf, Mpf], tuple[Mpf, Mpf]] | None:
    """((x, y) of the minimum, (x, y) of the maximum), or None (a straddle, an infinity, a NaN)."""
    if a.lo in _NON_FINITE or a.hi in _NON_FINITE or b.lo in _NON_FINITE or b.hi in _NON_FINITE:
        return None
    a_up, a_down = a.lo[0] == 0, a.hi[0] == 1 or a.hi == libmp.fzero  # a >= 0, a <= 0
    b_up, b_down = b.lo[0] == 0, b.hi[0] == 1 or b.hi == libmp.fzero
    if not (a_up or a_down) or not (b_up or b_down):
        return None
    if operation is libmp.mpf_mul:
        if a_up and b_up:
            return (a.lo, b.lo), (a.hi, b.hi)
        if a_up:  # b <= 0
            return (a.hi, b.lo), (a.lo, b.hi)
        if b_up:  # a <= 0
            return (a.lo, b.hi), (a.hi, b.lo)
        return (a.hi, b.hi), (a.lo, b.lo)
    if operation is libmp.mpf_div:
        if b.lo == libmp.fzero or b.hi == libmp.fzero:
            return None
        if b_up:  # b > 0
            return ((a.lo, b.hi), (a.hi, b.lo)) if a_up else ((a.lo, b.lo), (a.hi, b.hi))
        return ((a.hi, b.hi), (a.lo, b.lo)) if a_up else ((a.hi, b.lo), (a.lo, b.hi))
    return None


def _all_corners(operation: object, a: Interval, b: Interval) -> Interval:
    """The general case: every corner, rounded both ways, the least and the greatest kept."""
    w = _precision.get()
    op = operation  # mpf_mul or mpf_div: (x, y, prec, rnd)
    corners = [(x, y) for x in {a.lo, a.hi} for y in {b.lo, b.hi}]
    lows = [op(x, y, w, FLOOR) for x, y in corners]  # type: ignore[operator]
    highs = [op(x, y, w, CEILING) for x, y in corners]  # type: ignore[operator]
    if libmp.fnan in lows or libmp.fnan in highs:
        return NAN
    return Interval(min(lows, key=_ORDER), max(highs, key=_ORDER))


_ORDER = functools.cmp_to_key(libmp.mpf_cmp)


def fsum(terms: list[Interval]) -> Interval:
    """Sum many enclosures, carrying 64 guard bits so a long sum does not drift.

    Rounding per step at the working precision would widen an N-term sum by N ulps
    and make the Ziv loop climb for no reason; the guard bits keep it to one.
    """
    if all(term._finite_dyadic() for term in terms):
        exact = libmp.fzero
        for term in terms:
            exact = libmp.mpf_add(exact, term.lo)
        return Interval(exact)
    known = [term.known for term in terms]
    if all(q is not None for q in known):
        return of_fraction(sum((q for q in known if q is not None), Fraction(0)))
    w = _precision.get()
    lo, hi = libmp.fzero, libmp.fzero
    for term in terms:
        lo = libmp.mpf_add(lo, term.lo, w + 64, FLOOR)
        hi = libmp.mpf_add(hi, term.hi, w + 64, CEILING)
    return Interval(libmp.mpf_add(lo, libmp.fzero, w, FLOOR), libmp.mpf_add(hi, libmp.fzero, w, CEILING))


def is_zero(value: Interval) -> bool:
    return value.exact and value.lo == libmp.fzero


def is_one(value: Interval) -> bool:
    return value.exact and value.lo == libmp.fone


def hull(a: Interval, b: Interval) -> Interval:
    """Smallest enclosure of both: used where a branch cannot be decided yet.

    It stays strict as long as the two disagree, which is exactly when it is used; the
    Ziv loop then raises the precision until the branch is decided.
    """
    if a.lo == b.lo and a.hi == b.hi and a.rational == b.rational:
        return a
    return Interval(min(a.lo, b.lo, key=_ORDER), max(a.hi, b.hi, key=_ORDER))


def intersect(a: Interval, b: Interval) -> Interval:
    """The tighter of two enclosures of the same value (two arrangements of one formula).

    Each arrangement loses a different correlation to interval arithmetic; the value lies in
    both, so in their intersection, which stays strict when both are.
    """
    if a.exact or a.rational is not None or a.is_nan:
        return a
    if b.exact or b.rational is not None or b.is_nan:
        return b
    return Interval(max(a.lo, b.lo, key=_ORDER), min(a.hi, b.hi, key=_ORDER))


def maximum(a: Interval, b: Interval) -> Interval:
    if not libmp.mpf_lt(b.lo, a.hi):
        return b
    if not libmp.mpf_lt(a.lo, b.hi):
        return a
    return hull(a, b)
