"""One-line diagnoses for a failing result, where the pattern is clear.

Each rule looks only at the result record (inputs, exact, actual, outcomes, returned
dtype), so the same words appear in the gate's output and in its JSON report.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from conformance.report.records import ResultRecord
from oracle.formats import FORMATS
from oracle.ops import definition


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


def diagnose(record: ResultRecord) -> str:
    actual, expected = _floats(record["actual"]), _floats(record["expected"])
    op = definition(record["op"])
    prediction = _floats(record["inputs"][op.prediction])
    logits = bool(op.with_defaults(record["params"]).get("from_logits", not op.is_loss))
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
    finite_expected = np.isfinite(expected)
    bad_nonfinite = finite_expected & ~np.isfinite(actual)
    wrong = ~np.isclose(actual, expected, rtol=1e-6, atol=0, equal_nan=True)
    if quantity == "grad" and prediction.size == actual.size and np.any(wrong) and np.all(prediction[wrong] == 0):
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
        if not logits and np.any((prediction == 0) | (prediction == 1)):
            return "0 * log 0: a hard 0/1 probability with a zero label gives NaN; use xlogy, or log1p(-p)"
        if logits:
            return (
                "a sigmoid or softmax rounded to exactly 0 or 1, then log 0 = -inf (and 0 * log 0 = NaN): "
                "stay in log space (log_sigmoid, log_softmax, softplus)"
            )
        return "a non-finite result where the exact one is finite"
    finite = finite_expected & np.isfinite(actual) & (expected != 0)
    if np.any(finite):
        ratio = actual[finite] / expected[finite]
        if np.allclose(ratio, ratio[0], rtol=1e-3) and not math.isclose(ratio[0], 1.0, rel_tol=1e-3):
            return f"off by a constant factor {ratio[0]:.4g}: wrong reduction (sum vs mean, or the mean's denominator)"
        relative = np.abs(actual[finite] - expected[finite]) / np.abs(expected[finite])
        tiny = np.abs(expected[finite]) < 1e-3
        if np.any(tiny & (relative > 1e-3)):
            return "loss of relative accuracy for tiny losses: log(1 + small) or 1 - p cancels; use log1p / softplus"
        eps = FORMATS[dtype].eps
        if np.max(relative) > 1e3 * eps:
            lost = int(np.log2(np.max(relative) / eps))
            return (
                f"{lost} of {FORMATS[dtype].precision} bits lost to cancellation (1 - sigmoid(x), or a "
                "difference of large terms); use log1p / softplus / log_sigmoid"
            )
    return str(record.get("message", "outside tolerance"))
