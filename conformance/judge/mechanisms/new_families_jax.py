"""optax's likelihood losses (issue 16) as JAX composes them: lax ops rounded in the dtype (float32
inside for halves), subnormals flushed (XLA on CPU), JAX's autodiff rules (min/max and clip split
the gradient at a tie), and its custom derivatives (logaddexp)."""

from __future__ import annotations

import numpy as np

from . import ModelContext, Prediction, model
from .rounded import JAX, Tape, Var

HALF = ("float16", "bfloat16")


def tape_for(context: ModelContext) -> Tape:
    """XLA flushes subnormals of its float32 and float64 arithmetic; a float16 computed in float32
    and converted back keeps its subnormals (the conversion does not flush)."""
    flush = context.dtype != "float16"
    return Tape(context.arith(compute="float32" if context.dtype in HALF else context.dtype, flush=flush), JAX)


def _no_inf(tape: Tape, v: Var) -> Var:
    """JAX's _replace_inf inside logaddexp's derivative: +inf read as 0."""
    return tape.stop(tape.where(v.value == np.inf, tape.const(0.0), v))


def softplus(tape: Tape, x: Var) -> Var:
    """jnp.logaddexp(x, 0): max(x, 0) + log1p(exp(-|x|)) (x itself where that is NaN), with the custom
    derivative exp(x - out), infinities read as 0."""
    zero = tape.const(0.0)
    value = tape.stop(
        tape.where(
            np.isnan(x.value),
            tape.add(x, zero),
            tape.add(tape.maximum(x, zero), tape.log1p(tape.exp(tape.neg(tape.abs(x))))),
        )
    )
    slope = tape.exp(tape.sub(_no_inf(tape, x), _no_inf(tape, value)))
    return tape.custom(value, (x,), (slope,))


def log_sigmoid(tape: Tape, x: Var) -> Var:
    return tape.neg(softplus(tape, tape.neg(x)))


@model("jax.optax_kl")
def optax_kl(context: ModelContext) -> Prediction | None:
    """kl_divergence: sum(t (where(t == 0, 0, log t) - lp)); with log targets sum(exp(lt) (lt - lp));
    generalized adds sum(exp(lp) - t) (optax/losses/_classification.py): 0 x (0 - (-inf)) and
    exp(-inf) x (-inf - lp) are NaN."""
    if context.op.name != "kl_divergence" or not context.params["log_input"]:
        return None
    tape = tape_for(context)
    t, lp = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    axis = int(context.params["axis"])
    if context.params["log_target"]:
        loss = tape.sum(tape.mul(tape.exp(t), tape.sub(t, lp)), axis=axis)
    else:
        log_t = tape.where(t.value == 0, tape.const(0.0), tape.log(t))
        loss = tape.sum(tape.mul(t, tape.sub(log_t, lp)), axis=axis)
        if context.params["generalized"]:
            loss = tape.add(loss, tape.sum(tape.sub(tape.exp(lp), t), axis=axis))
    return tape.answer(context.quantity, loss, lp)


@model("jax.optax_huber")
def optax_huber(context: ModelContext) -> Prediction | None:
    """0.5 min(|d|, delta)^2 + delta (|d| - min(|d|, delta)): the gradient inside the band is
    1 + (q - delta) x delta-style sums that keep only absolute accuracy (0 for d = 1e-20)."""
    if context.op.name != "huber":
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    delta = tape.leaf(np.float64(context.params["delta"]))
    abs_errors = tape.abs(tape.sub(x, t))
    quadratic = tape.minimum(abs_errors, delta)
    linear = tape.sub(abs_errors, quadratic)
    loss = tape.add(tape.mul(tape.const(0.5), tape.power(quadratic, 2)), tape.mul(delta, linear))
    return tape.answer(context.quantity, loss, x)


@model("jax.optax_sigmoid_focal")
def optax_sigmoid_focal(context: ModelContext) -> Prediction | None:
    """ce x exp(gamma logsumexp([log_p, log_q], b=[1 - y, y])) (optax 0.2.5+), ce the sigmoid
    cross-entropy -y log_p - (1 - y) log_q, times alpha y + (1 - alpha)(1 - y) with alpha."""
    if context.op.name != "binary_focal_crossentropy" or not context.params["from_logits"]:
        return None
    tape = tape_for(context)
    y, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    one = tape.const(1.0)
    log_p, log_q = log_sigmoid(tape, x), log_sigmoid(tape, tape.neg(x))
    not_y = tape.sub(one, y)
    ce = tape.sub(tape.mul(tape.neg(y), log_p), tape.mul(not_y, log_q))
    # logsumexp with b: entries with b = 0 read as -inf, the max (0 where not finite) held constant.
    a0 = tape.where(not_y.value != 0, log_p, tape.const(-np.inf))
    a1 = tape.where(y.value != 0, log_q, tape.const(-np.inf))
    top = np.maximum(a0.value, a1.value)
    amax = tape.leaf(np.where(np.isfinite(top), top, 0.0))
    total = tape.add(tape.mul(tape.exp(tape.sub(a0, amax)), not_y), tape.mul(tape.exp(tape.sub(a1, amax)), y))
    lse = tape.add(tape.log(tape.abs(total)), amax)
    focal = tape.exp(tape.mul(tape.leaf(np.float64(context.params["gamma"])), lse))
    loss = tape.mul(ce, focal)
    alpha = context.params["alpha"]
    if alpha is not None:
        a = tape.leaf(np.float64(alpha))
        loss = tape.mul(tape.add(tape.mul(a, y), tape.mul(tape.sub(one, a), not_y)), loss)
    return tape.answer(context.quantity, loss, x)
