"""The platform verdict: what XLA's CPU imposes on every JAX function is not the user's fault."""

import gate_jax_losses
import numpy as np

import oracle
from conformance import check_loss
from conformance.gate.execute import Selection
from conformance.judge.mechanisms import ModelContext
from conformance.judge.mechanisms.platform import exact_under
from oracle.ops import definition


def test_a_correct_jax_softplus_passes_on_a_cpu_that_flushes_subnormals():
    result = check_loss(gate_jax_losses.softplus, op="softplus", framework="jax")
    assert result.ok, result.describe()
    platform = [r for r in result.records if r.get("explanation", {}).get("kind") == "platform"]
    # softplus(-100) = 3.72e-44 is a float32 subnormal: XLA writes it as 0, and so does jax.nn.softplus.
    flushed = [r for r in platform if r["case"] == "softplus/x=-100" and r["dtype"] == "float32"]
    assert flushed and flushed[0]["actual"] == [0.0]
    assert flushed[0]["message"].startswith("platform: ")
    assert "platform" in result.describe().splitlines()[-1]
    # Counted, and named with the mechanism that explains them, where a user reads the output.
    (said,) = [line for line in result.describe().splitlines() if line.startswith("PLATFORM ")]
    assert "(xla-and-tensorflow-cpu-flush-subnormals)" in said and "softplus/x=-100" in said


def test_a_mean_of_tensorflows_own_loss_is_judged_by_its_per_sample_native():
    """tf.nn.sigmoid_cross_entropy_with_logits returns one loss per sample, so it cannot run the
    user's mean; run per sample on the same input, it shows the flush all the same."""
    from examples.tensorflow_losses import stable_bce_with_logits

    selected = Selection(select=("bce/logits/x=-88.7,z=0", "bce/logits/soft/x=20,z=0.9"))
    result = check_loss(
        stable_bce_with_logits, op="binary_crossentropy", framework="tensorflow", from_logits=True, chosen=selected
    )
    by_result = {(r["case"], r["dtype"], r["quantity"]): r for r in result.records}
    # softplus(-88.69999694824219) = 3.0066e-39 is a float32 subnormal (below 2^-126 = 1.1755e-38).
    flushed = by_result[("bce/logits/x=-88.7,z=0", "float32", "value")]
    assert flushed["explanation"]["kind"] == "platform" and flushed["actual"] == 0.0
    # In bfloat16, x z = 20 x 0.8984375 = 17.96875 rounds to 18 and 20 - 18 = 2, where the loss is
    # 2.03125 + softplus(-20): two bfloat16 ULPs (2^-6 each at 2) and no subnormal anywhere, so
    # the flush explains nothing and the rounding is the loss's own.
    rounded = by_result[("bce/logits/soft/x=20,z=0.9", "bfloat16", "value")]
    assert rounded["verdict"] == "fail" and rounded["actual"] == 2.0
    assert "intermediate results rounded to bfloat16" in rounded["diagnosis"]


def flush_model(x: float) -> list | None:
    """The flush model's predictions for softplus at one float32 input, from the real oracle."""
    op = definition("softplus")

    def exact(name, params, inputs, dtype, variants):
        return oracle.evaluate(name, params, inputs, dtype, oracle.combine(variants))

    inputs = {"x": np.array([x], dtype=np.float32).astype(np.float64)}
    context = ModelContext(op, op.with_defaults({}), inputs, "float32", "value", {"flush": True}, exact)
    return exact_under(context)


def test_the_flush_model_predicts_only_where_flushing_changes_the_answer():
    # softplus(-100) = log1p(e^-100) = 3.72e-44, below float32's least normal 2^-126 = 1.18e-38: flushed to 0.
    (flushed,) = flush_model(-100.0)
    assert flushed.value.tolist() == [0.0]
    # softplus(1) = log(1 + e) = 1.3133: nothing to flush, so nothing is explained by flushing.
    assert flush_model(1.0) is None
    # softplus(2^-149) = log 2 + 2^-150 rounds to float32's log 2 whether the input is flushed or not.
    assert flush_model(2.0**-149) is None
