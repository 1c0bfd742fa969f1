"""Row formulas: the softmax family and categorical cross-entropy along one axis.

Every row is taken relative to its largest entry ``x_top``: with ``e_k = exp(x_k - x_top)``
and ``rest = sum of e_k over k != top``, we have ``-log_softmax_k = (x_top - x_k) + log1p(rest)``,
a sum of two non-negative terms, so no ±810 spread or 1e30 offset cancels anything.
Gradients are arranged the same way (see each function), so exact zeros come out
exact and the Ziv loop never chases a cancellation that is not in the mathematics.

Non-finite rows get their limits: a -inf entry has probability 0; one +inf entry takes
all the mass; two +inf entries, an all -inf row (for softmax) or a NaN have no limit: NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from .interval import INF, NAN, NEG_INF, ONE, ZERO, Interval, fsum, hull, is_zero
from .kernels import exp, log, log1p
from .semantics import InFormat

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


def log_softmax(x: list[float], cotangent: list[float]) -> tuple[Values, Values]:
    """Values -nls_k; gradient c_j - s_j C written as (c_j S - e_j C) / S, exactly 0 when it is."""
    row = decompose(x)
    if row.kind in ("nan", "many_inf", "no_mass"):
        return [NAN] * len(x), [NAN] * len(x)
    weight = exact_sum(cotangent)
    values = [-v for v in row.neg_log_softmax]
    grads = [(Interval.of(c) * row.total - e * weight) / row.total for c, e in zip(cotangent, row.scaled_exp)]
    return values, grads


def softmax(x: list[float], cotangent: list[float]) -> tuple[Values, Values]:
    """Values e_k / S; gradient s_j (c_j - sum_i c_i s_i) = e_j sum_u (c_j - u) E_u / S**2.

    Grouping the exponentials by distinct cotangent value u (E_u = sum of e_i with c_i = u)
    makes the gradient an exact 0 for a constant cotangent, as it is mathematically.
    """
    row = decompose(x)
    if row.kind in ("nan", "many_inf", "no_mass"):
        return [NAN] * len(x), [NAN] * len(x)
    groups: dict[float, list[Interval]] = {}
    for c, e in zip(cotangent, row.scaled_exp):
        groups.setdefault(c, []).append(e)
    mass = {u: fsum(es) for u, es in groups.items()}
    square = row.total * row.total
    values = [e / row.total for e in row.scaled_exp]
    grads = []
    for c, e in zip(cotangent, row.scaled_exp):
        spread = fsum([(Interval.of(c) - Interval.of(u)) * m for u, m in mass.items() if u != c])
        grads.append(e * spread / square)
    return values, grads


def logsumexp(x: list[float], cotangent: float) -> tuple[Interval, Values]:
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


def crossentropy_logits(v: Values, x: list[float]) -> tuple[Interval, Values]:
    """sum_k v_k (-log_softmax_k), v = (class weight) * (smoothed label).

    Gradient V s_j - v_j with V = sum v; at the top entry it is written
    -V rest / S + sum_{k != top} v_k, the form in which s_top ~ 1 does not cancel.
    """
    row = decompose(x)
    if row.kind in ("nan", "many_inf", "no_mass") or any(w.is_nan for w in v):
        return NAN, [NAN] * len(x)
    mass = fsum(v)
    value = fsum([w * nls for w, nls in zip(v, row.neg_log_softmax) if not is_zero(w)])
    grads = []
    for j, (w, e) in enumerate(zip(v, row.scaled_exp)):
        if j == row.top:
            others = fsum([u for k, u in enumerate(v) if k != j])
            grads.append(others - mass * row.rest / row.total)
        else:
            grads.append(mass * e / row.total - w)
    return value, grads


def crossentropy_probabilities(v: Values, p: list[float], semantics: InFormat) -> tuple[Interval, Values]:
    """-sum_k v_k log q_k with 0 log 0 = 0; q = p, or p / sum(p) and clipped under a variant."""
    size = len(p)
    if any(math.isnan(u) or u < 0 for u in p) or any(w.is_nan for w in v):
        return NAN, [NAN] * size
    total = exact_sum(p) if semantics.renormalize else ONE
    if is_zero(total) or total.is_nan:
        return NAN, [NAN] * size
    q = [Interval.of(u) / total for u in p]
    clipped, slopes = zip(*(_clip(u, semantics.clip) for u in q), strict=True)
    value = fsum([-(w * log(c)) for w, c in zip(v, clipped) if not is_zero(w)])
    own = [_neg_ratio(w, c) * slope for w, c, slope in zip(v, clipped, slopes)]
    if not semantics.renormalize:
        return value, own
    # q_k = p_k / S: dq_k/dp_j = (delta_kj - q_k) / S.
    through_total = fsum([g * u for g, u in zip(own, q)])
    return value, [(g - through_total) / total for g in own]


def _neg_ratio(w: Interval, c: Interval) -> Interval:
    if is_zero(w):
        return ZERO
    if is_zero(c):
        return NEG_INF
    return -(w / c)


def _clip(q: Interval, bounds: tuple[float, float] | None) -> tuple[Interval, Interval]:
    """(clipped value, derivative of the clip): 1 inside [low, high] inclusive, 0 outside."""
    if bounds is None:
        return q, ONE
    low, high = Interval.of(bounds[0]), Interval.of(bounds[1])
    below = _compare(q, low)
    above = _compare(q, high)
    if below == -1:
        return low, ZERO
    if above == 1:
        return high, ZERO
    if below is None:
        return hull(q, low), hull(ZERO, ONE)
    if above is None:
        return hull(q, high), hull(ZERO, ONE)
    return q, ONE


def _compare(a: Interval, b: Interval) -> int | None:
    return (a - b).sign()
