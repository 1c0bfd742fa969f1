"""The exit codes every command keeps, the failure summary, ``--version`` and ``diff``'s missing results.

0 all explained, 1 unexplained results, 2 bad input or usage, 3 nothing ran. The runs are
in-process (``cli.main``) on NumPy or on the fake adapters, with a handful of elements.
"""

import json
import os
import shlex
from pathlib import Path

import pytest

from conformance import __version__, cli, exits
from conformance.report import failures

from case_snippets import expects_an_error
from report_fixture import report, result

TESTS = Path(__file__).resolve().parent
SOFTPLUS = """
cases:
  - id: exit/softplus
    description: softplus, with the fake frameworks' trigger 13
    provenance: test fixture
    op: softplus
    inputs: {x: [0, -3, 13]}
    dtypes: [float32]
"""
EXPECTS_ERROR = expects_an_error("exit/expects-an-error")


@pytest.fixture
def fakes_importable(monkeypatch):
    """The workers import the fake adapters by module path."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))


def run(tmp_path, text, *options):
    cases = tmp_path / "cases.yaml"
    cases.write_text(text)
    return cli.main(["run", str(cases), "--out", str(tmp_path / "out"), "--no-cache", *options])


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"conformance {__version__}\n"


@pytest.mark.parametrize("command", [[], ["run"], ["diff"], ["explain"], ["validate"]])
def test_help_states_every_exit_code(capsys, command):
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    text = capsys.readouterr().out
    for code in cli.ExitCode:
        assert f"  {code.value}  {exits.MEANINGS[code]}" in text


def test_all_explained_exits_0(tmp_path):
    assert run(tmp_path, SOFTPLUS, "--framework", "numpy") == cli.ExitCode.OK == 0


def test_unexplained_results_exit_1_and_are_listed_worst_first(tmp_path, capsys, fakes_importable):
    status = run(tmp_path, SOFTPLUS + EXPECTS_ERROR, "--framework", "numpy", "--framework", "fake_adapters:raising")
    assert status == cli.ExitCode.UNEXPLAINED == 1
    out = capsys.readouterr().out
    summary = out[out.index("5 unexplained result(s)") :].splitlines()
    # raising: softplus errors (value and grad) and the wrong expectation fails twice; numpy
    # fails the wrong expectation once (its value; its gradient passes): 2 errors, 3 fails.
    assert summary[0] == "5 unexplained result(s), worst first:"
    verdicts = [line.split()[0] for line in summary[1:11:2]]
    assert verdicts == ["ERROR", "ERROR", "FAIL", "FAIL", "FAIL"]
    assert (
        summary[1]
        == "ERROR    exit/softplus [raising.softplus float32 grad] FloatingPointError: the fake framework refuses 13"
    )
    assert (
        summary[2]
        == "    conformance explain --op softplus --y-pred '[0.0,-3.0,13.0]' --dtype float32 --framework raising"
    )
    assert (
        "FAIL     exit/expects-an-error [numpy.reference.softplus_logaddexp float32 value] "
        "the case expects an error; got a number" in summary
    )


def test_the_printed_explain_command_reproduces_the_result(tmp_path, capsys):
    run(tmp_path, SOFTPLUS + EXPECTS_ERROR, "--framework", "numpy")
    out = capsys.readouterr().out
    command = next(line.strip() for line in out.splitlines() if line.startswith("    conformance explain"))
    words = shlex.split(command)
    assert words[:2] == ["conformance", "explain"]
    assert cli.main([*words[1:], "--no-cache"]) == cli.ExitCode.OK
    explained = capsys.readouterr().out
    assert 'float32: inputs {"x": [1.0]}\n  value: exact ["' in explained
    shown = explained.split('value: exact ["')[1].split('"')[0]
    # softplus(1) = log(1 + e) = 1.3132616875182228340... (the constant ln(1 + e), to 20 digits):
    # the exact string shows only proven digits (fewer from the fast path), each of them right.
    digits = len(shown.split("e")[0].replace(".", "").lstrip("-"))
    assert digits >= 10 and float(shown) == float(f"{1.3132616875182228340:.{digits - 1}e}")
    assert "numpy.reference.softplus_logaddexp" in explained


def test_the_summary_orders_by_verdict_then_ulps_and_counts_what_it_leaves_out():
    document = report(
        [
            result("small", "torch.softplus", "fail", max_ulp_error=3.0),
            result("big", "torch.softplus", "fail", max_ulp_error=4096.0),
            result("inf", "torch.softplus", "fail", max_ulp_error="inf"),
            result("boom", "torch.softplus", "crash", max_ulp_error=None, message="the worker killed by SIGABRT"),
            result("fine", "torch.softplus", "pass"),
            result("known", "torch.softplus", "xfail", max_ulp_error=1e9),
        ]
    )
    lines = failures.summary(document, shown=3).splitlines()
    assert lines[0] == "4 unexplained result(s), worst first:"
    assert [line.split()[:2] for line in lines[1:7:2]] == [["CRASH", "boom"], ["FAIL", "inf"], ["FAIL", "big"]]
    assert lines[3].endswith("inf ulp") and lines[5].endswith("4.1e+03 ulp")
    assert lines[-1] == "... and 1 more in report.html"
    assert failures.summary(report([result("fine", "torch.softplus", "pass")])) == ""


def test_an_input_the_report_truncated_gets_no_command():
    big = result("big", "torch.softplus", "fail", inputs={"x": {"shape": [5000], "truncated": True, "head": [1.0]}})
    assert failures.explain_command(big) is None
    assert "(inputs over 1,000 elements: see report.json)" in failures.summary(report([big]))


def test_no_framework_able_to_run_exits_3_and_says_why(tmp_path, capsys, fakes_importable):
    status = run(tmp_path, SOFTPLUS, "--framework", "fake_adapters:missing")
    assert status == cli.ExitCode.NOTHING_RAN == 3
    assert capsys.readouterr().err.endswith(
        "conformance run: nothing ran: no framework could run "
        "(fake_adapters:missing: not installed: No module named 'fakeframework')\n"
    )


def test_an_empty_selection_exits_3(tmp_path, capsys):
    assert run(tmp_path, SOFTPLUS, "--framework", "numpy", "--op", "squared_error") == cli.ExitCode.NOTHING_RAN
    assert "nothing ran: no case matches the selection" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["validate", str(tmp_path / "empty")]) == cli.ExitCode.NOTHING_RAN


def test_explain_on_an_op_the_framework_lacks_says_so_and_exits_3(capsys):
    # torch has no binary focal cross-entropy (torchvision's sigmoid_focal_loss is not torch's)
    options = ["--op", "binary_focal_crossentropy", "--y-true", "[1]", "--y-pred", "[0.5]", "--framework", "torch"]
    assert cli.main(["explain", *options, "--no-cache"]) == cli.ExitCode.NOTHING_RAN
    assert capsys.readouterr().err == (
        "conformance explain: nothing to explain: torch has no native binary_focal_crossentropy on probabilities\n"
    )


@pytest.mark.parametrize("command", ["run", "validate"])
def test_an_unreadable_case_file_exits_2_naming_file_and_line(tmp_path, capsys, command):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"cases:\n  - id: caf\xe9\n")
    options = ["--framework", "numpy", "--out", str(tmp_path / "out")] if command == "run" else []
    assert cli.main([command, str(bad), *options]) == cli.ExitCode.BAD_INPUT == 2
    # "caf\xe9" is on line 2, at byte offset 18 (after "cases:\n  - id: caf").
    assert f"{bad}:2: not UTF-8: byte 0xe9 at offset 18" in capsys.readouterr().err


def test_a_missing_path_and_a_bad_option_exit_2(tmp_path, capsys):
    assert cli.main(["run", str(tmp_path / "nowhere.yaml")]) == cli.ExitCode.BAD_INPUT
    with pytest.raises(SystemExit) as done:
        cli.main(["run", "--dtype", "float8"])
    assert done.value.code == cli.ExitCode.BAD_INPUT


def test_diff_reports_results_missing_on_either_side_and_exits_1(tmp_path, capsys):
    full = report(
        [result(f"c{i}", "torch.softplus", "pass") for i in range(12)] + [result("a", "jax.nn.softplus", "pass")]
    )
    subset = report([result("c0", "torch.softplus", "pass"), result("new", "torch.softplus", "pass")])
    (tmp_path / "full.json").write_text(json.dumps(full))
    (tmp_path / "subset.json").write_text(json.dumps(subset))
    assert cli.main(["diff", str(tmp_path / "full.json"), str(tmp_path / "subset.json")]) == cli.ExitCode.UNEXPLAINED
    out = capsys.readouterr().out
    assert "0 regressions" in out
    assert "12 missing from NEW (in OLD only)\n  by implementation: torch.softplus 11, jax.nn.softplus 1\n" in out
    assert "  a [jax.nn.softplus float32 value]: pass\n" in out
    assert "  ... and 2 more\n" in out
    assert (
        "1 added in NEW (not in OLD)\n  by implementation: torch.softplus 1\n  new [torch.softplus float32 value]: pass"
        in out
    )
    # Two identical reports: nothing lost, exit 0.
    assert cli.main(["diff", str(tmp_path / "subset.json"), str(tmp_path / "subset.json")]) == cli.ExitCode.OK


def test_the_explain_command_carries_params_and_both_inputs_back_unchanged():
    record = result(
        "bce",
        "torch.nn.functional.binary_cross_entropy_with_logits",
        "fail",
        op="binary_crossentropy",
        framework="torch",
        params={"from_logits": True, "reduction": "mean", "sample_weight": [2.299999952316284]},
        inputs={"y_true": [[1.0, 0.0]], "y_pred": [[10.0, "-inf"]]},
    )
    command = failures.explain_command(record)
    assert command == (
        "conformance explain --op binary_crossentropy --param from_logits=true --param 'reduction=\"mean\"' "
        "--param 'sample_weight=[2.299999952316284]' --y-true '[[1.0,0.0]]' --y-pred '[[10.0,\"-inf\"]]' "
        "--dtype float32 --framework torch"
    )
    args = cli.parser().parse_args(shlex.split(command)[1:])
    assert dict(cli._parse_param(p) for p in args.param) == record["params"]
    assert json.loads(args.y_pred) == record["inputs"]["y_pred"] and args.framework == ["torch"]


def test_the_explain_command_carries_an_ops_other_inputs_as_named_inputs(tmp_path, capsys):
    """A primitive's cotangent (or a variance) is an input of its own: the summary's command
    passes it with --input, and explain takes it back into the same case."""
    record = result(
        "lsm",
        "jax.nn.log_softmax",
        "fail",
        op="log_softmax",
        framework="numpy",
        params={},
        inputs={"x": [37.43000030517578, 0.0], "cotangent": [1.0, 0.0]},
    )
    command = failures.explain_command(record)
    assert command == (
        "conformance explain --op log_softmax --y-pred '[37.43000030517578,0.0]' "
        "--input 'cotangent=[1.0,0.0]' --dtype float32 --framework numpy"
    )
    assert cli.main([*shlex.split(command)[1:], "--no-cache"]) == cli.ExitCode.OK
    out = capsys.readouterr().out
    assert 'float32: inputs {"x": [37.43000030517578, 0.0], "cotangent": [1.0, 0.0]}' in out
    # log_softmax(x)[0] = -log(1 + e^-a), a = 37.43000030517578: e^-a = 5.55082339227659404027e-17
    # and -log1p(e^-a) = -5.55082339227659388621e-17 (the closed form in 40-digit arithmetic).
    assert 'value: exact ["-5.55082339227659389e-17"' in out
