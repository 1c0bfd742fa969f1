"""Binary cross-entropy, on probabilities or on logits: -(y log p + (1 - y) log(1 - p)).

The ideal: 0 log 0 = 0, no clip, limits at infinite logits, soft labels allowed; each
element is a sample. On logits it is softplus(x) - x y, arranged as x (1 - y) + softplus(-x)
for x >= 0 so that both terms are >= 0. The documented variants turn the settings below:
Keras' clip of p to [eps, 1 - eps], torch BCELoss' floor of each log at -100 and of its
backward's denominator at 1e-12.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from oracle.formats import FORMATS, round_float
from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, is_one, is_zero, maximum, precision
from oracle.kernels import current_backend, log, log1p
from oracle.semantics import InFormat

from . import _reduce
from .params import CLIP_EPSILON, LOSS_PARAMS, MEAN_OVER_COUNT
from .sigmoid_family import Pair, sigmoid_and_complement, softplus_value
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params, Setting

LOG_FLOOR = Setting("log_floor", float, "each log term of binary cross-entropy is clamped to >= this (torch: -100)")
GRAD_DENOMINATOR_FLOOR = Setting(
    "grad_denominator_floor",
    float,
    "the backward divides by max(p (1 - p), floor), the floor a float32 constant in every dtype (torch: 1e-12)",
)


def clip_bounds(semantics: InFormat) -> tuple[float, float] | None:
    """[eps, 1 - eps] as the framework holds them: both converted to the dtype from the doubles
    eps and 1.0 - eps (Keras' clip_by_value), so 1 - 1e-7 is 1 - 2**-23 in float32 and 1 in float16."""
    epsilon = semantics.get(CLIP_EPSILON.name)
    if epsilon is None:
        return None
    return round_float(epsilon, semantics.fmt), round_float(1.0 - epsilon, semantics.fmt)


def _denominator_floor(semantics: InFormat) -> float | None:
    floor = semantics.get(GRAD_DENOMINATOR_FLOOR.name)
    if floor is None:
        return None
    # torch's EPSILON is a float32 constant whatever the dtype: 1e-12 as float32, then the dtype.
    return round_float(round_float(floor, FORMATS["float32"]), semantics.fmt)


def bce_logits(y: Interval, x: float) -> Pair:
    """softplus(x) - x*y, arranged as x(1-y) + softplus(-x) for x >= 0 so both terms are >= 0."""
    if math.isnan(x) or y.is_nan:
        return NAN, NAN
    s, complement = sigmoid_and_complement(x)
    if is_one(y):
        gradient = -complement
    elif is_zero(y):
        gradient = s
    else:
        gradient = s - y
    if math.isinf(x):
        weight = (ONE - y) if x > 0 else y  # what multiplies |x| in the limit
        sign = weight.sign()
        value = ZERO if sign == 0 else INF if sign == 1 else NEG_INF if sign == -1 else NAN
        return value, gradient
    if x >= 0:
        value = Interval.of(x) * (ONE - y) + softplus_value(-x)
    else:
        value = Interval.of(-x) * y + softplus_value(x)
    return value, gradient


def bce_probabilities(y: Interval, p: float, semantics: InFormat) -> Pair:
    """-(y log p + (1-y) log(1-p)) with 0 log 0 = 0, and the variants' clip and log floor."""
    if math.isnan(p) or y.is_nan or not 0 <= p <= 1:
        return NAN, NAN
    active = True
    bounds = clip_bounds(semantics)
    if bounds is not None:
        low, high = bounds
        active = low <= p <= high
        p = min(max(p, low), high)
    complement_y = ONE - y
    log_p, log_q = log(Interval.of(p)), log1p(Interval.of(-p))
    floor = semantics.get(LOG_FLOOR.name)
    if floor is not None:
        log_p, log_q = maximum(log_p, Interval.of(floor)), maximum(log_q, Interval.of(floor))
    value = ZERO
    if not is_zero(y):
        value = value - y * log_p
    if not is_zero(complement_y):
        value = value - complement_y * log_q
    return value, _probability_gradient(y, p, semantics) if active else ZERO


def _probability_gradient(y: Interval, p: float, semantics: InFormat) -> Interval:
    """d/dp = (p - y) / (p (1 - p)); the variant floors the denominator (torch's backward)."""
    floor = _denominator_floor(semantics)
    if floor is not None:
        denominator = maximum(Interval.of(p) * (ONE - Interval.of(p)), Interval.of(floor))
        if is_zero(denominator):
            # 1e-12 is 0 in float16: the documented backward divides by zero, IEEE-style.
            sign = (Interval.of(p) - y).sign()
            return NAN if sign == 0 else INF if sign == 1 else NEG_INF
        return (Interval.of(p) - y) / denominator
    if is_one(y):
        return NEG_INF if p == 0 else -(ONE / Interval.of(p))
    if is_zero(y):
        return INF if p == 1 else ONE / (ONE - Interval.of(p))
    if p == 0:
        return NEG_INF if y.sign() == 1 else INF
    if p == 1:
        # (p - y) / (p (1 - p)) -> (1 - y) / (1 - p) as p -> 1-: the sign of 1 - y (y = 1 is above).
        return INF if (ONE - y).sign() == 1 else NEG_INF
    return (Interval.of(p) - y) / (Interval.of(p) * (ONE - Interval.of(p)))


def _evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    y_true = np.asarray(inputs["y_true"], dtype=np.float64)
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64)
    smoothing = float(params["label_smoothing"])
    from_logits = bool(params["from_logits"])
    pairs = _element_pairs(y_true, y_pred, smoothing, from_logits, semantics)
    stated = _reduce.may_cancel(params, y_true) and not (
        semantics.get(CLIP_EPSILON.name) or semantics.get(LOG_FLOOR.name)
    )
    samples = [
        _reduce.Sample(loss, [grad], key=(y, p), form=_form(y, p, smoothing, from_logits) if stated else None)
        for (loss, grad), y, p in zip(pairs, y_true.ravel().tolist(), y_pred.ravel().tolist())
    ]
    return _reduce.reduce(samples, params, semantics, y_pred.shape, y_pred.shape, None)


def _form(y: float, p: float, smoothing: float, from_logits: bool) -> _reduce.LinearForm | None:
    """The ideal loss at one element as a rational plus rational multiples of named terms: on
    logits max(x, 0) - x z + log1p(exp(-|x|)) (the tail is log 2 at x = 0), on probabilities
    -z log p - (1 - z) log(1 - p), with z the smoothed label, exactly. None at limits and NaN."""
    if not (math.isfinite(y) and math.isfinite(p)):
        return None
    z = _reduce.smoothed(Fraction(y), smoothing, 2)
    if from_logits:
        x = Fraction(p)
        rational = max(x, Fraction(0)) - x * z
        if p == 0:
            return _reduce.linear_form(rational, _reduce.log_terms(Fraction(2), Fraction(1)))
        tail = ("softplus", -abs(p))
        return _reduce.linear_form(rational, [(tail, Fraction(1))], {tail: softplus_value(-abs(p))})
    if not 0 < p < 1:
        return None
    q = Fraction(p)
    return _reduce.linear_form(Fraction(0), [*_reduce.log_terms(q, -z), *_reduce.log_terms(1 - q, z - 1)])


#: The per-element enclosures of the last few large batches. They depend on the inputs, the
#: smoothing, logits or not, the settings and format, the working precision and the backend,
#: never on the reduction: a batch's ``mean`` and ``sum`` (and its reduced variants' answers)
#: reuse one evaluation. Intervals are immutable, so sharing them is safe.
_ELEMENTS: dict[tuple[object, ...], list[Pair]] = {}
ELEMENTS_KEPT = 2
ELEMENTS_MIN_SIZE = 1000


def _element_pairs(
    y_true: np.ndarray, y_pred: np.ndarray, smoothing: float, from_logits: bool, semantics: InFormat
) -> list[Pair]:
    def compute() -> list[Pair]:
        pairs = []
        for y, p in zip(y_true.ravel().tolist(), y_pred.ravel().tolist()):
            label = _reduce.smooth(Interval.of(y), smoothing, 2)
            pairs.append(bce_logits(label, p) if from_logits else bce_probabilities(label, p, semantics))
        return pairs

    if y_pred.size < ELEMENTS_MIN_SIZE:
        return compute()
    key = (
        y_true.shape,
        y_true.tobytes(),
        y_pred.tobytes(),
        smoothing,
        from_logits,
        semantics.fmt.name,
        tuple(sorted(semantics.settings.items())),
        precision(),
        current_backend(),
    )
    if key not in _ELEMENTS:
        while len(_ELEMENTS) >= ELEMENTS_KEPT:
            del _ELEMENTS[next(iter(_ELEMENTS))]
        _ELEMENTS[key] = compute()
    return _ELEMENTS[key]


def _check(params: Params, arrays: Arrays) -> None:
    y_true, y_pred = np.shape(arrays["y_true"]), np.shape(arrays["y_pred"])
    if y_true != y_pred:
        raise InvalidInput(f"y_true shape {y_true} differs from y_pred shape {y_pred}")
    _reduce.check_sample_weight(params["sample_weight"], y_pred)


DEFINITIONS = (
    OpDefinition(
        "binary_crossentropy",
        "-(y log p + (1 - y) log(1 - p)), each element a sample; p = sigmoid(x) from logits",
        (Input("y_true", doc="labels in [0, 1], soft labels allowed"), Input("y_pred", doc="probabilities or logits")),
        "y_pred",
        LOSS_PARAMS,
        _evaluate,
        _check,
        sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
        settings=(CLIP_EPSILON, LOG_FLOOR, GRAD_DENOMINATOR_FLOOR, MEAN_OVER_COUNT),
        reference="README.md#the-ideal-where-frameworks-disagree",
        example={"y_true": [[0, 1], [1, 0.25]], "y_pred": [[0.25, 0.75], [0.5, 0.125]]},
    ),
)
