"""What every loss shares: samples, label smoothing, weights, ignore_index and reductions.

Conventions (the "ideal", where frameworks differ; variants cover the documented rest):

* A *sample* is an element for binary cross-entropy and a row along ``axis`` for the
  categorical ones. ``reduction: none`` returns one loss per sample, weighted.
* Label smoothing: y (1 - ls) + ls / K with K classes (K = 2 for binary), computed exactly.
* ``class_weight`` w multiplies each class's term; the weight that *applies* to a sample
  is sum_k w_k y_k (w_target for a one-hot label).
* ``mean`` is the frameworks' mean: the weighted sum divided by the number of samples that
  count (rows, not label mass; sample weights do not enter the denominator: Keras'
  sum_over_batch_size, torch's weight of BCELoss, optax + mean). With class weights it is
  torch's weighted mean, divided by the sum of the class weights that apply.
  ``ignore_index`` removes a sample from both. With no sample left the mean is 0/0 = NaN.
  A sample of weight 0 adds nothing to the sum, even where its loss is infinite.
* Samples with identical inputs have identical losses: their weights are added exactly
  before they multiply the loss once, so weights [1, -1] on equal samples give an exact 0.
  A sample may also state its loss as a rational plus rational multiples of named
  transcendental terms (:class:`LinearForm`); a weighted sum then adds the rationals and each
  term's coefficients exactly first, so losses that are equal without their inputs being
  equal (log 2 at x = 0 with y = 0, and with y = 1) cancel exactly too.
* Gradients are d(output)/d(prediction); for ``none`` and the primitives, of the sum of
  outputs times ``cotangent`` (default all ones).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, cast

import numpy as np
from mpmath import libmp

from oracle.interval import NAN, ONE, ZERO, Interval, fsum, is_zero
from oracle.kernels import log
from oracle.semantics import InFormat

from .params import MEAN_OVER_COUNT
from .spec import Enclosures, InvalidInput


@dataclass(frozen=True)
class LinearForm:
    """A loss as ``rational + sum(c * terms[key] for key, c in coefficients)``, exactly.

    Equal keys name equal numbers (``("log", 3)`` is log 3 wherever it appears); ``terms`` holds
    each key's enclosure at the working precision. That is all a weighted sum needs to see an
    exact cancellation: with every key's coefficient and the rational summing to 0 it is 0.
    """

    rational: Fraction
    coefficients: tuple[tuple[Hashable, Fraction], ...]
    terms: Mapping[Hashable, Interval]


@dataclass
class Sample:
    loss: Interval
    grads: list[Interval]
    applied_weight: Interval = ONE  # the class weight that applies to this sample (1 without class weights)
    counts: bool = True  # False for ignore_index
    #: The exact inputs the loss depends on (beyond the op's params), when the op states them:
    #: samples with equal keys have equal losses, so their weights are summed exactly.
    key: Hashable | None = None
    #: The loss as a :class:`LinearForm`, where the op can state it (for weighted sums that may cancel).
    form: LinearForm | None = None


def times(c: float, derivative: Interval) -> Interval:
    return derivative if c == 1 else Interval.of(c) * derivative


def smooth(y: Interval, smoothing: float, classes: int) -> Interval:
    if smoothing == 0:
        return y
    ls = Interval.of(smoothing)
    return y * (ONE - ls) + ls / classes


def smoothed(y: Fraction, smoothing: float, classes: int) -> Fraction:
    """:func:`smooth` on an exact label, as a rational (for linear forms)."""
    ls = Fraction(smoothing)
    return y * (1 - ls) + ls / classes


def cotangent_for(inputs: Mapping[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    cotangent = inputs.get("cotangent")
    if cotangent is None:
        return np.ones(shape)
    try:
        return np.broadcast_to(cotangent, shape)
    except ValueError:
        raise InvalidInput(f"cotangent of shape {np.shape(cotangent)} does not fit x of shape {shape}") from None


def unmove(flat: list[Interval], moved_shape: tuple[int, ...], axis: int) -> list[Interval]:
    """Put a list laid out with ``axis`` last back into the original layout."""
    order = np.moveaxis(np.arange(len(flat)).reshape(moved_shape), -1, axis)
    return [flat[i] for i in order.ravel().tolist()]


def class_weights(class_weight: Any, classes: int) -> list[Interval]:
    if class_weight is None:
        return [ONE] * classes
    weights = np.asarray(class_weight, dtype=np.float64).ravel().tolist()
    if len(weights) != classes:
        raise InvalidInput(f"class_weight has {len(weights)} entries for {classes} classes", ("params", "class_weight"))
    return [Interval.of(w) for w in weights]


def check_sample_weight(sample_weight: Any, shape: tuple[int, ...]) -> None:
    if sample_weight is None:
        return
    try:
        np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), shape)
    except ValueError:
        raise InvalidInput(
            f"sample_weight of shape {np.shape(sample_weight)} does not fit losses of shape {shape}",
            ("params", "sample_weight"),
        ) from None


def _sample_weights(sample_weight: Any, shape: tuple[int, ...]) -> list[float]:
    if sample_weight is None:
        return [1.0] * int(np.prod(shape, dtype=np.int64))
    check_sample_weight(sample_weight, shape)
    return np.broadcast_to(np.asarray(sample_weight, dtype=np.float64), shape).ravel().tolist()


def reduce(
    samples: list[Sample],
    params: Mapping[str, Any],
    semantics: InFormat,
    sample_shape: tuple[int, ...],
    moved_shape: tuple[int, ...],
    axis: int | None,
) -> Enclosures:
    """Weight, reduce and lay out the samples' losses and gradients (``axis`` is the class axis
    that was moved last, or None when samples are elements)."""
    weights = _sample_weights(params["sample_weight"], sample_shape)
    reduction = str(params["reduction"])
    scale: list[Interval] = [ZERO if not s.counts else Interval.of(w) for s, w in zip(samples, weights)]
    if reduction == "none":
        weighted = [ZERO if (w == 0 or not s.counts) else times(w, s.loss) for s, w in zip(samples, weights)]
        value, value_shape = weighted, sample_shape
    else:
        total = _weighted_sum(samples, weights)
        if reduction == "mean":
            if semantics.flag(MEAN_OVER_COUNT.name):
                denominator = Interval.of(sum(1 for s in samples if s.counts))
            else:
                denominator = fsum([s.applied_weight for s in samples if s.counts])
            if is_zero(denominator):
                return _all_nan(moved_shape, axis)
            total = total / denominator
            scale = [f / denominator for f in scale]
        elif reduction != "sum":
            raise InvalidInput(f"unknown reduction {reduction!r}")
        value, value_shape = [total], ()
    grads = [ZERO if is_zero(f) else f * g for s, f in zip(samples, scale) for g in s.grads]
    if axis is not None:
        grads = unmove(grads, moved_shape, axis)
    return Enclosures(value, value_shape, grads, _grad_shape(moved_shape, axis))


def _weighted_sum(samples: list[Sample], weights: list[float]) -> Interval:
    """sum_i w_i loss_i, the weights of samples with one key added exactly first, and samples
    stated as linear forms added as rationals and exact coefficients of their terms."""
    grouped: dict[Hashable, tuple[Fraction, Interval]] = {}
    terms: list[Interval] = []
    rational = Fraction(0)
    coefficients: dict[Hashable, Fraction] = {}
    named: dict[Hashable, Interval] = {}
    for s, w in zip(samples, weights):
        if w == 0 or not s.counts:
            continue
        if s.form is not None:
            rational += Fraction(w) * s.form.rational
            for name, coefficient in s.form.coefficients:
                coefficients[name] = coefficients.get(name, Fraction(0)) + Fraction(w) * coefficient
                named.setdefault(name, s.form.terms[name])
            continue
        if s.key is None:
            terms.append(times(w, s.loss))
            continue
        weight, loss = grouped.get(s.key, (Fraction(0), s.loss))
        grouped[s.key] = (weight + Fraction(w), loss)
    terms += [Interval.of(weight) * loss for weight, loss in grouped.values() if weight != 0]
    terms += [Interval.of(c) * named[name] for name, c in coefficients.items() if c != 0]
    if rational:
        terms.append(Interval.of(rational))
    return fsum(terms)


def _grad_shape(moved_shape: tuple[int, ...], axis: int | None) -> tuple[int, ...]:
    if axis is None:
        return moved_shape
    shape = list(moved_shape[:-1])
    shape.insert(axis % len(moved_shape), moved_shape[-1])
    return tuple(shape)


def _all_nan(moved_shape: tuple[int, ...], axis: int | None) -> Enclosures:
    size = int(np.prod(moved_shape, dtype=np.int64))
    return Enclosures([NAN], (), [NAN] * size, _grad_shape(moved_shape, axis))


def may_cancel(params: Mapping[str, Any], labels: np.ndarray | None) -> bool:
    """Whether a reduced sum of a cross-entropy's losses can be exactly 0 short of every loss
    being 0: some sample or class weight is negative, or some label outside [0, 1] (else every
    loss is >= 0, and > 0 where finite). ``labels`` None: class indices, never outside."""
    if params["reduction"] == "none":
        return False
    for name in ("sample_weight", "class_weight"):
        weights = params.get(name)
        if weights is not None and bool((np.asarray(weights, dtype=np.float64) < 0).any()):
            return True
    return labels is not None and bool(((labels < 0) | (labels > 1)).any())


#: A named real number: ("log", odd integer or 2.0), ("softplus", -|x|), ("lse", shifted logits).
Term = tuple[str, Hashable]


def log_terms(a: Fraction, coefficient: Fraction) -> list[tuple[Term, Fraction]]:
    """c log a for a positive rational a = 2**e m / n (m, n odd) as c log m - c log n + c e log 2:
    logs of the same odd integers (or of 2) then meet under one name, whatever the power of 2.
    (m and n are below 2**53 for a float's rational, or a class count: exact as float names.)"""
    if coefficient == 0:
        return []
    numerator, denominator = a.numerator, a.denominator
    twos = (numerator & -numerator).bit_length() - (denominator & -denominator).bit_length()
    numerator >>= (numerator & -numerator).bit_length() - 1
    denominator >>= (denominator & -denominator).bit_length() - 1
    terms: list[tuple[Term, Fraction]] = [(("log", float(numerator)), coefficient)] if numerator != 1 else []
    terms += [(("log", float(denominator)), -coefficient)] if denominator != 1 else []
    return terms + ([(("log", 2.0), coefficient * twos)] if twos else [])


def linear_form(
    rational: Fraction, terms: list[tuple[Term, Fraction]], known: Mapping[Hashable, Interval] | None = None
) -> LinearForm:
    """The form with each name's coefficients merged; logs are evaluated here, other names'
    enclosures come in ``known``."""
    merged: dict[Hashable, Fraction] = {}
    values: dict[Hashable, Interval] = dict(known or {})
    for name, coefficient in terms:
        merged[name] = merged.get(name, Fraction(0)) + coefficient
        if name not in values and name[0] == "log":
            values[name] = log(Interval.of(int(cast(float, name[1]))))
    return LinearForm(rational, tuple(merged.items()), values)


def exact_fraction(value: Interval) -> Fraction:
    """The rational an exact interval holds."""
    return Fraction(*libmp.to_rational(value.lo))
