"""One-line diagnoses for a failing result, where the pattern is clear.

Each rule looks only at the result record (inputs, exact, actual, outcomes, returned
dtype), so the same words appear in the gate's output and in its JSON report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from conformance.report.records import ResultRecord
from oracle.formats import FORMATS
from oracle.ops import OpDefinition, definition

#: The oracle's value or gradient (as in the record's quantity) for other params, None where it has none.
Elsewhere = Callable[[Mapping[str, Any]], np.ndarray | None]
HALF = ("float16", "bfloat16")
#: Relative error, in eps of a half-precision dtype, up to which a few rounded intermediates explain it.
ROUNDED_INTERMEDIATES = 8
#: The largest numerator and denominator of a single element's factor called a wrong reduction.
SIMPLE_DENOMINATOR = 16


def _floats(value: Any) -> np.ndarray:
    def convert(item: Any) -> Any:
        if isinstance(item, list):
            return [convert(v) for v in item]
        return float(item)  # "inf", "-inf" and "nan" strings parse as floats too

    if value is None:
        return np.array([])
    if isinstance(value, dict):  # a summary of a large array: judge on its first elements
        value = value["head"]
    return np.asarray(convert(value), dtype=np.float64).ravel()


def _size(value: Any) -> int:
    if isinstance(value, dict):  # a summary of a large array
        return int(np.prod(value["shape"]))
    return int(np.size(np.asarray(value, dtype=object)))


def _close(actual: np.ndarray, other: np.ndarray | None, dtype: str) -> bool:
    if other is None or other.size != actual.size:
        return False
    other = np.asarray(other, dtype=np.float64).ravel()
    return bool(np.allclose(actual, other, rtol=8 * FORMATS[dtype].eps, atol=0, equal_nan=True))


def _misapplied(
    record: ResultRecord, op: OpDefinition, actual: np.ndarray, expected: np.ndarray, elsewhere: Elsewhere
) -> str | None:
    """The result is the exact loss under other params: one the user set is not applied, or the
    reduction is another. Only params that change the exact answer here count: a mean of one
    sample is also its sum and its ``none``, and matching those says nothing."""
    params = op.with_defaults(record["params"])
    dtype = record["dtype"]

    def instead(other: Mapping[str, Any]) -> bool:
        answer = elsewhere(other)
        return _close(actual, answer, dtype) and not _close(expected, answer, dtype)

    for param in op.params:
        if param.mode or param.name == "reduction" or not op.uses(record["params"], param.name):
            continue
        if instead({**params, param.name: param.default}):
            return (
                f"matches the loss without {param.name}: the loss does not apply its {param.name} "
                "(or applies it where the op does not)"
            )
    if op.is_loss:
        for reduction in op.param("reduction").choices:
            if reduction != params["reduction"] and instead({**params, "reduction": reduction}):
                return f"matches reduction={reduction}, not the declared {params['reduction']}: wrong reduction"
    return None


def _simple_fraction(ratio: float, eps: float) -> bool:
    """Whether a single element's ratio to the exact value is a count's kind of factor (N, 1/N,
    N / sum(w): p/q with p, q <= 16), not any error: one element's ratio is always "constant"."""
    if not math.isfinite(ratio) or ratio <= 0:
        return False
    near = Fraction(ratio).limit_denominator(SIMPLE_DENOMINATOR)
    return near.numerator <= SIMPLE_DENOMINATOR and math.isclose(ratio, near, rel_tol=max(1e-4, 4 * eps))


def _ignores_cotangent(record: ResultRecord, op: OpDefinition, actual: np.ndarray, expected: np.ndarray) -> bool:
    cotangent = _floats(record["inputs"].get("cotangent"))
    if record["quantity"] != "grad" or op.is_loss or cotangent.size == 0 or np.all(cotangent == 1):
        return False
    with np.errstate(all="ignore"):
        pulled = actual * np.broadcast_to(cotangent, actual.shape) if cotangent.size in (1, actual.size) else None
    return pulled is not None and _close(pulled, expected, record["dtype"])


def diagnose(record: ResultRecord, elsewhere: Elsewhere | None = None) -> str:
    """The likeliest cause of a failing result, in words, or the judge's message where no rule fits.

    ``elsewhere`` (the oracle under other params) lets the rules say which param the loss
    ignores or which reduction it computes; without it those rules are skipped.
    """
    text = _diagnose(record, elsewhere)
    return text or str(record.get("message") or "outside tolerance, with no pattern the gate knows")


def _diagnose(record: ResultRecord, elsewhere: Elsewhere | None) -> str:
    actual, expected = _floats(record["actual"]), _floats(record["expected"])
    op = definition(record["op"])
    prediction = _floats(record["inputs"][op.prediction])
    logits = bool(op.with_defaults(record["params"]).get("from_logits", not op.is_loss))
    # Only an op with a from_logits mode takes probabilities: squared error's 0 is no probability.
    probabilities = any(param.name == "from_logits" for param in op.params) and not logits
    dtype, quantity = record["dtype"], record["quantity"]
    returned = record.get("returned_dtype")
    if (
        returned
        and returned != dtype
        and FORMATS.get(returned)
        and FORMATS[returned].precision < FORMATS[dtype].precision
    ):
        return f"computed in lower precision than the input ({returned} for {dtype} inputs)"
    if actual.size == 0 or expected.size == 0 or actual.size != expected.size:
        return str(record.get("message", ""))
    if _ignores_cotangent(record, op, actual, expected):
        return (
            "the backward ignores its incoming gradient: it returns f'(x), not cotangent * f'(x) "
            "(a custom autograd Function / custom_vjp must multiply by grad_output)"
        )
    if elsewhere is not None:
        misapplied = _misapplied(record, op, actual, expected, elsewhere)
        if misapplied is not None:
            return misapplied
    if dtype in HALF and _size(record["inputs"][op.prediction]) > 2 ** FORMATS[dtype].precision:
        return (
            f"wrong on {_size(record['inputs'][op.prediction])} elements in {dtype} only: a count or sum "
            f"accumulated in {dtype} (it holds integers exactly only to {2 ** FORMATS[dtype].precision}, and "
            "float16 overflows at 65504): cast labels and counts to float32 before summing"
        )
    finite_expected = np.isfinite(expected)
    bad_nonfinite = finite_expected & ~np.isfinite(actual)
    wrong = ~np.isclose(actual, expected, rtol=1e-6, atol=0, equal_nan=True)
    hard = np.any((prediction == 0) | (prediction == 1))
    if quantity == "grad" and probabilities and hard and np.any(np.isnan(actual) & finite_expected):
        return (
            "NaN gradient at a hard probability 0 or 1: d log(p)/dp = 1/p is inf there and 0 * inf = NaN; "
            "use xlogy(z, p) and xlogy(1 - z, 1 - p), or clip p before the log"
        )
    if (
        quantity == "grad"
        and logits
        and prediction.size == actual.size
        and np.any(wrong)
        and np.all(prediction[wrong] == 0)
    ):
        return (
            "wrong gradient at exactly 0 only: abs() or max(x, 0) has a subgradient there (torch takes "
            "d|x|/dx = 0); write the loss without them, e.g. with log_sigmoid"
        )
    if quantity == "grad" and np.any(np.isnan(actual) & finite_expected):
        return (
            "NaN gradient where the gradient is finite: a where/clip branch differentiates through an "
            "infinite or 0/0 intermediate (compute the unselected branch on safe inputs: the double-where trick)"
        )
    if np.any(bad_nonfinite):
        if logits and prediction.size and np.nanmax(np.abs(prediction[np.isfinite(prediction)]), initial=0) > 80:
            return (
                "overflow at large |x|: exp(|x|) overflows or sigmoid(x) rounds to 0 or 1; stay in log space "
                "(log_sigmoid, softplus, log_softmax)"
            )
        if probabilities and np.any((prediction == 0) | (prediction == 1)):
            return "0 * log 0: a hard 0/1 probability with a zero label gives NaN; use xlogy, or log1p(-p)"
        largest = FORMATS[dtype].max
        inputs = np.abs(prediction[np.isfinite(prediction)])
        if max(np.max(np.abs(expected[finite_expected]), initial=0), np.max(inputs, initial=0)) > math.sqrt(largest):
            return (
                f"overflow in an intermediate: a square, product or sum beyond {dtype}'s largest finite value "
                f"({largest:.4g}) though the result is finite; scale before squaring, or compute in a wider dtype"
            )
        if logits:
            return (
                "a sigmoid or softmax rounded to exactly 0 or 1, then log 0 = -inf (and 0 * log 0 = NaN): "
                "stay in log space (log_sigmoid, log_softmax, softplus)"
            )
        return "a non-finite result where the exact one is finite"
    swallowed = np.isnan(expected) & ~np.isnan(actual)
    if np.any(swallowed):
        return (
            f"a number where the exact answer is NaN ({int(swallowed.sum())} of {swallowed.size}): a NaN input, or "
            "a 0/0, swallowed by where, nan_to_num or a masked mean; NaN in should be NaN out"
        )
    finite = finite_expected & np.isfinite(actual) & (expected != 0)
    if np.any(finite):
        ratio = actual[finite] / expected[finite]
        if np.all(actual[finite] == 0) and np.all(np.abs(expected[finite]) < FORMATS[dtype].eps):
            return (
                "a small result came back as exactly 0: an underflow (log(1 + x) with x below eps is 0: use "
                "log1p; exp of a large negative number is 0: stay in log space)"
            )
        beyond_rounding = max(1e-3, 4 * FORMATS[dtype].eps)
        if (
            np.allclose(ratio, ratio[0], rtol=1e-3)
            and not math.isclose(ratio[0], 1.0, rel_tol=beyond_rounding)
            and (ratio.size > 1 or _simple_fraction(float(ratio[0]), FORMATS[dtype].eps))
        ):
            return f"off by a constant factor {ratio[0]:.4g}: wrong reduction (sum vs mean, or the mean's denominator)"
        relative = np.abs(actual[finite] - expected[finite]) / np.abs(expected[finite])
        tiny = np.abs(expected[finite]) < 1e-3
        if np.any(tiny & (relative > 1e-3)):
            return "loss of relative accuracy for tiny losses: log(1 + small) or 1 - p cancels; use log1p / softplus"
        eps = FORMATS[dtype].eps
        if dtype in HALF and np.max(relative) <= ROUNDED_INTERMEDIATES * eps:
            return (
                f"a few ULPs off in {dtype}: intermediate results rounded to {dtype} (a product or difference "
                f"of the inputs computed in {dtype}); compute in float32 and round the result once"
            )
        if np.max(relative) > 1e3 * eps:
            lost = int(np.log2(np.max(relative) / eps))
            return (
                f"{lost} of {FORMATS[dtype].precision} bits lost to cancellation (1 - sigmoid(x), or a "
                "difference of large terms); use log1p / softplus / log_sigmoid"
            )
    return ""
