"""Huber loss, each element a sample: d^2 / 2 where |d| <= delta, delta (|d| - delta / 2) beyond.

The ideal: d = p - y is taken exactly (two floats differ by a dyadic rational), and so are the
loss and its gradient (d inside the band, delta sign(d) beyond): the only rounding is the
oracle's final one. A difference the dtype cannot hold is no problem for the ideal: 60000 - (-60000)
overflows float16, but with delta = 0.001 the loss is 120, finite. At |d| = delta both branches
agree, value and gradient. An infinite difference costs inf with gradient delta sign(d); inf - inf
and NaN have none.

torch's ``smooth_l1_loss(beta)`` is Huber with delta = beta divided by beta (its documented
definition): the ``divide_by_delta`` setting of the ``torch_smooth_l1`` variant.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.interval import INF, NAN, Interval
from oracle.semantics import InFormat

from . import _reduce
from .params import MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Param, ParamKind, Params, Setting

DELTA = Param(
    "delta",
    ParamKind.VALUE,
    1.0,
    "the half-width of the quadratic band (> 0): d^2 / 2 inside, delta (|d| - delta / 2) outside",
    minimum=0.0,
)
DIVIDE_BY_DELTA = Setting(
    "divide_by_delta", bool, "the loss and its gradient are divided by delta (torch's smooth L1 with beta = delta)"
)


def _sample(y: float, p: float, delta: Fraction, divide: bool) -> _reduce.Sample:
    if math.isnan(y) or math.isnan(p) or (math.isinf(y) and math.isinf(p) and y == p):
        return _reduce.Sample(NAN, [NAN])
    scale = 1 / delta if divide else Fraction(1)
    if math.isinf(p) or math.isinf(y):
        sign = 1 if p - y > 0 else -1
        return _reduce.Sample(INF, [_dyadic(sign * delta * scale)])
    d = Fraction(p) - Fraction(y)
    if abs(d) <= delta:
        value, grad = d * d / 2, d
    else:
        value, grad = delta * (abs(d) - delta / 2), delta if d > 0 else -delta
    return _reduce.Sample(_dyadic(value * scale), [_dyadic(grad * scale)])


def _dyadic(value: Fraction) -> Interval:
    """An exact rational as an enclosure: exact when dyadic (always, without the division by delta)."""
    if value.denominator & (value.denominator - 1) == 0:
        return Interval.of(value)
    return Interval.of(value.numerator) / Interval.of(value.denominator)


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    delta = Fraction(float(params["delta"]))
    divide = semantics.flag(DIVIDE_BY_DELTA.name)
    samples = [_sample(y, p, delta, divide) for y, p in zip(y_true.ravel().tolist(), y_pred.ravel().tolist())]
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    if not float(params["delta"]) > 0:
        raise InvalidInput(f"delta must be > 0, not {params['delta']}", ("params", "delta"))
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


DEFINITIONS = (
    OpDefinition(
        "huber",
        "d^2 / 2 where |d| <= delta, else delta (|d| - delta / 2), with d = p - y; each element a sample",
        (Input("y_true", doc="targets"), Input("y_pred", doc="predictions")),
        "y_pred",
        (DELTA, REDUCTION, SAMPLE_WEIGHT),
        _evaluate,
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(DIVIDE_BY_DELTA, MEAN_OVER_COUNT),
        reference="oracle/ops/huber.py",
        example={"y_true": [[0, 1], [2, -1]], "y_pred": [[0.5, 0.75], [2, 1]]},
    ),
)
