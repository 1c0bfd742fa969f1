"""ONNX Runtime's CPU kernels, as onnxruntime computes them (onnxruntime/core/providers/cpu, MLAS).

* SoftmaxCrossEntropyLoss has no CPU kernel in the inference build: ONNX Runtime inlines its
  ONNX function body, LogSoftmax along the class axis, then NegativeLogLikelihoodLoss, itself a
  function: gather -logp at the label (0 at an ignored label, so -0), times the class weight
  (0 when ignored), then ``ReduceSum``; a weighted or ignoring 'mean' divides by the ReduceSum
  of the weights, a plain one is ``ReduceMean``.
* ``ReduceSum`` is Eigen's vectorised sum, built for SSE2 (packets of 4 floats or 2 doubles):
  two packet accumulators over the array, added, a packet more if one fits, a horizontal tree,
  then the tail one by one (Eigen/src/Core/Redux.h, redux_vec_linear_impl). Over 6,480 samples
  the float32 mean of ONNX's own 7-d backend test is 24 ulps from the exact mean (200 in
  float64 on its decimal inputs), bit for bit what this order gives.
* LogSoftmax is (x - max) - log(sum(exp(x - max))): a confident row's tiny log-probability
  keeps only the absolute accuracy of the log of the sum (MLAS's float32 exp is a polynomial
  good to an ulp or two, so the model is trusted to 4 ulps at the scale of the sum).
* Sigmoid in float32 is MLAS's logistic: Eigen's rational approximation on x clamped to
  [-18, 18], p(x) / q(x) + 0.5 (onnxruntime/core/mlas/lib/logistic.cpp, fused multiply-adds in
  its FMA3 kernel), which leaves an absolute error of about 6e-8: sigmoid(-17) is 8.9e-8 (exact
  4.1e-8) and sigmoid(x) for x <= -18 is 0. In float64 it is Eigen's
  ``x >= 0 ? 1 / (1 + e^-|x|) : 1 - 1 / (1 + e^-|x|)``, which cancels for x < 0
  (sigmoid(-40) = 0).
* Softplus in float64 and float16 (no kernel: the ONNX definition) is log(exp(x) + 1): the
  rounded sum keeps only absolute accuracy (softplus(-20) 3e-8 relative off, softplus(-100) =
  0) and exp overflows (x > 709.8 in float64, x > 88.7 for float16 run in float32); float32 has
  a kernel of its own and is right. ReduceLogSumExp in float16 is likewise its definition,
  log(sum(exp(x))) with no shift: 65504 overflows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ModelContext, Prediction
from .arithmetic import Arith
from .quiet import quiet

HALF = ("float16", "bfloat16")
#: Eigen's SSE2 packet: 4 floats or 2 doubles (float16 is computed in float32).
PACKET = {"float32": 4, "float64": 2}

#: MLAS's logistic constants (onnxruntime/core/mlas/lib/logistic.cpp), after Eigen's.
LOGISTIC_RANGE = 18.0
ALPHA = (4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03, 2.48287947061529e-01)
BETA = (
    6.10247389755681e-13,
    5.76102136993427e-09,
    6.29106785017040e-06,
    1.70198817374094e-03,
    1.16817656904453e-01,
    9.93151921023180e-01,
)


def arith(context: ModelContext) -> Arith:
    """The arithmetic of the graph: float16 graphs run in float32 throughout (ONNX Runtime's CPU
    kernels are float32; its graph transformer casts a float16 subgraph to float32 once, at
    its edges), so only the output is rounded to float16 (:func:`out`)."""
    return Arith("float32" if context.dtype in HALF else context.dtype)


def out(context: ModelContext, values: np.ndarray) -> np.ndarray:
    """The graph's output, held in the case's dtype, as float64 for the judge."""
    return Arith.wide(Arith(context.dtype).cast(values))


# -- Eigen's sum -----------------------------------------------------------------------------


def _tree(a: Arith, packet: np.ndarray) -> np.ndarray:
    while packet.size > 1:
        half = packet.size // 2
        packet = a.add(packet[:half], packet[half:])
    return np.asarray(packet[0])


def eigen_sum(a: Arith, values: np.ndarray) -> np.ndarray:
    """Eigen's vectorised linear sum with SSE2 packets, in the arithmetic of ``a``."""
    flat = np.ravel(values)
    size = PACKET.get(a.compute, 4)
    n = flat.size
    if n < size:
        total = a.cast(0.0)
        for value in flat:
            total = a.add(total, value)
        return total
    if n < 2 * size:
        total, end = _tree(a, flat[:size]), size
    else:
        first, second = flat[:size], flat[size : 2 * size]
        paired_end = n - n % (2 * size)
        for start in range(2 * size, paired_end, 2 * size):
            first = a.add(first, flat[start : start + size])
            second = a.add(second, flat[start + size : start + 2 * size])
        first = a.add(first, second)
        end = n - n % size
        if end > paired_end:
            first = a.add(first, flat[paired_end:end])
        total = _tree(a, first)
    for value in flat[end:]:
        total = a.add(total, value)
    return total


# -- LogSoftmax and SoftmaxCrossEntropyLoss ----------------------------------------------------


def log_softmax(a: Arith, x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """((x - max) - log(sum(exp(x - max))), the magnitude the log of the sum rounds at)."""
    top = np.max(a.wide(x), axis=axis, keepdims=True)
    shifted = a.sub(x, a.cast(top))
    total = a.cast(np.sum(a.wide(a.exp(shifted)), axis=axis, keepdims=True))
    log_total = a.log(total)
    return a.sub(shifted, log_total), np.abs(a.wide(shifted)) + np.abs(a.wide(total))


@quiet("onnxruntime.log_softmax")
def log_softmax_value(context: ModelContext) -> Prediction | None:
    if context.op.name != "log_softmax" or context.quantity != "value":
        return None
    a = arith(context)
    values, scale = log_softmax(a, a.cast(context.inputs["x"]), int(context.params["axis"]))
    return Prediction(out(context, values), scale=scale)


@quiet("onnxruntime.softmax_cross_entropy")
def softmax_cross_entropy(context: ModelContext) -> Prediction | None:
    """The inlined SoftmaxCrossEntropyLoss: LogSoftmax on axis 1, NLL's gather, weights, ReduceSum."""
    if context.op.name != "sparse_categorical_crossentropy" or context.quantity != "value":
        return None
    a = arith(context)
    scores = a.cast(context.inputs["y_pred"])
    labels = np.asarray(context.inputs["y_true"], dtype=np.int64)
    if scores.ndim == 1:
        scores, labels = scores[None], labels[None]
    classes = scores.shape[1]
    ignore = context.params.get("ignore_index")
    ignored = labels == ignore if ignore is not None else np.zeros(labels.shape, dtype=bool)
    # Out-of-range labels are gathered as NumPy would (a negative one counts from the end);
    # a label past the classes has no answer to model.
    if np.any(~ignored & ((labels >= classes) | (labels < -classes))):
        return None
    targets = np.where(ignored, 0, labels)
    logp, scale = log_softmax(a, scores, 1)
    picked = np.take_along_axis(logp, np.expand_dims(targets, 1), axis=1)[:, 0]
    picked_scale = np.take_along_axis(scale, np.expand_dims(np.zeros_like(targets), 1), axis=1)[:, 0]
    loss = a.neg(a.where(ignored, 0.0, picked))
    weights = context.params.get("class_weight")
    reduction = context.params["reduction"]
    if weights is None and ignore is None:
        if reduction == "none":
            return Prediction(out(context, loss), scale=picked_scale)
        total = eigen_sum(a, loss)
        # Each sample's loss is good to its log-sum's rounding; the sum to theirs added up.
        slack = float(np.sum(picked_scale))
        if reduction == "sum":
            return Prediction(out(context, total), scale=np.asarray(slack))
        count = float(loss.size)
        return Prediction(out(context, a.div(total, a.const(count))), scale=np.asarray(slack / count))
    gathered = a.cast(weights)[targets] if weights is not None else a.cast(np.ones(targets.shape))
    weight = a.where(ignored, 0.0, gathered)
    weighted = a.mul(loss, weight)
    if reduction == "none":
        return Prediction(out(context, weighted), scale=picked_scale * np.abs(a.wide(weight)))
    total = eigen_sum(a, weighted)
    slack = float(np.sum(picked_scale * np.abs(a.wide(weight))))
    if reduction == "sum":
        return Prediction(out(context, total), scale=np.asarray(slack))
    denominator = eigen_sum(a, weight)
    mean_slack = slack / float(np.abs(a.wide(denominator))) if a.wide(denominator) else 0.0
    return Prediction(out(context, a.div(total, denominator)), scale=np.asarray(mean_slack))


# -- Sigmoid and Softplus -------------------------------------------------------------------------


def _fma(a: np.ndarray, b: Any, c: float, fused: bool) -> np.ndarray:
    """a b + c in float32, with one rounding (a fused multiply-add) or two."""
    wide_a, wide_b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if fused:  # a float32 product is exact in float64; the sum then rounds once (to float32)
        return (wide_a * wide_b + np.float64(np.float32(c))).astype(np.float32)
    product = (wide_a * wide_b).astype(np.float32)
    return (product.astype(np.float64) + np.float64(np.float32(c))).astype(np.float32)


def mlas_logistic(x: np.ndarray, fused: bool) -> np.ndarray:
    value = np.clip(np.asarray(x, dtype=np.float32), np.float32(-LOGISTIC_RANGE), np.float32(LOGISTIC_RANGE))
    squared = (value * value).astype(np.float32)
    p = _fma(squared, np.float32(ALPHA[0]), ALPHA[1], fused)
    for coefficient in ALPHA[2:]:
        p = _fma(p, squared, coefficient, fused)
    p = (p * value).astype(np.float32)
    q = _fma(squared, np.float32(BETA[0]), BETA[1], fused)
    for coefficient in BETA[2:]:
        q = _fma(q, squared, coefficient, fused)
    with np.errstate(all="ignore"):
        result = ((p / q).astype(np.float32) + np.float32(0.5)).astype(np.float32)
    # Newer MLAS clamps the output to [0, 1]; older returns the polynomial's -6e-8 at the clamp.
    return np.where(np.isnan(x), np.float32(np.nan), result)


@quiet("onnxruntime.sigmoid")
def sigmoid(context: ModelContext) -> list[Prediction] | None:
    """float32 (and float16 through float32): MLAS's logistic, with and without fused
    multiply-adds, output clamped to [0, 1] or not; float64: Eigen's select formula."""
    if context.op.name != "sigmoid" or context.quantity != "value":
        return None
    x = np.asarray(context.inputs["x"], dtype=np.float64)
    if context.dtype == "float64":
        with np.errstate(all="ignore"):
            e = np.exp(-np.abs(x))
            positive = 1.0 / (1.0 + e)
            value = np.where(x >= 0, positive, 1.0 - positive)
        return [Prediction(value, scale=np.where(x >= 0, value, 1.0))]
    predictions = []
    for fused in (True, False):
        raw = mlas_logistic(x, fused).astype(np.float64)
        for clamped in (np.clip(raw, 0.0, 1.0), raw):
            # p / q + 0.5 rounds at the size of 0.5: near 0 the result is a cancellation.
            held = clamped.astype(np.float16).astype(np.float64) if context.dtype == "float16" else clamped
            predictions.append(Prediction(held, scale=np.maximum(np.abs(held), 0.5)))
    return predictions


@quiet("onnxruntime.softplus_definition")
def softplus_definition(context: ModelContext) -> Prediction | None:
    """log(exp(x) + 1), rounded per op (ONNX's definition of Softplus), where ONNX Runtime has no
    kernel of its own: float64, and float16 (run in float32, so exp(65504) overflows there too)."""
    if context.op.name != "softplus" or context.quantity != "value":
        return None
    a = arith(context)
    x = a.cast(context.inputs["x"])
    grown = a.add(a.exp(x), a.const(1.0))
    # log of a sum of size 1 + e^x: an ulp of the sum is an ulp of 1 in the result.
    return Prediction(out(context, a.log(grown)), scale=np.maximum(a.wide(grown), 1.0))


@quiet("onnxruntime.reduce_log_sum_exp_definition")
def reduce_log_sum_exp_definition(context: ModelContext) -> Prediction | None:
    """log(sum(exp(x))) with no shift by the maximum (ONNX's function body of ReduceLogSumExp),
    where ONNX Runtime has no kernel: float16, run in float32, so exp(x) overflows from x = 88.7."""
    if context.op.name != "logsumexp" or context.quantity != "value":
        return None
    a = arith(context)
    x = a.cast(context.inputs["x"])
    total = a.cast(np.sum(a.wide(a.exp(x)), axis=int(context.params["axis"])))
    return Prediction(out(context, a.log(total)), scale=np.maximum(a.wide(total), 1.0))
