"""The command line, end to end on real frameworks (a few small cases, for speed)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report import document as reports

from report_fixture import report, result

ROOT = Path(__file__).resolve().parent.parent
SMALL = """
cases:
  - id: small/softplus
    description: softplus near torch's threshold
    provenance: derivation
    op: softplus
    inputs: {x: [0, 19.5, -3]}
    dtypes: [float32, float64]
  - id: small/bce-hard-zero
    description: a hard wrong probability
    provenance: torch BCELoss docs
    op: binary_crossentropy
    params: {reduction: none}
    inputs: {y_true: [1], y_pred: [0]}
    dtypes: [float32]
"""


def conformance(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture
def small_cases(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return path


def test_run_writes_three_reports_that_follow_the_schema(tmp_path, small_cases):
    out = tmp_path / "out"
    done = conformance(
        "run",
        str(small_cases),
        "--framework",
        "torch",
        "--framework",
        "numpy",
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads((out / "report.json").read_text())
    reports.validate(document)
    assert {r["framework"] for r in document["results"]} == {"torch", "numpy"}
    hard_zero = [
        r
        for r in document["results"]
        if r["case"] == "small/bce-hard-zero"
        and r["quantity"] == "value"
        and r["implementation"] == "torch.nn.functional.binary_cross_entropy"
    ]
    assert hard_zero[0]["verdict"] == "documented" and hard_zero[0]["semantics"] == "torch_log_floor"
    assert hard_zero[0]["exact"] == ["inf"] and hard_zero[0]["actual"] == [100.0]
    assert (out / "junit.xml").read_text().startswith("<?xml")
    assert "<table class=summary>" in (out / "report.html").read_text()
    assert "<table class=matrix>" in (out / "report-ops" / "binary_crossentropy.html").read_text()


def test_two_runs_differ_only_in_created(tmp_path, small_cases):
    documents = []
    for name in ("one", "two"):
        done = conformance(
            "run",
            str(small_cases),
            "--framework",
            "torch",
            "--out",
            str(tmp_path / name),
            "--cache-dir",
            str(tmp_path / name / "cache"),
        )
        assert done.returncode == 0, done.stderr
        document = json.loads((tmp_path / name / "report.json").read_text())
        del document["created"]
        documents.append(document)
    assert documents[0] == documents[1]


def test_a_bad_case_file_exits_2_and_the_good_cases_still_run(tmp_path, small_cases):
    (tmp_path / "broken.yaml").write_text(
        "cases:\n  - id: broken\n    description: d\n    provenance: p\n    op: softplus\n    inputs: {x: [oops]}\n"
    )
    done = conformance("run", str(tmp_path), "--framework", "torch", "--out", str(tmp_path / "out"), "--no-cache")
    assert done.returncode == 2
    assert "broken.yaml:6: case 'broken': 'oops' is not a value" in done.stderr
    assert "Traceback" not in done.stderr
    results = json.loads((tmp_path / "out" / "report.json").read_text())["results"]
    assert {r["case"] for r in results} == {"small/softplus", "small/bce-hard-zero"}


def test_usage_errors_exit_2_without_a_traceback(tmp_path):
    for args in (
        ["run", "no/such/folder"],
        ["run", "--framework", "nosuch"],
        ["explain", "--op", "hinge", "--y-pred", "[1]"],
        ["explain", "--op", "binary_crossentropy", "--y-pred", "[1]"],
    ):
        done = conformance(*args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr and done.stderr.startswith("conformance "), done.stderr


def test_explain_names_the_keras_clip_for_seed000(tmp_path):
    done = conformance(
        "explain",
        "--op",
        "categorical_crossentropy",
        "--y-true",
        "[[0, 1], [1, 0]]",
        "--y-pred",
        "[[0, 1], [0, 1]]",
        "--dtype",
        "float32",
        "--framework",
        "keras-tensorflow",
        "--cache-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert 'value: exact "inf"' in done.stdout
    assert "8.05904769897461" in done.stdout
    assert (
        "explained by keras_categorical: Keras categorical cross-entropy on probabilities first renormalises"
        in done.stdout
    )


def test_explain_json_records_have_the_report_fields(tmp_path):
    done = conformance(
        "explain",
        "--op",
        "softplus",
        "--y-pred",
        "[30]",
        "--dtype",
        "float64",
        "--framework",
        "torch",
        "--json",
        "--cache-dir",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    required = reports.report_schema()["$defs"]["result"]["required"]
    assert records and all(set(required) <= set(record) for record in records)
    value = next(r for r in records if r["quantity"] == "value")
    # torch returns 30 itself above its threshold 20; the exact value is 30 + 9.4e-14.
    assert value["actual"] == [30.0] and value["semantics"] == "torch_softplus_threshold"


def test_diff_reports_a_regression_with_exit_1(tmp_path):
    old = report([result("a", "torch.softplus", "pass"), result("b", "torch.softplus", "fail")])
    new = report([result("a", "torch.softplus", "fail", actual=[2.0]), result("b", "torch.softplus", "pass")])
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    done = conformance("diff", str(tmp_path / "old.json"), str(tmp_path / "new.json"))
    assert done.returncode == 1
    assert "1 regressions\n  a [torch.softplus float32 value]: pass -> fail" in done.stdout
    assert "1 fixes\n  b [torch.softplus float32 value]: fail -> pass" in done.stdout


def test_report_rerenders_html_from_json_alone(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(report([result("a", "torch.softplus", "pass")])))
    done = conformance("report", str(tmp_path / "report.json"))
    assert done.returncode == 0, done.stderr
    assert "torch.softplus" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read: No such file or directory"),
        ("{not json", "not a report: invalid JSON at line 1"),
        ('{"results": []}', "not a report: the document: 'schema_version' is a required property"),
    ],
)
def test_diff_and_report_on_a_file_that_is_no_report_exit_2_with_one_line(tmp_path, content, words):
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(report([result("a", "torch.softplus", "pass")])))
    for args in (["diff", str(good), str(path)], ["report", str(path)], ["findings", str(path)]):
        done = conformance(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert done.stderr.count("\n") == 1 and words in done.stderr and "Traceback" not in done.stderr


def test_a_case_the_oracle_cannot_decide_is_an_error_and_the_rest_of_the_run_goes_on(tmp_path, monkeypatch):
    from conformance import cli
    from oracle import evaluation

    # Simulate an oracle that cannot decide bfloat16 roundings: the real Ziv loop then climbs to
    # MAX_BITS and raises OracleUndecided for those cases only (the fast path, which would decide
    # them first, is off: the exact path's bug trap is what is tested).
    monkeypatch.setattr(evaluation, "covers", lambda *args: False)
    decide = evaluation.decide
    monkeypatch.setattr(
        evaluation, "decide", lambda enclosure, fmt: None if fmt.name == "bfloat16" else decide(enclosure, fmt)
    )
    monkeypatch.setattr(evaluation, "MAX_BITS", 256)
    cases = tmp_path / "cases.yaml"
    cases.write_text(SMALL.replace("dtypes: [float32, float64]", "dtypes: [float32, bfloat16]"))
    out = tmp_path / "out"
    status = cli.main(["run", str(cases), "--framework", "numpy", "--out", str(out), "--no-cache"])
    assert status == 1
    results = json.loads((out / "report.json").read_text())["results"]
    undecided = [r for r in results if r["dtype"] == "bfloat16" and r["verdict"] != "unsupported"]
    assert undecided and all(r["verdict"] == "error" for r in undecided)
    assert (
        "oracle failure: OracleUndecided: softplus: rounding into bfloat16 undecided at 256 bits"
        in undecided[0]["message"]
    )
    assert any(r["dtype"] == "float32" and r["verdict"] == "pass" for r in results)
    assert (out / "junit.xml").is_file() and (out / "report.html").is_file()


def test_a_subset_run_reports_no_stale_or_fixed_entries_for_what_did_not_run(tmp_path):
    done = conformance(
        "run", "--op", "softplus", "--framework", "torch", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")
    )
    assert done.returncode in (0, 1), done.stderr
    assert "known divergence" not in done.stdout
    divergences = json.loads((tmp_path / "report.json").read_text())["divergences"]
    assert all(d["status"] == "active" for d in divergences), divergences
