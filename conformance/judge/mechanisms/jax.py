"""jax.nn's activations and optax's softmax and sigmoid losses, as XLA on CPU computes them.

Each model follows the jaxpr JAX traces (jax/_src/nn/functions.py, jax/_src/ops/special.py,
optax/losses/_classification.py) and the transposes ``jax.vjp`` builds from it, on a rounded
:class:`~.rounded.Tape`: every primitive rounded in the dtype (float32 inside, rounded back after
each op, for halves), subnormals flushed (XLA's CPU runtime, float64 included). Three things XLA
does to the traced program change its roundings and are repeated here:

* inside a jitted function (log_softmax, softplus) LLVM contracts a product followed by a sum
  into one fused multiply-add in float32 and float64 (not in the halves, where a conversion sits
  between the two);
* a division by a divisor broadcast along a row is a multiplication by its reciprocal, rounded
  to the dtype (not in bfloat16);
* ``jax.nn.softmax`` is JAX's non-custom-JVP path (``jax_softmax_custom_jvp`` is off): its
  gradient is the differentiated e / sum(e), whose divisor term -g e / s^2 cancels against g / s.

XLA sums a row in an order of its own (neither in order nor NumPy's pairwise, which the models
use); a model is judged at the magnitude of the sum, which the order moves by an ULP or two of it
for the rows a loss sees (0.5 ULP at most on 60 random rows of 7, tests/test_jax_models.py).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import ModelContext, Prediction, model
from .new_families_jax import log_sigmoid, softplus, tape_for
from .rounded import Tape, Var

FUSED = ("float32", "float64")


def exact_fma(a: np.ndarray, b: np.ndarray, c: np.ndarray, dtype: str) -> np.ndarray:
    """a * b + c rounded once to ``dtype`` (float32 or float64), the way a fused multiply-add does."""
    a, b, c = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64), np.asarray(c, np.float64))
    out = np.empty(a.shape, dtype=np.float64)
    for index, (x, y, z) in enumerate(zip(a.ravel().tolist(), b.ravel().tolist(), c.ravel().tolist(), strict=True)):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z)):
            out.flat[index] = x * y + z
            continue
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        with np.errstate(all="ignore"):
            # float(Fraction) rounds correctly to float64; a float32 goes through the exact value
            # again so that it is not rounded twice.
            out.flat[index] = float(exact) if dtype == "float64" else _to_float32(exact)
    return out


def _to_float32(exact: Fraction) -> float:
    near = np.float32(float(exact))
    candidates = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
    finite = [c for c in candidates if np.isfinite(c)]
    if not finite:
        return float(near)
    best = min(finite, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.float32(c).view(np.uint32)) & 1))
    return float(best)


def fused(tape: Tape, a: Var, b: Var, c: Var) -> Var:
    """a * b + c as a contracted kernel computes it: one rounding in float32 and float64."""
    approx = tape.add(tape.mul(a, b), c)
    if tape.a.storage not in FUSED:
        return approx
    value = tape.a.wide(tape.a.cast(exact_fma(a.value, b.value, c.value, tape.a.storage)))
    return Var(value, approx.scale, approx.parents, approx.backward)


def over_row(tape: Tape, x: Var, total: Var) -> Var:
    """x / total with ``total`` broadcast along a row: x * (1 / total), the reciprocal rounded to the
    dtype (XLA's rewrite; bfloat16 keeps the division). Its gradient in x is g over the row the same
    way; in the divisor JAX's -(g y^-2) x, summed along the row."""
    if tape.a.storage == "bfloat16":
        return tape.div(x, total)
    one = tape.const(1.0)
    reciprocal = tape.stop(tape.div(one, total))
    out = tape.mul(x, reciprocal)

    def backward(g: Var) -> list[Var | None]:
        through_total = tape.neg(tape.mul(tape.mul(g, inverse_square(tape, total)), x))
        return [over_row(tape, g, total), through_total]

    return Var(out.value, out.scale, (x, total), backward)


def inverse_square(tape: Tape, y: Var) -> Var:
    """lax.integer_pow(y, -2): 1 / (y y), two roundings."""
    return tape.div(tape.const(1.0), tape.mul(y, y))


def row_max(tape: Tape, x: Var, axis: int, finite_only: bool = False) -> Var:
    """The stop-gradient shift: max along the axis (initial -inf), kept as a size-1 axis; with
    ``finite_only`` (logsumexp) an infinite or NaN max is replaced by 0."""
    with np.errstate(all="ignore"):
        top = np.max(x.value, axis=axis, keepdims=True)
    if finite_only:
        top = np.where(np.isfinite(top), top, 0.0)
    return tape.leaf(top)


def log_softmax(tape: Tape, x: Var, axis: int) -> Var:
    """shifted - log(sum(exp(shifted))), shifted = x - max (jit-compiled: the backward's
    g + (-sum(g) / s) e is one fused multiply-add)."""
    shifted = tape.sub(x, row_max(tape, x, axis))
    e = tape.exp(shifted)
    total = tape.sum(e, axis=axis)
    out = tape.sub(shifted, tape.expand(tape.log(total), axis))

    def vjp(g: Var) -> Var:
        factor = tape.expand(tape.div(tape.sum(tape.neg(g), axis=axis), total), axis)
        spread = Var(
            np.broadcast_to(factor.value, e.value.shape).copy(), np.broadcast_to(factor.scale, e.value.shape).copy()
        )
        return fused(tape, spread, tape.stop(e), g)

    return tape.custom_vjp(out, x, vjp)


def softmax(tape: Tape, x: Var, axis: int) -> Var:
    """e / sum(e), e = exp(x - max), op by op (jax.nn.softmax is not jitted), differentiated as written."""
    e = tape.exp(tape.sub(x, row_max(tape, x, axis)))
    return over_row(tape, e, tape.expand(tape.sum(e, axis=axis), axis))


def logsumexp(tape: Tape, x: Var, axis: int) -> Var:
    """log(|sum(exp(x - m))|) + m, m the row's max where finite and 0 elsewhere (stop-gradient)."""
    shift = row_max(tape, x, axis, finite_only=True)
    total = tape.sum(tape.exp(tape.sub(x, shift)), axis=axis)
    squeezed = tape.leaf(np.squeeze(shift.value, axis=axis))
    return tape.add(tape.log(tape.abs(total)), squeezed)


def sigmoid(tape: Tape, x: Var) -> Var:
    """lax.logistic: 1 / (1 + exp(-x)) op by op; its derivative s (1 - s) from the rounded output,
    so 0 wherever s rounds to 1 (x > 16.6 in float32, 36.7 in float64)."""
    s = tape.stop(tape.sigmoid(x, form="reciprocal"))
    return tape.custom(s, (x,), (tape.mul(s, tape.sub(tape.const(1.0), s)),))


def pick(tape: Tape, x: Var, labels: np.ndarray, axis: int) -> Var:
    """jnp.take_along_axis(x, labels): a negative label counts from the end (-1 is the last class), a
    label still outside [0, K) reads NaN (gather's fill) and its gradient is dropped (scatter-add)."""
    classes = x.value.shape[axis]
    index = np.where(labels < 0, labels + classes, labels)
    inside = (index >= 0) & (index < classes)
    safe = np.expand_dims(np.where(inside, index, 0), axis)
    taken = np.squeeze(np.take_along_axis(x.value, safe, axis=axis), axis=axis)
    value = np.where(inside, taken, np.nan)
    hot = np.moveaxis(np.arange(classes) == np.where(inside, index, -1)[..., None], -1, axis)

    def backward(g: Var) -> list[Var | None]:
        spread = np.where(hot, np.expand_dims(g.value, axis), 0.0)
        return [Var(spread, np.where(hot, np.expand_dims(g.scale, axis), 0.0))]

    return Var(value, np.abs(np.nan_to_num(value)), (x,), backward)


def _axis(context: ModelContext) -> int:
    return int(context.params.get("axis", -1))


# -- jax.nn -------------------------------------------------------------------------------------


@model("jax.nn")
def jax_nn(context: ModelContext) -> Prediction | None:
    """jax.nn's sigmoid, softplus, log_sigmoid, softmax, log_softmax and logsumexp, each as traced."""
    op = context.op.name
    tape = tape_for(context)
    x = tape.leaf(context.inputs["x"])
    if op == "sigmoid":
        out = sigmoid(tape, x)
    elif op == "softplus":
        out = softplus(tape, x)
    elif op == "log_sigmoid":
        out = log_sigmoid(tape, x)
    elif op == "log_softmax":
        out = log_softmax(tape, x, _axis(context))
    elif op == "softmax":
        out = softmax(tape, x, _axis(context))
    elif op == "logsumexp":
        out = logsumexp(tape, x, _axis(context))
    else:
        return None
    return tape.answer(context.quantity, out, x, context.cotangent)


# -- optax --------------------------------------------------------------------------------------


@model("jax.optax_sigmoid_binary_cross_entropy")
def optax_sigmoid_bce(context: ModelContext) -> Prediction | None:
    """-y log_sigmoid(x) - (1 - y) log_sigmoid(-x), op by op: at x = +inf with y = 1 the second
    term is 0 x (-inf) = NaN; the gradient sums two terms that each keep only their own absolute
    accuracy (-y (1 - sigmoid(x)) + (1 - y) sigmoid(x), through logaddexp's exp(x - out))."""
    if context.op.name != "binary_crossentropy" or not context.params["from_logits"]:
        return None
    tape = tape_for(context)
    y, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    log_p, log_q = log_sigmoid(tape, x), log_sigmoid(tape, tape.neg(x))
    loss = tape.sub(tape.mul(tape.neg(y), log_p), tape.mul(tape.sub(tape.const(1.0), y), log_q))
    return tape.answer(context.quantity, loss, x, context.cotangent)


@model("jax.optax_softmax_cross_entropy")
def optax_softmax_ce(context: ModelContext) -> Prediction | None:
    """-sum(t log_softmax(x)) along the axis; with option ``safe`` (safe_softmax_cross_entropy)
    each term is where(t != 0, t log_softmax(x), 0), so a zero label against -inf is 0, not NaN."""
    if context.op.name != "categorical_crossentropy" or not context.params["from_logits"]:
        return None
    tape = tape_for(context)
    t, x = tape.leaf(context.inputs["y_true"]), tape.leaf(context.inputs["y_pred"])
    axis = _axis(context)
    terms = tape.mul(t, log_softmax(tape, x, axis))
    if context.options.get("safe"):
        terms = tape.where(t.value != 0, terms, tape.const(0.0))
    loss = tape.neg(tape.sum(terms, axis=axis))
    return tape.answer(context.quantity, loss, x, context.cotangent)


@model("jax.optax_softmax_cross_entropy_with_integer_labels")
def optax_sparse_ce(context: ModelContext) -> Prediction | None:
    """logsumexp(x) - x[label], the label's logit taken by jnp.take_along_axis (see :func:`pick`:
    -1 is the last class, a label beyond K gives NaN and a gradient of softmax(x) alone)."""
    if context.op.name != "sparse_categorical_crossentropy" or not context.params["from_logits"]:
        return None
    if context.params.get("ignore_index") is not None or context.params.get("class_weight") is not None:
        return None
    tape = tape_for(context)
    x = tape.leaf(context.inputs["y_pred"])
    axis = _axis(context)
    labels = np.asarray(context.inputs["y_true"], dtype=np.int64)
    loss = tape.sub(logsumexp(tape, x, axis), pick(tape, x, labels, axis))
    return tape.answer(context.quantity, loss, x, context.cotangent)
