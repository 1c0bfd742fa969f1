"""The gate: naive losses fail for the right reason, careful ones pass, in each framework."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import check_loss

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


def gate(*args):
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", "gate", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environment,
        timeout=600,
    )


BCE_LOGITS = ["--op", "binary_crossentropy", "--param", "from_logits=true", "--framework", "torch"]


def test_a_naive_torch_loss_fails_with_its_diagnosis(tmp_path):
    done = gate("examples.torch_losses:naive_bce_with_logits", *BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 1, done.stderr
    # sigmoid(20) is 1 in float32, so 1 - p = 0 and the gradient of log(1 - p) is 0 * inf.
    assert "NaN gradient where the gradient is finite" in done.stdout
    assert "stay in log space" in done.stdout
    assert (tmp_path / "report.json").exists() and (tmp_path / "junit.xml").exists()


def test_the_abs_formula_fails_only_for_its_gradient_at_zero(tmp_path):
    # In float32 and float64 (in bfloat16 its cancellation at x = 20, z = 0.9 costs 2 ULPs of value).
    floats = ["--dtype", "float32", "--dtype", "float64"]
    done = gate("examples.torch_losses:abs_bce_with_logits", *BCE_LOGITS, *floats, "--out", str(tmp_path))
    assert done.returncode == 1
    # At x = 0 the exact gradient of mean(softplus(x) - x z) over [(0, 0), (0, 1)] is
    # (1/2 - 0)/2 = 0.25 and (1/2 - 1)/2 = -0.25; torch's subgradients give 0.5 and 0.
    assert "FAIL seed001/bce/logits/two-point/a=0 [float64 grad]" in done.stdout
    assert "returned: [0.5, 0.0]" in done.stdout
    assert "wrong gradient at exactly 0 only" in done.stdout
    assert " value]" not in done.stdout  # every value passes


def test_a_careful_torch_loss_passes(tmp_path):
    done = gate("examples.torch_losses:stable_bce_with_logits", *BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:]
    assert " pass" in done.stdout.splitlines()[-2] and "fail" not in done.stdout.splitlines()[-2]


def test_a_crashing_loss_is_a_failure_not_a_crash_of_the_gate(tmp_path):
    done = gate("gate_targets:aborts_on_big_logits", *BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 1
    assert "CRASH" in done.stdout and "SIGABRT" in (tmp_path / "report.json").read_text()
    # Nothing came back, so there is no exact-vs-returned pair to show, only why.
    crash = done.stdout[done.stdout.index("CRASH") :]
    assert crash.splitlines()[2].startswith("  returned nothing: the worker killed by SIGABRT")
    assert "exact:    null" not in done.stdout and "None ulp" not in done.stdout


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("examples.torch_losses:no_such_function", "has no attribute 'no_such_function'"),
        ("no_such_module:f", "No module named 'no_such_module'"),
        ("gate_targets:not_a_function", "is a int, not a callable"),
        ("not-a-target", "is not MODULE:CALLABLE"),
    ],
)
def test_a_bad_target_is_a_usage_error(target, words, tmp_path):
    done = gate(target, *BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 2
    assert words in done.stderr and "Traceback" not in done.stderr


def test_reproducing_keras_semantics_in_torch():
    # Porting a Keras model: a torch loss that renormalises and clips like Keras reproduces
    # keras.losses.categorical_crossentropy, and the ideal-reference gate says where it differs.
    import torch

    def keras_like(y_true, y_pred):
        q = y_pred / y_pred.sum(dim=-1, keepdim=True)
        q = q.clamp(1e-7, 1 - 1e-7)
        return -(y_true * torch.log(q)).sum(dim=-1).mean()

    ported = check_loss(
        keras_like,
        op="categorical_crossentropy",
        framework="torch",
        reference="keras.losses.categorical_crossentropy",
        dtypes=["float64"],
    )
    hard = [r for r in ported.records if r["case"] == "seed000/cce/probs/hard-0-1" and r["quantity"] == "value"]
    assert hard[0]["verdict"] == "pass" and hard[0]["actual"] == 8.059047875479163
    ideal = check_loss(keras_like, op="categorical_crossentropy", framework="torch", dtypes=["float64"])
    assert not ideal.ok and any(r["case"] == "seed000/cce/probs/hard-0-1" for r in ideal.failures)


def test_check_loss_in_jax():
    import jax.numpy as jnp

    from examples.jax_losses import naive_softmax_cross_entropy, stable_softmax_cross_entropy

    naive = check_loss(
        naive_softmax_cross_entropy, op="categorical_crossentropy", framework="jax", from_logits=True, reduction="none"
    )
    assert not naive.ok
    # exp(810) overflows to inf, inf / inf = NaN: the spread cases fail on their values.
    assert any(r["case"].startswith("cce/logits/spread/") and r["quantity"] == "value" for r in naive.failures)
    with pytest.raises(AssertionError, match="the loss does not conform"):
        naive.assert_ok()
    stable = check_loss(
        stable_softmax_cross_entropy, op="categorical_crossentropy", framework="jax", from_logits=True, reduction="none"
    )
    spread = [r for r in stable.records if r["case"].startswith("cce/logits/spread/")]
    assert spread and all(r["verdict"] == "pass" for r in spread if r["quantity"] == "grad")
    assert jnp.isfinite(jnp.asarray(next(r["actual"] for r in spread if r["dtype"] == "float32"))).all()


def test_check_loss_in_tensorflow():
    from examples.tensorflow_losses import naive_bce_with_logits, stable_bce_with_logits

    naive = check_loss(naive_bce_with_logits, op="binary_crossentropy", framework="tensorflow", from_logits=True)
    # seed 003's trap: exp(810) is inf in the naive formula.
    far = [
        r for r in naive.failures if r["case"] == "seed001/bce/logits/two-point/far/a=810" and r["quantity"] == "value"
    ]
    assert far and far[0]["diagnosis"].startswith("overflow at large |x|")
    assert far[0]["actual"] == "inf"
    stable = check_loss(stable_bce_with_logits, op="binary_crossentropy", framework="tensorflow", from_logits=True)
    assert not [r for r in stable.failures if r["case"] == "seed001/bce/logits/two-point/far/a=810"]


@pytest.fixture
def conformance_gate():
    return check_loss


def test_the_fixture_form(conformance_gate):
    from examples.torch_losses import stable_bce_with_logits

    conformance_gate(
        stable_bce_with_logits, op="binary_crossentropy", framework="torch", from_logits=True, dtypes=["float32"]
    ).assert_ok()


SETTINGS_KEPT = {
    "jax": (
        "import jax\n"
        "from examples.jax_losses import stable_softmax_cross_entropy as loss\n"
        "settings = lambda: jax.config.x64_enabled\n"
        "options = dict(op='categorical_crossentropy', from_logits=True, reduction='none')\n"
    ),
    "tensorflow": (
        "import tensorflow as tf\n"
        "from examples.tensorflow_losses import stable_bce_with_logits as loss\n"
        "threads, experimental = tf.config.threading, tf.config.experimental\n"
        "settings = lambda: (threads.get_intra_op_parallelism_threads(),\n"
        "    threads.get_inter_op_parallelism_threads(), experimental.tensor_float_32_execution_enabled())\n"
        "options = dict(op='binary_crossentropy', from_logits=True)\n"
    ),
    "torch": (
        "import torch\n"
        "from examples.torch_losses import stable_bce_with_logits as loss\n"
        "settings = lambda: (torch.get_num_threads(), torch.backends.cuda.matmul.allow_tf32)\n"
        "options = dict(op='binary_crossentropy', from_logits=True)\n"
    ),
}


@pytest.mark.parametrize("framework", sorted(SETTINGS_KEPT))
def test_check_loss_leaves_the_callers_framework_settings_as_they_were(framework):
    script = SETTINGS_KEPT[framework] + (
        "import json\n"
        "from conformance import check_loss\n"
        "before = settings()\n"
        f"result = check_loss(loss, framework={framework!r}, dtypes=['float64'], **options)\n"
        "assert result.records, 'nothing ran'\n"
        "print(json.dumps([repr(before), repr(settings())]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == after


def test_a_loss_returning_the_wrong_shape_fails_with_a_reason_not_a_traceback(tmp_path):
    """Huber under the default mean: one number is the answer; a loss that returns one per element
    is a fail that names both shapes (a new op, huber, goes through the gate like any other)."""
    done = gate(
        "gate_targets:huber_without_its_reduction",
        *("--op", "huber", "--framework", "torch", "--dtype", "float32", "--out", str(tmp_path)),
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "where the op with these params gives ()" in done.stdout


NUMPY_BCE_LOGITS = ["--op", "binary_crossentropy", "--param", "from_logits=true", "--framework", "numpy"]


def test_any_installed_adapter_can_be_gated_here_numpy_without_autodiff(tmp_path):
    done = gate("gate_numpy_losses:stable_bce_with_logits", *NUMPY_BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:]
    # Every value is scored; every gradient is unsupported (NumPy has no autodiff), none an error.
    summary = done.stdout.splitlines()[-2]
    assert summary.endswith("pass, 396 unsupported") and "fail" not in summary and "error" not in summary


def test_a_numpy_mean_that_adds_bfloat16_in_bfloat16_fails_in_bfloat16_only(tmp_path):
    done = gate("gate_numpy_losses:bce_with_logits_mean_in_dtype", *NUMPY_BCE_LOGITS, "--out", str(tmp_path))
    assert done.returncode == 1
    failures = [line for line in done.stdout.splitlines() if line.startswith("FAIL ")]
    assert failures and all("[bfloat16 value]" in line for line in failures), failures
    assert "accumulated in bfloat16" in done.stdout


def test_a_selection_that_matches_nothing_says_so(tmp_path):
    done = gate(
        "gate_numpy_losses:stable_bce_with_logits", *NUMPY_BCE_LOGITS, "--select", "mse/basic*", "--out", str(tmp_path)
    )
    assert done.returncode == 3
    assert "no corpus case applies to binary_crossentropy with {'from_logits': True} under --select mse/basic*" in (
        done.stderr
    )
