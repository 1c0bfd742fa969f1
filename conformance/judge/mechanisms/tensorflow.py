"""TensorFlow's CPU kernels and the gradients tf.GradientTape registers for them.

Forward values are the kernels of tensorflow/core/kernels (Eigen expressions, see
:mod:`.eigen` for their arithmetic); gradients are the Python functions of
tensorflow/python/ops/nn_grad.py and math_grad.py, each of whose ops rounds once. The
formula functions take an :class:`~.eigen.EigenArith` and arrays of its storage dtype, so
that other models (Keras' TensorFlow backend calls tf.nn) can reuse them.

* sigmoid: Eigen's logistic; its gradient SigmoidGrad is g y (1 - y) from the *rounded* y,
  so 1 - y keeps only absolute accuracy (0 for x >= 16.64 in float32).
* softplus: threshold log(eps) + 2: x above -threshold, exp(x) below threshold, else
  log1p(exp(x)); its gradient is g sigmoid(x). log_sigmoid is -softplus(-x).
* sigmoid_cross_entropy_with_logits: max(x, 0) - x z + log1p(exp(-|x|)) built of where, so
  an infinite logit meets 0 * inf or inf - inf.
* softmax, log_softmax (SoftmaxEigenImpl): x - max, exp, Eigen's sum; softmax multiplies by
  the rounded 1 / sum, log_softmax subtracts log(sum). With oneDNN on (the default) float32
  and bfloat16 softmax is oneDNN's kernel instead (:mod:`.onednn`). Gradients: (g - sum(g s)) s
  and g - sum(g) exp(y), each op rounded; TensorFlow's Sum adds bfloat16 in float32.
* softmax_cross_entropy_with_logits (XentEigenImpl): loss sum(z (log(sum) - (x - max))),
  backprop exp(x - max) / sum - z computed in the forward; float16 and bfloat16 run it in
  float32. sparse_softmax_cross_entropy_with_logits likewise (float16 in float32, bfloat16
  natively).
* reduce_logsumexp: log(sum(exp(x - m))) + m with m = max, or 0 where the max is not
  finite; its gradient is (g * (1 / sum)) * exp(x - m).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ModelContext, Prediction, model, onednn
from .eigen import HALF, EigenArith, inner_sum, logistic, packet_mask, reduction_packets, sequential_sum

#: Eigen's NumTraits<T>::epsilon(), which for half is 2^-13, not its machine epsilon 2^-10.
FLOAT_EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-13, "bfloat16": 2.0**-7}


def arith(dtype: str) -> EigenArith:
    """The arithmetic of TensorFlow's CPU kernels in ``dtype``."""
    return EigenArith(dtype)


def seed(a: EigenArith, context: ModelContext, shape: tuple[int, ...]) -> np.ndarray:
    """The output gradient tf.GradientTape starts from: the case's cotangent, or ones."""
    if context.cotangent is None:
        return a.cast(np.ones(shape))
    return a.cast(np.broadcast_to(context.cotangent, shape))


# -- elementwise ---------------------------------------------------------------------------


def sigmoid(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """tf.math.sigmoid: Eigen's logistic, by each element's path (:func:`.eigen.logistic`)."""
    return logistic(a, x)


def sigmoid_grad(a: EigenArith, y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """SigmoidGrad(y, g): packets g (y (1 - y)), the scalar tail (g y) (1 - y)."""
    rest = a.sub(a.const(1.0), y)
    packet = a.mul(g, a.mul(y, rest))
    scalar = a.mul(a.mul(g, y), rest)
    return a.where(packet_mask(np.shape(y), a.storage), packet, scalar)


def softplus(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """The Softplus kernel, with threshold = log(eps) + 2 in the dtype (-13.9 in float32)."""
    threshold = a.wide(a.add(a.log(a.const(FLOAT_EPS[a.storage])), a.const(2.0)))
    wide = a.wide(x)
    e = a.exp(x)
    return a.where(wide > -threshold, x, a.where(wide < threshold, e, a.log1p(e)))


def log_sigmoid(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """tf.math.log_sigmoid: -softplus(-x)."""
    return a.neg(softplus(a, a.neg(x)))


def sigmoid_xent(a: EigenArith, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """nn_impl.sigmoid_cross_entropy_with_logits: where(x >= 0, x, 0) - x z + log1p(exp(where(x >= 0, -x, x)))."""
    positive = a.wide(x) >= 0
    relu = a.where(positive, x, 0.0)
    neg_abs = a.where(positive, a.neg(x), x)
    return a.add(a.sub(relu, a.mul(x, z)), a.log1p(a.exp(neg_abs)))


def sigmoid_xent_grad(a: EigenArith, x: np.ndarray, z: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The tape's gradient of :func:`sigmoid_xent`: the relu branch g, the product -g z and the
    log1p branch (g / (1 + e)) e with e = exp(-|x|), signed by its where, added in that order."""
    positive = a.wide(x) >= 0
    e = a.exp(a.where(positive, a.neg(x), x))
    through_log = a.mul(a.mul(g, a.div(a.const(1.0), a.add(a.const(1.0), e))), e)
    total = a.add(a.where(positive, g, 0.0), a.mul(a.neg(g), z))
    return a.add(total, a.where(positive, a.neg(through_log), through_log))


def squared_difference(a: EigenArith, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = a.sub(x, y)
    return a.mul(d, d)


def squared_difference_grad(a: EigenArith, x: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """_SquaredDifferenceGrad: (2 g) (x - y)."""
    return a.mul(a.mul(a.const(2.0), g), a.sub(x, y))


# -- along the last axis ---------------------------------------------------------------------


def _shifted(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """x - max(x) along the last axis (inf - inf and NaN rows give NaN)."""
    with np.errstate(invalid="ignore"):
        top = np.max(a.wide(x), axis=-1, keepdims=True)
    return a.sub(x, a.cast(top))


def _summed_exp(a: EigenArith, shifted: np.ndarray) -> np.ndarray:
    """exp(x - max) as the reduction that sums it evaluates it: packets, then a scalar tail per row."""
    return a.exp(shifted, packets=reduction_packets(shifted.shape, a.storage))


def log_softmax(a: EigenArith, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log_softmax, x - max, log(sum exp)) of SoftmaxEigenImpl with log = true."""
    shifted = _shifted(a, x)
    log_total = a.log(inner_sum(a, _summed_exp(a, shifted)))[..., None]
    return a.sub(shifted, log_total), shifted, log_total


def softmax(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """SoftmaxEigenImpl: exp(x - max) * (1 / sum), the inverse rounded on its own."""
    e = a.exp(_shifted(a, x))
    inverse = a.div(a.const(1.0), inner_sum(a, e))[..., None]
    return a.mul(e, inverse)


def sum_op(a: EigenArith, x: np.ndarray, axis: int) -> np.ndarray:
    """tf.reduce_sum along one axis (the Sum kernel). TensorFlow drops size-1 dimensions first,
    so the axis is reduced as the innermost (Eigen's inner sum) when nothing follows it and in
    order otherwise; bfloat16 is summed in float32 and rounded once."""
    if a.storage == "bfloat16":
        wide = arith("float32")
        return a.cast(sum_op(wide, wide.cast(a.wide(x)), axis))
    axis %= x.ndim
    if x.shape[axis] == 1:
        return np.squeeze(x, axis)
    outer, inner = x.shape[:axis], x.shape[axis + 1 :]
    if int(np.prod(inner, dtype=np.int64)) == 1:
        return inner_sum(a, x.reshape(*outer, x.shape[axis])).reshape(outer + inner)
    return sequential_sum(a, x, axis)


def softmax_grad(a: EigenArith, s: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_SoftmaxGrad: (g - sum(g s)) s; returns it and sum(g s)."""
    total = sum_op(a, a.mul(g, s), -1)[..., None]
    return a.mul(a.sub(g, total), s), total


def log_softmax_grad(a: EigenArith, y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """_LogSoftmaxGrad: g - sum(g) exp(y); returns it and sum(g) exp(y)."""
    through = a.mul(sum_op(a, g, -1)[..., None], a.exp(y))
    return a.sub(g, through), through


def xent(a: EigenArith, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """XentEigenImpl: (loss, backprop) = (sum(z (log(sum) - (x - max))), exp(x - max) / sum - z)."""
    shifted = _shifted(a, logits)
    total = inner_sum(a, _summed_exp(a, shifted))[..., None]
    loss = inner_sum(a, a.mul(labels, a.sub(a.log(total), shifted)))
    backprop = a.sub(a.div(a.exp(shifted), total), labels)
    return loss, backprop


def sparse_xent(a: EigenArith, logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SparseXentEigenImpl: loss log(sum) - (x - max)[label], backprop exp(x - max) / sum - onehot."""
    shifted = _shifted(a, logits)
    total = inner_sum(a, _summed_exp(a, shifted))[..., None]
    picked = np.take_along_axis(shifted, labels[..., None], axis=-1)
    # The loss generator calls numext::log on one coefficient at a time: the scalar path.
    loss = a.sub(a.log(total, packets=np.zeros(total.shape, dtype=bool)), picked)[..., 0]
    onehot = np.arange(logits.shape[-1]) == labels[..., None]
    backprop = a.sub(a.div(a.exp(shifted), total), a.cast(onehot.astype(np.float64)))
    return loss, backprop


def reduce_logsumexp(a: EigenArith, x: np.ndarray, axis: int, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """math_ops.reduce_logsumexp and its gradient (g (1 / sum)) exp(x - m), m = max or 0 if not finite."""
    wide = a.wide(x)
    with np.errstate(invalid="ignore"):
        top = np.max(wide, axis=axis, keepdims=True)
    m = a.cast(np.where(np.isfinite(top), top, 0.0))
    e = a.exp(a.sub(x, m))
    total = sum_op(a, e, axis)
    value = a.add(a.log(total), np.squeeze(m, axis))
    pulled = a.mul(a.cast(g), a.div(a.const(1.0), total))
    return value, a.mul(np.expand_dims(pulled, axis), e)


# -- models ----------------------------------------------------------------------------------


def _half_in_float32(context: ModelContext) -> tuple[EigenArith, Callable[[np.ndarray], np.ndarray]]:
    """float16 and bfloat16 logits cast to float32 by the Python wrapper, the result cast back."""
    if context.dtype in HALF:
        back = arith(context.dtype)
        return arith("float32"), lambda v: back.wide(back.cast(v))
    a = arith(context.dtype)
    return a, a.wide


def _loss_on_logits(context: ModelContext, op: str) -> bool:
    return (
        context.op.name == op
        and bool(context.params.get("from_logits"))
        and context.params.get("reduction", "none") == "none"
    )


def _elementwise(context: ModelContext, op: str) -> tuple[EigenArith, np.ndarray, np.ndarray] | None:
    """(arithmetic, x, the output gradient) for an elementwise primitive."""
    if context.op.name != op:
        return None
    a = arith(context.dtype)
    x = a.cast(context.inputs["x"])
    return a, x, seed(a, context, x.shape)


@model("tensorflow.sigmoid")
def sigmoid_model(context: ModelContext) -> Prediction | None:
    """tf.math.sigmoid (Eigen's logistic) and SigmoidGrad g y (1 - y) from the rounded y: 1 - y
    keeps only the absolute accuracy of y (scale |g| y), 0 from x = 16.64 in float32."""
    found = _elementwise(context, "sigmoid")
    if found is None:
        return None
    a, x, g = found
    y = sigmoid(a, x)
    if context.quantity == "value":
        return Prediction(a.wide(y))
    return Prediction(a.wide(sigmoid_grad(a, y, g)), scale=np.abs(a.wide(g)) * a.wide(y))


@model("tensorflow.softplus")
def softplus_model(context: ModelContext) -> Prediction | None:
    """tf.math.softplus (x above -threshold, exp(x) below threshold = log(eps) + 2) and its
    gradient g sigmoid(x)."""
    found = _elementwise(context, "softplus")
    if found is None:
        return None
    a, x, g = found
    value = softplus(a, x) if context.quantity == "value" else a.mul(g, sigmoid(a, x))
    return Prediction(a.wide(value))


@model("tensorflow.log_sigmoid")
def log_sigmoid_model(context: ModelContext) -> Prediction | None:
    """tf.math.log_sigmoid = -softplus(-x) and its gradient g sigmoid(-x)."""
    found = _elementwise(context, "log_sigmoid")
    if found is None:
        return None
    a, x, g = found
    value = log_sigmoid(a, x) if context.quantity == "value" else a.mul(g, sigmoid(a, a.neg(x)))
    return Prediction(a.wide(value))


@model("tensorflow.sigmoid_cross_entropy")
def sigmoid_xent_model(context: ModelContext) -> Prediction | None:
    """tf.nn.sigmoid_cross_entropy_with_logits, value and gradient, each op rounded. The log1p
    branch of the gradient goes through Reciprocal, approximate (rcp + a Newton step) on float32
    packets: it is trusted at its own size."""
    if not _loss_on_logits(context, "binary_crossentropy"):
        return None
    a = arith(context.dtype)
    x, z = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    if context.quantity == "value":
        return Prediction(a.wide(sigmoid_xent(a, x, z)))
    g = a.cast(np.ones(x.shape))
    e = a.exp(a.where(a.wide(x) >= 0, a.neg(x), x))
    through_log = np.abs(a.wide(e)) / (1.0 + np.abs(a.wide(e)))
    return Prediction(a.wide(sigmoid_xent_grad(a, x, z, g)), scale=np.nan_to_num(through_log))


@model("tensorflow.squared_difference")
def squared_difference_model(context: ModelContext) -> Prediction | None:
    """tf.math.squared_difference: (x - y)^2, gradient (2 g)(x - y)."""
    if context.op.name != "squared_error" or context.params.get("reduction", "none") != "none":
        return None
    a = arith(context.dtype)
    x, y = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    if context.quantity == "value":
        return Prediction(a.wide(squared_difference(a, x, y)))
    return Prediction(a.wide(squared_difference_grad(a, x, y, a.cast(np.ones(x.shape)))))


def _rows(context: ModelContext, op: str) -> tuple[EigenArith, int, np.ndarray, np.ndarray] | None:
    """(arithmetic, axis, x with the axis moved last, the output gradient likewise)."""
    if context.op.name != op:
        return None
    a = arith(context.dtype)
    x = np.asarray(context.inputs["x"], dtype=np.float64)
    axis = int(context.params["axis"]) % x.ndim
    return a, axis, a.cast(np.moveaxis(x, axis, -1)), np.moveaxis(seed(a, context, x.shape), axis, -1)


def _back(values: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.asarray(values, dtype=np.float64), -1, axis)


@model("tensorflow.log_softmax")
def log_softmax_model(context: ModelContext) -> Prediction | None:
    """tf.nn.log_softmax: (x - max) - log(sum), the log of a rounded sum near 1 where one entry
    dominates; gradient g - sum(g) exp(y)."""
    rows = _rows(context, "log_softmax")
    if rows is None:
        return None
    a, axis, x, g = rows
    y = log_softmax(a, x)[0]
    value = y if context.quantity == "value" else log_softmax_grad(a, y, g)[0]
    return Prediction(_back(a.wide(value), axis))


SOFTMAX_PATHS = ("onednn-avx512", "onednn-avx2", "eigen")


def softmax_by(a: EigenArith, x: np.ndarray, path: str) -> np.ndarray:
    """The Softmax kernel TensorFlow runs: oneDNN's for float32 and bfloat16 when oneDNN is on
    (16 or 8 lanes, by the CPU), Eigen's otherwise."""
    if path == "eigen" or a.storage not in ("float32", "bfloat16"):
        return softmax(a, x)
    return a.cast(onednn.softmax(a.wide(x), width=16 if path == "onednn-avx512" else 8))


@model("tensorflow.softmax")
def softmax_model(context: ModelContext) -> list[Prediction] | None:
    """tf.nn.softmax, one candidate per kernel TensorFlow may run; gradient (g - sum(g s)) s,
    which cancels at the size of g and of sum(g s)."""
    rows = _rows(context, "softmax")
    if rows is None:
        return None
    a, axis, x, g = rows
    paths = SOFTMAX_PATHS if a.storage in ("float32", "bfloat16") else ("eigen",)
    predictions = []
    for path in paths:
        s = softmax_by(a, x, path)
        if context.quantity == "value":
            predictions.append(Prediction(_back(a.wide(s), axis)))
            continue
        grad = softmax_grad(a, s, g)[0]
        spread = np.sum(np.abs(a.wide(g) * a.wide(s)), axis=-1, keepdims=True)
        scale = np.maximum(np.abs(a.wide(g)), spread) * np.abs(a.wide(s))
        predictions.append(Prediction(_back(a.wide(grad), axis), scale=_back(np.nan_to_num(scale), axis)))
    return predictions


@model("tensorflow.reduce_logsumexp")
def logsumexp_model(context: ModelContext) -> Prediction | None:
    """tf.math.reduce_logsumexp: log(sum(exp(x - m))) + m, m the max or 0 where it is not finite;
    gradient (g (1 / sum)) exp(x - m): NaN at a +inf entry (0 * inf), where the exact one is 1."""
    if context.op.name != "logsumexp":
        return None
    a = arith(context.dtype)
    x = a.cast(context.inputs["x"])
    axis = int(context.params["axis"]) % x.ndim
    out_shape = tuple(np.delete(np.array(x.shape), axis).tolist())
    value, grad = reduce_logsumexp(a, x, axis, seed(a, context, out_shape))
    return Prediction(a.wide(value if context.quantity == "value" else grad))


@model("tensorflow.softmax_cross_entropy")
def xent_model(context: ModelContext) -> Prediction | None:
    """tf.nn.softmax_cross_entropy_with_logits: the Xent kernel (in float32 for float16 and
    bfloat16). Loss sum(z (log(sum) - (x - max))); gradient the kernel's backprop
    exp(x - max) / sum - z, which assumes each row of labels sums to 1 (as TensorFlow's docs
    require) and cancels at the size of the probability."""
    if not _loss_on_logits(context, "categorical_crossentropy"):
        return None
    a, back = _half_in_float32(context)
    axis = int(context.params.get("axis", -1)) % np.ndim(context.inputs["y_pred"])
    logits = a.cast(np.moveaxis(context.inputs["y_pred"], axis, -1))
    labels = a.cast(np.moveaxis(context.inputs["y_true"], axis, -1))
    loss, backprop = xent(a, logits, labels)
    if context.quantity == "value":
        return Prediction(back(loss))
    # The backprop's exp runs on Eigen's tiled path, whose block tails take the scalar exp.
    probability = np.nan_to_num(np.abs(a.wide(a.add(backprop, labels))))
    return Prediction(_back(back(backprop), axis), scale=_back(probability, axis))


@model("tensorflow.sparse_softmax_cross_entropy")
def sparse_xent_model(context: ModelContext) -> Prediction | None:
    """tf.nn.sparse_softmax_cross_entropy_with_logits: the SparseXent kernel (float16 in float32,
    bfloat16 natively); loss log(sum) - (x - max)[label], gradient exp(x - max) / sum - onehot."""
    if not _loss_on_logits(context, "sparse_categorical_crossentropy"):
        return None
    if context.dtype == "float16":
        a, back = _half_in_float32(context)
    else:
        a = arith(context.dtype)
        back = a.wide
    logits = a.cast(context.inputs["y_pred"])
    labels = np.asarray(context.inputs["y_true"], dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[-1]):
        return None
    loss, backprop = sparse_xent(a, logits, labels)
    return Prediction(back(loss if context.quantity == "value" else backprop))
