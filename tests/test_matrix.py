"""conformance matrix: one column per version, and the diff of consecutive versions."""

import json
import subprocess
import sys
from pathlib import Path

from report_fixture import report, result

ROOT = Path(__file__).resolve().parent.parent


def framework_report(version: str, verdict: str) -> dict:
    document = report([result("a/case", "torch.softplus", verdict, framework="torch")])
    document["environment"]["frameworks"] = {"torch": version}
    return document


def test_versions_become_columns_and_consecutive_versions_are_diffed(tmp_path):
    for name, version, verdict in [("old", "2.13.0", "pass"), ("new", "2.14.1", "fail"), ("older", "2.9.1", "fail")]:
        (tmp_path / "tox" / name).mkdir(parents=True)
        (tmp_path / "tox" / name / "report.json").write_text(json.dumps(framework_report(version, verdict)))
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "matrix", str(tmp_path / "tox"), "--out", str(tmp_path / "matrix")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    # Ordered by version, not by name: 2.9.1 < 2.13.0 < 2.14.1.
    assert "torch 2.9.1 -> 2.13.0: 0 regressions, 1 fixes" in done.stdout
    assert "torch 2.13.0 -> 2.14.1: 1 regressions, 0 fixes" in done.stdout
    merged = json.loads((tmp_path / "matrix" / "report.json").read_text())
    assert {r["implementation"] for r in merged["results"]} == {
        "torch.softplus @ 2.9.1",
        "torch.softplus @ 2.13.0",
        "torch.softplus @ 2.14.1",
    }
    assert "a/case [torch.softplus float32 value]: pass -> fail" in (tmp_path / "matrix" / "diff.txt").read_text()


def test_keras2_is_diffed_against_the_oldest_keras3_under_keras3s_names(tmp_path):
    rows = [
        ("keras2", "tf_keras", "tf_keras.losses.X", "2.21.0 (tensorflow 2.21.0)", "xfail"),
        ("keras315", "keras-tensorflow", "keras[tensorflow].losses.X", "3.15.1 (tensorflow backend)", "pass"),
        ("keras312", "keras-tensorflow", "keras[tensorflow].losses.X", "3.12.4 (tensorflow backend)", "fail"),
    ]
    for env, framework, implementation, version, verdict in rows:
        document = report([result("a/case", implementation, verdict, framework=framework)])
        document["environment"]["frameworks"] = {framework: version}
        (tmp_path / "tox" / env).mkdir(parents=True)
        (tmp_path / "tox" / env / "report.json").write_text(json.dumps(document))
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "matrix", str(tmp_path / "tox"), "--out", str(tmp_path / "matrix")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "keras-tensorflow 3.12.4 -> 3.15.1: 0 regressions, 1 fixes" in done.stdout
    # xfail -> fail: the known divergence of Keras 2 is no longer what Keras 3 does.
    assert "tf_keras 2.21.0 -> keras-tensorflow 3.12.4: 1 regressions" in done.stdout
    text = (tmp_path / "matrix" / "diff.txt").read_text()
    assert "a/case [keras[tensorflow].losses.X float32 value]: xfail -> fail" in text
