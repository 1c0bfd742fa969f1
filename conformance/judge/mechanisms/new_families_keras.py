"""Keras 3's likelihood losses (issue 16) as keras/src/losses/losses.py composes them, on each backend.

The formula is Keras' own, each ``ops`` call the backend's (TensorFlow's clip_by_value and sigmoid
cross-entropy, JAX's jnp.clip and logistic, torch's clip and BCELoss kernel), rounded as that
backend rounds (float32 inside for halves, subnormals flushed on TensorFlow and XLA), then Keras'
``ops.mean`` over the last axis (computed in float32 for halves, and for float64 on the JAX and
torch backends) and its reduction (the weighted sum, divided by the number of elements for
``sum_over_batch_size``). The backend comes from the registry entry's ``backend`` option.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import ModelContext, Prediction, model
from .rounded import JAX, TENSORFLOW, TORCH, Tape, Var

HALF = ("float16", "bfloat16")
EPSILON = 1e-7  # keras.backend.epsilon()


def keras_tape(context: ModelContext) -> tuple[Tape, str]:
    backend = str(context.options.get("backend", "tensorflow"))
    rules = {"tensorflow": TENSORFLOW, "jax": JAX, "torch": TORCH}[backend]
    flush = backend != "torch" and context.dtype != "float16"
    compute = "float32" if context.dtype in HALF else context.dtype
    return Tape(context.arith(compute=compute, flush=flush), rules), backend


def mean_last(tape: Tape, x: Var, backend: str) -> Var:
    """ops.mean(x, axis=-1): in result_type(dtype, "float32"), which is float32 for halves and, on the
    JAX and torch backends, for float64 too; cast back to the dtype."""
    dtype = tape.a.storage
    wide = "float32" if dtype in HALF or (dtype == "float64" and backend != "tensorflow") else dtype
    held = tape.cast(x, wide)
    mean = tape.div(tape.sum(held, axis=-1), tape.const(float(x.value.shape[-1])))
    return tape.cast(mean, wide)


def reduce(tape: Tape, losses: Var, context: ModelContext, backend: str) -> Var:
    """reduce_weighted_values: times the sample weights, then the sum (over the number of elements)."""
    weight = context.params.get("sample_weight")
    if weight is not None:
        losses = tape.mul(losses, tape.leaf(np.broadcast_to(np.asarray(weight, dtype=np.float64), losses.value.shape)))
    reduction = str(context.params["reduction"])
    if reduction == "none" or losses.value.ndim == 0:
        return losses
    total = tape.sum(losses)
    if reduction == "sum":
        return total
    count = tape.const(float(max(losses.value.size, 1)))
    if backend == "torch" and tape.a.storage == "float64":
        # divide_no_nan resolves result_type(float64, float64, float) to float32 on torch: the mean
        # (and its gradient) is a float32 division.
        return tape.cast(tape.div(tape.cast(total, "float32"), count), "float32")
    return tape.div(total, count)


def _expand(context: ModelContext) -> tuple[np.ndarray, np.ndarray]:
    """The adapter gives elementwise losses a trailing axis of 1 (Keras averages over the last axis)."""
    return context.inputs["y_true"][..., None], context.inputs["y_pred"][..., None]


def _squeeze(v: Var) -> Var:
    return Var(v.value[..., 0], v.scale[..., 0])


def bound(value: float, backend: str) -> float:
    """A clip bound as the backend holds it: the torch backend converts Python floats to float32
    tensors (1e-7 is 1.0000000116860974e-07 for a float64 clip), the others to the tensor's dtype."""
    return float(np.float32(value)) if backend == "torch" else value


def exact_bounds(tape: Tape, backend: str) -> bool:
    """Whether ops.clip compares with the float32 bounds as they are: on the torch backend a float16
    tensor is clipped in float32 and a float64 one against float32 values; a bfloat16 one compares in
    bfloat16, as the other backends compare in the tensor's dtype."""
    return backend == "torch" and tape.a.storage != "bfloat16"


def kl_divergence(tape: Tape, backend: str, context: ModelContext) -> tuple[Var, Var]:
    y, p = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    low = bound(EPSILON, backend)
    exact = exact_bounds(tape, backend)
    yc, pc = tape.clip(y, low, 1.0, exact), tape.clip(p, low, 1.0, exact)
    return tape.sum(tape.mul(yc, tape.log(tape.div(yc, pc))), axis=-1), p


def huber(tape: Tape, backend: str, context: ModelContext) -> tuple[Var, Var]:
    y_true, y_pred = _expand(context)
    y, p = tape.leaf(y_true), tape.leaf(y_pred)
    delta, half = tape.leaf(np.float64(context.params["delta"])), tape.const(0.5)
    error = tape.sub(p, y)
    absolute = tape.abs(error)
    inside = tape.mul(half, tape.square(error))
    outside = tape.sub(tape.mul(delta, absolute), tape.mul(half, tape.square(delta)))
    return mean_last(tape, tape.where(absolute.value <= delta.value, inside, outside), backend), p


def poisson(tape: Tape, backend: str, context: ModelContext) -> tuple[Var, Var]:
    y_true, y_pred = _expand(context)
    y, p = tape.leaf(y_true), tape.leaf(y_pred)
    return mean_last(tape, tape.sub(p, tape.mul(y, tape.log(tape.add(p, tape.const(EPSILON))))), backend), p


def _torch_bce(tape: Tape, target: Var, output: Var) -> Var:
    """torch's BCELoss kernel in scalar_t arithmetic: (t - 1) max(log(1 - o), -100) - t max(log o, -100),
    and its backward g (o - t) / max((1 - o) o, EPSILON), left to right, with EPSILON = 1e-12f as a
    scalar_t: 0 in float16, so a hard 0 or 1 gives 0 / 0 = NaN there, even for a zero g."""
    t, o = tape.stop(target), tape.stop(output)
    floor, one = tape.const(-100.0), tape.const(1.0)
    value = tape.sub(
        tape.mul(tape.sub(t, one), tape.maximum(tape.log(tape.sub(one, o)), floor)),
        tape.mul(t, tape.maximum(tape.log(o), floor)),
    )
    denominator = tape.maximum(tape.mul(tape.sub(one, o), o), tape.const(float(np.float32(1e-12))))
    return tape.custom_vjp(value, output, lambda g: tape.div(tape.mul(g, tape.sub(o, t)), denominator))


def _bce(tape: Tape, backend: str, y: Var, probability: Var, logits: Var | None) -> Var:
    """ops.binary_crossentropy(y, p, from_logits=False) on each backend."""
    if backend == "tensorflow" and logits is not None:
        # sigmoid(x) carries _keras_logits: tf.nn.sigmoid_cross_entropy_with_logits on them.
        positive = logits.value >= 0
        relu_logits = tape.where(positive, logits, tape.const(0.0))
        neg_abs = tape.where(positive, tape.neg(logits), logits)
        return tape.add(tape.sub(relu_logits, tape.mul(logits, y)), tape.log1p(tape.exp(neg_abs)))
    # torch.clip(output, 1e-7, 1 - 1e-7) with Python floats: bounds in the tensor's dtype on every backend.
    clipped = tape.clip(probability, EPSILON, 1.0 - EPSILON)
    if backend == "torch":
        return _torch_bce(tape, y, clipped)
    one = tape.const(1.0)
    bce = tape.add(tape.mul(y, tape.log(clipped)), tape.mul(tape.sub(one, y), tape.log(tape.sub(one, clipped))))
    return tape.neg(bce)


def sigmoid_form(tape: Tape, backend: str) -> str:
    """How each backend's sigmoid rounds (see Tape.sigmoid): XLA op by op, Eigen's generic e / (1 + e)
    for TensorFlow's halves, one float32 kernel for torch and TensorFlow's float32 and float64."""
    if backend == "jax":
        return "reciprocal"
    return "ratio" if backend == "tensorflow" and tape.a.storage in HALF else "kernel"


def binary_focal(tape: Tape, backend: str, context: ModelContext) -> tuple[Var, Var]:
    y_true, y_pred = _expand(context)
    y, z = tape.leaf(y_true), tape.leaf(y_pred)
    smoothing = float(context.params["label_smoothing"])
    if smoothing:
        y = tape.add(tape.mul(y, tape.scalar(1.0 - smoothing)), tape.scalar(0.5 * smoothing))
    logits = z if context.params["from_logits"] else None
    p = tape.sigmoid(z, sigmoid_form(tape, backend)) if logits is not None else z
    bce = _bce(tape, backend, y, p, logits)
    one = tape.const(1.0)
    p_t = tape.add(tape.mul(y, p), tape.mul(tape.sub(one, y), tape.sub(one, p)))
    focal = tape.mul(tape.power(tape.sub(one, p_t), float(context.params["gamma"])), bce)
    alpha = context.params["alpha"]
    if alpha is not None:
        weight = tape.add(tape.mul(y, tape.scalar(float(alpha))), tape.mul(tape.sub(one, y), tape.scalar(1.0 - alpha)))
        focal = tape.mul(weight, focal)
    return mean_last(tape, focal, backend), z


def _softmax(tape: Tape, x: Var, axis: int, backend: str) -> Var:
    """softmax along an axis, the max subtracted; its gradient y (g - sum(g y)). TensorFlow's and
    torch's kernels compute in float32 for halves and round once (TensorFlow's bfloat16 softmax of
    [9.56, 1.68, -1.2, 3.36] has 0.99609375 on top, not 1.0); XLA rounds op by op."""
    top = tape.leaf(np.max(np.where(np.isnan(x.value), -np.inf, x.value), axis=axis, keepdims=True))
    inner = tape if backend == "jax" else Tape(tape.a.kernel(), tape.rules)
    shifted = inner.sub(inner.stop(Var(x.value, np.zeros_like(x.value))), Var(top.value, top.scale))
    e = inner.exp(shifted)
    ratio = inner.div(e, inner.expand(inner.sum(e, axis=axis), axis))
    value = tape.a.wide(tape.a.cast(ratio.value))
    y = Var(value, ratio.scale + np.abs(value))

    def vjp(g: Var) -> Var:
        return tape.mul(y, tape.sub(g, tape.expand(tape.sum(tape.mul(g, y), axis=axis), axis)))

    return tape.custom_vjp(y, x, vjp)


def categorical_focal(tape: Tape, backend: str, context: ModelContext) -> tuple[Var, Var]:
    axis = int(context.params["axis"])
    y, z = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    smoothing = float(context.params["label_smoothing"])
    if smoothing:
        classes = float(z.value.shape[-1])
        y = tape.add(tape.mul(y, tape.scalar(1.0 - smoothing)), tape.div(tape.scalar(smoothing), tape.const(classes)))
    p = _softmax(tape, z, axis, backend) if context.params["from_logits"] else z
    output = tape.div(p, tape.expand(tape.sum(p, axis=axis), axis))
    high = bound(1.0 - EPSILON, backend)
    output = tape.clip(output, bound(EPSILON, backend), high, exact_bounds(tape, backend))
    cce = tape.mul(tape.neg(y), tape.log(output))
    alpha = 1.0 if context.params["alpha"] is None else float(context.params["alpha"])
    modulating = tape.power(tape.sub(tape.const(1.0), output), float(context.params["gamma"]))
    focal = tape.mul(tape.mul(modulating, tape.scalar(alpha)), cce)
    return tape.sum(focal, axis=axis), z


LOSSES: dict[str, Callable[[Tape, str, ModelContext], tuple[Var, Var]]] = {
    "kl_divergence": kl_divergence,
    "huber": huber,
    "poisson_nll": poisson,
    "binary_focal_crossentropy": binary_focal,
    "categorical_focal_crossentropy": categorical_focal,
}


@model("keras_likelihood.loss")
def keras_loss(context: ModelContext) -> Prediction | None:
    """Keras' KLDivergence, Huber, Poisson and focal cross-entropies on the entry's backend."""
    build = LOSSES.get(context.op.name)
    if build is None or (context.op.name == "kl_divergence" and context.params["log_input"]):
        return None
    tape, backend = keras_tape(context)
    losses, prediction = build(tape, backend, context)
    out = reduce(tape, losses, context, backend)
    if context.quantity == "value":
        return tape.prediction(out)
    grad = tape.grad(out, prediction)
    if context.op.name in ("huber", "poisson_nll", "binary_focal_crossentropy"):
        grad = _squeeze(grad)
    return tape.prediction(grad)
