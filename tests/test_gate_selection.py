"""Choosing what the gate runs, adding one's own cases, and accepting known divergences of one's loss."""

import json

from test_gate import gate

from conformance import check_loss
from conformance.gate.execute import Selection

MY_CASES = """\
defaults:
  op: binary_crossentropy
  params: {from_logits: true}
cases:
  - id: mine/zero-logits
    description: Two samples at x = 0, the point where abs() and clamp() have subgradients.
    provenance: derivation (softplus'(0) = 1/2)
    inputs: {y_true: [0, 1], y_pred: [0, 0]}
  - id: mine/moderate
    description: Moderate logits on both sides.
    provenance: derivation
    inputs: {y_true: [0, 1, 1], y_pred: [-2, 0.5, 3]}
"""

ACCEPT = """\
- case: "mine/zero-*"
  quantity: grad
  reason: our loss is only ever called away from x = 0
- case: "mine/never-*"
  reason: an entry nothing matches
"""

ABS_BCE = ["examples.torch_losses:abs_bce_with_logits", "--op", "binary_crossentropy", "--framework", "torch"]


def test_select_by_a_derived_tag_runs_only_those_inputs():
    from examples.torch_losses import stable_bce_with_logits

    result = check_loss(
        stable_bce_with_logits,
        op="binary_crossentropy",
        framework="torch",
        from_logits=True,
        dtypes=["float64"],
        chosen=Selection(select=("non-finite",)),
    )
    assert result.records
    assert all('"inf"' in json.dumps(r["inputs"]) or '"nan"' in json.dumps(r["inputs"]) for r in result.records)


def test_own_cases_selected_by_pattern_and_an_accepted_divergence(tmp_path):
    (tmp_path / "mine.yaml").write_text(MY_CASES)
    (tmp_path / "accept.yaml").write_text(ACCEPT)
    options = ["--param", "from_logits=true", "--dtype", "float64", "--out", str(tmp_path / "out")]
    mine = ["--cases", str(tmp_path / "mine.yaml"), "--select", "mine/*"]
    # Without the accept file the x = 0 gradient fails: exp(-|0|) has torch's subgradient 0 there.
    done = gate(*ABS_BCE, *options, *mine)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL mine/zero-logits [float64 grad]" in done.stdout
    assert "4 results:" in done.stdout  # two of my cases, value and gradient: nothing else selected
    done = gate(*ABS_BCE, *options, *mine, "--accept", str(tmp_path / "accept.yaml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 accepted" in done.stdout and "3 pass" in done.stdout
    assert f"{tmp_path / 'accept.yaml'}:4: accepted case 'mine/never-*' matched no failing result" in done.stdout


def test_an_accept_entry_without_a_reason_is_a_usage_error_naming_its_line(tmp_path):
    (tmp_path / "accept.yaml").write_text('- case: "bce/*"\n  reason: fine\n- case: "x"\n')
    done = gate(*ABS_BCE, "--param", "from_logits=true", "--accept", str(tmp_path / "accept.yaml"))
    assert done.returncode == 2
    assert f"{tmp_path / 'accept.yaml'}:3: case 'x': every entry needs a case and a reason" in done.stderr


def test_a_bad_case_file_of_ones_own_is_a_usage_error(tmp_path):
    (tmp_path / "mine.yaml").write_text(MY_CASES.replace("y_pred: [0, 0]", "y_pred: [0, zero]"))
    done = gate(*ABS_BCE, "--param", "from_logits=true", "--cases", str(tmp_path / "mine.yaml"))
    assert done.returncode == 2 and "mine.yaml:" in done.stderr and "mine/zero-logits" in done.stderr
    assert "Traceback" not in done.stderr
