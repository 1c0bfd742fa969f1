"""Half precision by default, and cotangents that reach a primitive's backward."""

import gate_losses as losses

from conformance import check_loss
from conformance.gate.execute import DEFAULT_DTYPES


def test_the_default_dtypes_are_all_four():
    assert set(DEFAULT_DTYPES) == {"float16", "bfloat16", "float32", "float64"}


def test_a_count_held_in_float16_fails_with_the_default_dtypes_and_only_in_half_precision():
    result = check_loss(losses.mean_with_count_in_dtype, op="binary_crossentropy", framework="torch", from_logits=True)
    failing = {(r["case"], r["dtype"]) for r in result.failures}
    # 100000 ones sum to inf in float16, so the mean of the long batch is 0 there.
    assert ("bce/logits/long-batch/N=100000/mean", "float16") in failing
    assert {dtype for _, dtype in failing} <= {"float16", "bfloat16"}


def test_a_custom_backward_that_ignores_its_cotangent_fails():
    ignoring = check_loss(losses.softplus_ignoring_cotangent, op="softplus", framework="torch")
    assert ignoring.failures and all(r["quantity"] == "grad" for r in ignoring.failures)
    # softplus'(0) = 1/2; with the gate's cotangent 1.5 the pulled-back gradient is 0.75, not 0.5.
    at_zero = [r for r in ignoring.failures if r["case"] == "softplus/x=0" and r["dtype"] == "float64"]
    assert at_zero and at_zero[0]["actual"] == [0.5] and at_zero[0]["expected"] == [0.75]
    assert check_loss(losses.softplus, op="softplus", framework="torch").ok
