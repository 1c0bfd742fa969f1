"""The gate's conventions: what it accepts where the mathematics leaves a choice.

Each convention looks at one failing result (the user's returned value or gradient) and says
why it is right after all, or None. They are derived from the op's definition and the
oracle, never from a case's name:

* **held params**: a rounded param the user sets (``label_smoothing=0.1``) is combined with
  the inputs in the dtype before the loss is formed (the smoothed labels are held in the
  dtype), which no implementation can avoid. A result passes if it lies within tolerance of
  the exact loss for some value of the param within two eps of the given one.
* **an all-ignored mean**: where every term counts for nothing (the sum's gradient is zero)
  a mean is 0/0; its value is NaN, and for its gradient the frameworks agree on zeros (the
  sum's gradient divided by anything). Zeros and NaN are both accepted.
* **no valid answer, per sample**: where an input has no valid answer (a label out of range),
  an error or NaN is right; frameworks that compute per sample make only the bad sample NaN,
  so a value that is NaN somewhere and finite elsewhere is accepted too, and with it the
  gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import oracle
from conformance.judge.scoring import score
from oracle.formats import FORMATS
from oracle.ops import InvalidInput, OpDefinition, ParamKind

#: (params, inputs) -> the oracle's answer there, in the result's dtype and reference variants.
Exact = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], oracle.OracleResult]
#: How far a held param may be off, in eps of the dtype at its magnitude (at least 1).
HELD_PARAM_EPS = 2.0


def held_params(
    op: OpDefinition,
    params: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray],
    dtype: str,
    quantity: str,
    actual: np.ndarray,
    bounds: Mapping[str, float],
    exact: Exact,
) -> str | None:
    held = [
        p.name
        for p in op.params
        if p.kind == ParamKind.VALUE and params.get(p.name) is not None and op.uses(params, p.name)
    ]
    if not held:
        return None
    eps = FORMATS[dtype].eps
    answers = []
    for sign in (-1.0, 1.0):
        moved = dict(params)
        for name in held:
            value = float(params[name])
            moved[name] = value + sign * HELD_PARAM_EPS * eps * max(abs(value), 1.0)
            problem = op.param(name).check_number(moved[name])
            if problem is not None:
                moved[name] = value
        try:
            answers.append(exact(moved, inputs))
        except InvalidInput:
            return None
    actual = np.asarray(actual, dtype=np.float64).ravel()
    ends = [np.asarray(getattr(a, quantity), dtype=np.float64).ravel() for a in answers]
    if any(end.size != actual.size for end in ends):
        return None
    exacts = [np.array([float(x) for x in getattr(a, f"{quantity}_exact")]) for a in answers]
    ok = (np.minimum(*exacts) <= actual) & (actual <= np.maximum(*exacts))
    for answer in answers:
        expected = np.asarray(getattr(answer, quantity), dtype=np.float64)
        found = score(actual.reshape(expected.shape), expected, getattr(answer, f"{quantity}_exact"), dtype, bounds)
        ok |= found.mask.ravel()
    if not bool(np.all(ok)):
        return None
    names = ", ".join(held)
    return f"convention: within tolerance once {names} is held in {dtype} (off by up to {HELD_PARAM_EPS:g} eps)"


def all_ignored_mean(
    op: OpDefinition,
    params: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray],
    quantity: str,
    actual: np.ndarray,
    exact: Exact,
) -> str | None:
    if quantity != "grad" or op.reduction(params) != "mean":
        return None
    try:
        mean = exact(params, inputs)
        total = exact({**params, "reduction": "sum"}, inputs)
    except InvalidInput:
        return None
    if not np.all(np.isnan(mean.value)) or np.any(total.grad != 0):
        return None
    values = np.asarray(actual, dtype=np.float64)
    if not bool(np.all((values == 0) | np.isnan(values))):
        return None
    return "convention: every term counts for nothing, so the mean's gradient is zero (as the frameworks return)"


def nan_per_sample(expect: str | None, value: np.ndarray | None) -> str | None:
    """Judged on the returned value: once it says NaN where there is no answer, the gradient of
    that NaN has no meaning either (autodiff through a ``where`` gives 0 there, or NaN)."""
    if expect not in ("nan", "error_or_nan") or value is None:
        return None
    values = np.asarray(value, dtype=np.float64)
    nan = np.isnan(values)
    if not bool(np.any(nan)) or not bool(np.all(np.isfinite(values[~nan]))):
        return None
    return "convention: NaN where the input has no valid answer, finite elsewhere (per-sample NaN)"
