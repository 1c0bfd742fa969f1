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

    Two arrangements, intersected: (c_j S - e_j C) / S, its numerator grouped by distinct
    logit so that an exact 0 comes out exact, and c_j - C e_j / S, which keeps a negligible
    s_j next to an exact c_j at the enclosure's edge (x [0, -12000, -12000]: s_0 = 1 - 2e-5212
    beside a cotangent sum of 2**-24, decided without 17,000 bits).
    """
    row = decompose(x)
    if not row.has_limit:
        return [NAN] * len(x), [NAN] * len(x)
    weight = exact_sum(cotangent)
    values = [-v for v in row.neg_log_softmax]
    exps = _distinct_exps(x, row.scaled_exp)
    total = Fraction(0) if weight.known is None else weight.known
    grads = []
    for c, v, e in zip(cotangent, x, row.scaled_exp):
        # c_j S - e_j C = sum over distinct logits u of e(u) (c_j n_u - [x_j = u] C), n_u its count.
        numerator = _combination({u: Fraction(c) * n - (total if u == v else 0) for u, (n, _) in exps.items()}, exps)
        if numerator is ZERO or weight.known is None:
            grads.append(ZERO if numerator is ZERO else (Interval.of(c) * row.total - e * weight) / row.total)
            continue
        grads.append(intersect(numerator / row.total, Interval.of(c) - weight * (e / row.total)))
    return values, grads


def _softmax(x: list[float], cotangent: list[float]) -> tuple[Values, Values]:
    """Values e_k / S; gradient s_j (c_j - sum_i c_i s_i) = e_j sum_i (c_j - c_i) e_i / S**2.

    The sum is grouped by distinct logit u (coefficient sum of c_j - c_i over x_i = u, exact),
    so the gradient is an exact 0 exactly when every coefficient is: exponentials of distinct
    rationals are linearly independent over the rationals (Lindemann-Weierstrass), so no
    other combination of them vanishes.
    """
    row = decompose(x)
    if not row.has_limit:
        return [NAN] * len(x), [NAN] * len(x)
    exps = _distinct_exps(x, row.scaled_exp)
    square = row.total * row.total
    values = [e / row.total for e in row.scaled_exp]
    grads = []
    for c, e in zip(cotangent, row.scaled_exp):
        coefficients: dict[float, Fraction] = {}
        for u, ci in zip(x, cotangent):
            coefficients[u] = coefficients.get(u, Fraction(0)) + Fraction(c) - Fraction(ci)
        spread = _combination(coefficients, exps)
        grads.append(ZERO if spread is ZERO else e * spread / square)
    return values, grads


def _distinct_exps(x: list[float], scaled_exp: Values) -> dict[float, tuple[int, Interval]]:
    """Each distinct logit's count and exp(x - x_top) (the same enclosure for equal logits)."""
    exps: dict[float, tuple[int, Interval]] = {}
    for v, e in zip(x, scaled_exp):
        count, first = exps.get(v, (0, e))
        exps[v] = (count + 1, first)
    return exps


def _combination(coefficients: dict[float, Fraction], exps: dict[float, tuple[int, Interval]]) -> Interval:
    """sum_u coefficient_u exp(u - x_top): the object ZERO when every coefficient is 0."""
    terms = [Interval.of(q) * exps[u][1] for u, q in coefficients.items() if q != 0]
    return fsum(terms) if terms else ZERO


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
