"""The certified fast path into float64: double-double kernels, decisions and 24-digit strings.

A float64 result is scored in ULPs against the oracle's decimal string, so the string must
resolve a small fraction of a float64 ULP: the exact path prints 24 significant digits, and so
does this one wherever its ball proves them. The kernels are those of :mod:`oracle.fast` in
double-double arithmetic (:mod:`oracle.double_double`), each bound derived beside it in units
of u**2 (u = 2**-53) as a multiple of ``S``, the sum of the magnitudes of the terms it adds.
Every derivation stays below 348u**2 < 2**-97.5 S; the radius used is 2**-94 S, a factor 11
of slack that costs nothing (24 digits need about 2**-80).

Outside the domain where the error-free transformations are exact (an input above 2**900 or
not finite, a probability below e**-600, a result outside [2**-900, 2**900]) the radius is
infinite and the exact path answers (beyond a logit of +-600, e**-|x| is taken as 0 and the
radius grows by what that can move); an exactly zero gradient (a zero
cotangent, 1/2 - y at a zero logit) is decided by its known sign, as in :mod:`oracle.fast`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from . import double_double as dd
from .balls import UNKNOWN, Balls
from .digits import bound_digit, slow_digits

RELATIVE = 2.0**-94
DIGIT_CAP = 24
#: Magnitudes within which every double-double step here is exact where it should be.
LIMIT, FLOOR, LOGIT_LIMIT = 2.0**900, 2.0**-900, 600.0
#: Beyond LOGIT_LIMIT, e**-|x| < 2**-865 is taken as 0; twice that bounds what it moves.
FAR = 2.0**-864


def _radius(ok: np.ndarray, result: dd.DD, *terms: dd.DD, absolute: np.ndarray | float = 0.0) -> np.ndarray:
    """RELATIVE times the terms' magnitudes plus ``absolute``; infinite outside the domain."""
    total = np.zeros_like(result[0])
    for term in terms:
        total = total + np.abs(term[0])
    inside = ok & (np.abs(result[0]) >= FLOOR) & (np.abs(result[0]) <= LIMIT) & (total <= LIMIT)
    with np.errstate(invalid="ignore"):
        return np.where(inside, RELATIVE * total * (1 + 2.0**-40) + absolute, np.inf)


def _tame(*arrays: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """(inputs finite and within LIMIT, the inputs with the others replaced by 1): the kernels
    then run on harmless values everywhere and the mask leaves those elements undecided."""
    ok = np.ones(arrays[0].shape, dtype=bool)
    for array in arrays:
        ok &= np.isfinite(array) & (np.abs(array) <= LIMIT)
    return ok, tuple(np.where(ok, array, 1.0) for array in arrays)


class _Pair(NamedTuple):
    near_one: dd.DD  # sigmoid(|x|)
    near_zero: dd.DD  # sigmoid(-|x|)
    t: dd.DD  # exp(-|x|)
    half_tanh: dd.DD  # sigmoid(|x|) - 1/2 = -expm1(-|x|) / (2 (1 + t))
    far: np.ndarray  # |x| > 600: t taken as 0


def _sigmoid_pair(x: np.ndarray) -> _Pair:
    """The sigmoids of +-|x|. t: 54u**2; 1 + t: 3.01 plus t's 54 times t / (1 + t) <= 1/2: 30.1;
    1 / (1 + t): 14 more, 44.2; t / (1 + t): 54 + 30.1 + 14 = 98.1u**2: both below 99u**2.
    sigmoid(|x|) - 1/2 from expm1 (185), 2 (1 + t) (30.1) and the quotient (14): 230u**2 of
    itself, however small |x| is.

    Beyond |x| = 600, t < 2**-865 is taken as 0 (exp's domain ends there): each quantity the
    kernels build is a function of t with slope at most 1 (log1p(t), 1 / (1 + t), t / (1 + t),
    their product), times the cotangent at most, so ``FAR (1 + |c|)`` is added to the radius;
    the tiny results this leaves without a digit (below FLOOR) go to the exact path."""
    far = np.abs(x) > LOGIT_LIMIT
    em, t = dd.expm1(-np.abs(np.where(far, 0.0, x)))
    zero = np.zeros_like(x)
    t = _where(far, (zero, zero), t)
    em = _where(far, (-np.ones_like(x), zero), em)
    one = (np.ones_like(x), zero)
    opp = dd.add(one, t)
    half_tanh = dd.div(_neg(em), (2 * opp[0], 2 * opp[1]))
    return _Pair(dd.div(one, opp), dd.div(t, opp), t, half_tanh, far)


def _where(mask: np.ndarray, a: dd.DD, b: dd.DD) -> dd.DD:
    return np.where(mask, a[0], b[0]), np.where(mask, a[1], b[1])


def _neg(a: dd.DD) -> dd.DD:
    return -a[0], -a[1]


def sigmoid_family(name: str, x_in: np.ndarray, c_in: np.ndarray) -> Balls:
    """softplus, log_sigmoid, sigmoid and their derivatives times the cotangent.

    log1p(t) of the tail: 290u**2, t's 54 passing through at most once (t / (1 + t) <=
    log1p(t)): 344; plus max(x, 0), both terms >= 0: 347.1u**2 of S. Derivatives: a sigmoid
    (99) times c (4): 103; sigmoid' = s sigmoid(-x) c: 99 + 99 + 9 + 4 = 211u**2.
    """
    with np.errstate(all="ignore"):
        ok, (x, c) = _tame(x_in, c_in)
        near_one, near_zero, t, _, far = _sigmoid_pair(x)
        absolute = np.where(far, FAR * (1 + np.abs(c)), 0.0)
        positive = x >= 0
        s, complement = _where(positive, near_one, near_zero), _where(positive, near_zero, near_one)
        tail, trusted = dd.log1p(t)
        ok &= trusted
        zero = np.zeros_like(x)
        if name == "softplus":
            linear = (np.maximum(x, 0.0), zero)
            value, grad = dd.add(linear, tail), dd.mul_fp(s, c)
            value_terms: tuple[dd.DD, ...] = (linear, tail)
        elif name == "log_sigmoid":
            linear = (np.maximum(-x, 0.0), zero)
            value, grad = _neg(dd.add(linear, tail)), dd.mul_fp(complement, c)
            value_terms = (linear, tail)
        else:
            value, grad = s, dd.mul_fp(dd.mul(s, complement), c)
            value_terms = (s,)
        # s and sigmoid(-x) are > 0 for finite x: the derivative has the cotangent's sign (0: exactly 0).
        grad_sign = np.where(np.isfinite(x_in) & np.isfinite(c_in), np.sign(c_in), UNKNOWN).astype(np.int8)
    sign = np.ones(x.shape, dtype=np.int8) * (-1 if name == "log_sigmoid" else 1)
    return Balls(
        value=value[0],
        value_low=value[1],
        value_radius=_radius(ok, value, *value_terms, absolute=absolute),
        value_sign=sign,
        grad=grad[0],
        grad_low=grad[1],
        grad_radius=_radius(ok, grad, grad, absolute=absolute),
        grad_sign=grad_sign,
    )


def bce_logits(y_in: np.ndarray, x_in: np.ndarray) -> Balls:
    """x (1 - y) + softplus(-x) for x >= 0, (-x) y + softplus(x) below. 1 - y and -x y are
    exact (TwoSum, TwoProd), x (1 - y) within 4u**2; the tail 344; their sum 3.01u**2 of the
    result: 347.1u**2 of S (the two terms' magnitudes, so a label outside [0, 1] that makes
    them cancel stays covered).

    Gradient sigmoid(x) - y. For |x| >= 1: (1 - y) - sigmoid(-x) for x > 0 (no cancellation at
    y = 1), sigmoid(x) - y below: 99 + 3.01u**2 of S. For |x| < 1: (1/2 - y) + sign(x)
    (sigmoid(|x|) - 1/2), the first term exact (TwoSum), the second h within 230u**2 of itself,
    the sum 3.01u**2 of the result: below 2**-98.1 |h| + 2**-104.4 |grad|, and the radius is
    2**-94 |h| + 2**-102 |grad|. So a tiny logit beside a label whose 1/2 - y is a float64
    midpoint (fl(0.1)) is decided by x / 4 alone; at x = 0 the gradient is exact: radius 0.
    """
    with np.errstate(all="ignore"):
        ok, (y, x) = _tame(y_in, x_in)
        pair = _sigmoid_pair(x)
        absolute = np.where(pair.far, FAR, 0.0)
        tail, trusted = dd.log1p(pair.t)
        ok &= trusted
        positive = x >= 0
        rest = dd.two_sum(np.ones_like(y), -y)
        linear = _where(positive, dd.mul_fp(rest, x), dd.two_prod(-x, y))
        value = dd.add(linear, tail)
        h = _where(positive, pair.half_tanh, _neg(pair.half_tanh))
        centred = dd.add(dd.two_sum(np.full_like(y, 0.5), -y), h)
        first = _where(x > 0, rest, _where(positive, pair.near_one, pair.near_zero))
        second = _where(x > 0, pair.near_zero, (y, np.zeros_like(y)))
        direct = dd.add(first, _neg(second))
        small = np.abs(x) < 1
        grad = _where(small, centred, direct)
        grad_radius = np.where(
            small,
            _radius(ok, centred, h, absolute=2.0**-102 * np.abs(centred[0])),
            _radius(ok, direct, first, second, absolute=absolute),
        )
        exact = ok & (x == 0)
        grad_radius = np.where(exact, 0.0, grad_radius)
    value_sign = np.where(ok & (y >= 0) & (y <= 1), 1, UNKNOWN).astype(np.int8)
    grad_sign = np.where(exact & (grad[0] == 0), 0, UNKNOWN).astype(np.int8)
    return Balls(
        value=value[0],
        value_low=value[1],
        value_radius=_radius(ok, value, linear, tail, absolute=absolute),
        value_sign=value_sign,
        grad=grad[0],
        grad_low=grad[1],
        grad_radius=grad_radius,
        grad_sign=grad_sign,
    )


def bce_probabilities(y_in: np.ndarray, p_in: np.ndarray) -> Balls:
    """-(y log p + (1 - y) log1p(-p)) for e**-600 <= p < 1: log p = log1p(p - 1) with p - 1
    exact (TwoSum), 290u**2; log1p(-p) 290; y times the first 4, the exact 1 - y times the
    second 9; the sum 3.01: 302.1u**2 of S. Gradient (p - y) / (p (1 - p)): p - y and 1 - p
    exact, the product 4, the quotient 14: 18u**2."""
    with np.errstate(all="ignore"):
        ok, (y, p) = _tame(y_in, p_in)
        ok &= (p >= np.exp(-LOGIT_LIMIT)) & (p < 1)
        p = np.where(ok, p, 0.5)
        ones = np.ones_like(p)
        log_p, trusted_p = dd.log1p(dd.two_sum(p, -ones))
        log_q, trusted_q = dd.log1p((-p, np.zeros_like(p)))
        ok &= trusted_p & trusted_q
        first = dd.mul_fp(log_p, y)
        second = dd.mul(dd.two_sum(ones, -y), log_q)
        value = _neg(dd.add(first, second))
        grad = dd.div(dd.two_sum(p, -y), dd.mul_fp(dd.two_sum(ones, -p), p))
    unknown = np.full(p.shape, UNKNOWN, dtype=np.int8)
    return Balls(
        value=value[0],
        value_low=value[1],
        value_radius=_radius(ok, value, first, second),
        value_sign=unknown,
        grad=grad[0],
        grad_low=grad[1],
        grad_radius=_radius(ok, grad, grad),
        grad_sign=unknown,
    )


def _ends(high: np.ndarray, low: np.ndarray, radius: np.ndarray) -> tuple[dd.DD, dd.DD]:
    """The ball's ends as exact double-doubles, outward: low -+ r is rounded once, by at most
    u (|low| + r), which the widened radius covers (0 stays 0: an exact value keeps its ends)."""
    with np.errstate(all="ignore"):
        wide = np.where(radius > 0, radius + 2.0**-51 * (np.abs(low) + radius), 0.0)
        return dd.two_sum(high, low - wide), dd.two_sum(high, low + wide)


def decide(high: np.ndarray, low: np.ndarray, radius: np.ndarray, sign: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, decided mask): TwoSum's first part is the correctly rounded float64 of
    an end, so the ball decides where both ends' are equal (and finite, and of one sign)."""
    lower, upper = _ends(high, low, radius)
    with np.errstate(invalid="ignore"):
        decided = np.isfinite(radius) & np.isfinite(lower[0]) & (lower[0] == upper[0]) & (lower[0] != 0)
    zero = sign == 0
    return np.where(zero, 0.0, lower[0]), decided | zero


#: 10**m as double-doubles for |top| <= 280 and up to DIGIT_CAP digits: m in [-281, 304]
#: (both parts normal). Indexed by m + _OFFSET.
_OFFSET = 285
_TEN = np.array([dd.constant(Fraction(10) ** m) for m in range(-_OFFSET, 306)])
_TIE = 1e-3


def proven_digits(
    high: np.ndarray, low: np.ndarray, radius: np.ndarray, sign: np.ndarray, decided: np.ndarray
) -> list[str]:
    """Strings of the decided elements' proven digits, up to DIGIT_CAP ("" elsewhere: the exact
    path's strings replace them), as :func:`oracle.digits.proven_digits` does for float balls.

    An end over 10**k is a double-double product within 10u**2 (9 for the product, u**2 on the
    power of ten) of a quotient below 10**26: within 2**-106 10 10**26 < 2e-5 absolute, so an
    end more than 1e-3 from a tie rounds as computed. Its nearest integer is floor(qh) +
    rint(frac(qh) + ql), both parts exact integers; the rest go to exact rationals.
    """
    size = high.shape[0]
    lower, upper = _ends(high, low, radius)
    with np.errstate(all="ignore"):
        top = np.floor(np.log10(np.abs(high)))
        estimate = np.floor(np.log10(np.abs(high) / (2 * radius)))
    digits = np.clip(np.nan_to_num(estimate, nan=1.0, posinf=DIGIT_CAP), 1, DIGIT_CAP).astype(np.int64)
    settled = sign == 0
    active = decided & ~settled
    slow = active & (np.abs(top) > 280)
    pending = active & ~slow
    texts: dict[int, str] = dict.fromkeys(np.flatnonzero(settled).tolist(), "0")
    while pending.any():
        index = np.flatnonzero(pending)
        exponent = top[index].astype(np.int64) - digits[index] + 1
        row = _TEN[_OFFSET - exponent]
        scale = (row[:, 0], row[:, 1])
        base_lo, near_lo, tie_lo = _nearest(dd.mul((lower[0][index], lower[1][index]), scale))
        base_hi, near_hi, tie_hi = _nearest(dd.mul((upper[0][index], upper[1][index]), scale))
        tie = tie_lo | tie_hi
        agree = ((base_lo - base_hi) + (near_lo - near_hi) == 0) & ~tie
        for position in np.flatnonzero(agree).tolist():
            mantissa = int(base_lo[position]) + int(near_lo[position])
            texts[int(index[position])] = _text(mantissa, int(exponent[position]))
        pending[index[agree]] = False
        slow[index[tie]], pending[index[tie]] = True, False
        give_up = index[~agree & ~tie & (digits[index] == 1)]
        slow[give_up], pending[give_up] = True, False
        digits[index[~agree & ~tie]] -= 1
    for chosen in np.flatnonzero(slow).tolist():
        ends = (
            Fraction(lower[0][chosen]) + Fraction(lower[1][chosen]),
            Fraction(upper[0][chosen]) + Fraction(upper[1][chosen]),
        )
        texts[chosen] = slow_digits(ends, int(digits[chosen])) if ends[0] * ends[1] > 0 else bound_digit(high[chosen])
    out = [""] * size
    for position, text in texts.items():
        out[position] = text
    return out


def _nearest(q: dd.DD) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    base = np.floor(q[0])
    fraction = (q[0] - base) + q[1]  # q[0] - base is exact; the sum within 2**-19 (|q| < 2**87)
    near = np.rint(fraction)
    tie = np.abs(fraction - np.floor(fraction) - 0.5) < _TIE
    return base, near, tie


def _text(mantissa: int, exponent: int) -> str:
    """``M * 10**k`` as ``d.ddde±x``, as :func:`oracle.digits.scientific` writes it."""
    body = str(abs(mantissa))
    head = body[0] + ("." + body[1:] if len(body) > 1 else "")
    return f"{'-' if mantissa < 0 else ''}{head}e{exponent + len(body) - 1:+d}"
