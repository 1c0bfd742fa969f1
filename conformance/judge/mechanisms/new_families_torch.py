"""torch's likelihood losses (issue 16) as aten composes them, rounded as torch rounds.

Each is the composite of aten/src/ATen/native/Loss.cpp (or torch/nn/functional.py) written on a
:class:`~.rounded.Tape`: elementwise ops in the dtype (float32 inside for halves), Python scalars
at float32 for halves, reductions accumulated in float32 for halves, ``mean`` = sum / numel, and
the gradient by autograd's rules.
"""

from __future__ import annotations

import math

import numpy as np

from . import ModelContext, Prediction, model
from .rounded import TORCH, Tape, Var

HALF = ("float16", "bfloat16")


def tape_for(context: ModelContext) -> Tape:
    return Tape(context.arith(compute="float32" if context.dtype in HALF else context.dtype), TORCH)


def reduce(tape: Tape, loss: Var, reduction: str) -> Var:
    """aten's apply_loss_reduction: sum (float32 accumulation for halves) or sum / numel."""
    if reduction == "none":
        return loss
    accumulate = "float32" if tape.a.storage in HALF else tape.a.storage
    total = tape.sum(loss, accumulate=accumulate)
    return total if reduction == "sum" else tape.div(total, tape.const(float(np.size(loss.value))))


@model("torch.poisson_nll_loss")
def poisson_nll_loss(context: ModelContext) -> Prediction | None:
    """exp(x) - t x, or x - t log(x + eps) with eps = 1e-8; full adds t log t - t + log(2 pi t) / 2,
    masked to 0 where t <= 1 (Loss.cpp). The gradient 1 - t / (x + eps) and exp(x) - t cancel."""
    if context.op.name != "poisson_nll":
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    if context.params["log_input"]:
        loss = tape.sub(tape.exp(x), tape.mul(t, x))
    else:
        loss = tape.sub(x, tape.mul(t, tape.log(tape.add(x, tape.scalar(1e-8)))))
    if context.params["full"]:
        stirling = tape.add(
            tape.sub(tape.mul(t, tape.log(t)), t),
            tape.mul(tape.scalar(0.5), tape.log(tape.mul(tape.scalar(2 * math.pi), t))),
        )
        loss = tape.add(loss, tape.where(t.value <= 1, tape.const(0.0), stirling))
    return tape.answer(context.quantity, reduce(tape, loss, str(context.params["reduction"])), x)


@model("torch.kl_div")
def kl_div(context: ModelContext) -> Prediction | None:
    """xlogy(t, t) - t x, or exp(t) (t - x) with log_target (Loss.cpp): a zero target against
    x = -inf is 0 - 0 x (-inf) = NaN, and so is a -inf log target. 'batchmean' divides the sum by
    input.size(0) in torch/nn/functional.py, 'mean' averages every element."""
    if context.op.name != "kl_divergence" or not context.params["log_input"] or context.params["generalized"]:
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    if context.params["log_target"]:
        pointwise = tape.mul(tape.exp(t), tape.sub(t, x))
    else:
        xlogy = tape.where(t.value == 0, tape.const(0.0), tape.mul(t, tape.log(t)))
        pointwise = tape.sub(xlogy, tape.mul(t, x))
    reduction = str(context.params["reduction"])
    if reduction == "mean" and context.options.get("batchmean", True):
        total = reduce(tape, pointwise, "sum")
        shape = np.shape(context.inputs["y_pred"])
        out = tape.div(total, tape.const(float(shape[0] if shape else 1)))
    else:
        out = reduce(tape, pointwise, reduction)
    return tape.answer(context.quantity, out, x)


@model("torch.huber_loss")
def huber_loss(context: ModelContext) -> Prediction | None:
    """The huber kernel, z = |x - t|: z < delta ? z z / 2 : delta (z - delta / 2), one kernel (float32
    inside for halves); its backward kernel d <= -delta ? -delta : d >= delta ? delta : d, times grad
    (and 1 / numel for a mean)."""
    if context.op.name != "huber":
        return None
    outer = tape_for(context)
    tape = Tape(outer.a.kernel(), TORCH)  # one kernel: halves stay in float32 until it writes
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    delta = tape.leaf(np.float64(context.params["delta"]))
    d = tape.sub(x, t)
    z = tape.abs(d)
    half = tape.scalar(0.5)
    quadratic = tape.mul(tape.mul(half, z), z)
    linear = tape.mul(delta, tape.sub(z, tape.mul(half, delta)))
    loss = stored(outer, tape.where(z.value < delta.value, quadratic, linear))
    reduction = str(context.params["reduction"])
    if context.quantity == "value":
        return outer.prediction(reduce(outer, loss, reduction))
    grad = tape.where(d.value <= -delta.value, tape.neg(delta), tape.where(d.value >= delta.value, delta, d))
    if reduction == "mean":
        grad = tape.mul(tape.scalar(1.0 / max(np.size(d.value), 1)), grad)
    return outer.prediction(stored(outer, grad))


def stored(outer: Tape, v: Var) -> Var:
    """A kernel's result written to the storage dtype (its error bound carried over)."""
    value = outer.a.wide(outer.a.cast(v.value))
    return Var(value, v.scale + np.abs(np.nan_to_num(value, posinf=0.0, neginf=0.0)))


@model("torch.gaussian_nll_loss")
def gaussian_nll_loss(context: ModelContext) -> Prediction | None:
    """0.5 (log v + (x - t) ** 2 / v) [+ 0.5 log(2 pi)] with v = var clamped to eps under no_grad
    (torch/nn/functional.py): the variance's gradient 0.5 / v - 0.5 d^2 / v^2 is two rounded terms
    of size 1/v that cancel where d^2 ~ v, as at the clamp (d = 1e-3, v = 1e-6: -0.0625 in float32)."""
    if context.op.name not in ("gaussian_nll", "gaussian_nll_var"):
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    raw_var = np.asarray(context.inputs["var"], dtype=np.float64)
    if raw_var.shape != x.value.shape and raw_var.shape == x.value.shape[:-1]:
        raw_var = raw_var[..., None]
    eps = context.params["eps"]
    floor = float(tape.a.wide(tape.a.const(1e-6 if eps is None else float(eps))))
    v = tape.leaf(np.maximum(raw_var, floor))
    half = tape.scalar(0.5)
    loss = tape.mul(half, tape.add(tape.log(v), tape.div(tape.power(tape.sub(x, t), 2), v)))
    if context.params["full"]:
        loss = tape.add(loss, tape.scalar(0.5 * math.log(2 * math.pi)))
    out = reduce(tape, loss, str(context.params["reduction"]))
    if context.quantity == "value" or context.op.name == "gaussian_nll":
        return tape.answer(context.quantity, out, x)
    grad = tape.grad(out, v)
    shape = np.shape(context.inputs["var"])
    return Prediction(grad.value.reshape(shape), scale=grad.scale.reshape(shape))


@model("torch.nll_loss")
def nll_loss(context: ModelContext) -> Prediction | None:
    """-w[t] x[t] per sample (0 where ignored), the sum, and the mean = sum / total_weight (the
    nll_loss kernels): a -inf log-probability at a class of weight 0 is 0 x inf = NaN, and with every
    sample ignored the backward returns zeros where 0 / 0 = NaN is the limit of nothing."""
    if context.op.name != "nll":
        return None
    tape = tape_for(context)
    axis = int(context.params["axis"])
    x = tape.leaf(context.inputs["y_pred"])
    moved = np.moveaxis(x.value, axis, -1)
    labels = np.asarray(context.inputs["y_true"], dtype=np.int64)
    ignore = context.params["ignore_index"]
    counted = labels != (-100 if ignore is None else int(ignore))
    safe = np.where(counted, labels, 0)
    weights = context.params["class_weight"]
    w_all = np.ones(moved.shape[-1]) if weights is None else np.asarray(weights, dtype=np.float64)
    w = tape.leaf(np.where(counted, w_all[safe], 0.0))
    picked = tape.leaf(np.take_along_axis(moved, safe[..., None], axis=-1)[..., 0])
    loss = tape.where(counted, tape.neg(tape.mul(picked, w)), tape.const(0.0))
    reduction = str(context.params["reduction"])
    total_weight = tape.sum(w, accumulate="float32" if tape.a.storage in HALF else None)
    if context.quantity == "value":
        out = loss if reduction == "none" else tape.sum(loss, accumulate="float32" if tape.a.storage in HALF else None)
        if reduction == "mean":
            out = tape.div(out, total_weight)
        return tape.prediction(out)
    scale = tape.neg(w)
    if reduction == "mean":
        scale = tape.div(scale, total_weight) if total_weight.value != 0 else tape.mul(w, tape.const(0.0))
    grad = np.zeros_like(moved)
    spread = np.zeros_like(moved)
    np.put_along_axis(grad, safe[..., None], np.where(counted, scale.value, 0.0)[..., None], axis=-1)
    np.put_along_axis(spread, safe[..., None], np.where(counted, scale.scale, 0.0)[..., None], axis=-1)
    return Prediction(np.moveaxis(grad, -1, axis), scale=np.moveaxis(spread, -1, axis))


@model("torch.bce_with_logits_pos_weight")
def bce_with_logits_pos_weight(context: ModelContext) -> Prediction | None:
    """(1 - t) x - lw log_sigmoid(x) with lw = (pw - 1) t + 1 (Loss.cpp); the backward
    ((pw t + 1 - t) sigmoid(x) - pw t) g, whose difference cancels for a confident right logit."""
    if context.op.name != "bce_pos_weight":
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    raw = context.params["pos_weight"]
    pw = tape.leaf(np.ones_like(x.value) if raw is None else np.broadcast_to(raw, x.value.shape))
    one = tape.const(1.0)
    log_weight = tape.add(tape.mul(tape.sub(pw, one), t), one)
    zero = tape.const(0.0)
    log_sigmoid = tape.sub(tape.minimum(x, zero), tape.log1p(tape.exp(tape.neg(tape.abs(x)))))
    loss = tape.sub(tape.mul(tape.sub(one, t), x), tape.mul(log_weight, log_sigmoid))
    weight = context.params["sample_weight"]
    if weight is not None:
        loss = tape.mul(loss, tape.leaf(np.broadcast_to(weight, x.value.shape)))
    reduction = str(context.params["reduction"])
    if context.quantity == "value":
        return tape.prediction(reduce(tape, loss, reduction))
    pt = tape.mul(pw, t)
    grad = tape.sub(tape.mul(tape.sub(tape.add(pt, one), t), tape.sigmoid(x)), pt)
    if weight is not None:
        grad = tape.mul(grad, tape.leaf(np.broadcast_to(weight, x.value.shape)))
    if reduction == "mean":
        grad = tape.div(grad, tape.const(float(np.size(x.value))))
    return tape.prediction(grad)
