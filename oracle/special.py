"""Certified enclosures of the special functions the likelihood losses need: sqrt, powers, log y!.

Each keeps :class:`~oracle.interval.Interval`'s invariant (exact where the value is a dyadic,
strictly inside ``(lo, hi)`` otherwise) without trusting a floating-point guess:

* :func:`sqrt` rounds with mpmath's ``mpf_sqrt``, an integer square root with directed rounding:
  exact for a perfect square, a strict enclosure otherwise.
* :func:`power` ``u**g`` for ``u >= 0``: repeated multiplication for integer ``g``, times a
  square root for half-integers (exact wherever the power is a dyadic), ``exp(g log u)`` through
  :mod:`oracle.kernels` otherwise; ``0**0 = 1``.
* :func:`log_factorial` ``log Gamma(1 + y)`` for ``y >= 0``: the log of an exact integer for
  small integer ``y``; otherwise the Stirling series at ``z >= max(w, 16)`` (the argument shifted up
  by the recurrence ``log Gamma(z) = log Gamma(z + m) - log(z (z+1) ... (z+m-1))``), with the
  classical remainder bound: for real ``z > 0`` the error of the series stopped after the term in
  ``B_2n`` is at most the first omitted term, ``|B_2n+2| / ((2n+2)(2n+1) z^(2n+1))``. Near
  ``y = 0`` and ``y = 1``, where ``log Gamma(1 + y)`` crosses zero, the enclosure is absolute, and the
  Ziv loop raises the precision until it decides the rounding.
* :func:`log_two_pi` ``log(2 pi)``, from mpmath's directed-rounding pi.

The tests compare these with python-flint's ``arb`` balls (certified) at sampled points.
"""

from __future__ import annotations

import math
from fractions import Fraction

from mpmath import libmp

from .interval import CEILING, FLOOR, INF, NAN, ONE, ZERO, Interval, fsum, hull, is_zero, precision
from .kernels import exp, log

#: Integers up to this get log(y!) as the log of the exact integer y!.
EXACT_FACTORIAL_UP_TO = 1024
_BERNOULLI_TERMS_MAX = 400


def sqrt(u: Interval) -> Interval:
    """The square root of an enclosure of a non-negative number (NaN for a negative one).

    An enclosure whose lower end dipped below 0 (a hull with 0) has 0 as its lower root."""
    if u.is_nan or u.sign() == -1:
        return NAN
    w = precision()
    lo = libmp.fzero if libmp.mpf_sign(u.lo) <= 0 else libmp.mpf_sqrt(u.lo, w, FLOOR)
    hi = libmp.mpf_sqrt(u.hi, w, CEILING)
    # For an exact u, lo == hi exactly when u is a perfect square; otherwise the root lies strictly
    # between its two directed roundings.
    return Interval(lo, hi)


def power(u: Interval, g: float) -> Interval:
    """``u**g`` for ``u >= 0`` and ``g >= 0`` (``0**0 = 1``; NaN for a negative base)."""
    if math.isnan(g) or u.is_nan:
        return NAN
    if g == 0:
        return ONE
    if is_zero(u):
        return ZERO
    if u.sign() == -1:
        return NAN
    if g == math.floor(g) and g <= 1 << 16:
        return _integer_power(u, int(g))
    if 2 * g == math.floor(2 * g) and g <= 1 << 16:
        return _integer_power(u, int(g)) * sqrt(u)
    if libmp.mpf_sign(u.lo) <= 0:
        # An enclosure touching 0: its lower end maps to 0, the rest through exp(g log u).
        return Interval(libmp.fzero, exp(Interval.of(g) * log(Interval(u.hi))).hi)
    return exp(Interval.of(g) * log(u))


def _integer_power(u: Interval, n: int) -> Interval:
    result, base = ONE, u
    while n:
        if n & 1:
            result = result * base
        n >>= 1
        if n:
            base = base * base
    return result


def log_two_pi() -> Interval:
    w = precision() + 8
    two_pi = Interval(libmp.mpf_shift(libmp.mpf_pi(w, FLOOR), 1), libmp.mpf_shift(libmp.mpf_pi(w, CEILING), 1))
    return log(two_pi)


def log_factorial(y: float) -> Interval:
    """log Gamma(1 + y) = log(y!) for a float ``y >= 0`` (NaN below 0, inf at inf)."""
    if math.isnan(y) or y < 0:
        return NAN
    if math.isinf(y):
        return INF
    if y in (0.0, 1.0):
        return ZERO  # 0! = 1! = 1
    if y == math.floor(y) and y <= EXACT_FACTORIAL_UP_TO:
        return log(Interval.of(math.factorial(int(y))))
    return _log_gamma(Interval.of(y) + ONE)


def _log_gamma(z: Interval) -> Interval:
    """log Gamma(z) for an enclosure of z >= 1, by the recurrence up to z + m >= max(w, 16) and the
    Stirling series there with its remainder bound."""
    w = precision()
    target = max(w, 16)
    shift = max(0, math.ceil(target - libmp.to_float(z.lo, rnd=FLOOR)))
    shifted = z + shift
    product = ONE
    for k in range(shift):
        product = product * (z + k)
    value = _stirling(shifted, w)
    return value - log(product) if shift else value


def _stirling(z: Interval, w: int) -> Interval:
    """(z - 1/2) log z - z + log(2 pi) / 2 + sum_k B_2k / (2k (2k-1) z^(2k-1)) + remainder, z >= 16."""
    log_z = log(z)
    half = Interval.of(0.5)
    head = (z - half) * log_z - z + half * log_two_pi()
    terms = []
    z_squared = z * z
    z_power = z  # z^(2k-1)
    tolerance = libmp.mpf_shift(libmp.fone, -(w + 16))
    for k in range(1, _BERNOULLI_TERMS_MAX):
        term = _bernoulli_term(k, z_power)
        bound = _bernoulli_term(k + 1, z_power * z_squared)
        terms.append(term)
        magnitude = (
            libmp.mpf_abs(bound.lo)
            if libmp.mpf_lt(libmp.mpf_abs(bound.hi), libmp.mpf_abs(bound.lo))
            else (libmp.mpf_abs(bound.hi))
        )
        if libmp.mpf_lt(magnitude, tolerance):
            # The remainder after the term in B_2k is bounded by the next term, in absolute value.
            remainder = Interval(libmp.mpf_neg(magnitude), magnitude)
            return head + fsum(terms) + hull(remainder, remainder)
        z_power = z_power * z_squared
    raise ArithmeticError("Stirling series did not converge (z too small for the precision)")


def _bernoulli_term(k: int, z_power: Interval) -> Interval:
    """B_2k / (2k (2k - 1) z^(2k-1)), with B_2k an exact rational."""
    numerator, denominator = libmp.bernfrac(2 * k)
    return Interval.of(int(numerator)) / (Interval.of(int(denominator) * 2 * k * (2 * k - 1)) * z_power)


def log_sum_is_zero(terms: list[tuple[Fraction, Fraction]]) -> bool:
    """Whether sum_k c_k log r_k is exactly 0, for dyadic c_k and positive rationals r_k.

    Scaled by a common power of two the coefficients become integers n_k, and the sum is 0 exactly
    when prod_k r_k^n_k = 1. Over a coprime base of the numerators and denominators (pairwise
    coprime integers > 1 are multiplicatively independent) that is one integer equation per base
    element: sum_k n_k (v_g(num_k) - v_g(den_k)) = 0. No factoring, no rounding.
    """
    live = [(c, r) for c, r in terms if c != 0 and r != 1]
    if not live:
        return True
    scale = max(c.denominator for c, _ in live)
    weights = [(int(c * scale), r) for c, r in live]
    base = _coprime_base([n for _, r in weights for n in (r.numerator, r.denominator)])
    return all(
        sum(n * (_valuation(r.numerator, g) - _valuation(r.denominator, g)) for n, r in weights) == 0 for g in base
    )


def _coprime_base(numbers: list[int]) -> list[int]:
    """Pairwise coprime integers > 1 of which every number given is a product (gcd refinement: each
    split removes a factor g from the product of the pieces, so it ends)."""
    base: list[int] = []
    todo = [n for n in numbers if n > 1]
    while todo:
        x = todo.pop()
        if x == 1:
            continue
        for i, b in enumerate(base):
            g = math.gcd(x, b)
            if g > 1:
                base.pop(i)
                todo += [b // g, g, x // g]
                break
        else:
            base.append(x)
    return base


def _valuation(n: int, g: int) -> int:
    count = 0
    while n % g == 0:
        n //= g
        count += 1
    return count
