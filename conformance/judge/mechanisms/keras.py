"""Keras 3 losses, as Keras computes them on each backend (keras/src/losses/, backend/*/nn.py).

A Keras loss converts y_true and y_pred to the loss dtype (labels too), smooths labels in that
dtype, calls its backend's cross-entropy, takes ``ops.mean`` over the last axis (binary
cross-entropy and mean squared error; the adapter gives them a trailing axis of length 1), then
``reduce_weighted_values``: values times the sample weight, and ``sum`` or ``sum / count`` with
the count cast to the loss dtype (``divide_no_nan``). ``ops.mean`` computes in
``result_type(dtype, "float32")``: float32 for float16 and bfloat16 everywhere, and for float64
on the JAX and torch backends (TensorFlow keeps float64). Gradients are the backend's autodiff
of all that: the reduction hands each element the cotangent w / count, rounded in the dtype.
"""

from __future__ import annotations

import numpy as np

from . import ModelContext, Prediction, model
from . import torch as torch_kernels
from .arithmetic import Arith

EPSILON = 1e-7  # keras.config.epsilon()
HALF = ("float16", "bfloat16")


def _mean_dtype(backend: str, dtype: str) -> str:
    """The dtype keras.ops.mean computes in (then casts back)."""
    if dtype in HALF or (dtype == "float64" and backend in ("jax", "torch")):
        return "float32"
    return dtype


def _arith(context: ModelContext, backend: str) -> Arith:
    """Elementwise ops on halves compute in float32 and round per op on every backend's CPU path;
    XLA and TensorFlow flush subnormals."""
    compute = "float32" if context.dtype in HALF else context.dtype
    return context.arith(compute=compute, flush=backend in ("jax", "tensorflow"))


def _smoothed(a: Arith, labels: np.ndarray, smoothing: float, classes: int | None) -> np.ndarray:
    """y (1 - ls) + ls / K (categorical) or + 0.5 ls (binary), the Python constants rounded to the dtype."""
    if not smoothing:
        return labels
    offset = 0.5 * smoothing if classes is None else None
    scaled = a.mul(labels, a.const(1.0 - smoothing))
    if offset is not None:
        return a.add(scaled, a.const(offset))
    return a.add(scaled, a.div(a.const(smoothing), a.const(float(classes or 1))))


def _through_mean(a: Arith, backend: str, values: np.ndarray) -> np.ndarray:
    """ops.mean over a trailing axis of length 1: a round trip through its compute dtype."""
    compute = _mean_dtype(backend, a.storage)
    return a.cast(Arith(compute).cast(a.wide(values)))


def _reduce(context: ModelContext, a: Arith, backend: str, values: np.ndarray) -> np.ndarray:
    """reduce_weighted_values in the loss dtype."""
    weight = context.params.get("sample_weight")
    if weight is not None:
        values = a.mul(values, a.cast(np.broadcast_to(weight, np.shape(values))))
    reduction = context.params["reduction"]
    if reduction == "none":
        return values
    total = a.sum(values, accumulate="float32" if a.storage in HALF else a.storage)
    if reduction == "sum":
        return total
    # divide_no_nan resolves its dtype with Python's float, which the torch backend reads as
    # float32: a float64 mean is divided, and returned, in float32.
    d = Arith("float32") if (backend == "torch" and a.storage == "float64") else a
    count = d.const(float(np.size(values)))
    return np.where(d.wide(count) == 0, d.const(0.0), d.div(d.cast(a.wide(total)), count))


def _cotangent(context: ModelContext, a: Arith, backend: str, shape: tuple[int, ...]) -> np.ndarray:
    """What the reduction (and the mean over the trailing axis) hands back to each element."""
    reduction = context.params["reduction"]
    if reduction == "mean":
        count = a.const(float(np.prod(shape, dtype=np.int64)))
        g = np.broadcast_to(a.div(a.const(1.0), count), shape)
    else:
        g = np.broadcast_to(a.const(1.0), shape)
    weight = context.params.get("sample_weight")
    if weight is not None:
        g = a.mul(g, a.cast(np.broadcast_to(weight, shape)))
    return _through_mean(a, backend, g)


# -- binary cross-entropy, per backend ------------------------------------------------------


def _bce_probabilities_torch(a: Arith, p: np.ndarray, z: np.ndarray, g: np.ndarray | None) -> np.ndarray:
    """torch.clip(p, eps, 1 - eps), then torch's BCELoss kernel, (z - 1) max(log1p(-p), -100) - z max(log p,
    -100), and its backward g (p - z) / max((1 - p) p, 1e-12) (aten Loss.cpp)."""
    low, high = a.const(EPSILON), a.const(1.0 - EPSILON)
    clipped = a.minimum(a.maximum(p, low), high)
    one, floor = a.const(1.0), a.const(-100.0)
    if g is None:
        log_q = a.maximum(a.log1p(a.neg(clipped)), floor)
        log_p = a.maximum(a.log(clipped), floor)
        return a.sub(a.mul(a.sub(z, one), log_q), a.mul(z, log_p))
    denominator = a.maximum(a.mul(a.sub(one, clipped), clipped), a.cast(np.float32(1e-12)))
    grad = a.div(a.mul(g, a.sub(clipped, z)), denominator)
    inside = (a.wide(p) >= a.wide(low)) & (a.wide(p) <= a.wide(high))  # clamp's backward
    return np.where(inside, grad, a.const(0.0))


def _bce_probabilities_keras(
    a: Arith, backend: str, p: np.ndarray, z: np.ndarray, g: np.ndarray | None
) -> np.ndarray:
    """Keras' own formula on the TensorFlow and JAX backends (backend/*/nn.py): p clipped to
    [eps, 1 - eps], -(z log p + (1 - z) log(1 - p)), 1 - p rounded before its log; and its autodiff.
    TensorFlow's Log gradient is g * reciprocal(x) and its clip passes the gradient at the bounds;
    JAX's is g / x, and jnp.clip (a maximum then a minimum) gives half the gradient at a tie."""
    low, high = a.const(EPSILON), a.const(1.0 - EPSILON)
    q = a.minimum(a.maximum(p, low), high)
    one = a.const(1.0)
    complement_z, complement_q = a.sub(one, z), a.sub(one, q)
    if g is None:
        return a.neg(a.add(a.mul(z, a.log(q)), a.mul(complement_z, a.log(complement_q))))
    upstream = a.neg(g)
    if backend == "tensorflow":
        through_log = a.mul(a.mul(upstream, z), a.div(one, q))
        through_complement = a.neg(a.mul(a.mul(upstream, complement_z), a.div(one, complement_q)))
        grad = a.add(through_log, through_complement)
        inside = (a.wide(p) >= a.wide(low)) & (a.wide(p) <= a.wide(high))
        return np.where(inside, grad, a.const(0.0))
    through_log = a.div(a.mul(upstream, z), q)
    through_complement = a.neg(a.div(a.mul(upstream, complement_z), complement_q))
    grad = a.add(through_log, through_complement)
    wide_p, lo, hi = a.wide(p), a.wide(low), a.wide(high)
    share = np.where((wide_p > lo) & (wide_p < hi), 1.0, np.where((wide_p == lo) | (wide_p == hi), 0.5, 0.0))
    return a.mul(grad, a.cast(share))


def _bce(context: ModelContext, backend: str) -> Prediction | None:
    a = _arith(context, backend)
    x, y = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    z = _smoothed(a, y, float(context.params["label_smoothing"]), None)
    logits = bool(context.params["from_logits"])
    if logits and backend != "torch":
        return None  # TensorFlow's and JAX's own sigmoid cross-entropies: their modules' models
    if context.quantity == "value":
        if logits:
            loss = a.sub(a.mul(a.sub(a.const(1.0), z), x), torch_kernels.log_sigmoid(a, x))
        elif backend == "torch":
            loss = _bce_probabilities_torch(a, x, z, None)
        else:
            loss = _bce_probabilities_keras(a, backend, x, z, None)
        return Prediction(a.wide(_reduce(context, a, backend, _through_mean(a, backend, loss))))
    g = _cotangent(context, a, backend, np.shape(x))
    if logits:
        s = a.sigmoid(x)
        return Prediction(a.wide(a.mul(a.sub(s, z), g)), scale=np.abs(a.wide(s)) * np.abs(a.wide(g)))
    if backend == "torch":
        return Prediction(a.wide(_bce_probabilities_torch(a, x, z, g)))
    return Prediction(a.wide(_bce_probabilities_keras(a, backend, x, z, g)))


@model("keras.loss")
def keras_loss(context: ModelContext) -> Prediction | None:
    """A Keras loss class on the backend named in the options (``backend: jax|tensorflow|torch``)."""
    backend = str(context.options.get("backend"))
    if context.op.name == "binary_crossentropy":
        return _bce(context, backend)
    return None
