"""The sigmoid family, elementwise: softplus, log_sigmoid, sigmoid.

Inputs are exact floats (values of the tested dtype); outputs are enclosures of the value
and of its derivative times the cotangent. Each formula is written so that nothing
cancels: softplus(x) = x + log1p(exp(-x)) for x > 0, 1 - sigmoid(x) is sigmoid(-x), and the
working precision therefore stays near the target's. Infinite inputs get the limit of the
function along the ray. Binary cross-entropy on logits is built on the same pieces.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from oracle.interval import INF, NAN, ONE, ZERO, Interval
from oracle.kernels import exp, log1p
from oracle.semantics import InFormat

from . import _reduce
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params, Setting

Pair = tuple[Interval, Interval]  # (value, derivative)

SOFTPLUS_THRESHOLD = Setting("softplus_threshold", float, "softplus(x) = x where x > threshold (torch: 20)")


def sigmoid_and_complement(x: float) -> Pair:
    """(sigmoid(x), sigmoid(-x)), both to full relative accuracy."""
    if math.isnan(x):
        return NAN, NAN
    if math.isinf(x):
        return (ONE, ZERO) if x > 0 else (ZERO, ONE)
    tail = exp(Interval.of(-abs(x)))
    near_one, near_zero = ONE / (ONE + tail), tail / (ONE + tail)
    return (near_one, near_zero) if x >= 0 else (near_zero, near_one)


def softplus_value(x: float) -> Interval:
    if math.isnan(x):
        return NAN
    if math.isinf(x):
        return INF if x > 0 else ZERO
    if x > 0:
        return Interval.of(x) + log1p(exp(Interval.of(-x)))
    return log1p(exp(Interval.of(x)))


def _softplus(x: float, semantics: InFormat) -> Pair:
    threshold = semantics.get(SOFTPLUS_THRESHOLD.name)
    if threshold is not None and x > threshold:
        return Interval.of(x), ONE
    return softplus_value(x), sigmoid_and_complement(x)[0]


def _log_sigmoid(x: float, semantics: InFormat) -> Pair:
    return -softplus_value(-x), sigmoid_and_complement(x)[1]


def _sigmoid(x: float, semantics: InFormat) -> Pair:
    s, complement = sigmoid_and_complement(x)
    return s, s * complement


def _elementwise(function: Callable[[float, InFormat], Pair]) -> Callable[[Params, Arrays, InFormat], Enclosures]:
    def evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
        x = np.asarray(inputs["x"], dtype=np.float64)
        cotangent = _reduce.cotangent_for(inputs, x.shape).ravel()
        values, grads = [], []
        for element, c in zip(x.ravel().tolist(), cotangent.tolist()):
            value, derivative = function(element, semantics)
            values.append(value)
            grads.append(_reduce.times(c, derivative))
        return Enclosures(values, x.shape, grads, x.shape)

    return evaluate


def _check(params: Params, arrays: Arrays) -> None:
    cotangent = arrays.get("cotangent")
    if cotangent is not None:
        try:
            np.broadcast_to(cotangent, np.shape(arrays["x"]))
        except ValueError:
            raise InvalidInput(
                f"cotangent of shape {np.shape(cotangent)} does not fit x of shape {np.shape(arrays['x'])}"
            ) from None


INPUTS = (
    Input("x", doc="the input, elementwise"),
    Input("cotangent", doc="the output gradient to pull back (default: ones)", optional=True),
)


def _primitive(name: str, summary: str, function: Callable[[float, InFormat], Pair]) -> OpDefinition:
    settings = (SOFTPLUS_THRESHOLD,) if name == "softplus" else ()
    return OpDefinition(
        name, summary, INPUTS, "x", (), _elementwise(function), _check, settings=settings, example={"x": [-2, 0, 3.5]}
    )


DEFINITIONS = (
    _primitive("softplus", "log(1 + e^x)", _softplus),
    _primitive("log_sigmoid", "-softplus(-x) = log(1 / (1 + e^-x))", _log_sigmoid),
    _primitive("sigmoid", "1 / (1 + e^-x)", _sigmoid),
)
