"""The gate takes the user's params as the loss has them, and its conventions where maths is silent."""

import gate_losses as losses

from conformance import check_loss

INVALID_LABEL_CASES = ("sparse/logits/label=3", "sparse/logits/label=-1", "sparse/logits/label=7")


def test_a_correct_loss_with_float_label_smoothing_passes():
    # label_smoothing=0.1 as a float, as the user's code holds it; no corpus case needs to match it.
    result = check_loss(
        losses.smoothed_bce_with_logits,
        op="binary_crossentropy",
        framework="torch",
        from_logits=True,
        label_smoothing=losses.SMOOTHING,
    )
    assert result.ok, result.describe()
    assert len(result.records) > 100  # the corpus's BCE-on-logits inputs, not one matching case


def test_a_correct_loss_with_weights_of_its_own_passes_on_the_inputs_they_fit():
    result = check_loss(
        losses.weighted_bce_with_logits,
        op="binary_crossentropy",
        framework="torch",
        from_logits=True,
        sample_weight=list(losses.WEIGHTS),
    )
    assert result.ok, result.describe()


def test_the_weights_are_length_checked_against_the_inputs():
    from conformance.gate import cases

    found = cases.gate_cases(
        "binary_crossentropy", {"from_logits": True, "sample_weight": [1, 2, 1, 1]}, ("float64",), [cases.BUNDLED]
    )
    # Only inputs of four samples take four weights; the others are left out, and counted.
    assert found.cases and all(len(case.inputs["y_pred"]) == 4 for case in found.cases)
    assert sum(found.left_out.values()) > 50
    assert all("sample_weight of shape (4,)" in reason for reason in found.left_out)


def test_a_loss_that_makes_only_the_invalid_sample_nan_passes_the_invalid_label_cases():
    options = {"op": "sparse_categorical_crossentropy", "framework": "torch", "from_logits": True, "reduction": "none"}
    per_sample = check_loss(losses.sparse_cross_entropy_nan_per_sample, **options)
    judged = [r for r in per_sample.records if r["case"] in INVALID_LABEL_CASES]
    # 3 cases x the gate's 4 default dtypes x (value, gradient)
    assert len(judged) == 24 and all(r["verdict"] == "pass" for r in judged)
    assert all("per-sample NaN" in r["message"] for r in judged)
    silent = check_loss(losses.sparse_cross_entropy_any_number, **options)
    judged = [r for r in silent.records if r["case"] in INVALID_LABEL_CASES]
    assert len(judged) == 24 and all(r["verdict"] == "fail" for r in judged)


def test_the_gradient_of_an_all_ignored_mean_may_be_zeros():
    result = check_loss(
        losses.cross_entropy_ignoring_minus_100,
        op="sparse_categorical_crossentropy",
        framework="torch",
        from_logits=True,
        ignore_index=-100,
        dtypes=["float64"],
    )
    (grad,) = [r for r in result.records if r["case"] == "sparse/logits/all-ignored" and r["quantity"] == "grad"]
    # Every label is -100: the mean is 0/0 = NaN, and torch's gradient is zeros.
    assert grad["verdict"] == "pass" and "the mean's gradient is zero" in grad["message"]
    assert all(v == 0 for row in grad["actual"] for v in row)
