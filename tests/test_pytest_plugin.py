"""The pytest plugin, black-box with pytester: the same verdicts as `conformance run`."""

import json
import os
from pathlib import Path

from case_snippets import expects_an_error

CASES = (
    """
cases:
  - id: plugin/softplus
    description: correctly rounded by torch
    provenance: derivation
    op: softplus
    inputs: {x: [0, -3]}
    dtypes: [float32]
  - id: plugin/bce-small-loss
    description: torch loses the relative accuracy of a small loss
    provenance: seeds/001_8d7aaff361d0cfa5.txt
    op: binary_crossentropy
    params: {from_logits: true, reduction: none}
    inputs: {y_true: [0], y_pred: [-30]}
    dtypes: [float32]
""".rstrip("\n")
    + expects_an_error("plugin/expects-an-error")
)


def run_on_torch(pytester, *args):
    """pytest --conformance on the given case files, torch only, reports into ./out."""
    return pytester.runpytest(
        "--conformance",
        *args,
        "--conformance-framework",
        "torch",
        "--conformance-report",
        "out",
        "-p",
        "no:cacheprovider",
    )


def test_cases_become_items_with_readable_ids_and_verdicts(pytester):
    pytester.makefile(".yaml", cases=CASES)
    result = run_on_torch(pytester, "cases.yaml", "-rA")
    # softplus value+grad pass; the small BCE loss value is a registered divergence (xfail),
    # its gradient passes; the wrong expectation fails for value and gradient.
    result.assert_outcomes(passed=3, xfailed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*fail: torch.nn.functional.softplus on plugin/expects-an-error (float32, value)*",
            "*the case expects an error; got a number*",
            "PASSED cases.yaml::plugin/softplus[[]torch.nn.functional.softplus-float32-value[]]",
        ]
    )
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    verdicts = {(r["case"], r["quantity"]): r["verdict"] for r in report["results"]}
    assert verdicts[("plugin/bce-small-loss", "value")] == "xfail"
    assert verdicts[("plugin/softplus", "grad")] == "pass"


def test_a_broken_case_file_is_a_collection_error_naming_the_line(pytester):
    pytester.makefile(
        ".yaml",
        broken="cases:\n  - id: b\n    description: d\n    provenance: p\n    op: softplus\n    inputs: {x: [oops]}\n",
    )
    result = run_on_torch(pytester, "broken.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*broken.yaml:6: case 'b': 'oops' is not a value*"])


def test_without_the_flag_yaml_files_are_left_alone(pytester):
    pytester.makefile(".yaml", cases=CASES)
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 5  # no tests collected: the case file is not a test file


def test_the_device_option_reaches_the_workers(pytester, monkeypatch):
    """--conformance-device cuda: a framework that cannot reach a GPU is one skipped item per case
    file, and the report says why; the fake adapter runs on the CPU only."""
    tests = Path(__file__).resolve().parent
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]))
    pytester.makefile(".yaml", cases=CASES.split("  - id: plugin/bce-small-loss")[0])
    common = ["--conformance", "cases.yaml", "--conformance-framework", "fake_adapters:device_bound"]
    on_cpu = pytester.runpytest(*common, "--conformance-report", "cpu", "-p", "no:cacheprovider")
    on_cpu.assert_outcomes(passed=2)
    on_cuda = pytester.runpytest(*common, "--conformance-device", "cuda", "--conformance-report", "cuda", "-rs")
    on_cuda.assert_outcomes(skipped=1)
    on_cuda.stdout.fnmatch_lines(["SKIPPED * fake_adapters:device_bound: not available on cuda: the fake framework*"])
    report = json.loads((pytester.path / "cuda" / "report.json").read_text())
    assert report["environment"]["skipped"] == {
        "fake_adapters:device_bound": "not available on cuda: the fake framework has no GPU"
    }
