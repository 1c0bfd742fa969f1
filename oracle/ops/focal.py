"""Focal losses: cross-entropy scaled by (1 - p_t)^gamma, optionally weighted by alpha.

Binary (each element a sample): a_t (1 - p_t)^gamma bce(y, p) with 1 - p_t = y (1 - p) + (1 - y) p and
a_t = alpha y + (1 - alpha)(1 - y) (no weight without ``alpha``): the definition Keras, torchvision
and optax share, soft labels included. On logits, 1 - p and p are sigmoid(-x) and sigmoid(x) and the
cross-entropy is softplus-based (:func:`oracle.ops.binary_crossentropy.bce_logits`), so nothing
rounds to 0 or 1: at x = 1000 with y = 1 the loss is e^-1000-small, not 0 x log 0, and with gamma = 0
the gradient is the cross-entropy's (0**0 = 1). Limits at infinite logits; on probabilities a hard
label at p = 0 or 1 costs 0 or +inf.

Categorical (a row along the class axis a sample): -sum_k alpha v_k (1 - q_k)^gamma log q_k with
q = p or softmax(x) and v the (smoothed) labels.

Keras' documented mechanics are variants: it clips the probabilities of the cross-entropy term to
[1e-7, 1 - 1e-7] (on logits after the sigmoid; the focal factor keeps the unclipped probability),
and the categorical one renormalises p by its sum, then clips (softmax then clip on logits).
"""

from __future__ import annotations

import math

import numpy as np

from oracle.interval import INF, NAN, ONE, ZERO, Interval, hull, is_zero
from oracle.kernels import log, log1p
from oracle.semantics import InFormat
from oracle.special import power

from . import _reduce
from .binary_crossentropy import GRAD_DENOMINATOR_FLOOR, LOG_FLOOR, bce_logits, bce_probabilities, clip_bounds
from .params import CLIP_EPSILON, FROM_LOGITS, LABEL_SMOOTHING, MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .sigmoid_family import sigmoid_and_complement
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Param, ParamKind, Params

GAMMA = Param(
    "gamma", ParamKind.VALUE, 2.0, "the focusing exponent of (1 - p_t), >= 0 (0: plain cross-entropy)", minimum=0.0
)
ALPHA = Param(
    "alpha",
    ParamKind.VALUE,
    None,
    "the class-balancing weight: alpha for the positive label, 1 - alpha for the negative (binary), "
    "alpha for every class (categorical); none by default",
    minimum=0.0,
    maximum=1.0,
)

Pair = tuple[Interval, Interval]


def _times(factor: Interval, value: Interval) -> Interval:
    """factor * value, with an exact 0 factor switching off an infinite or NaN value."""
    return ZERO if is_zero(factor) else factor * value


def _focal(u: Interval, du: Interval, bce: Interval, dbce: Interval, gamma: float) -> Pair:
    """(u^g bce, d/dz) from u = 1 - p_t and bce with their derivatives in the prediction z."""
    factor = power(u, gamma)
    value = _times(factor, bce)
    if gamma == 0 or is_zero(u) or bce.lo == INF.lo:
        # Where u = 0 the loss vanishes like u^(g+1), and where the cross-entropy is infinite its
        # 1/p singularity dominates the log one: only the second term survives.
        return value, _times(factor, dbce)
    slope = Interval.of(gamma) * power(u, gamma - 1) * du if gamma >= 1 else Interval.of(gamma) * du / _root(u, gamma)
    return value, _times(slope, bce) + _times(factor, dbce)


def _root(u: Interval, gamma: float) -> Interval:
    """u^(1 - g) for g < 1, the denominator of g u^(g-1)."""
    return power(u, 1 - gamma)


def _clipped_bce_of_sigmoid(y: Interval, x: float, s: Interval, c: Interval, bounds: tuple[float, float]) -> Pair:
    """Keras on logits: bce(y, clip(sigmoid(x))) and its derivative in x (0 where clipped)."""
    low, high = Interval.of(bounds[0]), Interval.of(bounds[1])
    inside = bce_logits(y, x)

    def at(bound: Interval) -> Pair:
        return _times(y, -log(bound)) + _times(ONE - y, -log1p(-bound)), ZERO

    below, above = (s - low).sign(), (s - high).sign()
    if below == -1:
        return at(low)
    if above == 1:
        return at(high)
    if below is None or above is None:
        edge = at(low if below is None else high)
        return hull(inside[0], edge[0]), hull(inside[1], ZERO)
    return inside


def binary_sample(y: Interval, prediction: float, params: Params, semantics: InFormat) -> Pair:
    gamma = float(params["gamma"])
    alpha = params["alpha"]
    weight = ONE
    if alpha is not None:
        a = Interval.of(float(alpha))
        weight = _times(y, a) + _times(ONE - y, ONE - a)
    if math.isnan(prediction) or y.is_nan:
        return NAN, NAN
    complement_y = ONE - y
    if params["from_logits"]:
        s, c = sigmoid_and_complement(prediction)
        u = _times(y, c) + _times(complement_y, s)
        du = (ONE - y - y) * s * c
        bounds = clip_bounds(semantics)
        if bounds is None or math.isinf(prediction):
            bce, dbce = bce_logits(y, prediction)
        else:
            bce, dbce = _clipped_bce_of_sigmoid(y, prediction, s, c, bounds)
        if math.isinf(prediction):
            bce_value = bce
            value = ZERO if is_zero(bce_value) else _times(weight, _times(power(u, gamma), bce_value))
            return value, _times(weight, _times(power(u, gamma), dbce))
    else:
        if not 0 <= prediction <= 1:
            return NAN, NAN
        p = Interval.of(prediction)
        u = _times(y, ONE - p) + _times(complement_y, p)
        du = ONE - y - y
        bce, dbce = bce_probabilities(y, prediction, semantics)
    value, grad = _focal(u, du, bce, dbce, gamma)
    return _times(weight, value), _times(weight, grad)


def _binary_evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    smoothing = float(params["label_smoothing"])
    samples = []
    for y, z in zip(y_true.ravel().tolist(), y_pred.ravel().tolist()):
        value, grad = binary_sample(_reduce.smooth(Interval.of(y), smoothing, 2), z, params, semantics)
        samples.append(_reduce.Sample(value, [grad], key=(y, z)))
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _binary_check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


FOCAL_PARAMS = (FROM_LOGITS, GAMMA, ALPHA, LABEL_SMOOTHING, REDUCTION, SAMPLE_WEIGHT)

DEFINITIONS = (
    OpDefinition(
        "binary_focal_crossentropy",
        "a_t (1 - p_t)^gamma bce(y, p), each element a sample; p = sigmoid(x) from logits",
        (Input("y_true", doc="labels in [0, 1], soft labels allowed"), Input("y_pred", doc="probabilities or logits")),
        "y_pred",
        FOCAL_PARAMS,
        _binary_evaluate,
        _binary_check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(CLIP_EPSILON, LOG_FLOOR, GRAD_DENOMINATOR_FLOOR, MEAN_OVER_COUNT),
        reference="oracle/ops/focal.py",
        example={"y_true": [[0, 1], [1, 0.25]], "y_pred": [[0.25, 0.75], [0.5, 0.125]]},
    ),
)
