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

from dataclasses import dataclass, replace

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


def _bce_logits_tensorflow(context: ModelContext, x: np.ndarray, z: np.ndarray) -> Prediction:
    """tf.nn.sigmoid_cross_entropy_with_logits (TensorFlow's kernels, :mod:`.tensorflow`) per
    element, then the mean over the trailing axis and Keras' reduction; the gradient is the
    kernel's autodiff from the cotangent Keras' reduction hands each element."""
    from . import tensorflow as tf_kernels

    a = _arith(context, "tensorflow")
    k = tf_kernels.arith(context.dtype)
    if context.quantity == "value":
        loss = tf_kernels.sigmoid_xent(k, x, z)
        weights = _weights(context, a, "tensorflow", np.shape(loss))
        return Prediction(a.wide(_reduce(context, a, "tensorflow", _through_mean(a, "tensorflow", loss), weights)))
    weights = _weights(context, a, "tensorflow", np.shape(x))
    g = _cotangent(context, a, "tensorflow", np.shape(x), weights, trailing_mean=True)
    e = np.abs(k.wide(k.exp(k.where(k.wide(x) >= 0, k.neg(x), x))))
    # The log1p branch goes through an approximate Reciprocal on packets: trusted at its own size.
    scale = np.nan_to_num(e / (1.0 + e)) * np.abs(a.wide(g))
    return Prediction(k.wide(tf_kernels.sigmoid_xent_grad(k, x, z, g)), scale=scale)


def _bce_logits_jax(context: ModelContext, x: np.ndarray, z: np.ndarray) -> Prediction:
    """-z log_sigmoid(x) - (1 - z) log_sigmoid(-x) (keras/src/backend/jax/nn.py) on :mod:`.jax`'s
    model of XLA, then the mean over the trailing axis and Keras' reduction on the same tape."""
    from .new_families_jax import log_sigmoid, tape_for
    from .new_families_keras import mean_last, reduce

    a = _arith(context, "jax")
    tape = tape_for(context)
    # The adapter hands Keras a trailing axis of length 1, which ops.mean removes.
    logits, t = tape.leaf(a.wide(x)[..., None]), tape.leaf(a.wide(z)[..., None])
    one = tape.const(1.0)
    terms = tape.sub(
        tape.mul(tape.neg(t), log_sigmoid(tape, logits)),
        tape.mul(tape.sub(one, t), log_sigmoid(tape, tape.neg(logits))),
    )
    loss = reduce(tape, mean_last(tape, terms, "jax"), context, "jax")
    if context.quantity == "value":
        return tape.prediction(loss)
    grad = tape.grad(loss, logits, context.cotangent)
    return Prediction(grad.value[..., 0], scale=grad.scale[..., 0])


def _bce(context: ModelContext, backend: str) -> Prediction | None:
    a = _arith(context, backend)
    x, y = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    z = _smoothed(a, y, float(context.params["label_smoothing"]), None)
    logits = bool(context.params["from_logits"])
    if logits and backend == "tensorflow":
        return _bce_logits_tensorflow(context, x, z)
    if logits and backend == "jax":
        return _bce_logits_jax(context, x, z)
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
    labels = np.asarray(context.inputs["y_true"], dtype=np.float64)
    # Keras 2 (option ``labels_in_dtype: false``) hands integer labels on as they are.
    as_dtype = a.cast(labels) if context.options.get("labels_in_dtype", True) else labels
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


def _sparse(context: ModelContext, backend: str) -> Prediction | list[Prediction] | None:
    a = _arith(context, backend)
    axis = int(context.params["axis"])
    p = a.cast(context.inputs["y_pred"])
    classes = int(np.shape(p)[axis])
    labels, valid = _sparse_labels(context, a)
    if context.params["from_logits"]:
        return _on_logits(context, backend, a, p, Classes(labels=labels), valid)
    if backend == "tensorflow":
        return _sparse_probabilities_tensorflow(context, a, p, labels, valid)
    if backend == "torch" and ((labels < 0) | (labels >= classes)).any():
        return None  # torch's nll_loss raises there: an error result, not a number
    return _cce_probabilities(context, backend, a, _one_hot(a, labels, classes, axis), p, valid)


# -- categorical and sparse cross-entropy on logits: the backend's kernel under Keras' reduction --


@dataclass(frozen=True)
class Classes:
    """The targets of a cross-entropy on logits: a distribution over the class axis (categorical,
    in the dtype, smoothed) or class indices (sparse, the sample shape)."""

    mass: np.ndarray | None = None
    labels: np.ndarray | None = None


@dataclass(frozen=True)
class Rows:
    """One candidate pass of the backend's kernel: per-sample losses (or, given a seed, the gradient
    reaching the logits), each with the size at which the kernel rounds it (None: exact emulation)."""

    result: np.ndarray
    scale: np.ndarray | None


def _tensorflow_rows(
    context: ModelContext, a: Arith, x: np.ndarray, targets: Classes, axis: int, seed: np.ndarray | None
) -> list[Rows] | None:
    """tf.nn.softmax_cross_entropy_with_logits / sparse_...: the Xent kernels of :mod:`.tensorflow`
    (float16 in float32, and bfloat16 too for the categorical one), class axis last, the result
    cast back to the dtype; the gradient is the row's cotangent times the kernel's backprop."""
    from . import tensorflow as tf_kernels

    widened = context.dtype == "float16" or (context.dtype == "bfloat16" and targets.labels is None)
    k = tf_kernels.arith("float32" if widened else context.dtype)
    logits = k.cast(np.moveaxis(a.wide(x), axis, -1))
    if targets.labels is not None:
        if targets.labels.size and (targets.labels.min() < 0 or targets.labels.max() >= logits.shape[-1]):
            return None  # the CPU kernel raises on a label out of range
        loss, backprop = tf_kernels.sparse_xent(k, logits, targets.labels)
        mass = np.arange(logits.shape[-1]) == targets.labels[..., None]
    else:
        assert targets.mass is not None
        mass = k.cast(np.moveaxis(a.wide(targets.mass), axis, -1))
        loss, backprop = tf_kernels.xent(k, logits, mass)
    if seed is None:
        return [Rows(a.cast(k.wide(loss)), None)]
    g = k.cast(a.wide(seed))[..., None]
    grad = a.cast(k.wide(k.mul(g, backprop)))
    # The backprop exp(x - max) / sum - z cancels at the size of the probability.
    probability = np.nan_to_num(np.abs(k.wide(backprop) + np.asarray(mass, dtype=np.float64)))
    return [Rows(np.moveaxis(grad, -1, axis), np.moveaxis(probability * np.abs(k.wide(g)), -1, axis))]


def _torch_rows(
    context: ModelContext, a: Arith, x: np.ndarray, targets: Classes, axis: int, seed: np.ndarray | None
) -> list[Rows] | None:
    """-sum(target * log_softmax(x)) (categorical) or cross_entropy(x, labels, reduction="none")
    (sparse): torch's kernels of :mod:`.torch_cross_entropy`, one candidate per vector width."""
    from . import torch_cross_entropy as kernels
    from .torch import VECTORS
    from .torch_softmax import log_softmax_backward_scale, log_softmax_scale

    axis %= x.ndim
    picked = None
    if targets.labels is not None:
        picked = kernels.targets(a, targets.labels, int(x.shape[axis]), None, -100)
        if picked is None:
            return None  # nll_loss raises on a label out of range
    candidates = []
    for vector in VECTORS:
        if picked is not None:
            run = kernels.cross_entropy(a, x, picked, "none", 0.0, axis, vector, seed)
        else:
            assert targets.mass is not None
            run = kernels.cross_entropy_probabilities(a, x, targets.mass, None, "none", 0.0, axis, vector, seed)
        if run.grad is not None and run.into is not None:
            candidates.append(Rows(run.grad, log_softmax_backward_scale(a, run.into, run.lsm, axis)))
            continue
        slack = log_softmax_scale(a, run.lsm)  # each log-probability keeps only absolute accuracy
        with np.errstate(invalid="ignore"):
            if picked is not None:
                per_sample = picked.picked(np.moveaxis(slack, axis, -1))
            else:
                per_sample = np.sum(np.nan_to_num(slack * np.abs(a.wide(targets.mass))), axis=axis)
        candidates.append(Rows(run.value, np.nan_to_num(per_sample)))
    return candidates


def _jax_rows(
    context: ModelContext, a: Arith, x: np.ndarray, targets: Classes, axis: int, seed: np.ndarray | None
) -> list[Rows] | None:
    """-sum(t * jax.nn.log_softmax(x)) along the axis, t the distribution or jax.nn.one_hot(labels)
    (a label outside [0, K) is a row of zeros): :mod:`.jax`'s model of XLA's log_softmax and its vjp."""
    from . import jax as jax_kernels
    from .new_families_jax import tape_for

    tape = tape_for(context)
    logits = tape.leaf(a.wide(x))
    if targets.labels is not None:
        t = tape.leaf(a.wide(_one_hot(a, targets.labels, int(x.shape[axis]), axis)))
    else:
        assert targets.mass is not None
        t = tape.leaf(a.wide(targets.mass))
    loss = tape.neg(tape.sum(tape.mul(t, jax_kernels.log_softmax(tape, logits, axis)), axis=axis))
    if seed is None:
        return [Rows(a.cast(loss.value), loss.scale)]
    grad = tape.grad(loss, logits, a.wide(seed))
    return [Rows(a.cast(grad.value), grad.scale)]


ROW_KERNELS = {"tensorflow": _tensorflow_rows, "torch": _torch_rows, "jax": _jax_rows}


def _on_logits(
    context: ModelContext, backend: str, a: Arith, x: np.ndarray, targets: Classes, valid: np.ndarray | None
) -> list[Prediction] | None:
    """Keras' cross-entropy on logits: the backend's own kernel per sample (``ROW_KERNELS``), then
    Keras' reduction in the dtype (masked samples 0, sample weights, sum or sum / count); the
    gradient starts from the cotangent that reduction hands each sample."""
    kernel = ROW_KERNELS.get(backend)
    if kernel is None:
        return None
    axis = int(context.params["axis"]) % x.ndim
    rows = tuple(np.delete(np.shape(x), axis))
    weights = _weights(context, a, backend, rows, valid)
    seed = None
    if context.quantity == "grad":
        seed = _cotangent(context, a, backend, rows, weights)
        if valid is not None:
            seed = np.where(valid, seed, a.const(0.0))
    passes = kernel(context, a, x, targets, axis, seed)
    if passes is None:
        return None
    if seed is not None:
        return [Prediction(a.wide(run.result), scale=run.scale) for run in passes]
    predictions = []
    for run in passes:
        losses = run.result if valid is None else np.where(valid, run.result, a.const(0.0))
        value = a.wide(_reduce(context, a, backend, losses, weights))
        predictions.append(Prediction(value, scale=_reduced_scale(context, run.scale, weights, valid)))
    return predictions


def _reduced_scale(
    context: ModelContext, per_sample: np.ndarray | None, weights: np.ndarray | None, valid: np.ndarray | None
) -> np.ndarray | None:
    """The size at which a reduced loss is trusted: each sample's own, weighted as the reduction weighs it."""
    if per_sample is None:
        return None
    scale = np.asarray(per_sample, dtype=np.float64)
    if weights is not None:
        scale = scale * np.abs(np.asarray(weights, dtype=np.float64))
    if valid is not None:
        scale = np.where(valid, scale, 0.0)
    reduction = context.params["reduction"]
    if reduction == "none":
        return scale
    total = np.sum(scale)
    return np.asarray(total / max(scale.size, 1) if reduction == "mean" else total)


def _sparse_probabilities_tensorflow(
    context: ModelContext, a: Arith, p: np.ndarray, labels: np.ndarray, valid: np.ndarray | None
) -> list[Prediction] | None:
    """The TensorFlow backend does not renormalise: it clips p to [eps, 1 - eps], takes its log and
    hands that to sparse_softmax_cross_entropy_with_logits as logits (whose softmax renormalises);
    the gradient then goes through Log (g * reciprocal(x)) and the clip (passed inside, ends included)."""
    from . import tensorflow as tf_kernels

    k = tf_kernels.arith(context.dtype)
    low, high = a.const(EPSILON), a.const(1.0 - EPSILON)
    clipped = a.minimum(a.maximum(p, low), high)
    logits = k.log(clipped)
    passes = _on_logits(context, "tensorflow", a, logits, Classes(labels=labels), valid)
    if passes is None or context.quantity == "value":
        return passes
    reciprocal = k.div(k.const(1.0), clipped)
    inside = (a.wide(p) >= a.wide(low)) & (a.wide(p) <= a.wide(high))
    predictions = []
    for run in passes:
        grad = k.mul(a.cast(run.value), reciprocal)
        scale = None if run.scale is None else np.asarray(run.scale) * np.abs(k.wide(reciprocal))
        predictions.append(
            Prediction(
                np.where(inside, k.wide(grad), 0.0), scale=None if scale is None else np.where(inside, scale, 0.0)
            )
        )
    return predictions


@model("keras.loss")
def keras_loss(context: ModelContext) -> Prediction | list[Prediction] | None:
    """A Keras loss class on the backend named in the options (``backend: jax|tensorflow|torch``)."""
    backend = str(context.options.get("backend"))
    if context.op.name == "binary_crossentropy":
        return _bce(context, backend)
    if context.op.name == "categorical_crossentropy":
        a = _arith(context, backend)
        labels = a.cast(context.inputs["y_true"])
        classes = int(np.shape(labels)[int(context.params["axis"])])
        t = _smoothed(a, labels, float(context.params["label_smoothing"]), classes)
        x = a.cast(context.inputs["y_pred"])
        if context.params["from_logits"]:
            return _on_logits(context, backend, a, x, Classes(mass=t), None)
        return _cce_probabilities(context, backend, a, t, x)
    if context.op.name == "sparse_categorical_crossentropy":
        return _sparse(context, backend)
    return None


# -- keras.ops: the backend's own functions ----------------------------------------------------

#: The models of each backend's own functions, by the prefix of their names.
BACKEND_MODELS = {"torch": "torch.", "tensorflow": "tensorflow.", "jax": "jax."}
#: keras.ops that the torch backend computes in float32 for float16 on the CPU ("doesn't support").
TORCH_FLOAT32_FOR_HALF = ("softmax", "log_softmax")


@model("keras.ops")
def keras_ops(context: ModelContext) -> list[Prediction] | None:
    """keras.ops.<op> on a backend is that backend's function (keras/src/backend/*/nn.py, math.py):
    the backend's own models, as candidates; on torch, float16 softmax and log_softmax are cast to
    float32 and back first."""
    from . import models

    backend = str(context.options.get("backend"))
    prefix = BACKEND_MODELS.get(backend)
    if prefix is None or context.op.is_loss:
        return None
    widened = backend == "torch" and context.dtype == "float16" and context.op.name in TORCH_FLOAT32_FOR_HALF
    inner = replace(context, dtype="float32") if widened else context
    predictions: list[Prediction] = []
    for name, function in models().items():
        if not name.startswith(prefix):
            continue
        answer = function(inner)
        for prediction in [] if answer is None else answer if isinstance(answer, list) else [answer]:
            if widened:
                half = Arith("float16")
                prediction = Prediction(half.wide(half.cast(prediction.value)), prediction.scale)
            predictions.append(prediction)
    return predictions or None
