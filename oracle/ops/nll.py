"""Negative log-likelihood on log-probabilities: -w_label x_label, a row along the class axis a sample.

``y_pred`` holds log-probabilities (what log_softmax returns; nothing is normalised here), ``y_true``
integer labels. The ideal is exact: the loss picks and negates one entry per row, times its class
weight. ``mean`` divides by the sum of the class weights that apply over the samples that count,
``ignore_index`` removes a sample from both sums, an empty mean is 0/0 = NaN, and a class weight
of 0 makes a sample count for nothing even where its log-probability is -inf. Inputs may have more
axes than (samples, classes): the ONNX NegativeLogLikelihoodLoss layout (N, C, d1, ..., dk) is
``axis: 1``. A label outside [0, K) that is not ``ignore_index`` has no valid answer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oracle.interval import NAN, ZERO, Interval, is_zero
from oracle.semantics import InFormat

from . import _reduce
from .categorical_crossentropy import class_rows
from .categorical_crossentropy import sample_shape as class_sample_shape
from .params import AXIS, CLASS_WEIGHT, IGNORE_INDEX, REDUCTION
from .softmax_family import check_axis
from .spec import Arrays, Enclosures, Input, InputKind, InvalidInput, OpDefinition, Params


def _sample(label: int, row: list[float], weights: list[Interval], ignore: Any) -> _reduce.Sample:
    classes = len(row)
    if ignore is not None and label == int(ignore):
        return _reduce.Sample(ZERO, [ZERO] * classes, ZERO, counts=False)
    if not 0 <= label < classes:
        raise InvalidInput(f"label {label} is outside [0, {classes})")
    weight = weights[label]
    grads = [ZERO] * classes
    if is_zero(weight):
        return _reduce.Sample(ZERO, grads, ZERO)
    entry = Interval.of(row[label])
    grads[label] = -weight
    return _reduce.Sample(NAN if entry.is_nan else -(weight * entry), grads, weight)


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    axis = int(params["axis"])
    moved, rows = class_rows(inputs["y_pred"], axis)
    weights = _reduce.class_weights(params["class_weight"], moved.shape[-1])
    labels = np.asarray(inputs["y_true"]).ravel().tolist()
    samples = [_sample(int(t), row, weights, params["ignore_index"]) for t, row in zip(labels, rows)]
    return _reduce.reduce(samples, {**params, "sample_weight": None}, semantics, moved.shape[:-1], moved.shape, axis)


def _check(params: Params, arrays: Arrays) -> None:
    y_pred = np.asarray(arrays["y_pred"])
    axis = int(params["axis"])
    check_axis(y_pred, axis)
    class_weight = params["class_weight"]
    if class_weight is not None and np.size(class_weight) != y_pred.shape[axis]:
        message = f"class_weight has {np.size(class_weight)} entries for {y_pred.shape[axis]} classes"
        raise InvalidInput(message, ("params", "class_weight"))
    expected = class_sample_shape({"axis": axis}, arrays)
    if np.shape(arrays["y_true"]) != expected:
        raise InvalidInput(
            f"labels of shape {np.shape(arrays['y_true'])} do not fit y_pred {y_pred.shape} on axis {axis}",
            ("inputs", "y_true"),
        )


DEFINITIONS = (
    OpDefinition(
        "nll",
        "-w_label x_label along the class axis, x log-probabilities (torch nll_loss, ONNX NegativeLogLikelihoodLoss)",
        (
            Input("y_true", InputKind.LABELS, doc="integer class labels, one per sample"),
            Input("y_pred", doc="log-probabilities"),
        ),
        "y_pred",
        (AXIS, CLASS_WEIGHT, IGNORE_INDEX, REDUCTION),
        _evaluate,
        _check,
        sample_shape=class_sample_shape,
        reference="oracle/ops/nll.py",
        example={"y_true": [1, 2], "y_pred": [[-1.5, -0.25, -2.0], [-0.5, -3.0, -1.25]]},
    ),
)
