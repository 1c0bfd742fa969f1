"""The platform verdict: what XLA's CPU imposes on every JAX function is not the user's fault."""

import gate_jax_losses

from conformance import check_loss


def test_a_correct_jax_softplus_passes_on_a_cpu_that_flushes_subnormals():
    result = check_loss(gate_jax_losses.softplus, op="softplus", framework="jax")
    assert result.ok, result.describe()
    platform = [r for r in result.records if r.get("explanation", {}).get("kind") == "platform"]
    # softplus(-100) = 3.72e-44 is a float32 subnormal: XLA writes it as 0, and so does jax.nn.softplus.
    flushed = [r for r in platform if r["case"] == "softplus/x=-100" and r["dtype"] == "float32"]
    assert flushed and flushed[0]["actual"] == [0.0]
    assert flushed[0]["message"].startswith("platform: ")
    assert "platform" in result.describe().splitlines()[-1]
