"""The softmax family, along one axis: log_softmax, softmax, logsumexp.

Every row is taken relative to its largest entry ``x_top``: with ``e_k = exp(x_k - x_top)``
and ``rest = sum of e_k over k != top``, we have ``-log_softmax_k = (x_top - x_k) + log1p(rest)``,
a sum of two non-negative terms, so no ±810 spread or 1e30 offset cancels anything.
Gradients are arranged the same way (see each function), so exact zeros come out
exact and the Ziv loop never chases a cancellation that is not in the mathematics.

Non-finite rows get their limits: a -inf entry has probability 0; one +inf entry takes
all the mass; two +inf entries, an all -inf row (for softmax) or a NaN have no limit: NaN.
The categorical cross-entropies are built on :func:`decompose`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from oracle.interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, fsum, intersect
from oracle.kernels import exp, log1p
from oracle.semantics import InFormat

from . import _reduce
from .params import AXIS
from .spec import Arrays, Enclosures, Input, InvalidInput, OpDefinition, Params

Values = list[Interval]


@dataclass(frozen=True)
class Decomposed:
    """A row of logits seen from its top entry. ``kind`` says which limit applies."""

    kind: str  # "finite" | "nan" | "no_mass" (all -inf) | "one_inf" | "many_inf"
    top: int
    neg_log_softmax: Values  # +inf at -inf entries
    scaled_exp: Values  # exp(x_k - x_top); 0 at -inf entries
    rest: Interval  # sum of scaled_exp without the top entry
    total: Interval  # 1 + rest

    @property
    def has_limit(self) -> bool:
        return self.kind in ("finite", "one_inf")


def decompose(x: list[float]) -> Decomposed:
    size = len(x)
    empty: Values = []
    if any(math.isnan(v) for v in x):
        return Decomposed("nan", 0, empty, empty, NAN, NAN)
    infinite = [k for k, v in enumerate(x) if v == math.inf]
    if len(infinite) > 1:
        return Decomposed("many_inf", infinite[0], empty, empty, NAN, NAN)
    if infinite:
        top = infinite[0]
        neg_log = [ZERO if k == top else INF for k in range(size)]
        return Decomposed("one_inf", top, neg_log, [ONE if k == top else ZERO for k in range(size)], ZERO, ONE)
    if all(v == -math.inf for v in x):
        return Decomposed("no_mass", 0, empty, empty, NAN, NAN)
    top = max(range(size), key=lambda k: x[k])
    peak = Interval.of(x[top])
    gaps = [None if v == -math.inf else Interval.of(v) - peak for v in x]
    scaled = [ZERO if gap is None else exp(gap) for gap in gaps]
    rest = fsum([e for k, e in enumerate(scaled) if k != top])
    log_total = log1p(rest)
    neg_log = [INF if gap is None else log_total - gap for gap in gaps]
    return Decomposed("finite", top, neg_log, scaled, rest, ONE + rest)


def exact_sum(values: list[float]) -> Interval:
    """The exact sum of floats (a dyadic rational), as an exact interval."""
    if any(not math.isfinite(v) for v in values):
        return Interval.of(math.fsum(values)) if not any(math.isnan(v) for v in values) else NAN
    return Interval.of(sum((Fraction(v) for v in values), Fraction(0)))


def _log_softmax(x: list[float], cotangent: list[float]) -> tuple[Values, Values]:
    """Values -nls_k; gradient c_j - s_j C, C = sum c.

    Exact zeros: c_j S - e_j C = sum over distinct live logits u of e(u) (c_j n_u - [x_j = u] C),
    n_u the count of u; by Lindemann-Weierstrass it vanishes only when every coefficient does:
    with two or more distinct live logits that is c_j = C = 0, with one, c_j n = C (and c_j = 0
    where x_j = -inf, which has no C term). Otherwise two
    arrangements are intersected: (c_j S - e_j C) / S, and c_j - C e_j / S, which keeps a
    negligible s_j beside an exact c_j at the enclosure's edge (x [0, -12000, -12000]:
    s_0 = 1 - 2e-5212 beside a cotangent sum of 2**-24, decided without 17,000 bits).
    """
    row = decompose(x)
    if not row.has_limit:
        return [NAN] * len(x), [NAN] * len(x)
    weight = exact_sum(cotangent)
    values = [-v for v in row.neg_log_softmax]
    groups = _live_groups(x, row.scaled_exp)
    total = weight.known
    grads = []
    for c, e in zip(cotangent, row.scaled_exp):
        if total is not None and _log_softmax_zero(Fraction(c), total, groups, e is not ZERO):
            grads.append(ZERO)
            continue
        direct = (Interval.of(c) * row.total - e * weight) / row.total
        grads.append(direct if total is None else intersect(direct, Interval.of(c) - weight * (e / row.total)))
    return values, grads


def _log_softmax_zero(c: Fraction, total: Fraction, groups: dict[float, tuple[int, Fraction]], live: bool) -> bool:
    """Whether every coefficient c_j n_u - [x_j = u] C vanishes (a -inf x_j has no C term)."""
    if not live:
        return c == 0
    if len(groups) == 1:
        ((count, _),) = groups.values()
        return c * count == total
    return c == 0 and total == 0


def _softmax(x: list[float], cotangent: list[float]) -> tuple[Values, Values]:
    """Values e_k / S; gradient s_j (c_j - sum_i c_i s_i) = e_j sum_i (c_j - c_i) e_i / S**2.

    Grouped by distinct live logit u, the sum is sum_u e(u) (c_j n_u - D_u) with D_u the sum of
    the cotangents at u: by Lindemann-Weierstrass (exponentials of distinct rationals are
    linearly independent over the rationals) it is 0 exactly when c_j = D_u / n_u for every u,
    that is when every group's mean cotangent is c_j. The value itself is grouped by distinct
    cotangent, so a constant cotangent cancels nothing either.
    """
    row = decompose(x)
    if not row.has_limit:
        return [NAN] * len(x), [NAN] * len(x)
    means = {total / count for count, total in _live_groups(x, row.scaled_exp, cotangent).values()}
    shared_mean = next(iter(means)) if len(means) == 1 else None
    by_cotangent: dict[float, list[Interval]] = {}
    for c, e in zip(cotangent, row.scaled_exp):
        by_cotangent.setdefault(c, []).append(e)
    mass = {u: fsum(es) for u, es in by_cotangent.items()}
    square = row.total * row.total
    values = [e / row.total for e in row.scaled_exp]
    grads = []
    for c, e in zip(cotangent, row.scaled_exp):
        if shared_mean is not None and Fraction(c) == shared_mean:
            grads.append(ZERO)
            continue
        spread = fsum([(Interval.of(c) - Interval.of(u)) * m for u, m in mass.items() if u != c])
        grads.append(e * spread / square)
    return values, grads


def _live_groups(
    x: list[float], scaled_exp: Values, cotangent: list[float] | None = None
) -> dict[float, tuple[int, Fraction]]:
    """Each distinct logit with a non-zero exponential: its count and its cotangents' exact sum."""
    groups: dict[float, tuple[int, Fraction]] = {}
    for k, (v, e) in enumerate(zip(x, scaled_exp)):
        if e is ZERO:
            continue
        count, total = groups.get(v, (0, Fraction(0)))
        groups[v] = (count + 1, total + (Fraction(cotangent[k]) if cotangent is not None else 0))
    return groups


def _logsumexp(x: list[float], cotangent: float) -> tuple[Interval, Values]:
    row = decompose(x)
    c = Interval.of(cotangent)
    if row.kind == "nan":
        return NAN, [NAN] * len(x)
    if row.kind == "many_inf":
        return INF, [NAN] * len(x)
    if row.kind == "no_mass":
        return NEG_INF, [NAN] * len(x)
    if row.kind == "one_inf":
        return INF, [c * e for e in row.scaled_exp]
    value = Interval.of(x[row.top]) + log1p(row.rest)
    return value, [c * e / row.total for e in row.scaled_exp]


RowFunction = Callable[[list[float], list[float]], tuple[Values, Values]]


def _rows(function: RowFunction) -> Callable[[Params, Arrays, InFormat], Enclosures]:
    """An op that maps each row along ``axis`` to a row of the same length."""

    def evaluate(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
        x = np.asarray(inputs["x"], dtype=np.float64)
        axis = int(params["axis"])
        moved = np.moveaxis(x, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        cotangent = np.moveaxis(_reduce.cotangent_for(inputs, x.shape), axis, -1).reshape(flat.shape).tolist()
        results = [function(row, c) for row, c in zip(flat.tolist(), cotangent)]
        values = [v for row_values, _ in results for v in row_values]
        grads = [g for _, row_grads in results for g in row_grads]
        return Enclosures(
            _reduce.unmove(values, moved.shape, axis), x.shape, _reduce.unmove(grads, moved.shape, axis), x.shape
        )

    return evaluate


def _logsumexp_rows(params: Params, inputs: Arrays, semantics: InFormat) -> Enclosures:
    x = np.asarray(inputs["x"], dtype=np.float64)
    axis = int(params["axis"])
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    out_shape = moved.shape[:-1]
    cotangent = _reduce.cotangent_for(inputs, out_shape).ravel().tolist()
    pairs = [_logsumexp(row, c) for row, c in zip(flat.tolist(), cotangent)]
    values = [value for value, _ in pairs]
    grads = [g for _, row_grads in pairs for g in row_grads]
    return Enclosures(values, out_shape, _reduce.unmove(grads, moved.shape, axis), x.shape)


def check_axis(prediction: np.ndarray, axis: int) -> None:
    if prediction.ndim == 0 or not -prediction.ndim <= axis < prediction.ndim:
        raise InvalidInput(f"axis {axis} does not exist in an input of shape {prediction.shape}", ("params", "axis"))
    if prediction.shape[axis] == 0:
        raise InvalidInput(f"axis {axis} of an input of shape {prediction.shape} is empty", ("params", "axis"))


def _check(reduced: bool) -> Callable[[Params, Arrays], None]:
    def check(params: Params, arrays: Arrays) -> None:
        x = np.asarray(arrays["x"])
        axis = int(params["axis"])
        check_axis(x, axis)
        cotangent = arrays.get("cotangent")
        if cotangent is None:
            return
        out_shape = np.delete(np.array(x.shape), axis).tolist() if reduced else list(x.shape)
        try:
            np.broadcast_to(cotangent, tuple(out_shape))
        except ValueError:
            raise InvalidInput(
                f"cotangent of shape {np.shape(cotangent)} does not fit the output shape {tuple(out_shape)}"
            ) from None

    return check


INPUTS = (
    Input("x", doc="the input; rows along `axis`"),
    Input("cotangent", doc="the output gradient to pull back (default: ones)", optional=True),
)

EXAMPLE = {"x": [[1, 2, 3], [0, -1, 0.5]]}

DEFINITIONS = (
    OpDefinition(
        "log_softmax",
        "x - logsumexp(x) along axis",
        INPUTS,
        "x",
        (AXIS,),
        _rows(_log_softmax),
        _check(False),
        example=EXAMPLE,
    ),
    OpDefinition(
        "softmax", "e^x / sum(e^x) along axis", INPUTS, "x", (AXIS,), _rows(_softmax), _check(False), example=EXAMPLE
    ),
    OpDefinition(
        "logsumexp", "log(sum(e^x)) along axis", INPUTS, "x", (AXIS,), _logsumexp_rows, _check(True), example=EXAMPLE
    ),
)
