"""Each diagnosis fires on a loss with exactly its bug, and on none of the other bugs' losses."""

import gate_losses as losses
import pytest

from conformance import check_loss
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
