"""Poisson negative log-likelihood, each element a sample: lambda - y log lambda [+ log y!].

The prediction is the rate lambda, or its log x = log lambda (``log_input``: then the loss is
exp(x) - y x and its gradient exp(x) - y). ``full`` adds the constant log y! = log Gamma(1 + y),
exactly (:func:`oracle.special.log_factorial`; fractional targets included). The ideal keeps
0 log 0 = 0: a target of 0 at rate 0 (x = -inf) costs 0, a positive target at rate 0 costs +inf.
A negative rate or target has no likelihood: NaN.

The documented variants turn two settings: ``log_eps`` (the log of lambda + eps, eps converted to
the dtype: torch's 1e-8 in ``log_input=False`` mode, Keras' 1e-7) and ``stirling`` (the full term
is Stirling's approximation y log y - y + log(2 pi y) / 2 where y > 1 and 0 elsewhere, as torch's
``poisson_nll_loss(full=True)`` and TensorFlow's ``log_poisson_loss(compute_full_loss=True)``
compute it).
"""

from __future__ import annotations

import math

import numpy as np

from oracle.formats import round_float
from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, is_zero
from oracle.kernels import exp, log
from oracle.semantics import InFormat
from oracle.special import log_factorial, log_two_pi

from . import _reduce
from .params import MEAN_OVER_COUNT, REDUCTION, SAMPLE_WEIGHT
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Param, ParamKind, Params, Setting

LOG_INPUT = Param(
    "log_input",
    ParamKind.FLAG,
    False,
    "y_pred holds the log of the prediction (log lambda, log q) instead of the prediction; "
    "implementations of the other form do not apply",
    mode=True,
)
FULL = Param(
    "full",
    ParamKind.FLAG,
    False,
    "include the likelihood's constant term (Poisson: log y!, exactly; Gaussian: log(2 pi) / 2)",
)
LOG_EPS = Setting("log_eps", float, "the rate's log is log(lambda + eps), eps converted to the dtype")
STIRLING = Setting("stirling", bool, "the full term is y log y - y + log(2 pi y) / 2 where y > 1, and 0 where y <= 1")


def _stirling_term(y: float) -> Interval:
    if y <= 1:
        return ZERO
    if math.isinf(y):
        return INF
    target = Interval.of(y)
    half = Interval.of(0.5)
    return target * log(target) - target + half * (log_two_pi() + log(target))


def _sample(y: float, prediction: float, log_input: bool, eps: float | None) -> tuple[Interval, Interval]:
    """(loss without the constant, gradient) for one element."""
    if math.isnan(y) or math.isnan(prediction) or y < 0:
        return NAN, NAN
    target = Interval.of(y)
    if log_input:
        rate = exp(Interval.of(prediction))
        if math.isinf(prediction):
            if prediction > 0:
                return INF, INF
            return (ZERO if y == 0 else INF), -target
        return rate - target * Interval.of(prediction), rate - target
    if prediction < 0:
        return NAN, NAN
    shifted = Interval.of(prediction) if eps is None else Interval.of(prediction) + Interval.of(eps)
    if math.isinf(prediction):
        return (INF if y != math.inf else NAN), ONE
    if is_zero(shifted):
        # 0 log 0 = 0: a zero target at rate 0 costs nothing (gradient 1); any other costs +inf.
        return (ZERO, ONE) if y == 0 else (INF, NEG_INF)
    if y == 0:
        return Interval.of(prediction), ONE
    return Interval.of(prediction) - target * log(shifted), ONE - target / shifted


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    epsilon = semantics.get(LOG_EPS.name)
    eps = None if epsilon is None else round_float(float(epsilon), semantics.fmt)
    stirling = semantics.flag(STIRLING.name)
    samples = []
    for y, prediction in zip(y_true.ravel().tolist(), y_pred.ravel().tolist()):
        loss, grad = _sample(y, prediction, bool(params["log_input"]), eps)
        if params["full"] and not loss.is_nan:
            loss = loss + (_stirling_term(y) if stirling else log_factorial(y))
        samples.append(_reduce.Sample(loss, [grad], key=(y, prediction)))
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


DEFINITIONS = (
    OpDefinition(
        "poisson_nll",
        "lambda - y log lambda [+ log y!] (exp(x) - y x with log_input), each element a sample",
        (Input("y_true", doc="targets (counts), >= 0"), Input("y_pred", doc="rates, or their logs (log_input)")),
        "y_pred",
        (LOG_INPUT, FULL, REDUCTION, SAMPLE_WEIGHT),
        _evaluate,
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(LOG_EPS, STIRLING, MEAN_OVER_COUNT),
        reference="oracle/ops/poisson_nll.py",
        example={"y_true": [[0, 1], [2, 5]], "y_pred": [[0.5, 1.5], [2, 3]]},
    ),
)
