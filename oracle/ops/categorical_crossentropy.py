"""Categorical cross-entropy against label rows, on probabilities or logits: -sum_k y_k log q_k.

A sample is a row along ``axis`` (the class axis). On logits, q = softmax(x) and the loss is
sum_k v_k (-log_softmax_k) with v = class weight x smoothed label, taken from the row's top
entry (:func:`oracle.ops.softmax_family.decompose`) so that nothing cancels. On probabilities,
q = p with 0 log 0 = 0; Keras' variant renormalises p by its sum and clips it first.
Sparse cross-entropy (integer labels) is built on the same sample.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.interval import NAN, NEG_INF, ONE, ZERO, Interval, fsum, hull, is_zero
from oracle.kernels import log
from oracle.semantics import InFormat

from . import _reduce
from .binary_crossentropy import clip_bounds
from .params import AXIS, CLASS_WEIGHT, CLIP_EPSILON, LOSS_PARAMS, MEAN_OVER_COUNT
from .softmax_family import check_axis, decompose, exact_sum
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params, Setting

Values = list[Interval]

RENORMALIZE = Setting("renormalize", bool, "probabilities are divided by their sum along the class axis first")


def crossentropy_logits(v: Values, x: list[float]) -> tuple[Interval, Values]:
    """sum_k v_k (-log_softmax_k), v = (class weight) * (smoothed label).

    Gradient V s_j - v_j with V = sum v; at the top entry it is written
    -V rest / S + sum_{k != top} v_k, the form in which s_top ~ 1 does not cancel.
    """
    row = decompose(x)
    if not row.has_limit or any(w.is_nan for w in v):
        return NAN, [NAN] * len(x)
    mass = fsum(v)
    value = fsum([w * nls for w, nls in zip(v, row.neg_log_softmax) if not is_zero(w)])
    grads = []
    for j, (w, e) in enumerate(zip(v, row.scaled_exp)):
        if j == row.top:
            others = fsum([u for k, u in enumerate(v) if k != j])
            grads.append(others - mass * row.rest / row.total)
        else:
            grads.append(mass * e / row.total - w)
    return value, grads


def crossentropy_probabilities(v: Values, p: list[float], semantics: InFormat) -> tuple[Interval, Values]:
    """-sum_k v_k log q_k with 0 log 0 = 0; q = p, or p / sum(p) and clipped under a variant."""
    size = len(p)
    if any(math.isnan(u) or u < 0 for u in p) or any(w.is_nan for w in v):
        return NAN, [NAN] * size
    renormalize = semantics.flag(RENORMALIZE.name)
    total = exact_sum(p) if renormalize else ONE
    if is_zero(total) or total.is_nan:
        return NAN, [NAN] * size
    q = [Interval.of(u) / total for u in p]
    clipped, slopes = zip(*(_clip(u, clip_bounds(semantics)) for u in q), strict=True)
    value = fsum([-(w * log(c)) for w, c in zip(v, clipped) if not is_zero(w)])
    own = [_neg_ratio(w, c) * slope for w, c, slope in zip(v, clipped, slopes)]
    if not renormalize:
        return value, own
    # q_k = p_k / S: dq_k/dp_j = (delta_kj - q_k) / S.
    through_total = fsum([g * u for g, u in zip(own, q)])
    return value, [(g - through_total) / total for g in own]


def _neg_ratio(w: Interval, c: Interval) -> Interval:
    if is_zero(w):
        return ZERO
    if is_zero(c):
        return NEG_INF
    return -(w / c)


def _clip(q: Interval, bounds: tuple[float, float] | None) -> tuple[Interval, Interval]:
    """(clipped value, derivative of the clip): 1 inside [low, high] inclusive, 0 outside."""
    if bounds is None:
        return q, ONE
    low, high = Interval.of(bounds[0]), Interval.of(bounds[1])
    below = (q - low).sign()
    above = (q - high).sign()
    if below == -1:
        return low, ZERO
    if above == 1:
        return high, ZERO
    if below is None:
        return hull(q, low), hull(ZERO, ONE)
    if above is None:
        return hull(q, high), hull(ZERO, ONE)
    return q, ONE


def sample(
    label: Values | None, weights: Values, row: list[float], params: Params, semantics: InFormat, stated: bool = False
) -> _reduce.Sample:
    """One row's loss and gradient; ``label`` None is an ignored sample. ``stated``: the loss
    also as a linear form, for a weighted sum that may cancel (:func:`oracle.ops._reduce.may_cancel`)."""
    if label is None:
        return _reduce.Sample(ZERO, [ZERO] * len(row), ZERO, counts=False)
    smoothing = float(params["label_smoothing"])
    # torch's weighted mean: the class weight that applies; without class weights every row counts 1.
    applied = ONE if params["class_weight"] is None else fsum([w * y for w, y in zip(weights, label)])
    v = [w * _reduce.smooth(y, smoothing, len(row)) for w, y in zip(weights, label)]
    if params["from_logits"]:
        loss, grads = crossentropy_logits(v, row)
    else:
        loss, grads = crossentropy_probabilities(v, row, semantics)
    # Equal (label, row) pairs have equal losses: the key lets their sample weights add first.
    key = (tuple(y.lo for y in label), tuple(row)) if all(y.exact for y in label) else None
    form = _form(label, weights, row, smoothing, bool(params["from_logits"])) if stated else None
    return _reduce.Sample(loss, grads, applied, key=key, form=form)


def _form(
    label: Values, weights: Values, row: list[float], smoothing: float, logits: bool
) -> _reduce.LinearForm | None:
    """The ideal row loss as a rational plus multiples of named terms, exactly: on logits
    V m - sum_k v_k x_k + V lse(x - m) with m the top logit and V = sum_k v_k (lse of equal
    logits is log K; rows that differ by a shift share their lse term), on probabilities
    -sum_k v_k log p_k. None where an input is not finite or a log's argument is 0."""
    if not all(w.exact for w in weights) or not all(math.isfinite(x) for x in row):
        return None
    classes = len(row)
    v = [
        _reduce.exact_fraction(w) * _reduce.smoothed(_reduce.exact_fraction(y), smoothing, classes)
        for w, y in zip(weights, label)
    ]
    if not logits:
        if any(u != 0 and x <= 0 for u, x in zip(v, row)):
            return None
        terms = [term for u, x in zip(v, row) for term in _reduce.log_terms(Fraction(x), -u)]
        return _reduce.linear_form(Fraction(0), terms)
    top = Fraction(max(row))
    mass = sum(v, Fraction(0))
    rational = mass * top - sum((u * Fraction(x) for u, x in zip(v, row)), Fraction(0))
    shifted = tuple(sorted(Fraction(x) - top for x in row))
    if not any(shifted):
        return _reduce.linear_form(rational, _reduce.log_terms(Fraction(classes), mass))
    name = ("lse", shifted)
    decomposed = decompose(row)
    return _reduce.linear_form(rational, [(name, mass)], {name: decomposed.neg_log_softmax[decomposed.top]})


def class_rows(y_pred: np.ndarray, axis: int) -> tuple[np.ndarray, list[list[float]]]:
    """The prediction with its class axis moved last, and its rows as lists."""
    moved = np.moveaxis(np.asarray(y_pred, dtype=np.float64), axis, -1)
    return moved, moved.reshape(-1, moved.shape[-1]).tolist()


def sample_shape(params: Params, arrays: Arrays) -> tuple[int, ...]:
    shape = list(np.shape(arrays["y_pred"]))
    del shape[int(params["axis"])]
    return tuple(shape)


def check_class_params(params: Params, arrays: Arrays) -> None:
    y_pred = np.asarray(arrays["y_pred"])
    axis = int(params["axis"])
    check_axis(y_pred, axis)
    class_weight = params["class_weight"]
    if class_weight is not None and np.size(class_weight) != y_pred.shape[axis]:
        classes = y_pred.shape[axis]
        message = f"class_weight has {np.size(class_weight)} entries for {classes} classes"
        raise InvalidInput(message, ("params", "class_weight"))
    _reduce.check_sample_weight(params["sample_weight"], sample_shape({"axis": axis}, arrays))


def ideal_rows(semantics: InFormat) -> bool:
    """No variant changes a row's loss (linear forms state the ideal's)."""
    return not (semantics.get(CLIP_EPSILON.name) or semantics.flag(RENORMALIZE.name))


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    axis = int(params["axis"])
    moved, rows = class_rows(inputs["y_pred"], axis)
    weights = _reduce.class_weights(params["class_weight"], moved.shape[-1])
    labels = np.moveaxis(np.asarray(inputs["y_true"], dtype=np.float64), axis, -1).reshape(len(rows), -1).tolist()
    stated = _reduce.may_cancel(params, np.asarray(labels)) and ideal_rows(semantics)
    samples = [
        sample([Interval.of(y) for y in label], weights, row, params, semantics, stated)
        for label, row in zip(labels, rows)
    ]
    return _reduce.reduce(samples, params, semantics, moved.shape[:-1], moved.shape, axis)


def _check(params: Params, arrays: Arrays) -> None:
    check_class_params(params, arrays)
    if np.shape(arrays["y_true"]) != np.shape(arrays["y_pred"]):
        raise InvalidInput(
            f"y_true shape {np.shape(arrays['y_true'])} differs from y_pred shape {np.shape(arrays['y_pred'])}"
        )


CATEGORICAL_PARAMS = (*LOSS_PARAMS, AXIS, CLASS_WEIGHT)
CATEGORICAL_SETTINGS = (CLIP_EPSILON, RENORMALIZE, MEAN_OVER_COUNT)

DEFINITIONS = (
    OpDefinition(
        "categorical_crossentropy",
        "-sum_k y_k log q_k along the class axis; q = softmax(x) from logits",
        (Input("y_true", doc="label rows (one-hot or soft)"), Input("y_pred", doc="probabilities or logits")),
        "y_pred",
        CATEGORICAL_PARAMS,
        _evaluate,
        _check,
        sample_shape=sample_shape,
        settings=CATEGORICAL_SETTINGS,
        reference="README.md#the-ideal-where-frameworks-disagree",
        example={"y_true": [[0, 1, 0], [0.25, 0.25, 0.5]], "y_pred": [[0.25, 0.5, 0.25], [0.125, 0.375, 0.5]]},
    ),
)
