"""PyTorch's CPU kernels, as aten computes them (aten/src/ATen/native/Loss.cpp and friends).

Elementwise ops on float16 and bfloat16 tensors are computed in float32 and rounded back after
each op; reductions accumulate float16 and bfloat16 in float32 (at::opmath_type). ``mean``
divides the sum by ``numel()``; a loss's backward divides its gradient by ``numel()`` too.

The formula functions (``sigmoid(a, x)``, ``binary_cross_entropy(a, p, z)``, ...) take an
:class:`Arith` and arrays, so that models of code built on torch (Keras' torch backend) can
reuse them. This module holds the arithmetic they share and the elementwise losses; the
softmax family is in :mod:`.torch_softmax`, nll_loss and cross_entropy in
:mod:`.torch_cross_entropy`. Kernels that reduce with ``vec::reduce_all`` add in an order set
by the CPU's vector width: those models offer one candidate per :data:`VECTORS` entry, and the
judge keeps the one that reproduces the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import ModelContext, Prediction, model
from .arithmetic import Arith

HALF = ("float16", "bfloat16")


def arith(context: ModelContext) -> Arith:
    return context.arith(compute="float32" if context.dtype in HALF else context.dtype)


def reduce(a: Arith, loss: np.ndarray, reduction: str) -> np.ndarray:
    """aten's apply_loss_reduction: sum or mean (sum / numel) over every element, opmath accumulation.
    A half's mean is computed in float32 and rounded once (ReduceOps.cpp's mean_out: cast to float,
    sum, divide, cast back), so a sum beyond the dtype's range does not overflow it."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return a.sum(loss, accumulate=a.compute)
    k = a.kernel()
    return a.cast(k.div(k.sum(loss), k.const(float(np.size(loss)))))


# -- arithmetic shared by the models below ---------------------------------------------------


def correctly_rounded(a: Arith, function: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """``function`` (exp, log, log1p) rounded once to the compute dtype, then held in storage.
    aten's Sleef u10 kernels are correctly rounded for ~99% of inputs; NumPy's own float32 exp is
    not (40% of float32 exps differ from torch's by an ULP), so evaluate in float64."""
    with np.errstate(all="ignore"):
        wide = function(np.asarray(x, dtype=np.float64))
    return a.cast(Arith(a.compute).cast(wide))


def exp(a: Arith, x: np.ndarray) -> np.ndarray:
    return correctly_rounded(a, np.exp, x)


def log(a: Arith, x: np.ndarray) -> np.ndarray:
    return correctly_rounded(a, np.log, x)


def log1p(a: Arith, x: np.ndarray) -> np.ndarray:
    return correctly_rounded(a, np.log1p, x)


@dataclass(frozen=True)
class Vector:
    """A CPU capability's vector width: it fixes the order in which vec::reduce_all adds."""

    name: str
    float_lanes: int
    double_lanes: int


#: The x86 capabilities aten dispatches to (torch.backends.cpu.get_cpu_capability()).
VECTORS = (Vector("AVX512", 16, 8), Vector("AVX2", 8, 4))


def reduce_all(k: Arith, values: np.ndarray, vector: Vector) -> np.ndarray:
    """aten's vec::reduce_all(+) over the last axis, in ``k``'s arithmetic: lane-wise sums over the
    whole vectors, the tail added into the first lanes, then the lanes combined (float32: a shuffle
    tree pairing lane i with i^8, i^4, i^2, i^1; float64: lane after lane). A row shorter than one
    vector is added in order."""
    size = values.shape[-1]
    float32 = k.compute == "float32"
    lanes = vector.float_lanes if float32 else vector.double_lanes
    if size < lanes:
        return in_order(k, [values[..., i] for i in range(size)])
    acc, start = values[..., :lanes], lanes
    while start + lanes <= size:
        acc, start = k.add(acc, values[..., start : start + lanes]), start + lanes
    if start < size:
        acc = np.concatenate([k.add(acc[..., : size - start], values[..., start:]), acc[..., size - start :]], -1)
    if not float32:
        return in_order(k, [acc[..., i] for i in range(lanes)])
    half = lanes // 2
    while half:
        acc, half = k.add(acc, acc[..., np.arange(lanes) ^ half]), half // 2
    return acc[..., 0]


def in_order(a: Arith, terms: list[np.ndarray]) -> np.ndarray:
    total = terms[0]
    for term in terms[1:]:
        total = a.add(total, term)
    return total


def output_gradient(a: Arith, context: ModelContext, shape: tuple[int, ...]) -> np.ndarray:
    """The output gradient autograd starts from: the cotangent, or ones (one for a reduced loss)."""
    cotangent = context.cotangent
    return a.cast(np.ones(shape) if cotangent is None else np.broadcast_to(cotangent, shape))


# -- binary cross-entropy on logits ----------------------------------------------------------


def _bce_with_logits_terms(context: ModelContext) -> tuple[Arith, np.ndarray, np.ndarray, np.ndarray | None]:
    a = arith(context)
    x, z = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    weight = context.params.get("sample_weight")
    return a, x, z, None if weight is None else a.cast(weight)


def log_sigmoid(a: Arith, x: np.ndarray) -> np.ndarray:
    """aten's log_sigmoid kernel: min(x, 0) - log1p(exp(-|x|)), one kernel (float32 inside for halves)."""
    k = a.kernel()
    xk = k.cast(x)
    return a.cast(k.sub(k.minimum(xk, k.const(0.0)), log1p(k, exp(k, k.neg(k.abs(xk))))))


@model("torch.bce_with_logits.value")
def bce_with_logits_value(context: ModelContext) -> Prediction | None:
    """loss = (1 - z) x - log_sigmoid(x) (aten binary_cross_entropy_with_logits), each op rounded:
    for x < 0 with z = 0 the loss x - log_sigmoid(x) subtracts two numbers of size |x| whose
    difference is log1p(e^x): it keeps only absolute accuracy (0 instead of 9.4e-14 at x = -30)."""
    if context.op.name != "binary_crossentropy" or context.quantity != "value":
        return None
    a, x, z, weight = _bce_with_logits_terms(context)
    linear = a.mul(a.sub(a.const(1.0), z), x)
    loss = a.sub(linear, log_sigmoid(a, x))
    if weight is not None:
        loss = a.mul(loss, weight)
    reduction = context.params["reduction"]
    # The subtraction rounds at the size of its operands, |x|: that is the scale of an ULP slip.
    scale = np.abs(a.wide(linear)) if reduction == "none" else None
    return Prediction(a.wide(reduce(a, loss, reduction)), scale=scale)


@model("torch.bce_with_logits.grad")
def bce_with_logits_grad(context: ModelContext) -> Prediction | None:
    """grad = (sigmoid(x) - z) * g [* w] [/ numel]: sigmoid(x) rounds to 1 (x > 16.6 in float32,
    36.7 in float64) and the difference to z = 1 cancels to 0 where the exact gradient is -e^-x."""
    if context.op.name != "binary_crossentropy" or context.quantity != "grad":
        return None
    a, x, z, weight = _bce_with_logits_terms(context)
    reduction = context.params["reduction"]
    seed = a.const(1.0) if context.cotangent is None else a.cast(context.cotangent)
    s = sigmoid(a, x)
    grad = a.mul(a.sub(s, z), seed)
    if weight is not None:
        grad = a.mul(grad, weight)
    if reduction == "mean":
        grad = a.div(grad, a.const(float(np.size(x))))
    # sigmoid(x) - z is rounded at the size of sigmoid(x): a kernel one ULP off there moves the
    # result by that ULP times what multiplies the difference (the seed, the weight, 1 / numel).
    factor = np.abs(a.wide(seed)) * (1.0 if weight is None else np.abs(a.wide(weight)))
    return Prediction(a.wide(grad), scale=a.wide(s) * factor / (np.size(x) if reduction == "mean" else 1.0))


# -- sigmoid ----------------------------------------------------------------------------------


def sigmoid(a: Arith, x: np.ndarray) -> np.ndarray:
    """aten's sigmoid kernel, 1 / (1 + exp(-x)) in opmath, rounded once."""
    k = a.kernel()
    one = k.const(1.0)
    return a.cast(k.div(one, k.add(one, exp(k, k.neg(k.cast(x))))))


def sigmoid_backward(a: Arith, grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """aten's sigmoid_backward kernel, g (1 - y) y with y the rounded output, in opmath."""
    k = a.kernel()
    yk = k.cast(y)
    return a.cast(k.mul(k.mul(k.cast(grad), k.sub(k.const(1.0), yk)), yk))


@model("torch.sigmoid")
def sigmoid_model(context: ModelContext) -> Prediction | None:
    """1 / (1 + exp(-x)): exp(-x) overflows to inf below x = -709.8 (float64) or -88.7 (float32,
    and the halves' float32 arithmetic), giving 0 where the exact value is a subnormal. Backward
    g (1 - y) y from the rounded y: 1 - y keeps only the absolute accuracy of y."""
    if context.op.name != "sigmoid":
        return None
    a = arith(context)
    x = a.cast(context.inputs["x"])
    y = sigmoid(a, x)
    if context.quantity == "value":
        return Prediction(a.wide(y))
    seed = output_gradient(a, context, x.shape)
    # 1 - y rounds at the size of y: one ULP of y there is one ULP of g y in the result.
    return Prediction(a.wide(sigmoid_backward(a, seed, y)), scale=a.wide(y) * a.wide(seed))


# -- binary cross-entropy on probabilities ----------------------------------------------------

#: Loss.cpp's EPSILON, a float in every dtype (0 in float16, 1e-12 rounded to bfloat16).
BCE_EPSILON = float(np.float32(1e-12))


def binary_cross_entropy(a: Arith, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """aten's binary_cross_entropy kernel, op by op in the dtype:
    (z - 1) max(log1p(-p), -100) - z max(log(p), -100)."""
    floor = a.const(-100.0)
    log_q = a.maximum(log1p(a, a.neg(p)), floor)
    log_p = a.maximum(log(a, p), floor)
    return a.sub(a.mul(a.sub(z, a.const(1.0)), log_q), a.mul(z, log_p))


def binary_cross_entropy_backward(a: Arith, grad: np.ndarray, p: np.ndarray, z: np.ndarray) -> np.ndarray:
    """aten's binary_cross_entropy_backward kernel, op by op in the dtype:
    g (p - z) / max((1 - p) p, EPSILON)."""
    denominator = a.maximum(a.mul(a.sub(a.const(1.0), p), p), a.const(BCE_EPSILON))
    return a.div(a.mul(grad, a.sub(p, z)), denominator)


@model("torch.binary_cross_entropy")
def binary_cross_entropy_model(context: ModelContext) -> Prediction | None:
    """torch's BCELoss kernels with their log floor (-100) and gradient floor (EPSILON) built in;
    weight multiplies afterwards, mean divides by numel (the gradient too)."""
    if context.op.name != "binary_crossentropy" or context.params["from_logits"]:
        return None
    a = arith(context)
    p, z = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    weight = context.params.get("sample_weight")
    w = None if weight is None else a.cast(weight)
    reduction = str(context.params["reduction"])
    if context.quantity == "value":
        loss = binary_cross_entropy(a, p, z)
        return Prediction(a.wide(reduce(a, loss if w is None else a.mul(loss, w), reduction)))
    seed = a.cast(np.broadcast_to(output_gradient(a, context, p.shape if reduction == "none" else ()), p.shape))
    grad = binary_cross_entropy_backward(a, seed, p, z)
    grad = grad if w is None else a.mul(grad, w)
    return Prediction(a.wide(a.div(grad, a.const(float(p.size))) if reduction == "mean" else grad))


# -- mean squared error -----------------------------------------------------------------------


def mse_loss(a: Arith, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """aten's mse kernel, diff = x - y then diff * diff, each held in the dtype."""
    diff = a.sub(x, y)
    return a.mul(diff, diff)


def mse_loss_backward(a: Arith, grad: np.ndarray, x: np.ndarray, y: np.ndarray, reduction: str) -> np.ndarray:
    """aten's mse_backward kernel: norm (x - y) g, with norm = 2 / numel (mean) or 2 in the dtype."""
    norm = a.const(2.0 / np.size(x) if reduction == "mean" else 2.0)
    return a.mul(a.mul(norm, a.sub(x, y)), grad)


@model("torch.mse_loss")
def mse_loss_model(context: ModelContext) -> Prediction | None:
    """(x - y)^2 per element in the dtype, then sum or sum / numel: in float16 a difference above
    256 squares to inf before the mean divides it."""
    if context.op.name != "squared_error":
        return None
    a = arith(context)
    x, y = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    reduction = str(context.params["reduction"])
    if context.quantity == "value":
        return Prediction(a.wide(reduce(a, mse_loss(a, x, y), reduction)))
    seed = a.cast(np.broadcast_to(output_gradient(a, context, x.shape if reduction == "none" else ()), x.shape))
    return Prediction(a.wide(mse_loss_backward(a, seed, x, y, reduction)))
