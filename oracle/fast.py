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
no sample weight, into float32, float16 and bfloat16 (float64 kernels) and into float64
(the same kernels in 80-bit long double, where the platform has it; elsewhere float64 targets
take the exact path).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .decide import decimal_digits
from .formats import FloatFormat

RELATIVE = 2.0**-44
ABSOLUTE = 2.0**-1060  # covers 4 ulps of a float64 subnormal result, and its propagation
DIGIT_CAP = 12  # a ball of 2**-44 proves at most 13 digits

#: float64 targets: the same kernels in x87 80-bit long double (u = 2**-64; glibc's expl, logl and
#: log1pl within 4 ulps, its libm-test-ulps list 1 to 3), where numpy has it. Every bound above,
#: in this u, is at most 38u < 2**-58.7 S: 2**-58 is used (float64 rounding needs 2**-54, and each
#: halving of the ball decides about twice as many of the elements left).
LONG_DOUBLE = np.finfo(np.longdouble).nmant >= 63
RELATIVE_LONG, ABSOLUTE_LONG, DIGIT_CAP_LONG = 2.0**-58, np.longdouble(2.0) ** -16000, 15


#: Whether float64 targets take the long-double path. Off: its balls prove at most 15-17
#: digits, and a float64 result is scored in ULPs against the exact string, which then has to
#: resolve a fraction of an ULP (2.2e-16 relative at 1): 1.49999999490260 for the exact
#: 1.4999999949025982881 put a correctly rounded gradient 8 ULPs off. The exact path prints 24.
FLOAT64_FAST = False


def working_type(fmt: FloatFormat) -> Any:
    """float64 for the narrow targets, long double for float64 where enabled (None: no fast path)."""
    if fmt.name != "float64":
        return np.float64
    return np.longdouble if LONG_DOUBLE and FLOAT64_FAST else None


#: The sign of a true value where a kernel knows it (an underflowed exp leaves a ball around
#: 0 that only the sign decides): +1, -1, 0 for an exact zero, UNKNOWN elsewhere.
UNKNOWN = 2


@dataclass(frozen=True)
class Balls:
    """Per element: the value's and the gradient's float64 centre, radius and known sign."""

    value: np.ndarray
    value_radius: np.ndarray
    grad: np.ndarray
    grad_radius: np.ndarray
    value_sign: np.ndarray
    grad_sign: np.ndarray


def _radius(*terms: np.ndarray) -> np.ndarray:
    total = np.zeros_like(terms[0])
    for term in terms:
        total = total + np.abs(term)
    if total.dtype == np.longdouble:
        return total * RELATIVE_LONG + ABSOLUTE_LONG
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
    Gradient sigmoid(x) - y: 18u on s, u on the difference, bounded in |s| + |y|."""
    with np.errstate(all="ignore"):  # an infinite logit times a zero weight: NaN, the exact path's
        s, _ = _sigmoid_pair(x)
        linear = np.where(x >= 0, x * (1.0 - y), -x * y)
        tail = np.log1p(np.exp(-np.abs(x)))
        value = linear + tail
        grad = s - y
        # At x = 0, s = 1/2 exactly and 1/2 - y is exact unless TwoSum finds a rounding error: an
        # exact gradient has radius 0, so its rounding (a midpoint's included) is decided here.
        bb = grad - 0.5
        exact = (x == 0) & ((0.5 - (grad - bb)) + (-y - bb) == 0)
    unknown = np.full(x.shape, UNKNOWN, dtype=np.int8)
    grad_sign = np.where(exact & (grad == 0), 0, UNKNOWN).astype(np.int8)
    grad_radius = np.where(exact, 0.0, _radius(s, y))
    return Balls(value, _radius(linear, tail), grad, grad_radius, unknown, grad_sign)


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
    magnitude = np.abs(values)
    with np.errstate(all="ignore"):
        _, exponent = np.frexp(magnitude)
        quantum = np.maximum(exponent - fmt.precision, fmt.quantum_min)
        rounded = np.ldexp(np.rint(np.ldexp(magnitude, -quantum)), quantum)
        rounded = np.where(rounded > fmt.max, np.inf, rounded)
    signed: np.ndarray = np.copysign(rounded, values)
    return signed


def decide(value: np.ndarray, radius: np.ndarray, sign: np.ndarray, fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """(rounded values, decided mask): decided where both ends of the ball, cut at 0 where the
    sign is known, round alike; an exact 0 is +0, as the exact path gives it."""
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
    return np.where(zero, 0.0, low).astype(np.float64), decided | zero


def proven_digits(value: np.ndarray, radius: np.ndarray, sign: np.ndarray) -> list[str]:
    """Decimal strings ``d.ddde±x`` with only the digits both ends of a ball agree on.

    Rounding to a decimal quantum 10**k is monotone, so where both ends round to the same
    integer multiple M of 10**k, so does the value between them. The quotient end / 10**k is
    computed in float64 within 3u relative, 3u 10**12 < 4e-4 absolute; an end within 1e-3 of a
    tie is not trusted and goes to printf's exact ``%.*e`` instead, as do extreme exponents.
    A ball with an end at 0 proves no digit (its other end, to one digit, bounds it); an exact
    0 is "0".
    """
    size = value.shape[0]
    out = np.empty(size, dtype=object)
    with np.errstate(all="ignore"):
        lo = np.where(sign == 1, np.maximum(value - radius, 0.0), value - radius)
        hi = np.where(sign == -1, np.minimum(value + radius, 0.0), value + radius)
        estimate = np.floor(np.log10(np.abs(value) / (2 * radius)))
        top = np.floor(np.log10(np.abs(value)))
    cap = DIGIT_CAP_LONG if value.dtype == np.longdouble else DIGIT_CAP
    ten = np.longdouble(10) if value.dtype == np.longdouble else np.float64(10)
    digits = np.clip(np.nan_to_num(estimate, nan=1.0, posinf=cap), 1, cap).astype(np.int64)
    out[sign == 0] = "0"
    settled = sign == 0
    no_digit = ~settled & ~((lo > 0) | (hi < 0))
    bound = np.where(np.abs(hi) >= np.abs(lo), hi, lo)
    slow = ~settled & ~no_digit & (~np.isfinite(top) | (np.abs(top) > 280))
    pending = ~settled & ~no_digit & ~slow
    while pending.any():
        index = np.flatnonzero(pending)
        exponent = top[index].astype(np.int64) - digits[index] + 1
        scale = np.power(ten, exponent.astype(value.dtype))
        low, high = lo[index] / scale, hi[index] / scale
        near_tie = (np.abs(low - np.floor(low) - 0.5) < 1e-3) | (np.abs(high - np.floor(high) - 0.5) < 1e-3)
        agree = (np.rint(low) == np.rint(high)) & ~near_tie
        done = index[agree]
        out[done] = _scientific(np.rint(low[agree]).astype(np.int64), exponent[agree]).tolist()
        pending[done] = False
        slow[index[near_tie]] = True
        pending[index[near_tie]] = False
        give_up = index[~agree & ~near_tie & (digits[index] == 1)]
        slow[give_up], pending[give_up] = True, False
        digits[index[~agree & ~near_tie]] -= 1
    for chosen in np.flatnonzero(slow).tolist():
        out[chosen] = _slow_digits(lo[chosen], hi[chosen], int(digits[chosen]))
    for chosen in np.flatnonzero(no_digit).tolist():
        end = bound[chosen]  # NaN and inf only where the element is undecided (the exact path writes it)
        out[chosen] = decimal_digits(Fraction(*end.as_integer_ratio()), 1) if np.isfinite(end) else str(float(end))
    return [str(text) for text in out.tolist()]


def _scientific(mantissa: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """``M * 10**k`` as ``d.ddde±x`` (printf's look), vectorised: "-1.25e-07" for (-125, -9)."""
    digits = np.abs(mantissa).astype(str)
    length = np.strings.str_len(digits)
    head, tail = np.strings.slice(digits, 0, 1), np.strings.slice(digits, 1, None)
    body = np.where(length > 1, np.strings.add(np.strings.add(head, "."), tail), head)
    power = exponent + length - 1
    sign = np.where(power < 0, "e-", "e+")
    text = np.strings.add(np.strings.add(body, sign), np.abs(power).astype(str))
    return np.where(mantissa < 0, np.strings.add("-", text), text)


def _slow_digits(lo: Any, hi: Any, digits: int) -> str:
    """Exact decimal roundings of the two ends (as rationals), for the few elements near a tie."""
    low, high = Fraction(*lo.as_integer_ratio()), Fraction(*hi.as_integer_ratio())
    for count in range(digits, 0, -1):
        text = decimal_digits(low, count)
        if text == decimal_digits(high, count):
            return text
    return decimal_digits(high if abs(high) >= abs(low) else low, 1)


Kernel = Callable[[Mapping[str, Any], Mapping[str, np.ndarray], Any], Balls | None]


def _elementwise(name: str) -> Kernel:
    def kernel(params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], work: Any) -> Balls | None:
        x = np.asarray(inputs["x"], dtype=work)
        cotangent = inputs.get("cotangent")
        c = np.ones_like(x) if cotangent is None else np.broadcast_to(np.asarray(cotangent, work), x.shape)
        return sigmoid_family(name, x.ravel(), np.ascontiguousarray(c).ravel())

    return kernel


def _bce(params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], work: Any) -> Balls | None:
    if params["reduction"] != "none" or params["sample_weight"] is not None or float(params["label_smoothing"]):
        return None
    y = np.asarray(inputs["y_true"], dtype=work).ravel()
    p = np.asarray(inputs["y_pred"], dtype=work).ravel()
    if params["from_logits"]:
        return bce_logits(y, p)
    balls = bce_probabilities(y, p)
    inside = (p > 0) & (p < 1)  # the limits at 0 and 1 are the exact path's
    return Balls(
        balls.value,
        np.where(inside, balls.value_radius, np.inf),
        balls.grad,
        np.where(inside, balls.grad_radius, np.inf),
        balls.value_sign,
        balls.grad_sign,
    )


KERNELS: dict[str, Kernel] = {
    "softplus": _elementwise("softplus"),
    "log_sigmoid": _elementwise("log_sigmoid"),
    "sigmoid": _elementwise("sigmoid"),
    "binary_crossentropy": _bce,
}


def covers(op: str, fmt: FloatFormat, settings: Mapping[str, Any]) -> bool:
    return op in KERNELS and working_type(fmt) is not None and not settings
