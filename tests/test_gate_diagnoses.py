"""Each diagnosis fires on a loss with exactly its bug, and on none of the other bugs' losses."""

import gate_losses as losses
import pytest

from conformance import check_loss
from conformance.gate.diagnose import diagnose
from conformance.gate.execute import Selection
from examples.torch_losses import abs_bce_with_logits

LOGITS = {"op": "binary_crossentropy", "from_logits": True}
#: bug -> (the loss, its gate options, the words of its diagnosis)
BUGS = {
    "ignored param": (
        losses.bce_ignoring_its_smoothing,
        {**LOGITS, "label_smoothing": 0.1, "dtypes": ["float64"]},
        "matches the loss without label_smoothing",
    ),
    "wrong reduction": (losses.bce_summed, {**LOGITS, "dtypes": ["float64"]}, "matches reduction=sum"),
    "ignored cotangent": (
        losses.softplus_ignoring_cotangent,
        {"op": "softplus", "dtypes": ["float64"]},
        "ignores its incoming gradient",
    ),
    "count in half precision": (
        losses.mean_with_count_in_dtype,
        {**LOGITS, "dtypes": ["float16"]},
        "a count or sum accumulated in float16",
    ),
    # Soft labels only: at z = 1 and large x, x - x z also cancels to 0 (the underflow's words).
    "intermediates rounded in half precision": (
        losses.bce_in_half_precision,
        {**LOGITS, "dtypes": ["bfloat16"], "chosen": Selection(select=("bce/logits/soft/*",))},
        "intermediate results rounded to bfloat16",
    ),
    # d/dp of the mean of three (p - t)^2 at p = max(float32) is 2 max / 3 = 2.27e38, but 2 (p - t) is inf.
    "overflow in an intermediate": (
        losses.squared_error_plainly,
        {"op": "squared_error", "dtypes": ["float32"]},
        "overflow in an intermediate",
    ),
    "a swallowed NaN": (
        losses.huber_dropping_nans,
        {"op": "huber", "dtypes": ["float64"]},
        "a number where the exact answer is NaN",
    ),
    "subgradient at 0": (abs_bce_with_logits, {**LOGITS, "dtypes": ["float64"]}, "wrong gradient at exactly 0 only"),
    "underflow": (losses.softplus_through_log, {"op": "softplus", "dtypes": ["float64"]}, "came back as exactly 0"),
    "log at a hard probability": (
        losses.bce_on_probabilities_with_plain_logs,
        {"op": "binary_crossentropy", "dtypes": ["float64"]},
        "NaN gradient at a hard probability 0 or 1",
    ),
}


@pytest.fixture(scope="module")
def diagnoses():
    found = {}
    for bug, (loss, options, _) in BUGS.items():
        result = check_loss(loss, framework="torch", **options)
        found[bug] = [r["diagnosis"] for r in result.failures]
        assert all(found[bug]), f"{bug}: a failing result without a diagnosis"
    return found


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_diagnosis_fires_on_its_bug_and_not_on_the_others(bug, diagnoses):
    words = BUGS[bug][2]
    assert any(words in text for text in diagnoses[bug]), diagnoses[bug][:5]
    for other in BUGS:
        if other != bug:
            assert not any(words in text for text in diagnoses[other]), (other, diagnoses[other][:5])


def scalar_record(actual: float, expected: float) -> dict:
    """A mean squared error of four samples of (1 - 0)^2: exact 1, a scalar result."""
    inputs = {"y_true": [0.0, 0.0, 0.0, 0.0], "y_pred": [1.0, 1.0, 1.0, 1.0]}
    return {
        "op": "squared_error",
        "params": {"reduction": "mean"},
        "inputs": inputs,
        "dtype": "float32",
        "quantity": "value",
        "actual": actual,
        "expected": expected,
        "message": "outside tolerance",
    }


def test_a_single_elements_factor_is_a_reduction_only_when_it_is_a_counts_kind():
    # The sum of the four squares is 4 where the mean is 1: a factor of 4 = N.
    assert "off by a constant factor 4: wrong reduction" in diagnose(scalar_record(4.0, 1.0))
    # 1.192 is no count's ratio: the nearest p/q with q <= 16 is 19/16 = 1.1875, 0.4% away: no reduction.
    assert "wrong reduction" not in diagnose(scalar_record(1.192, 1.0))
