"""PyTorch's CPU kernels, as aten computes them (aten/src/ATen/native/Loss.cpp and friends).

Elementwise ops on float16 and bfloat16 tensors are computed in float32 and rounded back after
each op; reductions accumulate float16 and bfloat16 in float32 (at::opmath_type). ``mean``
divides the sum by ``numel()``; a loss's backward divides its gradient by ``numel()`` too.
"""

from __future__ import annotations

import numpy as np

from . import ModelContext, Prediction, model
from .arithmetic import Arith

HALF = ("float16", "bfloat16")


def arith(context: ModelContext) -> Arith:
    return context.arith(compute="float32" if context.dtype in HALF else context.dtype)


def reduce(a: Arith, loss: np.ndarray, reduction: str) -> np.ndarray:
    """aten's apply_loss_reduction: sum or mean (sum / numel) over every element, opmath accumulation."""
    if reduction == "none":
        return loss
    accumulate = "float32" if a.storage in HALF else a.storage
    total = a.sum(loss, accumulate=accumulate)
    return total if reduction == "sum" else a.div(total, a.const(float(np.size(loss))))


def _bce_with_logits_terms(context: ModelContext) -> tuple[Arith, np.ndarray, np.ndarray, np.ndarray | None]:
    a = arith(context)
    x, z = a.cast(context.inputs["y_pred"]), a.cast(context.inputs["y_true"])
    weight = context.params.get("sample_weight")
    return a, x, z, None if weight is None else a.cast(weight)


def log_sigmoid(a: Arith, x: np.ndarray) -> np.ndarray:
    """aten's log_sigmoid kernel: min(x, 0) - log1p(exp(-|x|)), one kernel (float32 inside for halves)."""
    k = a.kernel()
    xk = k.cast(x)
    return a.cast(k.sub(k.minimum(xk, k.const(0.0)), k.log1p(k.exp(k.neg(k.abs(xk))))))


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
    s = a.sigmoid(x)
    grad = a.mul(a.sub(s, z), seed)
    if weight is not None:
        grad = a.mul(grad, weight)
    if reduction == "mean":
        grad = a.div(grad, a.const(float(np.size(x))))
    # sigmoid(x) - z is rounded at the size of sigmoid(x): a kernel one ULP off there moves the result.
    return Prediction(a.wide(grad), scale=a.wide(s) * (1.0 if reduction != "mean" else 1.0 / np.size(x)))
