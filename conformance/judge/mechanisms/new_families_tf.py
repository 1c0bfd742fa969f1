"""TensorFlow's likelihood losses (issue 16) as tensorflow/python/ops/nn_impl.py composes them:
ops rounded in the dtype (float32 inside for halves), subnormals flushed (TF's CPU kernels), TF's
gradient rules (relu's and max's)."""

from __future__ import annotations

import math

import numpy as np

from . import ModelContext, Prediction, model
from .rounded import TENSORFLOW, Tape

HALF = ("float16", "bfloat16")


def tape_for(context: ModelContext) -> Tape:
    """TF's CPU kernels flush subnormals of float32 and float64 arithmetic; float16 is computed in
    float32 and converted back, which keeps float16's subnormals."""
    flush = context.dtype != "float16"
    return Tape(context.arith(compute="float32" if context.dtype in HALF else context.dtype, flush=flush), TENSORFLOW)


@model("tf.log_poisson_loss")
def log_poisson_loss(context: ModelContext) -> Prediction | None:
    """exp(c) - c z, with compute_full_loss z log z - z + 0.5 log(2 pi z) (constants of the dtype)
    where z is outside [0, 1]; the gradient exp(c) - z cancels near its zero."""
    if context.op.name != "poisson_nll" or not context.params["log_input"]:
        return None
    tape = tape_for(context)
    z, c = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    result = tape.sub(tape.exp(c), tape.mul(c, z))
    if context.params["full"]:
        stirling = tape.add(
            tape.sub(tape.mul(z, tape.log(z)), z),
            tape.mul(tape.const(0.5), tape.log(tape.mul(tape.const(2 * math.pi), z))),
        )
        masked = (z.value >= 0) & (z.value <= 1)
        result = tape.add(result, tape.where(masked, tape.const(0.0), stirling))
    return tape.answer(context.quantity, result, c)


@model("tf.weighted_cross_entropy_with_logits")
def weighted_cross_entropy_with_logits(context: ModelContext) -> Prediction | None:
    """(1 - z) x + (1 + (q - 1) z) (log1p(exp(-|x|)) + relu(-x)): at x = +inf with z = 1 the first
    term is 0 x inf = NaN, and for x > 0 with z = 0 a loss below ulp(x) is lost to x + tiny."""
    if context.op.name != "bce_pos_weight":
        return None
    tape = tape_for(context)
    z, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    raw = context.params["pos_weight"]
    q = tape.leaf(np.ones_like(x.value) if raw is None else np.broadcast_to(raw, x.value.shape))
    one = tape.const(1.0)
    log_weight = tape.add(one, tape.mul(tape.sub(q, one), z))
    soft = tape.add(tape.log1p(tape.exp(tape.neg(tape.abs(x)))), tape.relu(tape.neg(x)))
    loss = tape.add(tape.mul(tape.sub(one, z), x), tape.mul(log_weight, soft))
    return tape.answer(context.quantity, loss, x)
