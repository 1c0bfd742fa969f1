"""Categorical focal cross-entropy: -sum_k alpha v_k (1 - q_k)^gamma log q_k along the class axis.

q = p (probabilities) or softmax(x) (logits), v the labels after smoothing, a row a sample. The
ideal takes q as given (no renormalisation), 0 log 0 = 0 where v_k = 0, and +inf where a labelled
q_k is 0. Keras' documented mechanics are variants: it renormalises p by its sum and clips to
[1e-7, 1 - 1e-7] (``keras_categorical``), or clips the softmax on logits (``keras_focal_clip``).

The gradients are arranged so that the exact zeros of symmetric rows come out exact: labels and
probabilities are exact rationals, and the terms of the softmax (or renormalisation) Jacobian are
grouped by equal logit (probability), so that v_j - q_j V for a class among n equal ones is written
(v_j sum_others + e (n v_j - V)) / S with n v_j - V computed exactly.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, fsum, hull, is_zero
from oracle.kernels import log
from oracle.semantics import InFormat
from oracle.special import power

from . import _reduce
from .binary_crossentropy import clip_bounds
from .categorical_crossentropy import RENORMALIZE, check_class_params, class_rows
from .categorical_crossentropy import sample_shape as class_sample_shape
from .focal import FOCAL_PARAMS
from .params import AXIS, CLIP_EPSILON, MEAN_OVER_COUNT
from .softmax_family import decompose
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params

Unit = tuple[Interval, Interval, Interval]  # per unit label: value, d/dq (psi), q d/dq (chi)


def rational(value: Fraction) -> Interval:
    if value.denominator & (value.denominator - 1) == 0:
        return Interval.of(value)
    return Interval.of(value.numerator) / Interval.of(value.denominator)


def _times(factor: Interval, value: Interval) -> Interval:
    return ZERO if is_zero(factor) else factor * value


def _unit(q: Interval, one_minus: Interval, gamma: float) -> Unit:
    """-(1 - q)^g log q, its derivative psi in q, and chi = q psi, with their limits at q = 0 and 1."""
    if is_zero(q):
        return INF, NEG_INF, -ONE  # chi -> -(1 - 0)^g: q log q and q / q have limits
    factor = power(one_minus, gamma)
    log_q = log(q)
    value = -_times(factor, log_q)
    if gamma == 0 or is_zero(one_minus):
        # (1 - q)^(g-1) log q -> 0 as q -> 1 for g > 0, and g = 0 switches the term off.
        return value, -(factor / q), -factor
    if gamma >= 1:
        through = Interval.of(gamma) * power(one_minus, gamma - 1) * log_q
    else:
        through = Interval.of(gamma) * log_q / power(one_minus, 1 - gamma)
    return value, through - factor / q, through * q - factor


def _clipped_unit(q: Interval, one_minus: Interval, gamma: float, bounds: tuple[float, float] | None) -> Unit:
    """The unit at clip(q) (Keras' variants), with no derivative where the clip holds."""
    if bounds is None:
        return _unit(q, one_minus, gamma)
    inside = _unit(q, one_minus, gamma)
    below, above = (q - Interval.of(bounds[0])).sign(), (q - Interval.of(bounds[1])).sign()
    if below in (-1, None) or above in (1, None):
        edge = Interval.of(bounds[0] if below in (-1, None) else bounds[1])
        held: Unit = (_unit(edge, ONE - edge, gamma)[0], ZERO, ZERO)
        if below == -1 or above == 1:
            return held
        return hull(inside[0], held[0]), hull(inside[1], ZERO), hull(inside[2], ZERO)
    return inside


def _row_value(v: list[Fraction], units: list[Unit]) -> Interval:
    return fsum([rational(w) * unit[0] for w, unit in zip(v, units) if w != 0])


def _logits_row(
    v: list[Fraction], row: list[float], gamma: float, bounds: tuple[float, float] | None
) -> _reduce.Sample:
    """dL/dx_j = sum_k v_k chi_k (delta_kj - q_j), grouped by equal logits u:
    chi_own (v_j - q_j V_own) - q_j sum_{u != own} chi_u V_u."""
    decomposed = decompose(row)
    size = len(row)
    if not decomposed.has_limit:
        return _reduce.Sample(NAN, [NAN] * size)
    e, total, top = decomposed.scaled_exp, decomposed.total, decomposed.top
    complement = [decomposed.rest / total if k == top else (total - e[k]) / total for k in range(size)]
    units = [_clipped_unit(e[k] / total, complement[k], gamma, bounds) for k in range(size)]
    groups: dict[float, list[int]] = {}
    for k, x in enumerate(row):
        groups.setdefault(x, []).append(k)
    mass = {u: sum((v[k] for k in members), Fraction(0)) for u, members in groups.items()}
    grads = []
    for j in range(size):
        own = row[j]
        n = len(groups[own])
        others = fsum([len(members) * e[members[0]] for u, members in groups.items() if u != own])
        exact_part = rational(n * v[j] - mass[own])
        c_own = (_times(rational(v[j]), others) + _times(exact_part, e[j])) / total
        cross = fsum([_times(rational(mass[u]), units[members[0]][2]) for u, members in groups.items() if u != own])
        q_j = e[j] / total
        grads.append(_times(units[j][2], c_own) - _times(q_j, cross))
    return _reduce.Sample(_row_value(v, units), grads)


def _clip_fraction(q: Fraction, bounds: tuple[float, float] | None) -> tuple[Fraction, bool]:
    if bounds is None:
        return q, True
    low, high = Fraction(bounds[0]), Fraction(bounds[1])
    if q < low:
        return low, False
    if q > high:
        return high, False
    return q, True


def _probabilities_row(
    v: list[Fraction], row: list[float], gamma: float, bounds: tuple[float, float] | None, renormalize: bool
) -> _reduce.Sample:
    size = len(row)
    if any(math.isnan(p) or not 0 <= p <= 1 for p in row):
        return _reduce.Sample(NAN, [NAN] * size)
    total = sum((Fraction(p) for p in row), Fraction(0)) if renormalize else Fraction(1)
    if total == 0:
        return _reduce.Sample(NAN, [NAN] * size)
    q = [Fraction(p) / total for p in row]
    clipped = [_clip_fraction(value, bounds) for value in q]
    units = [_unit(rational(c), rational(1 - c), gamma) for c, _ in clipped]
    psi = [unit[1] if free else ZERO for unit, (_, free) in zip(units, clipped)]
    value = _row_value(v, units)
    if not renormalize:
        return _reduce.Sample(value, [_times(rational(w), d) for w, d in zip(v, psi)])
    # q_k = p_k / S: dL/dp_j = (v_j psi_j - sum_k v_k psi_k q_k) / S, grouped by equal q.
    groups: dict[Fraction, list[int]] = {}
    for k, value_q in enumerate(q):
        groups.setdefault(value_q, []).append(k)
    mass = {u: sum((v[k] for k in members), Fraction(0)) for u, members in groups.items()}
    scale = rational(total)
    grads = []
    for j in range(size):
        own = q[j]
        cross = fsum([_times(rational(u * mass[u]), psi[members[0]]) for u, members in groups.items() if u != own])
        grads.append((_times(rational(v[j] - own * mass[own]), psi[j]) - cross) / scale)
    return _reduce.Sample(value, grads)


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    axis = int(params["axis"])
    moved, rows = class_rows(inputs["y_pred"], axis)
    labels = np.moveaxis(np.asarray(inputs["y_true"], dtype=np.float64), axis, -1).reshape(len(rows), -1).tolist()
    smoothing = Fraction(float(params["label_smoothing"]))
    alpha = Fraction(1) if params["alpha"] is None else Fraction(float(params["alpha"]))
    gamma, bounds = float(params["gamma"]), clip_bounds(semantics)
    samples = []
    for label, row in zip(labels, rows):
        if any(math.isnan(y) or math.isinf(y) for y in label):
            samples.append(_reduce.Sample(NAN, [NAN] * len(row)))
            continue
        v = [alpha * (Fraction(y) * (1 - smoothing) + smoothing / len(row)) for y in label]
        if params["from_logits"]:
            samples.append(_logits_row(v, row, gamma, bounds))
        else:
            samples.append(_probabilities_row(v, row, gamma, bounds, semantics.flag(RENORMALIZE.name)))
    return _reduce.reduce(samples, params, semantics, moved.shape[:-1], moved.shape, axis)


def _check(params: Params, arrays: Arrays) -> None:
    check_class_params({**params, "class_weight": None}, arrays)
    if np.shape(arrays["y_true"]) != np.shape(arrays["y_pred"]):
        raise InvalidInput(
            f"y_true shape {np.shape(arrays['y_true'])} differs from y_pred shape {np.shape(arrays['y_pred'])}"
        )


DEFINITIONS = (
    OpDefinition(
        "categorical_focal_crossentropy",
        "-sum_k alpha y_k (1 - q_k)^gamma log q_k along the class axis; q = softmax(x) from logits",
        (Input("y_true", doc="label rows (one-hot or soft)"), Input("y_pred", doc="probabilities or logits")),
        "y_pred",
        (*FOCAL_PARAMS, AXIS),
        _evaluate,
        _check,
        sample_shape=class_sample_shape,
        settings=(CLIP_EPSILON, RENORMALIZE, MEAN_OVER_COUNT),
        reference="oracle/ops/categorical_focal.py",
        example={"y_true": [[0, 1, 0], [0.25, 0.25, 0.5]], "y_pred": [[0.25, 0.5, 0.25], [0.125, 0.375, 0.5]]},
    ),
)
