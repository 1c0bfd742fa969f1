"""PyTorch's nll_loss and cross_entropy on CPU (aten/src/ATen/native/LossNLL.cpp, LossNLL2d.cpp):
class indices (with class weights, ignore_index, label smoothing, K-dimensional inputs) and
probability targets, forward and backward as autograd runs them, built on
:mod:`.torch_softmax`'s log_softmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ModelContext, Prediction, model
from .arithmetic import Arith
from .torch import VECTORS, Vector, arith, in_order, output_gradient
from .torch_softmax import log_softmax, log_softmax_backward, log_softmax_backward_scale, log_softmax_scale


@dataclass(frozen=True)
class Targets:
    """Class-index targets seen from the log-probabilities' layout (class axis moved last)."""

    labels: np.ndarray  # the sample shape; ignored samples hold class 0
    counts: np.ndarray  # False where the label is ignore_index
    weight: np.ndarray | None  # the class weights, in the dtype

    def picked(self, moved: np.ndarray) -> np.ndarray:
        return np.take_along_axis(moved, self.labels[..., None], -1)[..., 0]

    def applied(self, a: Arith) -> np.ndarray:
        """The weight of each sample's class (1 without class weights)."""
        return a.cast(np.ones(self.labels.shape) if self.weight is None else self.weight[self.labels])


def targets(a: Arith, labels: np.ndarray, classes: int, weight: np.ndarray | None, ignore: int) -> Targets | None:
    """None where a counted label is out of range (torch raises there)."""
    labels = np.asarray(labels, dtype=np.int64)
    counts = labels != ignore
    if np.any(counts & ((labels < 0) | (labels >= classes))):
        return None
    return Targets(np.where(counts, labels, 0), counts, None if weight is None else a.cast(weight))


def _cascade(a: Arith, terms: np.ndarray, counts: np.ndarray, subtract: bool) -> np.ndarray:
    """nll_loss's sum over samples in sample order, in the tensor's dtype through 8 cascade levels
    of 16 (LossNLL.cpp's loss_partial_sums; ignored samples skip the level update too)."""
    power, zero = 4, a.const(0.0)
    levels = [zero] * 8
    for index, (term, counted) in enumerate(zip(terms.ravel(), counts.ravel())):
        if not counted:
            continue
        levels[0] = a.sub(levels[0], term) if subtract else a.add(levels[0], term)
        for j in range(7):
            if index & (15 << (j * power)):
                break
            levels[j + 1], levels[j] = a.add(levels[j + 1], levels[j]), zero
    return in_order(a, [zero, *levels])


def nll_loss(a: Arith, lsm: np.ndarray, t: Targets, reduction: str, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """aten's nll_loss / nll_loss2d forward: -lsm[target] w per sample (0 where ignored); sum and
    mean add them with :func:`_cascade` and divide by the total weight. Returns (loss, total weight)."""
    picked = t.picked(np.moveaxis(lsm, axis, -1))
    if reduction == "none":
        loss = a.mul(a.neg(picked), t.applied(a)) if t.weight is not None else a.neg(picked)
        return a.where(t.counts, loss, 0.0), a.const(0.0)
    if t.weight is None:
        total_weight = a.const(float(np.count_nonzero(t.counts)))
        total = _cascade(a, picked, t.counts, subtract=True)
    else:
        weights = t.applied(a)
        total_weight = _cascade(a, weights, t.counts, subtract=False)
        total = _cascade(a, a.mul(picked, weights), t.counts, subtract=True)
    return (a.div(total, total_weight) if reduction == "mean" else total), total_weight


def nll_loss_backward(
    a: Arith, seed: np.ndarray, shape: tuple[int, ...], t: Targets, reduction: str, total_weight: np.ndarray, axis: int
) -> np.ndarray:
    """aten's nll_loss_backward: -w g at each counted target (g / total weight for mean), 0 elsewhere."""
    if reduction == "none":
        grad = a.mul(a.neg(t.applied(a)), seed)
    else:
        scaled = a.neg(a.div(seed, total_weight) if reduction == "mean" else seed)
        grad = a.mul(t.applied(a), scaled) if t.weight is not None else np.broadcast_to(scaled, t.labels.shape)
    moved = np.zeros(np.moveaxis(np.empty(shape), axis, -1).shape)
    np.put_along_axis(moved, t.labels[..., None], np.where(t.counts, a.wide(grad), 0.0)[..., None], -1)
    return a.cast(np.moveaxis(moved, -1, axis))


def _class_axis(weight: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """Class weights shaped to broadcast along ``axis`` (aten's weight_.view(1, C, 1, ...))."""
    shape = [1] * ndim
    shape[axis] = -1
    return weight.reshape(shape)


@dataclass(frozen=True)
class Smoothing:
    """cross_entropy_loss_label_smoothing: (1 - ls) nll + (ls / C) smooth, with both scalars
    rounded to the op's opmath type."""

    keep: float
    spread: float

    @classmethod
    def of(cls, smoothing: float, classes: int) -> Smoothing:
        return cls(1.0 - smoothing, smoothing / classes)


def _smooth_loss(
    a: Arith, lsm: np.ndarray, t: Targets, reduction: str, axis: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """-(lsm [* w]).sum(class) per sample, 0 where ignored, reduced by at::sum (mean: over the
    counted samples' class weights, or their number). Returns (value, the mean's denominator)."""
    weighted = lsm if t.weight is None else a.mul(lsm, _class_axis(t.weight, lsm.ndim, axis))
    per_sample = a.where(t.counts, a.neg(a.sum(weighted, axis)), 0.0)
    if reduction == "none":
        return per_sample, None
    total = a.sum(per_sample)
    if reduction == "sum":
        return total, None
    counted = float(np.count_nonzero(t.counts))
    denominator = a.const(counted) if t.weight is None else a.sum(t.weight[t.labels[t.counts]])
    return a.div(total, denominator), denominator


def _smooth_loss_backward(
    a: Arith, grad: np.ndarray, shape: tuple[int, ...], t: Targets, denominator: np.ndarray | None, axis: int
) -> np.ndarray:
    if denominator is not None:
        grad = a.div(grad, denominator)
    per_sample = a.neg(a.where(t.counts, np.broadcast_to(a.wide(grad), t.labels.shape), 0.0))
    spread = a.cast(np.broadcast_to(np.expand_dims(per_sample, axis), shape))
    return spread if t.weight is None else a.mul(spread, _class_axis(t.weight, len(shape), axis))


@dataclass(frozen=True)
class Pass:
    """One cross-entropy pass: the log-probabilities, the loss, and where a seed was given the
    gradient reaching the log-probabilities and the one reaching the logits."""

    lsm: np.ndarray
    value: np.ndarray
    into: np.ndarray | None = None
    grad: np.ndarray | None = None


def cross_entropy(
    a: Arith,
    x: np.ndarray,
    t: Targets,
    reduction: str,
    smoothing: float,
    axis: int,
    vector: Vector,
    seed: np.ndarray | None = None,
) -> Pass:
    """torch.nn.functional.cross_entropy with class indices: nll_loss(log_softmax(x)), with label
    smoothing the composite (1 - ls) nll + (ls / C) smooth; backward as autograd runs it."""
    lsm = log_softmax(a, x, axis, vector)
    nll, total_weight = nll_loss(a, lsm, t, reduction, axis)
    if smoothing == 0:
        if seed is None:
            return Pass(lsm, nll)
        into = nll_loss_backward(a, seed, x.shape, t, reduction, total_weight, axis)
        return Pass(lsm, nll, into, log_softmax_backward(a, into, lsm, axis, vector))
    mix = Smoothing.of(smoothing, x.shape[axis])
    smooth, denominator = _smooth_loss(a, lsm, t, reduction, axis)
    value = a.add(a.mul(nll, mix.keep), a.mul(smooth, mix.spread))
    if seed is None:
        return Pass(lsm, value)
    direct = nll_loss_backward(a, a.mul(seed, mix.keep), x.shape, t, reduction, total_weight, axis)
    into = a.add(direct, _smooth_loss_backward(a, a.mul(seed, mix.spread), x.shape, t, denominator, axis))
    return Pass(lsm, value, into, log_softmax_backward(a, into, lsm, axis, vector))


def cross_entropy_probabilities(
    a: Arith,
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray | None,
    reduction: str,
    smoothing: float,
    axis: int,
    vector: Vector,
    seed: np.ndarray | None = None,
) -> Pass:
    """cross_entropy_loss_prob_target: -(log_softmax(x) * y [* w]).sum(class), y smoothed to
    y (1 - ls) + ls / C first; mean divides the total by numel / C; backward as autograd runs it."""
    lsm = log_softmax(a, x, axis, vector)
    target = class_mass(a, y, None, smoothing, axis)
    w = None if weight is None else _class_axis(a.cast(weight), x.ndim, axis)
    product = a.mul(lsm, target) if w is None else a.mul(a.mul(lsm, target), w)
    samples = a.const(float(x.size // x.shape[axis]))
    if reduction == "none":
        value = a.neg(a.sum(product, axis))
    else:
        total = a.neg(a.sum(product))
        value = a.div(total, samples) if reduction == "mean" else total
    if seed is None:
        return Pass(lsm, value)
    if reduction == "none":
        g = np.expand_dims(a.neg(seed), axis)
    else:
        g = a.neg(a.div(seed, samples) if reduction == "mean" else seed)
    g = a.cast(np.broadcast_to(g, x.shape))
    into = a.mul(g if w is None else a.mul(g, w), target)
    return Pass(lsm, value, into, log_softmax_backward(a, into, lsm, axis, vector))


def class_mass(a: Arith, y: np.ndarray, weight: np.ndarray | None, smoothing: float, axis: int) -> np.ndarray:
    """The probability targets as torch holds them, y (1 - ls) + ls / C, times the class weights if given."""
    target = a.cast(y)
    if smoothing:
        target = a.add(a.mul(target, 1.0 - smoothing), smoothing / np.shape(y)[axis])
    return target if weight is None else a.mul(target, _class_axis(a.cast(weight), target.ndim, axis))


def _reduced(per_sample: np.ndarray, reduction: str, denominator: float) -> np.ndarray:
    if reduction == "none":
        return per_sample
    total = float(np.sum(per_sample))
    return np.asarray(total / denominator if reduction == "mean" and denominator else total)


def _cross_entropy_case(context: ModelContext, op: str) -> tuple[Arith, np.ndarray, int, str, float] | None:
    if context.op.name != op or not context.params["from_logits"]:
        return None
    a = arith(context)
    x = a.cast(context.inputs["y_pred"])
    return (
        a,
        x,
        int(context.params["axis"]) % x.ndim,
        str(context.params["reduction"]),
        float(context.params["label_smoothing"]),
    )


@model("torch.cross_entropy")
def cross_entropy_model(context: ModelContext) -> list[Prediction] | None:
    """nll_loss(log_softmax(x)): a log-probability near 0 keeps only absolute accuracy, so a small
    loss is 0 or ULPs of 1 off; the backward g - exp(lsm) sum(g) cancels to 0 where the exact
    gradient is tiny; an infinite logit gives inf - inf = NaN; an all-ignored batch's mean is 0/0
    but its gradient 0."""
    case = _cross_entropy_case(context, "sparse_categorical_crossentropy")
    if case is None:
        return None
    a, x, axis, reduction, smoothing = case
    ignore = context.params["ignore_index"]
    weight = context.params["class_weight"]
    t = targets(a, context.inputs["y_true"], x.shape[axis], weight, -100 if ignore is None else int(ignore))
    if t is None:
        return None
    seed = (
        None
        if context.quantity == "value"
        else output_gradient(a, context, t.labels.shape if reduction == "none" else ())
    )
    predictions = []
    for vector in VECTORS:
        run = cross_entropy(a, x, t, reduction, smoothing, axis, vector, seed)
        if run.grad is not None and run.into is not None:
            scale = log_softmax_backward_scale(a, run.into, run.lsm, axis)
            predictions.append(Prediction(a.wide(run.grad), scale=scale))
            continue
        # Each log-probability is good to its log_softmax_scale; the loss weighs them.
        slack = np.moveaxis(log_softmax_scale(a, run.lsm), axis, -1)
        w = np.ones(slack.shape[-1]) if t.weight is None else np.abs(a.wide(t.weight))
        keep, spread = (1.0 - smoothing, smoothing / x.shape[axis])
        with np.errstate(invalid="ignore", over="ignore"):
            per_sample = keep * t.picked(slack) * w[t.labels] + spread * np.sum(slack * w, axis=-1)
        per_sample = np.where(t.counts, np.nan_to_num(per_sample), 0.0)
        denominator = float(np.sum(np.where(t.counts, w[t.labels], 0.0)))
        predictions.append(Prediction(a.wide(run.value), scale=_reduced(per_sample, reduction, denominator)))
    return predictions


@model("torch.cross_entropy_probabilities")
def cross_entropy_probabilities_model(context: ModelContext) -> list[Prediction] | None:
    """-(log_softmax(x) * y).sum(class): as :func:`cross_entropy_model`, and -inf * 0 = NaN where a
    -inf logit has zero target mass."""
    case = _cross_entropy_case(context, "categorical_crossentropy")
    if case is None:
        return None
    a, x, axis, reduction, smoothing = case
    y, weight = context.inputs["y_true"], context.params["class_weight"]
    seed_shape = np.delete(np.array(x.shape), axis) if reduction == "none" else np.array([], dtype=int)
    seed = None if context.quantity == "value" else output_gradient(a, context, tuple(int(n) for n in seed_shape))
    mass = np.abs(a.wide(class_mass(a, y, weight, smoothing, axis)))
    predictions = []
    for vector in VECTORS:
        run = cross_entropy_probabilities(a, x, y, weight, reduction, smoothing, axis, vector, seed)
        if run.grad is not None and run.into is not None:
            scale = log_softmax_backward_scale(a, run.into, run.lsm, axis)
            predictions.append(Prediction(a.wide(run.grad), scale=scale))
            continue
        with np.errstate(invalid="ignore"):  # an infinite log-probability with no mass
            per_sample = np.sum(np.nan_to_num(log_softmax_scale(a, run.lsm) * mass), axis=axis)
        scale = _reduced(per_sample, reduction, float(x.size // x.shape[axis]))
        predictions.append(Prediction(a.wide(run.value), scale=scale))
    return predictions
