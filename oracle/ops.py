"""Ops on arrays: samples, label smoothing, weights, ignore_index and reductions.

Conventions (the "ideal", where frameworks differ; variants cover the documented rest):

* A *sample* is an element for binary cross-entropy and a row along ``axis`` for the
  categorical ones. ``reduction: none`` returns one loss per sample, weighted.
* Label smoothing: y (1 - ls) + ls / K with K classes (K = 2 for binary), computed exactly.
* ``class_weight`` w multiplies each class's term; the weight that *applies* to a sample
  is sum_k w_k y_k (w_target for a one-hot label).
* ``mean`` divides the weighted sum by the sum of the weights that apply (sample weight
  times applied class weight) over the samples that count; ``ignore_index`` removes a
  sample from both. With no sample left the mean is 0/0 = NaN. A sample of weight 0
  counts for nothing, even where its loss is infinite.
* Gradients are d(output)/d(prediction); for ``none`` and the primitives, of the sum of
  outputs times ``cotangent`` (default all ones).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import rows, scalar
from .interval import NAN, ONE, ZERO, Interval, fsum, is_zero
from .semantics import InFormat
from .signatures import SIGNATURES


class InvalidInput(ValueError):
    """The input has no valid answer (a label out of range, shapes that do not fit)."""


@dataclass
class Enclosures:
    value: list[Interval]
    value_shape: tuple[int, ...]
    grad: list[Interval]
    grad_shape: tuple[int, ...]


def evaluate(op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], semantics: InFormat) -> Enclosures:
    if op not in SIGNATURES:
        raise InvalidInput(f"unknown op {op!r}")
    if op in _ELEMENTWISE:
        return _elementwise(_ELEMENTWISE[op], inputs, semantics)
    if op in ("log_softmax", "softmax", "logsumexp"):
        return _along_axis(op, inputs, int(params.get("axis", -1)))
    return _loss(op, params, inputs, semantics)


_ELEMENTWISE: dict[str, Callable[[float, InFormat], scalar.Pair]] = {
    "softplus": scalar.softplus,
    "log_sigmoid": scalar.log_sigmoid,
    "sigmoid": scalar.sigmoid,
}


def _cotangent(inputs: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    cotangent = inputs.get("cotangent")
    if cotangent is None:
        return np.ones(shape)
    try:
        return np.broadcast_to(cotangent, shape)
    except ValueError:
        raise InvalidInput(f"cotangent of shape {np.shape(cotangent)} does not fit x of shape {shape}") from None


def _elementwise(
    function: Callable[[float, InFormat], scalar.Pair], inputs: Mapping[str, np.ndarray], semantics: InFormat
) -> Enclosures:
    x = np.asarray(inputs["x"], dtype=np.float64)
    cotangent = _cotangent(inputs, x.shape).ravel()
    values, grads = [], []
    for element, c in zip(x.ravel().tolist(), cotangent.tolist()):
        value, derivative = function(element, semantics)
        values.append(value)
        grads.append(_times(c, derivative))
    return Enclosures(values, x.shape, grads, x.shape)


def _times(c: float, derivative: Interval) -> Interval:
    return derivative if c == 1 else Interval.of(c) * derivative


def _along_axis(op: str, inputs: Mapping[str, np.ndarray], axis: int) -> Enclosures:
    x = np.asarray(inputs["x"], dtype=np.float64)
    if x.ndim == 0:
        raise InvalidInput(f"{op} needs at least one axis")
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    if op == "logsumexp":
        out_shape = moved.shape[:-1]
        cotangent = _cotangent(inputs, out_shape).ravel().tolist()
        pairs = [rows.logsumexp(row, c) for row, c in zip(flat.tolist(), cotangent)]
        values = [value for value, _ in pairs]
        grads = [g for _, row_grads in pairs for g in row_grads]
        return Enclosures(values, out_shape, _unmove(grads, moved.shape, axis), x.shape)
    cotangent_rows = np.moveaxis(_cotangent(inputs, x.shape), axis, -1).reshape(flat.shape).tolist()
    function = rows.log_softmax if op == "log_softmax" else rows.softmax
    results = [function(row, c) for row, c in zip(flat.tolist(), cotangent_rows)]
    values = [v for row_values, _ in results for v in row_values]
    grads = [g for _, row_grads in results for g in row_grads]
    return Enclosures(_unmove(values, moved.shape, axis), x.shape, _unmove(grads, moved.shape, axis), x.shape)


def _unmove(flat: list[Interval], moved_shape: tuple[int, ...], axis: int) -> list[Interval]:
    """Put a list laid out with ``axis`` last back into the original layout."""
    order = np.moveaxis(np.arange(len(flat)).reshape(moved_shape), -1, axis)
    return [flat[i] for i in order.ravel().tolist()]


# -- losses --------------------------------------------------------------------------


@dataclass
class Sample:
    loss: Interval
    grads: list[Interval]
    applied_weight: Interval = ONE  # the class weight that applies to this sample
    counts: bool = True  # False for ignore_index


def _loss(op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], semantics: InFormat) -> Enclosures:
    y_true, y_pred = np.asarray(inputs["y_true"]), np.asarray(inputs["y_pred"], dtype=np.float64)
    from_logits = bool(params.get("from_logits", False))
    smoothing = float(params.get("label_smoothing", 0.0))
    if op == "binary_crossentropy":
        if y_true.shape != y_pred.shape:
            raise InvalidInput(f"y_true shape {y_true.shape} differs from y_pred shape {y_pred.shape}")
        samples = _binary_samples(y_true.astype(np.float64), y_pred, from_logits, smoothing, semantics)
        sample_shape, moved_shape, axis = y_pred.shape, y_pred.shape, None
    else:
        axis = int(params.get("axis", -1))
        moved = np.moveaxis(y_pred, axis, -1)
        moved_shape, sample_shape = moved.shape, moved.shape[:-1]
        classes = moved.shape[-1]
        class_weight = params.get("class_weight")
        weights = [ONE] * classes if class_weight is None else _class_weights(class_weight, classes)
        if op == "sparse_categorical_crossentropy":
            if y_true.shape != sample_shape:
                raise InvalidInput(
                    f"labels of shape {y_true.shape} do not fit predictions {y_pred.shape} on axis {axis}"
                )
            ignore = params.get("ignore_index")
            labels = [_label_row(int(t), classes, ignore) for t in y_true.ravel().tolist()]
        else:
            if y_true.shape != y_pred.shape:
                raise InvalidInput(f"y_true shape {y_true.shape} differs from y_pred shape {y_pred.shape}")
            labels = [
                [Interval.of(v) for v in row]
                for row in np.moveaxis(y_true.astype(np.float64), axis, -1).reshape(-1, classes).tolist()
            ]
        preds = moved.reshape(-1, classes).tolist()
        samples = [
            _categorical_sample(label, weights, row, from_logits, smoothing, semantics)
            for label, row in zip(labels, preds)
        ]
    weights_per_sample = _sample_weights(params.get("sample_weight"), sample_shape)
    return _reduce(
        samples, weights_per_sample, str(params.get("reduction", "mean")), semantics, sample_shape, moved_shape, axis
    )


def _smooth(y: Interval, smoothing: float, classes: int) -> Interval:
    if smoothing == 0:
        return y
    ls = Interval.of(smoothing)
    return y * (ONE - ls) + ls / classes


def _binary_samples(
    y_true: np.ndarray, y_pred: np.ndarray, from_logits: bool, smoothing: float, semantics: InFormat
) -> list[Sample]:
    samples = []
    for y, p in zip(y_true.ravel().tolist(), y_pred.ravel().tolist()):
        label = _smooth(Interval.of(y), smoothing, 2)
        if from_logits:
            loss, grad = scalar.bce_logits(label, p, semantics)
        else:
            loss, grad = scalar.bce_probabilities(label, p, semantics)
        samples.append(Sample(loss, [grad]))
    return samples


def _class_weights(class_weight: Any, classes: int) -> list[Interval]:
    weights = np.asarray(class_weight, dtype=np.float64).ravel().tolist()
    if len(weights) != classes:
        raise InvalidInput(f"class_weight has {len(weights)} entries for {classes} classes")
    return [Interval.of(w) for w in weights]


def _label_row(label: int, classes: int, ignore: Any) -> list[Interval] | None:
    if ignore is not None and label == int(ignore):
        return None
    if not 0 <= label < classes:
        raise InvalidInput(f"label {label} is outside [0, {classes})")
    return [ONE if k == label else ZERO for k in range(classes)]


def _categorical_sample(
    label: list[Interval] | None,
    weights: list[Interval],
    row: list[float],
    from_logits: bool,
    smoothing: float,
    semantics: InFormat,
) -> Sample:
    if label is None:
        return Sample(ZERO, [ZERO] * len(row), ZERO, counts=False)
    applied = fsum([w * y for w, y in zip(weights, label)])
    v = [w * _smooth(y, smoothing, len(row)) for w, y in zip(weights, label)]
    if from_logits:
        loss, grads = rows.crossentropy_logits(v, row)
    else:
        loss, grads = rows.crossentropy_probabilities(v, row, semantics)
    return Sample(loss, grads, applied)


def _sample_weights(sample_weight: Any, shape: tuple[int, ...]) -> list[float]:
    if sample_weight is None:
        return [1.0] * int(np.prod(shape, dtype=np.int64))
    try:
        return np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), shape).ravel().tolist()
    except ValueError:
        raise InvalidInput(
            f"sample_weight of shape {np.shape(sample_weight)} does not fit losses of shape {shape}"
        ) from None


def _reduce(
    samples: list[Sample],
    weights: list[float],
    reduction: str,
    semantics: InFormat,
    sample_shape: tuple[int, ...],
    moved_shape: tuple[int, ...],
    axis: int | None,
) -> Enclosures:
    weighted = [ZERO if (w == 0 or not s.counts) else _times(w, s.loss) for s, w in zip(samples, weights)]
    scale: list[Interval] = [ZERO if not s.counts else Interval.of(w) for s, w in zip(samples, weights)]
    if reduction == "none":
        value, value_shape = weighted, sample_shape
    else:
        total = fsum(weighted)
        if reduction == "mean":
            if semantics.mean_over_count:
                denominator = Interval.of(sum(1 for s in samples if s.counts))
            else:
                denominator = fsum([Interval.of(w) * s.applied_weight for s, w in zip(samples, weights) if s.counts])
            if is_zero(denominator):
                return _all_nan(sample_shape, moved_shape, axis)
            total = total / denominator
            scale = [f / denominator for f in scale]
        elif reduction != "sum":
            raise InvalidInput(f"unknown reduction {reduction!r}")
        value, value_shape = [total], ()
    grads = [ZERO if is_zero(f) else f * g for s, f in zip(samples, scale) for g in s.grads]
    if axis is not None:
        grads = _unmove(grads, moved_shape, axis)
        grad_shape = tuple(np.moveaxis(np.empty(moved_shape), -1, axis).shape)
    else:
        grad_shape = moved_shape
    return Enclosures(value, value_shape, grads, grad_shape)


def _all_nan(sample_shape: tuple[int, ...], moved_shape: tuple[int, ...], axis: int | None) -> Enclosures:
    size = int(np.prod(moved_shape, dtype=np.int64))
    grad_shape = moved_shape if axis is None else tuple(np.moveaxis(np.empty(moved_shape), -1, axis).shape)
    return Enclosures([NAN], (), [NAN] * size, grad_shape)
