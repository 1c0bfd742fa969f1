"""Gaussian negative log-likelihood, each element a sample: (log v + (mu - y)^2 / v) / 2 [+ log(2 pi) / 2].

``y_pred`` is the mean mu, ``var`` the variance (the same shape, or the prediction's shape
without its last axis, or with a last axis of 1: one variance per row, broadcast). With ``eps``
the variance is floored, v = max(var, eps), as torch documents for ``GaussianNLLLoss`` (its
functional docstring said "added" until pytorch/pytorch PR #190058: 0.5 log(max(4, 1)) = 0.693147,
not 0.5 log(4 + 1) = 0.804719); without it v = var. ``full`` adds log(2 pi) / 2.

Two ops share the loss: ``gaussian_nll`` is differentiated with respect to the mean,
((mu - y) / v), ``gaussian_nll_var`` with respect to the variance ((1 / v - (mu - y)^2 / v^2) / 2,
0 where the floor holds the variance, summed over the elements a variance is broadcast to).
torch's documented variant keeps the gradient where it clamps ("ignored with respect to
autograd") and floors at its default eps = 1e-6 when the case gives none.

The ideal's limits: v = 0 costs +inf (-inf where mu = y exactly); a negative variance has no
likelihood (torch raises).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.interval import INF, NAN, NEG_INF, ZERO, Interval, fsum, is_zero
from oracle.kernels import log
from oracle.semantics import InFormat
from oracle.special import log_sum_is_zero, log_two_pi

from . import _reduce
from .params import REDUCTION
from .poisson_nll import FULL
from .spec import Arrays, Enclosures, Evaluate, Input, InvalidInput, OpDefinition, Param, ParamKind, Params, Setting

EPS = Param(
    "eps",
    ParamKind.VALUE,
    None,
    "a floor on the variance: v = max(var, eps) (torch's documented clamp); none by default",
    minimum=0.0,
)
VARIANCE_FLOOR = Setting("variance_floor", float, "the floor on the variance where the case sets no eps")
FLOOR_KEEPS_GRADIENT = Setting(
    "floor_keeps_gradient",
    bool,
    "the variance's gradient is taken at the floored value, as if the floor were not there",
)

Pair = tuple[Interval, Interval]


def _var_layout(y_pred: tuple[int, ...], var: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape var broadcasts through (same rank as y_pred), or None when it does not fit."""
    if var == y_pred:
        return var
    if y_pred and var == y_pred[:-1]:
        return (*var, 1)
    if y_pred and var == (*y_pred[:-1], 1):
        return var
    return None


def _element(y: float, mu: float, var: float, floor: float | None, keep: bool) -> tuple[Interval, Pair]:
    """(loss without the constant, (d/dmu, d/dvar)) for one element."""
    if math.isnan(y) or math.isnan(mu) or math.isnan(var):
        return NAN, (NAN, NAN)
    clamped = floor is not None and var < floor
    v = float(floor) if clamped and floor is not None else var
    flows = not clamped or keep  # the floor's derivative is 0 where it holds the variance

    def through(slope: Interval) -> Interval:
        return slope if flows else ZERO

    if math.isinf(y) or math.isinf(mu):
        if math.isinf(y) and math.isinf(mu) and y == mu:
            return NAN, (NAN, NAN)
        toward = INF if mu > y else NEG_INF
        return INF, (NAN if math.isinf(v) else toward, through(NAN if math.isinf(v) else NEG_INF))
    d = Interval.of(Fraction(mu) - Fraction(y))
    if math.isinf(v):
        return INF, (ZERO, ZERO)
    if v == 0:
        if is_zero(d):
            return NEG_INF, (NAN, through(INF))
        return INF, ((INF if mu > y else NEG_INF), through(NEG_INF))
    variance = Interval.of(v)
    square = d * d
    half = Interval.of(0.5)
    loss = (log(variance) + square / variance) * half
    # (v - d^2) / (2 v^2): one division of an exact numerator, so d^2 = v gives an exact 0.
    grad_var = through((variance - square) / (variance * variance * 2))
    return loss, (d / variance, grad_var)


def _evaluator(wrt_var: bool) -> Evaluate:
    def evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
        y_true = np.asarray(inputs["y_true"], dtype=np.float64)
        y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
        var_in = np.asarray(inputs["var"], dtype=np.float64)
        if bool(np.any(var_in < 0)):
            raise InvalidInput("var has a negative entry: no Gaussian has a negative variance", ("inputs", "var"))
        layout = _var_layout(y_pred.shape, var_in.shape)
        assert layout is not None  # _check ran
        var = np.broadcast_to(var_in.reshape(layout), y_pred.shape)
        eps = params["eps"]
        floor = float(eps) if eps is not None else semantics.get(VARIANCE_FLOOR.name)
        keep = semantics.flag(FLOOR_KEEPS_GRADIENT.name)
        constant = log_two_pi() * Interval.of(0.5) if params["full"] else ZERO
        samples = []
        for y, mu, v in zip(y_true.ravel().tolist(), y_pred.ravel().tolist(), var.ravel().tolist()):
            loss, (grad_mu, grad_var) = _element(y, mu, v, floor, keep)
            samples.append(_reduce.Sample(loss + constant, [grad_var if wrt_var else grad_mu], key=(y, mu, v)))
        unweighted = {**params, "sample_weight": None}
        reduced = _reduce.reduce(samples, unweighted, semantics, y_pred.shape, y_pred.shape, None)
        undecided = params["reduction"] != "none" and not params["full"] and reduced.value[0].sign() is None
        if undecided and _sums_to_zero(y_true.ravel().tolist(), y_pred.ravel().tolist(), var.ravel().tolist(), floor):
            reduced.value = [ZERO]
        if not wrt_var or var_in.shape == y_pred.shape:
            if wrt_var:
                reduced.grad_shape = var_in.shape
            return reduced
        return Enclosures(reduced.value, reduced.value_shape, _fold(reduced.grad, y_pred.shape), var_in.shape)

    return evaluate


def _sums_to_zero(ys: list[float], mus: list[float], variances: list[float], floor: float | None) -> bool:
    """Whether sum_i (log v_i + d_i^2 / v_i) / 2 is exactly 0: with log v_i = log of a dyadic, only
    when every d_i = 0 and prod v_i = 1 (e^r is transcendental for a rational r != 0)."""
    values = [max(v, floor) if floor is not None else v for v in variances]
    if any(not math.isfinite(x) for x in [*ys, *mus, *values]) or any(v == 0 for v in values):
        return False
    if any(y != mu for y, mu in zip(ys, mus)):
        return False
    return log_sum_is_zero([(Fraction(1), Fraction(v)) for v in values])


def _fold(grads: list[Interval], shape: tuple[int, ...]) -> list[Interval]:
    """Sum the gradients of a variance broadcast along the last axis."""
    rows = np.arange(len(grads)).reshape(shape).reshape(-1, shape[-1])
    return [fsum([grads[i] for i in row]) for row in rows.tolist()]


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred, var = (np.shape(arrays[name]) for name in ("y_true", "y_pred", "var"))
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    if _var_layout(y_pred, var) is None:
        raise InvalidInput(
            f"var of shape {var} fits neither y_pred {y_pred}, nor it without its last axis, nor with a last axis of 1",
            ("inputs", "var"),
        )


def _definition(name: str, prediction: str, summary: str) -> OpDefinition:
    return OpDefinition(
        name,
        summary,
        (
            Input("y_true", doc="samples (targets)"),
            Input("y_pred", doc="the means"),
            Input("var", doc="the variances (>= 0), per element or per row"),
        ),
        prediction,
        (FULL, EPS, REDUCTION),
        _evaluator(prediction == "var"),
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(VARIANCE_FLOOR, FLOOR_KEEPS_GRADIENT),
        reference="oracle/ops/gaussian_nll.py",
        example={"y_true": [[0, 1], [2, -1]], "y_pred": [[0.5, 0.75], [2, 1]], "var": [[1, 0.25], [4, 2]]},
    )


DEFINITIONS = (
    _definition("gaussian_nll", "y_pred", "(log v + (mu - y)^2 / v) / 2 [+ log(2 pi) / 2]; gradient in the mean"),
    _definition("gaussian_nll_var", "var", "the Gaussian NLL, differentiated with respect to the variance"),
)
