"""Vectorised double-double arithmetic: pairs (hi, lo) of float64 arrays, value hi + lo.

float64 targets need balls that prove about 24 significant digits (a float64 result is
scored in ULPs against the decimal string), beyond float64's 16 and long double's 19. A
double-double carries 106 bits; every operation here has a proven relative error bound in
units of ``u**2`` (u = 2**-53), written beside it, so the kernels of :mod:`oracle.fast64`
add them up as the float kernels of :mod:`oracle.fast` do in ``u``.

The error-free transformations are Knuth's TwoSum, Dekker's Fast2Sum and Dekker's product
with Veltkamp's split (numpy has no fused multiply-add). They are exact barring underflow and
overflow; callers keep every operand and result within [2**-900, 2**900] in magnitude (or 0),
where they are. Bounds of the compound operations follow Joldes, Muller and Popescu, "Tight
and rigorous error bounds for basic building blocks of double-word arithmetic", ACM TOMS
44(2), 2017 (JMP below), or are derived in the docstrings.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

DD = tuple[np.ndarray, np.ndarray]

_SPLITTER = 134217729.0  # 2**27 + 1: Veltkamp's split into two 26-bit halves


def two_sum(a: np.ndarray, b: np.ndarray) -> DD:
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fast_two_sum(a: np.ndarray, b: np.ndarray) -> DD:
    """(s, e) with s + e = a + b exactly, given |a| >= |b| or a = 0 (Dekker)."""
    s = a + b
    return s, b - (s - a)


def _split(a: np.ndarray) -> DD:
    c = _SPLITTER * a
    high = c - (c - a)
    return high, a - high


def two_prod(a: np.ndarray, b: np.ndarray) -> DD:
    """(p, e) with p = fl(a b) and p + e = a b exactly (Dekker, no FMA)."""
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def add(x: DD, y: DD) -> DD:
    """x + y within 3u**2 / (1 - 4u) < 3.01 u**2 of |x + y| (JMP Algorithm 6,
    AccurateDWPlusDW): relative to the result, so cancellation costs nothing."""
    sh, sl = two_sum(x[0], y[0])
    th, tl = two_sum(x[1], y[1])
    vh, vl = fast_two_sum(sh, sl + th)
    return fast_two_sum(vh, tl + vl)


def mul_fp(x: DD, y: np.ndarray) -> DD:
    """x y for a float64 y, within 4u**2 of |x y|. ch + c1 = xh y exactly; c2 = fl(xl y) is
    off by u |xl y| <= u**2 |xh y|; Fast2Sum(ch, c2) is exact; fl(t1 + c1) is off by at most
    u (u + u(1 + u)) |xh y| < 2.01 u**2 |xh y|; the last Fast2Sum is exact. Total 3.01 u**2
    |xh y| <= 3.01 u**2 |x y| / (1 - u) (JMP Algorithm 7 proves 1.5 u**2)."""
    ch, c1 = two_prod(x[0], y)
    th, t1 = fast_two_sum(ch, x[1] * y)
    return fast_two_sum(th, t1 + c1)


def mul(x: DD, y: DD) -> DD:
    """x y within 9u**2 of |x y| (JMP Algorithm 10 with its FMA split into a product and a
    sum). ch + c1 = xh yh exactly. Dropped: xl yl, u**2 |xh yh|. fl(xh yl) and fl(xl yh): u**2
    |xh yh| each. Their sum: 2u**2 (1 + u) |xh yh|. fl(c1 + that): u (u + 2u (1 + u)) |xh yh|
    < 3.01 u**2. Fast2Sum exact. Total 8.02 u**2 |xh yh| <= 8.02 u**2 |x y| / (1 - u)**2."""
    ch, c1 = two_prod(x[0], y[0])
    c2 = x[0] * y[1] + x[1] * y[0]
    return fast_two_sum(ch, c1 + c2)


def div(x: DD, y: DD) -> DD:
    """x / y within 14u**2 of |x / y|. q1 = fl(xh / yh) is within 3.01u of x / y (xh / yh is
    within 2.01u, its rounding u), so the remainder rho = x - y q1 has |rho| <= 3.01u |x|.
    It is computed as x - mul_fp(y, q1) within 4.01u**2 |x| (4u**2 on a product within
    (1 + 3.01u) |x|, then 3.01u**2 of |rho|). q2 = fl(rh / yh) is within 3.01u of r / y, so
    q1 + q2 is within 3.01u (3.01u + 4.01u**2) + 4.01u**2 < 13.1 u**2 of x / y, and
    Fast2Sum(q1, q2) holds q1 + q2 exactly (|q2| < |q1|)."""
    q1 = x[0] / y[0]
    p = mul_fp(y, q1)
    r = add(x, (-p[0], -p[1]))
    return fast_two_sum(q1, r[0] / y[0])


def constant(value: Fraction) -> tuple[float, float]:
    """The double-double nearest a rational, within u**2 of it: hi = fl(v), lo = fl(v - hi)."""
    high = float(value)
    return high, float(value - Fraction(high))


def _ln2() -> Fraction:
    """ln 2 to 200 bits, from its series sum 1 / (k 2**k) (error below 2**-200)."""
    total, k = Fraction(0), 1
    while k < 210:
        total += Fraction(1, k << k)
        k += 1
    return total


_LN2 = _ln2()
#: ln 2 as L1 + (L2, L3): L1 to 42 bits, so k L1 is exact for |k| < 2**11, and the rest as a
#: double-double within u**2 of ln 2 - L1 < 2**-42: ln 2 to within 2**-148.
_L1 = float(Fraction(round(_LN2 * 2**42), 2**42))
_L2, _L3 = constant(_LN2 - Fraction(_L1))
_INV_LN2 = float(1 / _LN2)
_SQUARINGS = 5
_DEGREE = 12
_FACTORIALS: list[tuple[float, float]] = []
_f = Fraction(1)
for _n in range(1, _DEGREE + 1):
    _f /= _n
    _FACTORIALS.append(constant(_f))


def expm1(a: np.ndarray) -> tuple[DD, DD]:
    """(expm1(a), exp(a)) for float64 |a| <= 600: expm1 within 185u**2, exp within 54u**2.

    Reduction: k = rint(a / ln 2), r = a - k ln 2 with |r| <= 0.35; at k = 0, r = a exactly,
    else r is within 3.01u**2 |r| + 2**-137 < 1.1u**2 absolute (ln 2 to 2**-148, k L1 exact,
    a - k L1 exact by TwoSum, k (L2, L3) within 4u**2 of 2**-31).

    expm1(r): rho = r / 2**5, |rho| <= 0.011; Taylor to degree 12 (remainder below
    0.011**12 / 13! < 0.04u**2 of rho) by Horner, p_n = c_n + rho p_(n+1): the product is at
    most 0.006 of |c_n|, so each p_n is within 4.1u**2 (u**2 on the coefficient, 3.01 on the
    sum, 0.006 of what p_(n+1) carried plus 9); rho p_1 adds 9: 13.2u**2. Then five squarings
    e <- e (e + 2) (expm1 of the double argument): each multiplies the relative error by at
    most 1 + |e| / |e + 2| <= 1.173 and adds 3.01 + 9: 1.173**5 13.2 + 12.01 (1.173**5 - 1) /
    0.173 < 114u**2, for |expm1(r)| <= 0.42.

    exp(a) = 2**k (1 + e): 114u**2 of |e| <= 0.6 |1 + e|, 3.01 of the sum and r's 1.1u**2
    times e**r / (1 + e) <= 2: < 54u**2 (scaling by 2**k exact: |a| <= 600 keeps both parts
    normal). expm1(a) at k != 0, where |a| >= ln 2 / 2: 2**k (1 + e) - 1, the 54u**2 times
    e**a / |expm1(a)| <= 3.42, plus 3.01: < 185u**2; at k = 0 it is e: 114u**2.
    """
    k = np.rint(a * _INV_LN2)
    head = two_sum(a, -k * _L1)
    tail = mul_fp((np.full_like(a, _L2), np.full_like(a, _L3)), k)
    r = add(head, (-tail[0], -tail[1]))
    scale = 2.0**-_SQUARINGS
    rho = (r[0] * scale, r[1] * scale)
    high, low = _FACTORIALS[-1]
    p: DD = (np.full_like(a, high), np.full_like(a, low))
    for high, low in reversed(_FACTORIALS[:-1]):
        product = mul(p, rho)
        p = add((np.full_like(a, high), np.full_like(a, low)), product)
    e = mul(p, rho)
    two = (np.full_like(a, 2.0), np.zeros_like(a))
    for _ in range(_SQUARINGS):
        e = mul(e, add(e, two))
    one = (np.ones_like(a), np.zeros_like(a))
    grown = add(one, e)
    power = k.astype(np.int64)
    exp = (np.ldexp(grown[0], power), np.ldexp(grown[1], power))
    shifted = add(exp, (-one[0], -one[1]))
    reduced = k == 0
    return (np.where(reduced, e[0], shifted[0]), np.where(reduced, e[1], shifted[1])), exp


def log1p(w: DD) -> tuple[DD, np.ndarray]:
    """(log1p(w), trusted) for a double-double -1 + e**-600 <= w <= 1: within 290u**2 where
    ``trusted`` (elsewhere the Newton step below did not start close enough).

    One Newton step on exp from a float64 y0 (numpy's log1p(wh) for |wh| < 1/2, log(fl(1 + w))
    beyond: each within a few ulps): log1p(w) = y0 + log1p(rho) with rho = (1 + w) expm1(-y0)
    + w, computed in double-double. No cancellation hurts: expm1(-y0) carries its error
    relative to itself, and the two terms of rho have magnitude about |w| each. v = 1 + w is
    within 3.01u**2; expm1 185; the product 9: |v expm1(-y0)| <= |w| (1 + 2**-40) is within
    197.2 u**2 |w| <= 197.2 1.443 u**2 |log1p(w)| (w / log1p(w) <= 1 / ln 2 on (-1, 1]): 284.6.
    log1p(rho) = rho - rho**2 / 2 with |rho| <= 2**-44 |y0| checked (``trusted``): the rest,
    rho**3 / 3, is below 2**-132 |y0|**3 / 3 < 0.01u**2 |y0| for |y0| <= 600. The two sums
    add 3.01u**2 each of results at most |log1p(w)|: total < 290u**2.
    """
    one = (np.ones_like(w[0]), np.zeros_like(w[0]))
    v = add(one, w)
    with np.errstate(all="ignore"):
        y0 = np.where(np.abs(w[0]) < 0.5, np.log1p(w[0]), np.log(v[0]))
    e, _ = expm1(-y0)
    rho = add(mul(v, e), w)
    trusted = np.abs(rho[0]) <= 2.0**-44 * np.abs(y0)
    corrected = add(rho, (-0.5 * rho[0] * rho[0], np.zeros_like(y0)))
    return add((y0, np.zeros_like(y0)), corrected), trusted
