"""A certified fast path: vectorised float64 kernels with a proven error ball per element.

Each kernel returns, for every element, a float64 approximation ``v`` and a radius ``r``
with the true value inside [v - r, v + r]. An element is *decided* when both ends of the
ball round to the same value of the target format (rounding is monotone, so every point
between them does too); the rest go to the exact path. The bits are therefore those of the
exact path, always: the fast path only skips the enclosures it does not need.

Error model (u = 2**-53, the float64 unit roundoff). numpy's float64 ``exp``, ``log`` and
``log1p`` are within 4 ulps (its SIMD kernels' documented bound; glibc's is 1 to 2), so
within 8u relative for a normal result and 4 * 2**-1074 absolute for a subnormal one. Each
kernel's bound is derived beside it as a multiple of ``S``, the sum of the magnitudes of
the terms it adds (so a cancellation widens the ball instead of breaking the bound); every
derivation stays below 2**-46 S, and the radius used is ``RELATIVE * S + ABSOLUTE`` with
RELATIVE = 2**-44: a factor 4 of slack, at no cost, since float32 needs only 2**-25.

Covered: the ideal (no variant) of softplus, log_sigmoid, sigmoid (any cotangent) and
binary cross-entropy on logits or probabilities with ``reduction: none``, no smoothing and
no sample weight, into float32, float16 and bfloat16 (these float64 kernels) and into float64
(the same formulas in double-double, :mod:`oracle.fast64`). float64 once ran them in 80-bit
long double; its balls proved only 15 to 17 digits, and a float64 result is scored in ULPs
against the decimal string, which must then resolve a fraction of a float64 ULP (1.49999999490260
for the exact 1.4999999949025982881 put a correctly rounded gradient 8 ULPs off). Double-double
balls prove the 24 digits the exact path prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import fast64
from .balls import UNKNOWN, Balls
from .digits import proven_digits
from .double_double import two_prod, two_sum
from .formats import FloatFormat

RELATIVE = 2.0**-44
ABSOLUTE = 2.0**-1060  # covers 4 ulps of a float64 subnormal result, and its propagation
DIGIT_CAP = 12  # a ball of 2**-44 proves at most 13 digits


def _radius(*terms: np.ndarray) -> np.ndarray:
    total = np.zeros_like(terms[0])
    for term in terms:
        total = total + np.abs(term)
    return RELATIVE * total + ABSOLUTE


def _sigmoid_pair(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sigmoid(x), sigmoid(-x)). With t = exp(-|x|) (8u), 1 / (1 + t) is within 8u + 2u and
    t / (1 + t) within 8u + (8u + u) + u = 18u: both below 2**-48 relative."""
    t = np.exp(-np.abs(x))
    near_one, near_zero = 1.0 / (1.0 + t), t / (1.0 + t)
    positive = x >= 0
    return np.where(positive, near_one, near_zero), np.where(positive, near_zero, near_one)


def _softplus(x: np.ndarray) -> np.ndarray:
    """max(x, 0) + log1p(exp(-|x|)): log1p adds 8u, t's 8u passes through at most once
    (t / (1 + t) <= log1p(t)), the sum of two non-negative terms u: 17u relative."""
    value: np.ndarray = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
    return value


def sigmoid_family(name: str, x: np.ndarray, cotangent: np.ndarray) -> Balls:
    """softplus, log_sigmoid, sigmoid and their derivatives times the cotangent.

    Derivative bounds: sigmoid 18u, times c: 19u; sigmoid' = s sigmoid(-x): 18u + 18u + u,
    times c: 38u < 2**-47.
    """
    positive = np.ones(x.shape, dtype=np.int8)
    with np.errstate(all="ignore"):  # infinite inputs and cotangents: NaN or inf, left undecided
        s, complement = _sigmoid_pair(x)
        if name == "softplus":
            value, grad, value_sign = _softplus(x), s * cotangent, positive
        elif name == "log_sigmoid":
            value, grad, value_sign = -_softplus(-x), complement * cotangent, -positive
        else:
            value, grad, value_sign = s, s * complement * cotangent, positive
        # s and sigmoid(-x) are > 0 for finite x: the derivative has the cotangent's sign (0: exactly 0).
        grad_sign = np.where(np.isfinite(x) & np.isfinite(cotangent), np.sign(cotangent), UNKNOWN).astype(np.int8)
    return Balls(value, _radius(value), grad, _radius(grad), value_sign, grad_sign)


def bce_logits(y: np.ndarray, x: np.ndarray) -> Balls:
    """x (1 - y) + softplus(-x) for x >= 0, (-x) y + softplus(x) below: the product's terms
    are exact or within u each (1 - y, the product: 2u), softplus(-|x|) 17u; their sum adds u.
    Both terms are bounded in S, so a y outside [0, 1] that makes them cancel stays covered.
    Gradient sigmoid(x) - y, as (1 - y) - sigmoid(-x) for x > 0: there s - y cancels to
    -sigmoid(-x) at y = 1, which the second form gives to 18u. Either form: 18u on the sigmoid,
    u on 1 - y, u on the difference, bounded in the magnitudes of its two terms.

    Tilt: where 1 - y and the product are exact (TwoSum and Dekker's product find no error) and
    not tiny, the value is that exact term plus the tail, and TwoSum gives the sum's rounding
    error e exactly; the tail's own error, 17u of it, is below |e| once |e| > 2**-44 tail, so the
    truth lies on e's side of the centre, within 2 |e| of it: inside its float64 neighbours."""
    with np.errstate(all="ignore"):  # an infinite logit times a zero weight: NaN, the exact path's
        s, complement = _sigmoid_pair(x)
        rest, rest_error = two_sum(np.ones_like(y), -y)
        linear, linear_error = np.where(x >= 0, two_prod(x, rest), two_prod(-x, y))
        tail = np.log1p(np.exp(-np.abs(x)))
        value, error = two_sum(linear, tail)
        exact_linear = np.isfinite(value) & (linear_error == 0) & ((x < 0) | (rest_error == 0))
        exact_linear &= (np.abs(linear) >= 2.0**-960) | (linear == 0)
        tilt = np.where(exact_linear & (np.abs(error) > 2.0**-44 * tail), np.sign(error), 0).astype(np.int8)
        positive = x > 0
        first, second = np.where(positive, rest, s), np.where(positive, complement, y)
        grad = first - second
        # At x = 0, s = 1/2 exactly and 1/2 - y is exact unless TwoSum finds a rounding error: an
        # exact gradient has radius 0, so its rounding (a midpoint's included) is decided here.
        bb = grad - 0.5
        exact = (x == 0) & ((0.5 - (grad - bb)) + (-y - bb) == 0)
    # A label in [0, 1] makes both terms >= 0 and the tail > 0: the value is > 0 (one far in
    # the tail underflows to a ball around 0, which this sign decides).
    value_sign = np.where((y >= 0) & (y <= 1) & np.isfinite(x), 1, UNKNOWN).astype(np.int8)
    # sigmoid(x) - 1 < 0 and sigmoid(x) - 0 > 0 for finite x: the sign of a gradient that underflows.
    grad_sign = np.where(np.isfinite(x) & (x > 0) & (y == 1), -1, UNKNOWN)
    grad_sign = np.where(np.isfinite(x) & (x < 0) & (y == 0), 1, grad_sign)
    grad_sign = np.where(exact & (grad == 0), 0, grad_sign).astype(np.int8)
    grad_radius = np.where(exact, 0.0, _radius(first, second))
    return Balls(value, _radius(linear, tail), grad, grad_radius, value_sign, grad_sign, value_tilt=tilt)


def bce_probabilities(y: np.ndarray, p: np.ndarray) -> Balls:
    """-(y log p + (1 - y) log1p(-p)) for 0 < p < 1: each log 8u, each product u (1 - y: u),
    the sum u: 11u, bounded in the two terms' magnitudes. A zero coefficient makes its term
    exactly 0 (0 log 0 = 0 never arises: p is inside (0, 1)).
    Gradient (p - y) / (p (1 - p)): five roundings at most, 5u relative."""
    with np.errstate(all="ignore"):
        first = y * np.log(p)
        second = (1.0 - y) * np.log1p(-p)
        value = -(first + second)
        grad = (p - y) / (p * (1.0 - p))
    unknown = np.full(p.shape, UNKNOWN, dtype=np.int8)
    return Balls(value, _radius(first, second), grad, _radius(grad), unknown, unknown)


def round_to(values: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """Round float64 values into ``fmt`` (nearest, ties to even), once, vectorised.

    The magnitude scaled by its quantum 2**q is below 2**precision and exact in float64,
    so ``rint`` rounds it exactly; overflow gives inf; the sign (of zero too) is kept.
    """
    scaled, quantum = _scaled(values, fmt)
    with np.errstate(all="ignore"):
        rounded = np.ldexp(np.rint(scaled), quantum)
        rounded = np.where(rounded > fmt.max, np.inf, rounded)
    signed: np.ndarray = np.copysign(rounded, values)
    return signed


def _scaled(values: np.ndarray, fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """(|v| / 2**q, q): the magnitude in units of its quantum in ``fmt``, exact in float64."""
    with np.errstate(all="ignore"):
        _, exponent = np.frexp(np.abs(values))
        quantum = np.maximum(exponent - fmt.precision, fmt.quantum_min)
        return np.ldexp(np.abs(values), -quantum), quantum


def decide(
    value: np.ndarray, radius: np.ndarray, sign: np.ndarray, fmt: FloatFormat, tilt: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(rounded values, decided mask): decided where both ends of the ball, cut at 0 where the
    sign is known, round alike; an exact 0 is +0, as the exact path gives it.

    A tilted element (see :class:`~oracle.balls.Balls`) lies strictly between the centre's float64
    neighbours, where the only possible rounding boundary is the centre itself: off a midpoint it
    rounds as the centre does, on one as the neighbour on its side (no boundary: midpoints of
    ``fmt`` are many float64 steps apart)."""
    with np.errstate(all="ignore"):
        # Outward by one float64 step, against the rounding of v -+ r; an exact value stays put.
        lo = np.where(radius > 0, np.nextafter(value - radius, -np.inf), value)
        hi = np.where(radius > 0, np.nextafter(value + radius, np.inf), value)
        lo = np.where(sign == 1, np.maximum(lo, 0.0), lo)
        hi = np.where(sign == -1, np.minimum(hi, -0.0), hi)
    low, high = round_to(lo, fmt), round_to(hi, fmt)
    one_sign = (lo > 0) | (hi < 0) | (sign == 1) | (sign == -1)
    decided = np.isfinite(value) & np.isfinite(radius) & one_sign & (low == high)
    zero = sign == 0
    if tilt is not None:
        tilted = ~decided & (tilt != 0) & np.isfinite(value)
        if tilted.any():
            scaled, _ = _scaled(value, fmt)
            with np.errstate(invalid="ignore"):  # inf and NaN centres: not tilted
                midpoint = scaled - np.floor(scaled) == 0.5
                side = round_to(np.nextafter(value, np.where(tilt > 0, np.inf, -np.inf)), fmt)
            low = np.where(tilted, np.where(midpoint, side, round_to(value, fmt)), low)
            decided = decided | tilted
    return np.where(zero, 0.0, low).astype(np.float64), decided | zero


#: A kernel: (params, inputs, wide) to balls, or None where the params leave the fast path.
#: ``wide``: the float64 target's double-double kernels (:mod:`oracle.fast64`).
Kernel = Callable[[Mapping[str, Any], Mapping[str, np.ndarray], bool], Balls | None]


def _elementwise(name: str) -> Kernel:
    def kernel(params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], wide: bool) -> Balls | None:
        x = np.asarray(inputs["x"], dtype=np.float64)
        cotangent = inputs.get("cotangent")
        c = np.ones_like(x) if cotangent is None else np.broadcast_to(np.asarray(cotangent, np.float64), x.shape)
        family = fast64.sigmoid_family if wide else sigmoid_family
        return family(name, x.ravel(), np.ascontiguousarray(c).ravel())

    return kernel


def _bce(params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], wide: bool) -> Balls | None:
    if params["reduction"] != "none" or params["sample_weight"] is not None or float(params["label_smoothing"]):
        return None
    y = np.asarray(inputs["y_true"], dtype=np.float64).ravel()
    p = np.asarray(inputs["y_pred"], dtype=np.float64).ravel()
    if params["from_logits"]:
        return (fast64.bce_logits if wide else bce_logits)(y, p)
    balls = (fast64.bce_probabilities if wide else bce_probabilities)(y, p)
    inside = (p > 0) & (p < 1)  # the limits at 0 and 1 are the exact path's
    return replace(
        balls,
        value_radius=np.where(inside, balls.value_radius, np.inf),
        grad_radius=np.where(inside, balls.grad_radius, np.inf),
    )


KERNELS: dict[str, Kernel] = {
    "softplus": _elementwise("softplus"),
    "log_sigmoid": _elementwise("log_sigmoid"),
    "sigmoid": _elementwise("sigmoid"),
    "binary_crossentropy": _bce,
}


@dataclass(frozen=True)
class Settled:
    """One quantity of a batch: rounded values, the decided mask, and decided elements' strings."""

    rounded: np.ndarray
    decided: np.ndarray
    texts: list[str]


def balls_for(op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], fmt: FloatFormat) -> Balls | None:
    return KERNELS[op](params, inputs, fmt.name == "float64")


def settle(balls: Balls, fmt: FloatFormat) -> tuple[Settled, Settled]:
    """(value, gradient): decided where the ball allows and proves at least one digit, with
    proven digits; the rest is the exact path's. (A ball that reaches 0, around an underflowed
    1.7e-352, say, may decide the rounding to 0 but proves no digit of the value: its string
    would be a bound, 8e-320, where the exact path prints the value.)"""
    if balls.value_low is None or balls.grad_low is None:
        value = settle_narrow(balls.value, balls.value_radius, balls.value_sign, fmt, balls.value_tilt)
        return value, settle_narrow(balls.grad, balls.grad_radius, balls.grad_sign, fmt)
    wide = []
    for high, low, radius, sign in (
        (balls.value, balls.value_low, balls.value_radius, balls.value_sign),
        (balls.grad, balls.grad_low, balls.grad_radius, balls.grad_sign),
    ):
        rounded, decided = fast64.decide(high, low, radius, sign)
        decided &= _proves_a_digit(high, radius, sign)
        wide.append(Settled(rounded, decided, fast64.proven_digits(high, low, radius, sign, decided)))
    return wide[0], wide[1]


def settle_narrow(
    centre: np.ndarray, radius: np.ndarray, sign: np.ndarray, fmt: FloatFormat, tilt: np.ndarray | None = None
) -> Settled:
    """One quantity of float64 balls into a narrow format, as :func:`settle` takes it."""
    rounded, decided = decide(centre, radius, sign, fmt, tilt)
    decided &= _proves_a_digit(centre, radius, sign)
    return Settled(rounded, decided, proven_digits(centre, radius, sign, DIGIT_CAP, decided))


def _proves_a_digit(centre: np.ndarray, radius: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Where the ball keeps clear of 0 (with a factor 2 to spare for the rounding of the test),
    or the value is an exact 0."""
    with np.errstate(invalid="ignore"):
        clear: np.ndarray = (np.abs(centre) > 2 * radius) | (sign == 0)
    return clear


def covers(op: str, fmt: FloatFormat, settings: Mapping[str, Any]) -> bool:
    return op in KERNELS and not settings
