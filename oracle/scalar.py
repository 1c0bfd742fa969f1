"""Elementwise formulas: the sigmoid family and binary cross-entropy.

Inputs are exact floats (values of the tested dtype); outputs are enclosures of the
value and of its derivative with respect to the prediction. Each formula is written
so that nothing cancels: softplus(x) = x + log1p(exp(-x)) for x > 0, 1 - sigmoid(x)
is sigmoid(-x), and the working precision therefore stays near the target's.
Infinite inputs get the limit of the function along the ray.
"""

from __future__ import annotations

import math

from .interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, is_one, is_zero, maximum
from .kernels import exp, log, log1p
from .semantics import InFormat

Pair = tuple[Interval, Interval]  # (value, derivative)


def sigmoid_and_complement(x: float) -> Pair:
    """(sigmoid(x), sigmoid(-x)), both to full relative accuracy."""
    if math.isnan(x):
        return NAN, NAN
    if math.isinf(x):
        return (ONE, ZERO) if x > 0 else (ZERO, ONE)
    tail = exp(Interval.of(-abs(x)))
    near_one, near_zero = ONE / (ONE + tail), tail / (ONE + tail)
    return (near_one, near_zero) if x >= 0 else (near_zero, near_one)


def _softplus_value(x: float) -> Interval:
    if math.isnan(x):
        return NAN
    if math.isinf(x):
        return INF if x > 0 else ZERO
    if x > 0:
        return Interval.of(x) + log1p(exp(Interval.of(-x)))
    return log1p(exp(Interval.of(x)))


def softplus(x: float, semantics: InFormat) -> Pair:
    threshold = semantics.softplus_threshold
    if threshold is not None and x > threshold:
        return Interval.of(x), ONE
    return _softplus_value(x), sigmoid_and_complement(x)[0]


def log_sigmoid(x: float, semantics: InFormat) -> Pair:
    return -_softplus_value(-x), sigmoid_and_complement(x)[1]


def sigmoid(x: float, semantics: InFormat) -> Pair:
    s, complement = sigmoid_and_complement(x)
    return s, s * complement


def bce_logits(y: Interval, x: float, semantics: InFormat) -> Pair:
    """softplus(x) - x*y, arranged as x(1-y) + softplus(-x) for x >= 0 so both terms are >= 0."""
    if math.isnan(x) or y.is_nan:
        return NAN, NAN
    s, complement = sigmoid_and_complement(x)
    if is_one(y):
        gradient = -complement
    elif is_zero(y):
        gradient = s
    else:
        gradient = s - y
    if math.isinf(x):
        weight = (ONE - y) if x > 0 else y  # what multiplies |x| in the limit
        sign = weight.sign()
        value = ZERO if sign == 0 else INF if sign == 1 else NEG_INF if sign == -1 else NAN
        return value, gradient
    if x >= 0:
        value = Interval.of(x) * (ONE - y) + _softplus_value(-x)
    else:
        value = Interval.of(-x) * y + _softplus_value(x)
    return value, gradient


def bce_probabilities(y: Interval, p: float, semantics: InFormat) -> Pair:
    """-(y log p + (1-y) log(1-p)) with 0 log 0 = 0, and the variants' clip and log floor."""
    if math.isnan(p) or y.is_nan or not 0 <= p <= 1:
        return NAN, NAN
    active = True
    if semantics.clip is not None:
        low, high = semantics.clip
        active = low <= p <= high
        p = min(max(p, low), high)
    complement_y = ONE - y
    log_p, log_q = log(Interval.of(p)), log1p(Interval.of(-p))
    if semantics.log_floor is not None:
        floor = Interval.of(semantics.log_floor)
        log_p, log_q = maximum(log_p, floor), maximum(log_q, floor)
    value = ZERO
    if not is_zero(y):
        value = value - y * log_p
    if not is_zero(complement_y):
        value = value - complement_y * log_q
    return value, _bce_probability_gradient(y, p, semantics) if active else ZERO


def _bce_probability_gradient(y: Interval, p: float, semantics: InFormat) -> Interval:
    """d/dp = (p - y) / (p (1 - p)); the variant floors the denominator (torch's backward)."""
    if semantics.grad_denominator_floor is not None:
        denominator = maximum(Interval.of(p) * (ONE - Interval.of(p)), Interval.of(semantics.grad_denominator_floor))
        if is_zero(denominator):
            # 1e-12 is 0 in float16: the documented backward divides by zero, IEEE-style.
            sign = (Interval.of(p) - y).sign()
            return NAN if sign == 0 else INF if sign == 1 else NEG_INF
        return (Interval.of(p) - y) / denominator
    if is_one(y):
        return NEG_INF if p == 0 else -(ONE / Interval.of(p))
    if is_zero(y):
        return INF if p == 1 else ONE / (ONE - Interval.of(p))
    if p == 0:
        return NEG_INF if y.sign() == 1 else INF
    if p == 1:
        return INF
    return (Interval.of(p) - y) / (Interval.of(p) * (ONE - Interval.of(p)))
