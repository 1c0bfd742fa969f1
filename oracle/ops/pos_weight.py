"""Sigmoid cross-entropy with a weight on the positive term, on logits, each element a sample.

-(w y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))) = w y softplus(-x) + (1 - y) softplus(x), with
``pos_weight`` w broadcast to the logits (torch: one per class, along the last axis). Arranged so
that nothing cancels: for x >= 0 it is (1 - y) x + (w y + 1 - y) softplus(-x), for x < 0
w y (-x) + (w y + 1 - y) softplus(x). The gradient is (1 - y) sigmoid(x) - w y sigmoid(-x); at an
infinite logit the loss has its limit (0 where the label agrees, +inf where it does not) and so
does the gradient.
"""

from __future__ import annotations

import math

import numpy as np

from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, is_zero
from oracle.semantics import InFormat

from . import _reduce
from .params import MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .sigmoid_family import sigmoid_and_complement, softplus_value
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Param, ParamKind, Params

POS_WEIGHT = Param(
    "pos_weight",
    ParamKind.WEIGHTS,
    None,
    "the weight of the positive term, broadcast to the logits (one per class along the last axis); none is 1",
)

Pair = tuple[Interval, Interval]


def _sample(y: float, x: float, w: float) -> Pair:
    if math.isnan(y) or math.isnan(x) or math.isnan(w):
        return NAN, NAN
    label, weight = Interval.of(y), Interval.of(w)
    positive = weight * label  # what multiplies softplus(-x)
    negative = ONE - label  # what multiplies softplus(x)
    s, complement = sigmoid_and_complement(x)
    grad = _scaled(negative, s) - _scaled(positive, complement)
    if math.isinf(x):
        grows = negative if x > 0 else positive  # the term whose softplus grows like |x|
        sign = grows.sign()
        value = ZERO if sign == 0 else INF if sign == 1 else NEG_INF if sign == -1 else NAN
        return value, grad
    both = positive + negative
    if x >= 0:
        value = _scaled(negative, Interval.of(x)) + _scaled(both, softplus_value(-x))
    else:
        value = _scaled(positive, Interval.of(-x)) + _scaled(both, softplus_value(x))
    return value, grad


def _scaled(factor: Interval, value: Interval) -> Interval:
    """factor * value with 0 * anything = 0 (a term the label switches off)."""
    return ZERO if is_zero(factor) else factor * value


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    pos_weight = params["pos_weight"]
    weights = np.ones(y_pred.shape) if pos_weight is None else np.broadcast_to(pos_weight, y_pred.shape)
    samples = []
    for y, x, w in zip(y_true.ravel().tolist(), y_pred.ravel().tolist(), weights.ravel().tolist()):
        loss, grad = _sample(y, x, w)
        samples.append(_reduce.Sample(loss, [grad], key=(y, x, w)))
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    pos_weight = params["pos_weight"]
    if pos_weight is not None:
        try:
            np.broadcast_to(np.asarray(pos_weight, dtype=np.float64), y_pred)
        except ValueError:
            raise InvalidInput(
                f"pos_weight of shape {np.shape(pos_weight)} does not broadcast to the logits {y_pred}",
                ("params", "pos_weight"),
            ) from None
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


DEFINITIONS = (
    OpDefinition(
        "bce_pos_weight",
        "w y softplus(-x) + (1 - y) softplus(x) on logits x, w = pos_weight; each element a sample",
        (Input("y_true", doc="labels in [0, 1], soft labels allowed"), Input("y_pred", doc="logits")),
        "y_pred",
        (POS_WEIGHT, REDUCTION, SAMPLE_WEIGHT),
        _evaluate,
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(MEAN_OVER_COUNT,),
        reference="oracle/ops/pos_weight.py",
        example={"y_true": [[0, 1], [1, 0.25]], "y_pred": [[-1.5, 0.75], [3, 0.125]]},
    ),
)
