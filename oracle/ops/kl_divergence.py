"""Kullback-Leibler divergence KL(p || q) = sum_k p_k (log p_k - log q_k) along the class axis.

A sample is a row along ``axis``: one distribution. ``y_true`` is the target p (or log p with
``log_target``), ``y_pred`` the prediction q (or log q with ``log_input``); gradients are taken
with respect to ``y_pred`` as given: -p_k / q_k, or -p_k in log space. ``generalized`` adds
q_k - p_k per entry (the Bregman divergence of x log x - x, for unnormalised measures).

The ideal keeps 0 log 0 = 0 whatever q is: a zero target (log p = -inf) contributes 0 to the
value and to the gradient, even where q_k = 0 (log q_k = -inf); a positive target at q_k = 0
costs +inf. A negative probability has no divergence: NaN. Rows need not sum to 1.

Documented variants: Keras clips both arguments to [eps, 1] before the log (``kl_clip_epsilon``,
no gradient where q is clipped); torch's ``reduction='mean'`` divides the sum by the number of
elements (``mean_over_elements``), and its ``'batchmean'`` by the size of the first dimension
(``mean_over_first_dim``), which is the number of rows only for a 2-D input.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.formats import round_float
from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, fsum, hull, is_zero
from oracle.kernels import exp, log
from oracle.semantics import InFormat
from oracle.special import log_sum_is_zero

from . import _reduce
from .params import AXIS, MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .poisson_nll import LOG_INPUT
from .softmax_family import check_axis
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Param, ParamKind, Params, Setting

LOG_TARGET = Param(
    "log_target",
    ParamKind.FLAG,
    False,
    "y_true holds log p instead of p; implementations of the other form do not apply",
    mode=True,
)
GENERALIZED = Param(
    "generalized",
    ParamKind.FLAG,
    False,
    "add q_k - p_k per entry: the generalized KL divergence of unnormalised measures",
    mode=True,
)
KL_CLIP_EPSILON = Setting(
    "kl_clip_epsilon", float, "p and q are clipped to [eps, 1] (eps converted to the dtype) before the log"
)
MEAN_OVER_ELEMENTS = Setting("mean_over_elements", bool, "a 'mean' divides the sum by the number of elements")
MEAN_OVER_FIRST_DIM = Setting(
    "mean_over_first_dim", bool, "a 'mean' divides the sum by the size of the input's first dimension"
)

Pair = tuple[Interval, Interval]


def _clip(value: Interval, low: float) -> tuple[Interval, Interval]:
    """clip(value, low, 1) and its derivative (1 inside [low, 1], 0 outside)."""
    bound = Interval.of(low)
    below, above = (value - bound).sign(), (value - ONE).sign()
    if below == -1:
        return bound, ZERO
    if above == 1:
        return ONE, ZERO
    if below is None:
        return hull(value, bound), hull(ZERO, ONE)
    if above is None:
        return hull(value, ONE), hull(ZERO, ONE)
    return value, ONE


def _term(target: float, prediction: float, params: Params, clip: float | None) -> Pair:
    """One entry's p (log p - log q) [+ q - p] and its derivative with respect to y_pred."""
    if math.isnan(target) or math.isnan(prediction):
        return NAN, NAN
    log_input, log_target = bool(params["log_input"]), bool(params["log_target"])
    if (not log_target and target < 0) or (not log_input and prediction < 0):
        return NAN, NAN
    p = exp(Interval.of(target)) if log_target else Interval.of(target)
    generalized = bool(params["generalized"])
    if log_input:
        q = exp(Interval.of(prediction))
        extra: Pair = (q - p, q) if generalized else (ZERO, ZERO)
        if is_zero(p):
            return extra
        if math.isinf(prediction) or math.isinf(target):
            return _infinite(p, target, prediction, log_input, generalized)
        log_p = Interval.of(target) if log_target else log(p)
        value, grad = p * (log_p - Interval.of(prediction)), -p
        return value + extra[0], grad + extra[1]
    q, slope = Interval.of(prediction), ONE
    if clip is not None:
        p = _clip(p, clip)[0]
        q, slope = _clip(q, clip)
    extra = (q - p, slope) if generalized else (ZERO, ZERO)
    if is_zero(p):
        return extra
    if is_zero(q):
        return INF, (ZERO if is_zero(slope) else NEG_INF)
    if clip is None and (math.isinf(prediction) or math.isinf(target)):
        return _infinite(p, target, prediction, log_input, generalized)
    # log(p / q) of the exact ratio: an exact 0 where p = q.
    value = p * (Interval.of(target) - log(q)) if log_target and clip is None else p * log(p / q)
    return value + extra[0], -(p / q) * slope + extra[1]


def _infinite(p: Interval, target: float, prediction: float, log_input: bool, generalized: bool) -> Pair:
    """Limits where p > 0 and p, q or log q is infinite (no clip: a clip makes both finite)."""
    if math.isinf(target):
        # p = inf against a finite q: +inf, with a gradient of -inf (-p or -p / q).
        return (NAN, NAN) if prediction == math.inf else (INF, NEG_INF)
    if log_input:
        if prediction > 0:  # q = inf: p log(p / q) -> -inf, unless q - p is added
            return (INF, INF) if generalized else (NEG_INF, -p)
        return INF, -p  # q = 0
    return (INF, ONE) if generalized else (NEG_INF, ZERO)  # q = inf: -p / q = 0


def _row(targets: list[float], predictions: list[float], params: Params, clip: float | None) -> _reduce.Sample:
    terms = [_term(t, q, params, clip) for t, q in zip(targets, predictions)]
    values = [value for value, _ in terms]
    grads = [g for _, g in terms]
    if any(v.is_nan for v in values):
        return _reduce.Sample(NAN, grads)
    total = fsum(values)
    if total.sign() is None and _exactly_zero([(1.0, targets, predictions)], params, clip):
        total = ZERO
    return _reduce.Sample(total, grads, key=(tuple(targets), tuple(predictions)))


Weighted = list[tuple[float, list[float], list[float]]]  # (sample weight, targets, predictions) per row


def _exactly_zero(rows: Weighted, params: Params, clip: float | None) -> bool:
    """Whether the weighted sum of these rows' divergences is exactly 0: the terms are logs of exact
    rationals and exponentials of dyadics, so equality is decided in exact arithmetic
    (:func:`oracle.special.log_sum_is_zero`, and Lindemann-Weierstrass for log targets: the
    exp(t) of distinct dyadics t are linearly independent over the rationals)."""
    entries = [(Fraction(w), t, x) for w, ts, xs in rows if w != 0 for t, x in zip(ts, xs)]
    if any(v == math.inf or math.isnan(v) for _, t, x in entries for v in (t, x)):
        return False
    if params["generalized"]:
        return False  # each term is >= 0 and computed exactly 0 where p = q
    if params["log_target"]:
        groups: dict[float, Fraction] = {}
        for w, t, x in entries:
            if t == -math.inf:
                continue
            if x == -math.inf:
                return False
            groups[t] = groups.get(t, Fraction(0)) + w * (Fraction(t) - Fraction(x))
        return all(v == 0 for v in groups.values())
    pairs: list[tuple[Fraction, Fraction]] = []
    linear = Fraction(0)
    for w, t, x in entries:
        p, q = (min(max(v, clip), 1.0) for v in (t, x)) if clip is not None else (t, x)
        if p == 0:
            continue
        if q == 0 or q == -math.inf or p == -math.inf:
            return False
        if params["log_input"]:
            pairs.append((w * Fraction(p), Fraction(p)))
            linear += w * Fraction(p) * Fraction(q)
        else:
            pairs.append((w * Fraction(p), Fraction(p) / Fraction(q)))
    # Sum of w p log p - (a dyadic) in log space: e^dyadic is transcendental unless the dyadic is 0.
    return linear == 0 and log_sum_is_zero(pairs)


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    axis = int(params["axis"])
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    moved = np.moveaxis(y_pred, axis, -1)
    targets = np.moveaxis(np.asarray(inputs["y_true"], dtype=np.float64), axis, -1).reshape(-1, moved.shape[-1])
    epsilon = semantics.get(KL_CLIP_EPSILON.name)
    clip = None if epsilon is None else round_float(float(epsilon), semantics.fmt)
    rows = moved.reshape(-1, moved.shape[-1]).tolist()
    samples = [_row(t, q, params, clip) for t, q in zip(targets.tolist(), rows)]
    divisor = _divisor(params, semantics, y_pred.shape)
    reduction = params["reduction"] if divisor is None else "sum"
    reduced = _reduce.reduce(
        samples, {**params, "reduction": reduction}, semantics, moved.shape[:-1], moved.shape, axis
    )
    if reduction != "none" and reduced.value[0].sign() is None:
        weights = np.broadcast_to(
            1.0 if params["sample_weight"] is None else np.asarray(params["sample_weight"], dtype=np.float64),
            moved.shape[:-1],
        )
        if _exactly_zero(list(zip(weights.ravel().tolist(), targets.tolist(), rows)), params, clip):
            reduced.value = [ZERO]
    if divisor is None:
        return reduced
    scale = Interval.of(divisor)
    return Enclosures(
        [v / scale for v in reduced.value], reduced.value_shape, [g / scale for g in reduced.grad], reduced.grad_shape
    )


def _divisor(params: Params, semantics: InFormat, shape: tuple[int, ...]) -> int | None:
    """torch's documented 'mean' and 'batchmean' divide the sum by a count of their own."""
    if params["reduction"] != "mean":
        return None
    if semantics.flag(MEAN_OVER_ELEMENTS.name):
        return max(int(np.prod(shape, dtype=np.int64)), 1)
    if semantics.flag(MEAN_OVER_FIRST_DIM.name):
        return max(shape[0] if shape else 1, 1)
    return None


def _sample_shape(params: Params, arrays: Arrays) -> tuple[int, ...]:
    shape = list(np.shape(arrays["y_pred"]))
    del shape[int(params["axis"])]
    return tuple(shape)


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    check_axis(np.asarray(arrays["y_pred"]), int(params["axis"]))
    _reduce.check_sample_weight(params["sample_weight"], _sample_shape(params, arrays))


DEFINITIONS = (
    OpDefinition(
        "kl_divergence",
        "sum_k p_k (log p_k - log q_k) along the class axis (p = y_true, q = y_pred; either may be in log space)",
        (
            Input("y_true", doc="the target distribution p, or log p (log_target)"),
            Input("y_pred", doc="the predicted distribution q, or log q (log_input)"),
        ),
        "y_pred",
        (LOG_INPUT, LOG_TARGET, GENERALIZED, AXIS, REDUCTION, SAMPLE_WEIGHT),
        _evaluate,
        _check,
        sample_shape=_sample_shape,
        settings=(KL_CLIP_EPSILON, MEAN_OVER_ELEMENTS, MEAN_OVER_FIRST_DIM, MEAN_OVER_COUNT),
        reference="oracle/ops/kl_divergence.py",
        example={"y_true": [[0.25, 0.75], [0.5, 0.5]], "y_pred": [[0.5, 0.5], [0.125, 0.875]]},
    ),
)
