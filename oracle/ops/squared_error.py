"""Squared error, (p - y)^2 with each element a sample: the mean squared error under ``mean``.

The README's worked example of adding an op: this module, one row per adapter, and
``cases/squared_error.yaml`` are everything the suite needed to learn it.

The ideal: p - y is taken exactly (two floats differ by a dyadic rational), then squared, so
the only rounding is the oracle's final one; a difference beyond sqrt(max) squares past the
format's range and rounds to inf. An infinite input gives inf (or NaN for inf - inf), and the
gradient 2 (p - y) follows the same rule. ``reduction`` and ``sample_weight`` behave as for
every loss (see :mod:`oracle.ops._reduce`).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.interval import NAN, Interval
from oracle.semantics import InFormat

from . import _reduce
from .params import MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params


def _difference(y: float, p: float) -> Interval:
    if math.isnan(y) or math.isnan(p) or (math.isinf(y) and math.isinf(p) and y == p):
        return NAN
    if math.isinf(p) or math.isinf(y):
        return Interval.of(p - y)  # an infinity of the right sign
    return Interval.of(Fraction(p) - Fraction(y))


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    samples = []
    for y, p in zip(y_true.ravel().tolist(), y_pred.ravel().tolist()):
        difference = _difference(y, p)
        samples.append(_reduce.Sample(difference * difference, [difference + difference]))
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


DEFINITIONS = (
    OpDefinition(
        "squared_error",
        "(p - y)^2, each element a sample (mean squared error under reduction: mean)",
        (Input("y_true", doc="targets"), Input("y_pred", doc="predictions")),
        "y_pred",
        (REDUCTION, SAMPLE_WEIGHT),
        _evaluate,
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(MEAN_OVER_COUNT,),
        example={"y_true": [[0, 1], [2, -1]], "y_pred": [[0.5, 0.75], [2, 1]]},
    ),
)
