"""Keras 2 (tf_keras) on TensorFlow's CPU kernels, where it computes what Keras 3 does not.

tf_keras/src/backend.py ``binary_crossentropy`` on probabilities::

    epsilon_ = _constant_to_tensor(epsilon(), output.dtype.base_dtype)
    output = tf.clip_by_value(output, epsilon_, 1.0 - epsilon_)
    bce = target * tf.math.log(output + epsilon())
    bce += (1 - target) * tf.math.log(1 - output + epsilon())
    return -bce

Every step is a TensorFlow op in the tensor's dtype (float16 and bfloat16 computed in float32
and rounded back per op, subnormals flushed: TensorFlow's CPU kernels). The shift by epsilon
after the clip is what no documented variant says: at the upper bound 1 - eps + eps rounds back
to 1, so a clipped hard prediction costs log(1) = 0 where Keras 3 charges -log(1 - eps). The
gradient is TensorFlow's autodiff of the same graph: ``Log``'s gradient is g * reciprocal(x)
(tensorflow/python/ops/math_grad.py), clip_by_value passes it where the input lies within
the bounds, ends included. The loss wrapper then averages over the last axis (of length 1
here), multiplies by the sample weight and reduces: sum, or sum / count.
"""

from __future__ import annotations

import numpy as np

from . import ModelContext, Prediction
from .arithmetic import Arith
from .quiet import quiet

HALF = ("float16", "bfloat16")
EPSILON = 1e-7


def arith(context: ModelContext) -> Arith:
    """TensorFlow's CPU arithmetic: halves per op in float32, subnormals flushed. float16's own
    subnormals (1e-7 is one) are normal float32 numbers inside an op, so they are not flushed."""
    compute = "float32" if context.dtype in HALF else context.dtype
    return context.arith(compute=compute, flush=context.dtype != "float16")


def _terms(context: ModelContext) -> tuple[Arith, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(arithmetic, label, clipped p, p + eps, 1 - p + eps, inside the clip bounds)."""
    a = arith(context)
    p, y = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    smoothing = float(context.params.get("label_smoothing") or 0.0)
    if smoothing:
        y = a.add(a.mul(y, a.const(1.0 - smoothing)), a.const(0.5 * smoothing))
    eps = a.const(EPSILON)
    low, high = eps, a.sub(a.const(1.0), eps)
    inside = (a.wide(p) >= a.wide(low)) & (a.wide(p) <= a.wide(high))
    clipped = a.minimum(a.maximum(p, low), high)
    return a, y, clipped, a.add(clipped, eps), a.add(a.sub(a.const(1.0), clipped), eps), inside


def _weight(context: ModelContext, a: Arith) -> np.ndarray | None:
    weight = context.params.get("sample_weight")
    return None if weight is None else a.cast(weight)


@quiet("tf_keras.bce_probabilities.value")
def bce_probabilities_value(context: ModelContext) -> Prediction | None:
    """-(y log(p + eps) + (1 - y) log(1 - p + eps)) after the clip, each op rounded, then reduced."""
    if context.op.name != "binary_crossentropy" or context.params["from_logits"] or context.quantity != "value":
        return None
    a, y, _, up, down, _ = _terms(context)
    bce = a.add(a.mul(y, a.log(up)), a.mul(a.sub(a.const(1.0), y), a.log(down)))
    loss = a.neg(bce)
    weight = _weight(context, a)
    if weight is not None:
        loss = a.mul(loss, weight)
    reduction = context.params["reduction"]
    if reduction == "none":
        return Prediction(a.wide(loss))
    total = a.sum(loss)
    return Prediction(a.wide(total if reduction == "sum" else a.div(total, a.const(float(np.size(loss))))))


@quiet("tf_keras.bce_probabilities.grad")
def bce_probabilities_grad(context: ModelContext) -> Prediction | None:
    """The autodiff of the same graph: g y / (p + eps) and g (1 - y) / (1 - p + eps), each through
    ``g * reciprocal(x)``, their difference where the clip passes the gradient, 0 elsewhere."""
    if context.op.name != "binary_crossentropy" or context.params["from_logits"] or context.quantity != "grad":
        return None
    a, y, _, up, down, inside = _terms(context)
    seed = a.const(1.0) if context.cotangent is None else a.cast(context.cotangent)
    count = float(np.size(context.inputs["y_pred"]))
    g = a.div(seed, a.const(count)) if context.params["reduction"] == "mean" else np.broadcast_to(seed, up.shape)
    weight = _weight(context, a)
    if weight is not None:
        g = a.mul(g, weight)
    g = a.neg(g)  # through -bce
    first = a.mul(a.mul(g, y), a.div(a.const(1.0), up))
    second = a.mul(a.mul(g, a.sub(a.const(1.0), y)), a.div(a.const(1.0), down))
    grad = a.sub(first, second)
    zero = np.zeros_like(a.wide(grad))
    # The two terms cancel for a soft label: an ULP of either moves the difference by that much.
    scale = np.maximum(np.abs(a.wide(first)), np.abs(a.wide(second)))
    return Prediction(np.where(inside, a.wide(grad), zero), scale=np.where(inside, scale, 0.0))
