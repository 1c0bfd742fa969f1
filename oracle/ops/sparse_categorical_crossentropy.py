"""Sparse categorical cross-entropy: integer class labels instead of label rows.

The one-hot row of the label, then :mod:`oracle.ops.categorical_crossentropy`'s sample. A
label equal to ``ignore_index`` is a sample that counts for nothing; any other label
outside [0, K) has no valid answer (a case says what it expects with ``expect:``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oracle.interval import ONE, ZERO, Interval
from oracle.semantics import InFormat

from . import _reduce
from .categorical_crossentropy import (
    CATEGORICAL_PARAMS,
    CATEGORICAL_SETTINGS,
    check_class_params,
    class_rows,
    ideal_rows,
    sample,
)
from .categorical_crossentropy import sample_shape as class_sample_shape
from .params import IGNORE_INDEX
from .spec import Arrays, Enclosures, Input, InputKind, InvalidInput, OpDefinition, Params


def _label_row(label: int, classes: int, ignore: Any) -> list[Interval] | None:
    if ignore is not None and label == int(ignore):
        return None
    if not 0 <= label < classes:
        raise InvalidInput(f"label {label} is outside [0, {classes})")
    return [ONE if k == label else ZERO for k in range(classes)]


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    axis = int(params["axis"])
    moved, rows = class_rows(inputs["y_pred"], axis)
    classes = moved.shape[-1]
    weights = _reduce.class_weights(params["class_weight"], classes)
    ignore = params["ignore_index"]
    labels = [_label_row(int(t), classes, ignore) for t in np.asarray(inputs["y_true"]).ravel().tolist()]
    stated = _reduce.may_cancel(params, None) and ideal_rows(semantics)
    samples = [sample(label, weights, row, params, semantics, stated) for label, row in zip(labels, rows)]
    return _reduce.reduce(samples, params, semantics, moved.shape[:-1], moved.shape, axis)


def _check(params: Params, arrays: Arrays) -> None:
    check_class_params(params, arrays)
    expected = class_sample_shape({"axis": params["axis"]}, arrays)
    if np.shape(arrays["y_true"]) != expected:
        raise InvalidInput(
            f"labels of shape {np.shape(arrays['y_true'])} do not fit y_pred {np.shape(arrays['y_pred'])} "
            f"on axis {params['axis']}",
            ("inputs", "y_true"),
        )


DEFINITIONS = (
    OpDefinition(
        "sparse_categorical_crossentropy",
        "-log q_label along the class axis; q = softmax(x) from logits",
        (
            Input("y_true", InputKind.LABELS, doc="integer class labels, one per sample"),
            Input("y_pred", doc="probabilities or logits"),
        ),
        "y_pred",
        (*CATEGORICAL_PARAMS, IGNORE_INDEX),
        _evaluate,
        _check,
        sample_shape=class_sample_shape,
        settings=CATEGORICAL_SETTINGS,
        reference="README.md#the-ideal-where-frameworks-disagree",
        example={"y_true": [1, 2], "y_pred": [[0.25, 0.5, 0.25], [0.125, 0.375, 0.5]]},
    ),
)
