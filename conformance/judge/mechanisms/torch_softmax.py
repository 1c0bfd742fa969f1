"""PyTorch's softmax family on CPU (aten/src/ATen/native/cpu/SoftMaxKernel.cpp, ReduceOps.cpp):
log_softmax, softmax and logsumexp, forward and backward, as formula functions on an
:class:`Arith` (reused by :mod:`.torch_cross_entropy` and by models of code built on torch) and
the models of torch.nn.functional.log_softmax, softmax and torch.logsumexp.

The *_lastdim kernels add a row with ``vec::reduce_all`` (see :func:`.torch.reduce_all`) and
hold their sums in the tensor's dtype; the kernels along any other dim add down the dim in
order, in opmath. Where NumPy stands in for an order we do not reproduce (at::sum), the
model's scale says so.
"""

from __future__ import annotations

import numpy as np

from oracle.formats import FORMATS

from . import ModelContext, Prediction, model
from .arithmetic import Arith
from .torch import HALF, VECTORS, Vector, arith, exp, in_order, log, output_gradient, reduce_all


def row_sum(a: Arith, values: np.ndarray, axis: int, vector: Vector) -> np.ndarray:
    """The sum along ``axis`` (kept) as aten's softmax kernels add: vec::reduce_all along the last
    dim, in order down any other dim (a vertical sum per position). ``values`` are in the compute
    dtype; a half's reduced-precision kernels are approximated by NumPy's float32 sum."""
    k = a.kernel()
    if a.storage in HALF:
        return np.expand_dims(k.sum(values, axis), axis)
    if axis == values.ndim - 1:
        return np.expand_dims(reduce_all(k, values, vector), axis)
    return np.expand_dims(in_order(k, [np.take(values, i, axis) for i in range(values.shape[axis])]), axis)


def _top(x: np.ndarray, axis: int) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        top: np.ndarray = np.max(x, axis=axis, keepdims=True)
    return top


def _last(x: np.ndarray, axis: int) -> bool:
    """aten's host_softmax runs its *_lastdim kernels for the last dim only, whatever the shape."""
    return axis % x.ndim == x.ndim - 1


def log_softmax(a: Arith, x: np.ndarray, axis: int, vector: Vector) -> np.ndarray:
    """aten's log_softmax kernels: (x - max) - log(sum(exp(x - max))) in opmath. The lastdim kernel
    holds the sum and its log in the tensor's dtype (a half's sum rounds, then its log)."""
    k = a.kernel()
    shifted = k.sub(k.cast(x), _top(k.cast(x), axis))
    total = row_sum(a, exp(k, shifted), axis, vector)
    lse = k.cast(log(a, a.cast(total))) if _last(x, axis) else log(k, total)
    return a.cast(k.sub(shifted, lse))


def log_softmax_backward(a: Arith, grad: np.ndarray, out: np.ndarray, axis: int, vector: Vector) -> np.ndarray:
    """aten's log_softmax_backward kernels: g - exp(out) sum(g) in opmath (the lastdim kernel holds
    sum(g) in the tensor's dtype)."""
    k = a.kernel()
    g = k.cast(grad)
    total = row_sum(a, g, axis, vector)
    if _last(out, axis):
        total = k.cast(a.cast(total))
    return a.cast(k.sub(g, k.mul(exp(k, k.cast(out)), total)))


def softmax(a: Arith, x: np.ndarray, axis: int, vector: Vector) -> np.ndarray:
    """aten's softmax kernels: e = exp(x - max), then e * (1 / sum e) along the last dim, e / sum e
    along another (whose scalar path for halves rounds e to the dtype first)."""
    k = a.kernel()
    e = exp(k, k.sub(k.cast(x), _top(k.cast(x), axis)))
    total = row_sum(a, e, axis, vector)
    if _last(x, axis):
        return a.cast(k.mul(e, k.div(k.const(1.0), total)))
    return a.cast(k.div(k.cast(a.cast(e)), total))


def softmax_backward(a: Arith, grad: np.ndarray, out: np.ndarray, axis: int, vector: Vector) -> np.ndarray:
    """aten's softmax_backward kernels: (g - sum(g y)) y in opmath (the lastdim kernel holds the sum
    in the tensor's dtype)."""
    k = a.kernel()
    g, y = k.cast(grad), k.cast(out)
    total = row_sum(a, k.mul(g, y), axis, vector)
    if _last(out, axis):
        total = k.cast(a.cast(total))
    return a.cast(k.mul(k.sub(g, total), y))


def logsumexp(a: Arith, x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """torch.logsumexp, tensor op by tensor op: m = amax (0 where infinite), log(sum(exp(x - m))) + m
    (at::sum's own order, approximated by NumPy's). Returns the result and m."""
    top = _top(a.wide(x), axis)
    top = a.cast(np.where(np.isinf(top), 0.0, top))
    total = np.expand_dims(a.sum(exp(a, a.sub(x, top)), axis), axis)
    return np.squeeze(a.add(log(a, total), top), axis), np.squeeze(top, axis)


def logsumexp_backward(a: Arith, grad: np.ndarray, x: np.ndarray, result: np.ndarray, axis: int) -> np.ndarray:
    """FunctionsManual's logsumexp_backward: g exp(x - result), each op rounded to the dtype."""
    return a.mul(np.expand_dims(grad, axis), exp(a, a.sub(x, np.expand_dims(result, axis))))


def _axis_case(context: ModelContext, op: str) -> tuple[Arith, np.ndarray, int] | None:
    if context.op.name != op:
        return None
    a = arith(context)
    x = a.cast(context.inputs["x"])
    return a, x, int(context.params["axis"]) % max(x.ndim, 1)


def log_softmax_scale(a: Arith, out: np.ndarray) -> np.ndarray:
    """Where log_softmax rounds: log of a sum >= 1 (absolute accuracy), then x - max - lse at |out|."""
    scale: np.ndarray = np.maximum(np.abs(a.wide(out)), 1.0)
    return scale


def log_softmax_backward_scale(a: Arith, grad: np.ndarray, out: np.ndarray, axis: int) -> np.ndarray:
    """g - exp(out) sum(g) cancels at the size of its terms; exp turns out's absolute slip
    (log_softmax_scale) into as many ULPs of exp(out)."""
    wide = a.wide(out)
    with np.errstate(invalid="ignore", over="ignore"):
        terms = np.sum(np.abs(a.wide(grad)), axis=axis, keepdims=True)
        second = np.exp(wide) * terms * np.maximum(np.abs(wide), 1.0)
    scale: np.ndarray = np.maximum(np.abs(a.wide(grad)), np.nan_to_num(second, nan=0.0))
    return scale


@model("torch.log_softmax")
def log_softmax_model(context: ModelContext) -> list[Prediction] | None:
    """log_softmax's (x - max) - log(sum): the log of a sum >= 1 has only absolute accuracy, so a
    log-probability near 0 is 0 or a few ULPs of 1 off; +inf gives inf - inf = NaN."""
    case = _axis_case(context, "log_softmax")
    if case is None:
        return None
    a, x, axis = case
    predictions = []
    for vector in VECTORS:
        out = log_softmax(a, x, axis, vector)
        if context.quantity == "value":
            predictions.append(Prediction(a.wide(out), scale=log_softmax_scale(a, out)))
            continue
        seed = output_gradient(a, context, x.shape)
        grad = log_softmax_backward(a, seed, out, axis, vector)
        predictions.append(Prediction(a.wide(grad), scale=log_softmax_backward_scale(a, seed, out, axis)))
    return predictions


@model("torch.softmax")
def softmax_model(context: ModelContext) -> list[Prediction] | None:
    """softmax's exp(x - max) amplifies the rounding of x - max (|x - max| ULPs); its backward
    (g - sum(g y)) y cancels at the size of g and of the sum's terms."""
    case = _axis_case(context, "softmax")
    if case is None:
        return None
    a, x, axis = case
    predictions = []
    for vector in VECTORS:
        out = softmax(a, x, axis, vector)
        if context.quantity == "value":
            predictions.append(Prediction(a.wide(out)))
            continue
        seed = output_gradient(a, context, x.shape)
        grad = softmax_backward(a, seed, out, axis, vector)
        terms = np.sum(np.abs(a.wide(seed) * a.wide(out)), axis=axis, keepdims=True)
        # A subnormal probability (exp below -708.4 in float64) is good to ULPs of the smallest normal.
        y = np.maximum(a.wide(out), FORMATS[a.storage].min_normal)
        predictions.append(Prediction(a.wide(grad), scale=y * np.maximum(np.abs(a.wide(seed)), terms)))
    return predictions


@model("torch.logsumexp")
def logsumexp_model(context: ModelContext) -> Prediction | None:
    """logsumexp's log(sum) + m rounds at the size of m, and its backward g exp(x - result) turns
    that ULP of result into |result| ULPs of the gradient (and inf - inf into NaN at a +inf entry)."""
    case = _axis_case(context, "logsumexp")
    if case is None:
        return None
    a, x, axis = case
    result, top = logsumexp(a, x, axis)
    wide, m = a.wide(result), a.wide(top)
    # log(sum) + m rounds at the size of its terms, and the log of a sum >= 1 added in at::sum's
    # order (not NumPy's) is good to an ULP of 1: where the log moved m at all, it may slip there.
    with np.errstate(invalid="ignore"):
        terms = np.where(wide != m, np.maximum(np.maximum(np.abs(wide), np.abs(m)), 1.0), 0.0)
    if context.quantity == "value":
        return Prediction(wide, scale=terms)
    seed = output_gradient(a, context, result.shape)
    grad = a.wide(logsumexp_backward(a, seed, x, result, axis))
    with np.errstate(invalid="ignore"):
        gap = np.maximum(np.abs(a.wide(x) - np.expand_dims(wide, axis)), np.expand_dims(terms, axis))
    return Prediction(grad, scale=np.abs(grad) * np.maximum(np.nan_to_num(gap, posinf=0.0), 1.0))
