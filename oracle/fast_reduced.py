"""The certified fast path for reduced losses: the mean or sum of the per-element balls.

The elementwise kernels of :mod:`oracle.fast` give, per element i, a float64 centre c_i and a
radius r_i with the true loss v_i (and gradient g_i) in [c_i - r_i, c_i + r_i]. A reduced loss
is then one ball, and each element's gradient a scaled one; the answer is decided as on the
elementwise path (both ends of the ball round alike) and the bits are the exact path's. What a
ball does not decide is the exact path's: the gradient elements one by one (:func:`_exact_grads`
evaluates exactly what the exact path evaluates for them), the value by the whole exact path.

Error bounds (u = 2**-53; every quantity below is a float64 computed in round-to-nearest, so
each operation's result is within u relative of the real one while no underflow occurs, and a
product by a power of two is exact; the checks below keep every quantity away from underflow).

Sum, T = sum v_i. ``math.fsum`` returns C, the correctly rounded sum of the c_i:
|C - sum c_i| <= u |sum c_i| <= 2u |C|. So |T - C| <= sum r_i + 2u |C|. With
A = fsum(r) (1 + 2**-48) >= sum r_i (1 - u)^2 (1 + 2**-48) >= sum r_i (1 + 2**-49) and
B = 2**-50 |C| (exact), fl(A + B) >= (A + B)(1 - u) >= sum r_i + 2**-52 |C| = sum r_i + 2u |C|.

Mean, T / n (the ideal's mean: no sample weight, every sample counts, n of them). The centre
m = fl(C / n) is within u |C| / n of C / n, so |T / n - m| <= (sum r_i + 3u |C|) / n. With
D = fl(A + 2**-49 |C|) >= sum r_i (1 + 2**-49)(1 - u) + 2**-49 |C| (1 - u) >= sum r_i + 3u |C|,
the radius fl(fl(D / n) (1 + 2**-48)) >= (D / n)(1 - u)^2 (1 + 2**-48) >= D / n.

Gradients. Sum: the exact path multiplies each g_i by the weight 1, so the elementwise balls
are the answer. Mean: g_i / n, centre q_i = fl(c_i / n) within u |c_i| / n; with
E_i = fl(fl(r_i (1 + 2**-48)) + 2**-50 |c_i|) >= r_i (1 + 2**-48)(1 - u)^2 + 2**-50 |c_i| (1 - u)
>= r_i + u |c_i|, the radius fl(fl(E_i / n)(1 + 2**-48)) >= E_i / n, as above. An exact 0
gradient (sign 0) stays an exact 0. Elements with 0 < |c_i| < 2**-900 (nowhere near a narrow
format's range, but where the products above could underflow) are left to the exact path.

Covered: binary cross-entropy's ideal (no variant) with ``reduction`` mean or sum, no sample
weight and no label smoothing, at least ``MIN_SIZE`` elements, into the formats whose
elementwise kernel works in float64 (float32, float16, bfloat16). Smaller batches cost the exact
path little, and keep its longer decimal strings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .balls import UNKNOWN, Balls
from .fast import KERNELS
from .formats import FloatFormat
from .interval import ONE, Interval, fsum
from .ops import definition
from .semantics import Semantics

#: Below this many elements the exact path is cheap (milliseconds): it keeps its answers.
MIN_SIZE = 1000
#: |C| or |c_i| below this may underflow a product of the bounds: left to the exact path.
TINY = 2.0**-900
SLACK = 1.0 + 2.0**-48
OPS = ("binary_crossentropy",)


def covers(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], fmt: FloatFormat, semantics: Semantics
) -> bool:
    """Whether :func:`reduced_balls` answers this evaluation (else the exact path does)."""
    # float64 targets: balls of float64 centres prove 12 digits, too few to score float64 ULPs.
    if op not in OPS or semantics.settings or fmt.name == "float64":
        return False
    if params.get("reduction") not in ("mean", "sum") or params.get("sample_weight") is not None:
        return False
    if float(params.get("label_smoothing") or 0.0):
        return False
    return int(np.size(inputs[definition(op).prediction])) >= MIN_SIZE


def reduced_balls(op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray]) -> tuple[Balls, Balls] | None:
    """(the value's ball, one element; the gradient's balls, per element), or None where the
    elementwise kernel or the bounds do not apply."""
    elementwise = KERNELS[op]({**params, "reduction": "none"}, inputs, False)  # float64 kernels, not fast64
    if elementwise is None:
        return None
    centres, radii = elementwise.value, elementwise.value_radius
    if not (np.isfinite(centres).all() and np.isfinite(radii).all()):
        return None
    n = centres.size
    total = math.fsum(centres.tolist())
    if abs(total) < TINY:
        return None
    first = math.fsum(radii.tolist()) * SLACK
    mean = params["reduction"] == "mean"
    if mean:
        value = total / n
        radius = ((first + abs(total) * 2.0**-49) / n) * SLACK
    else:
        value, radius = total, first + abs(total) * 2.0**-50
    value_ball = Balls(
        np.array([value]),
        np.array([radius]),
        np.zeros(1),
        np.zeros(1),
        np.array([UNKNOWN], dtype=np.int8),
        np.array([UNKNOWN], dtype=np.int8),
    )
    grad, grad_radius, grad_sign = elementwise.grad, elementwise.grad_radius, elementwise.grad_sign
    if params["from_logits"]:
        logit_grads = logit_gradient(np.asarray(inputs["y_true"], np.float64), np.asarray(inputs["y_pred"], np.float64))
        if logit_grads is None:
            return None
        grad, grad_radius = logit_grads
        grad_sign = np.full(grad.shape, UNKNOWN, dtype=np.int8)
    if mean:
        with np.errstate(all="ignore"):
            magnitude = np.abs(grad)
            scaled = grad / n
            widened = ((grad_radius * SLACK + magnitude * 2.0**-50) / n) * SLACK
        tiny = (magnitude < TINY) & (grad_sign != 0)
        grad = np.where(grad_sign == 0, 0.0, scaled)
        grad_radius = np.where(grad_sign == 0, 0.0, np.where(tiny, np.inf, widened))
    grad_ball = Balls(grad, grad_radius, grad, grad_radius, grad_sign, grad_sign)
    return value_ball, grad_ball


def logit_gradient(y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """sigmoid(x) - y as (1 - y) sigmoid(x) - y sigmoid(-x), with a radius relative to the two
    terms' magnitudes: with hard labels one term is 0 and the ball is relative to the gradient
    itself, where sigmoid(x) - 1 at x = 30 (-9.4e-14) would cancel inside a ball of 2**-44 * 2.

    With t = exp(-|x|) (8u; |x| <= 700 keeps t a normal number), 1 / (1 + t) is within 10u and
    t / (1 + t) within 18u (:func:`oracle.fast._sigmoid_pair`'s bound); 1 - y u, each product u,
    the difference u: 21u (|a| + |b|) for the terms a = (1 - y) s and b = y sigmoid(-x), plus
    2**-1073 for each of the three results that may be subnormal. The radius is
    2**-44 (|a| + |b|) + 2**-1060 (2**-44 is 512u: the rounding of the radius itself is covered).
    Elements with |gradient| < ``TINY`` get an infinite radius (the exact path's).
    """
    y, x = np.ravel(y), np.ravel(x)
    if not (np.isfinite(x).all() and np.isfinite(y).all()) or float(np.abs(x).max(initial=0.0)) > 700:
        return None
    t = np.exp(-np.abs(x))
    near_one, near_zero = 1.0 / (1.0 + t), t / (1.0 + t)
    positive = x >= 0
    s, complement = np.where(positive, near_one, near_zero), np.where(positive, near_zero, near_one)
    with np.errstate(all="ignore"):
        first, second = (1.0 - y) * s, y * complement
        grad = first - second
        radius = (np.abs(first) + np.abs(second)) * 2.0**-44 + 2.0**-1060
    return grad, np.where(np.abs(grad) < TINY, np.inf, radius)


def mean_scale(n: int) -> Interval:
    """The factor the exact path's mean puts on each gradient, at the working precision: the
    weight 1 over the count of n samples (an exact sum of ones), as
    :func:`oracle.ops._reduce.reduce` computes it."""
    return Interval.of(1.0) / fsum([ONE] * n)
