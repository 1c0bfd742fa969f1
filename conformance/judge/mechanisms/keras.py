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


def _weights(
    context: ModelContext, a: Arith, backend: str, shape: tuple[int, ...], valid: np.ndarray | None = None
) -> np.ndarray | None:
    """The per-sample weights reduce_weighted_values applies: the sample weight cast to the dtype,
    times apply_mask's float mask where samples are masked (ignore_class): under a mean the valid
    ones weigh divide_no_nan(total, valid), in the dtype, so that sum / total averages them."""
    weight = context.params.get("sample_weight")
    weights = None if weight is None else a.cast(np.broadcast_to(weight, shape))
    if valid is None:
        return weights
    if context.params["reduction"] == "mean":
        d = _divide_arith(a, backend)  # divide_no_nan(total, valid), float32 for float64 on torch
        total, count = d.const(float(np.size(valid))), d.const(float(np.count_nonzero(valid)))
        share = a.const(0.0) if d.wide(count) == 0 else a.cast(d.wide(d.div(total, count)))
        mask = np.where(valid, share, a.const(0.0))
    else:
        mask = a.cast(valid.astype(np.float64))
    return mask if weights is None else a.mul(weights, mask)


def _reduce(
    context: ModelContext, a: Arith, backend: str, values: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """reduce_weighted_values in the loss dtype: values * weights, then sum or sum / count."""
    if weights is not None:
        values = a.mul(values, weights)
    reduction = context.params["reduction"]
    if reduction == "none":
        return values
    total = a.sum(values, accumulate="float32" if a.storage in HALF else a.storage)
    if reduction == "sum":
        return total
    d = _divide_arith(a, backend)
    count = d.const(float(np.size(values)))
    return np.where(d.wide(count) == 0, d.const(0.0), d.div(d.cast(a.wide(total)), count))


def _divide_arith(a: Arith, backend: str) -> Arith:
    """divide_no_nan resolves its dtype with Python's float, which the torch backend reads as float32:
    a float64 mean is divided (and its gradient 1 / count computed) in float32 there."""
    return Arith("float32") if (backend == "torch" and a.storage == "float64") else a


def _cotangent(
    context: ModelContext,
    a: Arith,
    backend: str,
    shape: tuple[int, ...],
    weights: np.ndarray | None,
    trailing_mean: bool = False,
) -> np.ndarray:
    """What the reduction (and, for the losses that have one, the mean over the trailing axis)
    hands back to each sample: 1 / count (or 1), times its weight."""
    if context.params["reduction"] == "mean":
        d = _divide_arith(a, backend)
        count = d.const(float(np.prod(shape, dtype=np.int64)))
        g = np.broadcast_to(a.cast(d.wide(d.div(d.const(1.0), count))), shape)
    else:
        g = np.broadcast_to(a.const(1.0), shape)
    if weights is not None:
        g = a.mul(g, weights)
    return _through_mean(a, backend, g) if trailing_mean else g


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


def _bce_probabilities_keras(a: Arith, backend: str, p: np.ndarray, z: np.ndarray, g: np.ndarray | None) -> np.ndarray:
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
        weights = _weights(context, a, backend, np.shape(loss))
        return Prediction(a.wide(_reduce(context, a, backend, _through_mean(a, backend, loss), weights)))
    g = _cotangent(context, a, backend, np.shape(x), _weights(context, a, backend, np.shape(x)), trailing_mean=True)
    if logits:
        s = a.sigmoid(x)
        return Prediction(a.wide(a.mul(a.sub(s, z), g)), scale=np.abs(a.wide(s)) * np.abs(a.wide(g)))
    if backend == "torch":
        return Prediction(a.wide(_bce_probabilities_torch(a, x, z, g)))
    return Prediction(a.wide(_bce_probabilities_keras(a, backend, x, z, g)))


# -- categorical cross-entropy on probabilities (Keras' own formula on every backend) --------------


def _through_clip(
    a: Arith, backend: str, g: np.ndarray, q: np.ndarray, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """The clip's backward. TensorFlow and torch select: g inside [low, high], bounds included, 0
    outside (an infinite g outside gives 0). JAX multiplies g by 1 inside, 1/2 on a bound (jnp.clip
    is a maximum then a minimum, each splitting at a tie) and 0 outside, so inf * 0 = NaN."""
    wide, lo, hi = a.wide(q), a.wide(low), a.wide(high)
    inside, on_bound = (wide > lo) & (wide < hi), (wide == lo) | (wide == hi)
    if backend != "jax":
        return np.where(inside | on_bound, g, a.const(0.0))
    return a.mul(g, a.cast(np.where(inside, 1.0, np.where(on_bound, 0.5, 0.0))))


def _over_row(a: Arith, backend: str, x: np.ndarray, total: np.ndarray) -> np.ndarray:
    """x / total with total broadcast along the row. XLA rewrites a division by a broadcast divisor
    as a multiplication by its reciprocal, rounded to the dtype (float16, float32, float64; not
    bfloat16): JAX's p / sum(p) is p * (1 / sum), one ULP off the quotient a quarter of the time."""
    if backend == "jax" and a.storage != "bfloat16":
        return a.mul(x, a.div(a.const(1.0), total))
    return a.div(x, total)


def _cce_probabilities(
    context: ModelContext, backend: str, a: Arith, t: np.ndarray, p: np.ndarray, valid: np.ndarray | None = None
) -> Prediction:
    """p / sum(p) along the class axis, clipped to [eps, 1 - eps], then -sum(t log q); and the
    backend's autodiff of it (Log: g * reciprocal(x) on TensorFlow, g / x elsewhere; a / s: g / s to
    a and -g a / s^2, summed over the row, to s). ``valid`` marks the samples that ignore_class keeps:
    the others' rows of p were set to 0 and their losses to 0, and their gradient is 0."""
    axis = int(context.params["axis"])
    if valid is not None:
        p = np.where(np.expand_dims(valid, axis), p, a.const(0.0))
    accumulate = "float32" if a.storage in HALF else a.storage
    total = np.expand_dims(a.sum(p, axis=axis, accumulate=accumulate), axis)
    q = _over_row(a, backend, p, total)
    low, high = a.const(EPSILON), a.const(1.0 - EPSILON)
    clipped = a.minimum(a.maximum(q, low), high)
    logs = a.log(clipped)
    if context.quantity == "value":
        loss = a.neg(a.sum(a.mul(t, logs), axis=axis, accumulate=accumulate))
        if valid is not None:
            loss = np.where(valid, loss, a.const(0.0))
        # q = p / s is rounded at the size of q (<= 1), and log q near q = 1 passes that ULP on
        # absolutely: the loss is trusted to ULPs of the label mass, not of a small loss.
        mass = np.sum(np.abs(a.wide(t)), axis=axis)
        scale = mass if context.params["reduction"] == "none" else None
        weights = _weights(context, a, backend, np.shape(loss), valid)
        return Prediction(a.wide(_reduce(context, a, backend, loss, weights)), scale=scale)
    rows = tuple(np.delete(np.shape(p), axis))
    g = _cotangent(context, a, backend, rows, _weights(context, a, backend, rows, valid))
    if valid is not None:
        g = np.where(valid, g, a.const(0.0))
    g = np.expand_dims(g, axis)
    g_logs = a.mul(a.neg(np.broadcast_to(g, np.shape(p))), t)
    one = a.const(1.0)
    g_clipped = a.mul(g_logs, a.div(one, clipped)) if backend == "tensorflow" else a.div(g_logs, clipped)
    g_q = _through_clip(a, backend, g_clipped, q, low, high)
    direct = _over_row(a, backend, g_q, total)
    if backend == "jax":  # div's JVP in y: (-g x) * integer_pow(y, -2)
        through_total = a.mul(a.mul(a.neg(g_q), p), a.div(one, a.mul(total, total)))
    elif backend == "tensorflow":  # _RealDivGrad: grad * ((-x / y) / y)
        through_total = a.mul(g_q, a.div(a.div(a.neg(p), total), total))
    else:  # torch's div_tensor_other_backward: -grad * ((x / y) / y)
        through_total = a.mul(a.neg(g_q), a.div(a.div(p, total), total))
    summed = np.expand_dims(a.sum(through_total, axis=axis, accumulate=accumulate), axis)
    grad = a.add(direct, np.broadcast_to(summed, np.shape(p)))
    if valid is not None:
        grad = np.where(np.expand_dims(valid, axis), grad, a.const(0.0))
    scale = np.maximum(np.abs(a.wide(direct)), np.abs(a.wide(summed)))
    return Prediction(a.wide(grad), scale=scale)


# -- sparse categorical cross-entropy ------------------------------------------------------------


def _sparse_labels(context: ModelContext, a: Arith) -> tuple[np.ndarray, np.ndarray | None]:
    """The labels as Keras hands them on: converted to the loss dtype first (Loss.__call__ converts
    y_true too: bfloat16 holds integers exactly only up to 256, so class 5000 becomes 4992),
    ignore_class masked to 0, then truncated back to integers. Also which samples are valid."""
    as_dtype = a.cast(np.asarray(context.inputs["y_true"], dtype=np.float64))
    valid = None
    ignore = context.params.get("ignore_index")
    if ignore is not None:
        valid = a.wide(as_dtype) != a.wide(a.const(float(ignore)))
        as_dtype = np.where(valid, as_dtype, a.const(0.0))
    return np.trunc(a.wide(as_dtype)).astype(np.int64), valid


def _one_hot(a: Arith, labels: np.ndarray, classes: int, axis: int) -> np.ndarray:
    """jax.nn.one_hot: a label outside [0, K) gives a row of zeros, silently."""
    rows = (labels[..., None] == np.arange(classes)).astype(np.float64)
    return a.cast(np.moveaxis(rows, -1, axis))


def _sparse(context: ModelContext, backend: str) -> Prediction | None:
    if context.params["from_logits"] or backend == "tensorflow":
        return None  # the backends' own softmax cross-entropies: their modules' models
    a = _arith(context, backend)
    axis = int(context.params["axis"])
    p = a.cast(context.inputs["y_pred"])
    classes = int(np.shape(p)[axis])
    labels, valid = _sparse_labels(context, a)
    if backend == "torch" and ((labels < 0) | (labels >= classes)).any():
        return None  # torch's nll_loss raises there: an error result, not a number
    return _cce_probabilities(context, backend, a, _one_hot(a, labels, classes, axis), p, valid)


@model("keras.loss")
def keras_loss(context: ModelContext) -> Prediction | None:
    """A Keras loss class on the backend named in the options (``backend: jax|tensorflow|torch``)."""
    backend = str(context.options.get("backend"))
    if context.op.name == "binary_crossentropy":
        return _bce(context, backend)
    if context.op.name == "categorical_crossentropy" and not context.params["from_logits"]:
        a = _arith(context, backend)
        labels = a.cast(context.inputs["y_true"])
        classes = int(np.shape(labels)[int(context.params["axis"])])
        t = _smoothed(a, labels, float(context.params["label_smoothing"]), classes)
        return _cce_probabilities(context, backend, a, t, a.cast(context.inputs["y_pred"]))
    if context.op.name == "sparse_categorical_crossentropy":
        return _sparse(context, backend)
    return None
