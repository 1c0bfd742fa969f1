"""The NumPy/SciPy reference implementations (conformance/adapters/numpy.py), as they compute.

NumPy's float16 ufuncs and ml_dtypes' bfloat16 ones compute each operation in float32 and round
back; scipy.special's xlogy and expit have no half loops and answer float16 and bfloat16 in
float64. ``scipy.special.log_softmax`` is ``tmp - log(sum(exp(tmp)))`` with ``tmp = x - max``
(scipy/special/_logsumexp.py): the log of a rounded sum.
"""

from __future__ import annotations

import numpy as np

from . import ModelContext, Prediction, model
from .arithmetic import Arith

HALF = ("float16", "bfloat16")


def _ufuncs(context: ModelContext) -> Arith:
    return context.arith(compute="float32" if context.dtype in HALF else context.dtype)


def _scipy_out(context: ModelContext) -> Arith:
    """The arithmetic of a scipy.special ufunc without half loops: float64 for halves."""
    return Arith("float64" if context.dtype in HALF else context.dtype)


def log_softmax(a: Arith, x: np.ndarray, axis: int) -> np.ndarray:
    """scipy.special.log_softmax: the max (0 where it is not finite) subtracted, then log(sum(exp))."""
    top = np.max(a.wide(x), axis=axis, keepdims=True)
    top = a.cast(np.where(np.isfinite(top), top, 0.0))
    shifted = a.sub(x, top)
    total = a.sum(a.exp(shifted), axis=axis, accumulate=a.storage)
    return a.sub(shifted, a.log(np.expand_dims(total, axis)))


def _xlogy(b: Arith, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """scipy.special.xlogy: 0 where u == 0 (and v is not NaN), else u log v."""
    product = b.mul(u, b.log(v))
    return np.where((b.wide(u) == 0) & ~np.isnan(b.wide(v)), b.const(0.0), product)


@model("numpy.reference")
def reference(context: ModelContext) -> Prediction | None:
    """Values of the NumPy reference implementations; which one comes from the options."""
    if context.quantity != "value":
        return None
    a = _ufuncs(context)
    name = context.options.get("function")
    inputs = context.inputs
    if name == "bce_stable_logits" and context.op.name == "binary_crossentropy":
        x, z = a.cast(inputs["y_pred"]), a.cast(inputs["y_true"])
        loss = a.add(a.sub(a.maximum(x, a.const(0.0)), a.mul(x, z)), a.log1p(a.exp(a.neg(a.abs(x)))))
        return Prediction(a.wide(loss), scale=np.maximum(np.abs(a.wide(x)), np.abs(a.wide(loss))))
    if name == "bce_xlogy" and context.op.name == "binary_crossentropy":
        y, q = a.cast(inputs["y_true"]), a.cast(inputs["y_pred"])
        b = _scipy_out(context)
        one = a.const(1.0)
        terms = b.add(_xlogy(b, b.cast(y), b.cast(q)), _xlogy(b, b.cast(a.sub(one, y)), b.cast(a.sub(one, q))))
        return Prediction(b.wide(b.neg(terms)))
    if name == "expit" and context.op.name == "sigmoid":
        b = _scipy_out(context)
        return Prediction(b.wide(b.sigmoid(b.cast(inputs["x"]))))
    axis = int(context.params.get("axis", -1))
    if name == "log_softmax" and context.op.name == "log_softmax":
        return Prediction(a.wide(log_softmax(a, a.cast(inputs["x"]), axis)))
    if name == "cce_log_softmax" and context.op.name == "categorical_crossentropy":
        t = a.cast(inputs["y_true"])
        logs = log_softmax(a, a.cast(inputs["y_pred"]), axis)
        return Prediction(a.wide(a.neg(a.sum(a.mul(t, logs), axis=axis, accumulate=a.storage))))
    if name == "sparse_log_softmax" and context.op.name == "sparse_categorical_crossentropy":
        logs = log_softmax(a, a.cast(inputs["y_pred"]), -1)
        labels = np.asarray(inputs["y_true"], dtype=np.int64)
        classes = logs.shape[-1]
        if ((labels < -classes) | (labels >= classes)).any():
            return None  # numpy raises IndexError there: an error result, not a number
        # take_along_axis indexes like Python: label -1 is the last class, silently.
        picked = np.take_along_axis(logs, labels[..., None], axis=-1)[..., 0]
        return Prediction(a.wide(a.neg(picked)))
    return None
