"""The plugin as pytest users drive it: -k and -m select, --collect-only runs nothing, bad option
values are usage errors, and every outcome points at the case's line in its YAML file.

Black-box with pytester, on the counting fake adapter (it logs every call it gets) and NumPy.
"""

import os
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Line 1 is the file's first line: the case "select/x=0,y=1" starts on line 3, "select/expects-error" on 9.
CASES = """cases:
  # a sweep-like id, with the characters -k cannot spell
  - id: select/x=0,y=1
    description: softplus at 0 and 1
    provenance: derivation
    op: softplus
    inputs: {x: [0, 1]}
    dtypes: [float32, float64]
  - id: select/expects-error
    description: a case that (wrongly, on purpose) expects softplus(2) to raise
    provenance: test fixture
    op: softplus
    inputs: {x: [2]}
    expect: error
    dtypes: [float32]
  - id: select/bce
    description: the counting fake has no BCE at all
    provenance: test fixture
    op: binary_crossentropy
    params: {reduction: none}
    inputs: {y_true: [1], y_pred: [0.5]}
    dtypes: [float64]
"""


@pytest.fixture
def case_file(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("FAKE_CALLS_LOG", str(tmp_path / "calls.log"))
    monkeypatch.setenv("LOSS_CONFORMANCE_CACHE", str(tmp_path / "oracle-cache"))
    pytester.makefile(".yaml", cases=CASES)
    return tmp_path


def conformance(pytester, *args):
    return pytester.runpytest(
        "--conformance",
        "cases.yaml",
        "--conformance-framework",
        "fake_adapters:counting",
        "-p",
        "no:cacheprovider",
        *args,
    )


def calls(folder):
    log = folder / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_collect_only_lists_every_item_and_calls_nothing(pytester, case_file):
    result = conformance(pytester, "--collect-only", "-q", "--conformance-report", "out")
    # the softplus cases: 2 dtypes + 1, each value and grad: 6 items; the BCE: the fake's "(none)", 2
    result.stdout.fnmatch_lines(
        [
            "cases.yaml::select/x=0,y=1[[]counting.softplus-float32-value[]]",
            "cases.yaml::select/bce[[]counting:(none)-float64-grad[]]",
            "8 tests collected*",
        ]
    )
    assert calls(case_file) == []
    assert not (pytester.path / "out").exists()
    assert not (case_file / "oracle-cache").exists() or not any((case_file / "oracle-cache").rglob("*"))


def test_k_selects_by_the_ids_alias_op_and_dtype_and_runs_only_what_it_selected(pytester, case_file):
    result = conformance(pytester, "-k", "select/x_0_y_1 and float64", "-v")
    result.assert_outcomes(passed=2, deselected=6)
    result.stdout.fnmatch_lines(["*select/x=0,y=1[[]counting.softplus-float64-value[]] PASSED*"])
    assert calls(case_file) == ["[0.0, 1.0] float64"]


def test_m_selects_exactly_with_the_conformance_marker(pytester, case_file):
    result = conformance(pytester, "-m", "conformance(case='select/expects-error', quantity='value')", "-v")
    result.assert_outcomes(failed=1, deselected=7)
    assert calls(case_file) == ["[2.0] float32"]


def test_failures_and_skips_are_located_at_the_case_line(pytester, case_file):
    result = conformance(pytester, "-rfs")
    result.assert_outcomes(passed=4, failed=2, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "cases.yaml:9: fail: counting.softplus on select/expects-error (float32, value)",
            "SKIPPED [[]2[]] cases.yaml:16: counting has no native binary_crossentropy on probabilities",
        ]
    )


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--conformance-dtype", "float8"], "*argument --conformance-dtype: invalid choice: 'float8'*"),
        (["--conformance-tolerance", "loose"], "*argument --conformance-tolerance: invalid choice: 'loose'*"),
        (["--conformance-framework", "nosuch"], "*--conformance-framework: no adapter 'nosuch'; installed:*"),
    ],
)
def test_a_bad_option_value_is_a_usage_error_before_anything_runs(pytester, case_file, option, words):
    result = pytester.runpytest("--conformance", "cases.yaml", *option, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([words])
    assert calls(case_file) == []
