"""Bad case files: every limit and every malformed input is a clear error with file:line.

Each kind of bad file below once cost a traceback, a hang, gigabytes of memory or a silent
acceptance (issue 14); now each is one error naming its file and line, and the good files
beside it still load and run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from conformance.corpus import cases, source
from conformance.corpus.limits import limits

ROOT = Path(__file__).resolve().parent.parent
BCE = "defaults: {op: binary_crossentropy, params: {from_logits: true, reduction: none}}\ncases:\n"
SPARSE = "defaults: {op: sparse_categorical_crossentropy}\ncases:\n"


def entry(body: str, case_id: str = "t/a", head: str = BCE) -> str:
    """One case (at line 3 of the file, its inputs at line 6) under ``head``."""
    return head + f"  - id: {case_id}\n    description: d\n    provenance: p\n" + body


SWEEP = "    sweep: {v: %s}\n    inputs: {y_true: [0], y_pred: [$v]}\n"
ALIAS_BOMB = "".join(
    f"{n}: &{n} [{', '.join(['*' + p] * 9 if p else ['x'] * 9)}]\n" for p, n in zip("zabcdef", "abcdefg")
).replace("*z", "x")

# kind -> (file contents, line of the error, words its message must contain)
BAD_FILES: dict[str, tuple[bytes | str, int, str]] = {
    "invalid_utf8": (b"cases:\n  - id: t/\xff\n", 2, "not UTF-8"),
    "nesting_600_deep": (
        entry("    inputs: {y_true: [0], y_pred: " + "[" * 600 + "1" + "]" * 600 + "}\n"),
        6,
        "nesting deeper",
    ),
    "integer_of_5000_digits": (entry("    inputs: {y_true: [0], y_pred: [" + "9" * 5000 + "]}\n"), 6, "number_chars"),
    "sexagesimal": (entry("    inputs: {y_true: [0], y_pred: [190:20:30.15]}\n"), 6, "base-60"),
    "sexagesimal_integer": (entry("    inputs: {y_true: [0], y_pred: [190:20:30]}\n"), 6, "base-60"),
    "attribute_in_id_template": (entry(SWEEP % "[1, 2]", "t/{v.real}"), 3, "{v.real} is not one of"),
    "index_in_id_template": (entry(SWEEP % "[1, 2]", "t/{v[x]}"), 3, "{v[x]} is not one of"),
    "format_spec_in_id_template": (entry(SWEEP % "[1, 2]", "t/{v:>99999999}"), 3, "does not match"),
    "label_of_1e20": (
        entry("    inputs: {y_true: [100000000000000000000], y_pred: [[1, 2]]}\n", head=SPARSE),
        6,
        "outside int64",
    ),
    "fill_of_1e10_elements": (
        entry("    inputs: {y_true: {fill: 0, shape: [100000, 100000]}, y_pred: [1]}\n"),
        6,
        "generator_elements",
    ),
    "linspace_of_1e7": (
        entry("    inputs: {y_true: [0], y_pred: {linspace: [0, 1, 10000000]}}\n"),
        6,
        "generator_elements",
    ),
    "powers_of_ten_to_1e9": (entry(SWEEP % "{powers_of_ten: [0, 1000000000]}", "t/{v}"), 6, "exponent"),
    "exponent_1e99999999": (entry("    inputs: {y_true: [0], y_pred: [1e99999999]}\n"), 6, "exponent"),
    "hex_exponent_p99999999": (entry("    inputs: {y_true: [0], y_pred: [0x1p99999999]}\n"), 6, "exponent"),
    "alias_bomb": (ALIAS_BOMB + entry("    inputs: {y_true: [0], y_pred: [1]}\n"), 2, "aliases"),
    "range_of_1e9_steps": (entry(SWEEP % "{range: [0, 1000000000, 1]}", "t/{v}"), 6, "sweep_cases"),
    "long_numeric_string": (entry('    inputs: {y_true: [0], y_pred: ["' + "1" * 100000 + 'x"]}\n'), 6, "number_chars"),
    "file_over_the_size_limit": (
        entry("    inputs: {y_true: [0], y_pred: [1]}\n") + "#" * 2_000_000 + "\n",
        1,
        "file_bytes",
    ),
    "cases_over_the_file_limit": (
        BCE
        + "".join(
            f"  - {{id: t/{i}, description: d, provenance: p, inputs: {{y_true: [0], y_pred: [1]}}}}\n"
            for i in range(2001)
        ),
        2,
        "file_cases",
    ),
    "sweeps_over_the_file_limit": (
        BCE
        + "".join(
            f"  - {{id: 't{i}/{{v}}', description: d, provenance: p, sweep: {{v: {{range: [0, 999, 1]}}}}, "
            "inputs: {y_true: [0], y_pred: [$v]}}\n"
            for i in range(3)
        ),
        2,
        "file_cases",
    ),
    "range_with_no_steps": (entry(SWEEP % "{range: [10, 0, 1]}", "t/{v}"), 6, "makes no values"),
    "fractional_labels_from_linspace": (
        entry("    inputs: {y_true: {linspace: [0, 1, 3]}, y_pred: [[1, 2], [1, 2], [1, 2]]}\n", head=SPARSE),
        6,
        "fractional",
    ),
    "ignore_index_1e20": (
        entry(
            "    params: {ignore_index: 100000000000000000000}\n    inputs: {y_true: [0], y_pred: [[1, 2]]}\n",
            head=SPARSE,
        ),
        6,
        "outside int64",
    ),
    "label_outside_the_classes_without_expect": (
        entry("    inputs: {y_true: [5], y_pred: [[1, 2]]}\n", head=SPARSE),
        6,
        "label 5 is outside [0, 2) and not ignore_index",
    ),
    "label_smoothing_2": (
        entry("    params: {label_smoothing: 2}\n    inputs: {y_true: [0], y_pred: [1]}\n"),
        6,
        "above 1",
    ),
    "label_smoothing_-1": (
        entry("    params: {label_smoothing: -1}\n    inputs: {y_true: [0], y_pred: [1]}\n"),
        6,
        "below 0",
    ),
    "label_smoothing_nan": (
        entry("    params: {label_smoothing: .nan}\n    inputs: {y_true: [0], y_pred: [1]}\n"),
        6,
        "NaN",
    ),
    "weights_of_the_wrong_length": (
        entry("    params: {sample_weight: [1, 2, 3]}\n    inputs: {y_true: [0, 1], y_pred: [1, 2]}\n"),
        6,
        "does not fit",
    ),
    "id_template_making_a_300kB_id": (
        entry('    sweep: {v: ["' + "1" * 100000 + '"]}\n    inputs: {y_true: [0], y_pred: [1]}\n', "t/{v}{v}{v}"),
        3,
        "id_chars",
    ),
    "sweep_value_outside_the_id_pattern": (
        entry('    sweep: {v: ["a b<script>"]}\n    inputs: {y_true: [0], y_pred: [1]}\n', "t/{v}"),
        3,
        "does not match",
    ),
    "empty_class_axis": (
        "cases:\n  - {id: t/a, description: d, provenance: p, op: logsumexp, inputs: {x: [[]]}}\n",
        2,
        "is empty",
    ),
}

GOOD = """cases:
  - id: good{n}/softplus/x={{x}}
    description: softplus at a few points
    provenance: derivation
    op: softplus
    dtypes: [float64]
    sweep: {{x: [-1, 0, 2]}}
    inputs: {{x: [$x]}}
"""


def write(folder: Path, name: str, contents: bytes | str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_bytes(contents if isinstance(contents, bytes) else contents.encode())
    return path


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_file_is_one_error_with_its_file_and_line(tmp_path, kind):
    contents, line, words = BAD_FILES[kind]
    path = write(tmp_path, kind, contents)
    loaded, errors = cases.load_file(path)
    assert loaded == []
    assert len(errors) == 1, errors
    assert (errors[0].file, errors[0].line) == (path, line), str(errors[0])
    assert words in errors[0].message


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_a_bad_file_beside_good_ones_costs_only_itself(tmp_path, kind):
    for n in range(3):
        write(tmp_path, f"good{n}", GOOD.format(n=n))
    write(tmp_path, "zz_" + kind, BAD_FILES[kind][0])
    corpus = cases.load([tmp_path])
    assert len(corpus.cases) == 9
    assert [Path(e.file).name for e in corpus.errors] == [f"zz_{kind}.yaml"]


def test_a_fault_of_the_loader_itself_costs_that_file_only(tmp_path, monkeypatch):
    """A bug we have not met yet: the file gets an error (line 1), the others still load."""
    for n in range(2):
        write(tmp_path, f"good{n}", GOOD.format(n=n))
    broken = write(tmp_path, "good9", GOOD.format(n=9))
    real_load = source.load

    def load(path: Path) -> object:
        if path == broken:
            raise RecursionError("maximum recursion depth exceeded")
        return real_load(path)

    monkeypatch.setattr(cases, "load_yaml", load)
    corpus = cases.load([tmp_path])
    assert len(corpus.cases) == 6
    assert [str(e) for e in corpus.errors] == [
        f"{broken}:1: the loader failed on this file (RecursionError: maximum recursion depth exceeded)"
    ]


def test_values_inside_the_limits_still_load(tmp_path):
    """The limits bound abuse, not exact inputs: a 751-digit decimal and a 1e-400 are values."""
    smallest_subnormal = str(Decimal(5e-324))  # noqa: RUF032 -- the double itself, exactly
    assert len(smallest_subnormal) > 750
    path = write(tmp_path, "edge", entry(f"    inputs: {{y_true: [0, 0], y_pred: [{smallest_subnormal}, 1e-400]}}\n"))
    loaded, errors = cases.load_file(path)
    assert errors == []
    assert loaded[0].materialize("float64")[1]["y_pred"].tolist() == [5e-324, 0.0]


def test_a_linspace_rounds_each_value_once_whatever_its_bounds(tmp_path):
    """float32's nearest to 1/3 and 2/3 are 11184811 / 2^25 and / 2^24 (0x3eaaaaab, 0x3f2aaaab);
    1e-1100 + k (1 - 1e-1100) / 2 is below float64's least subnormal, then just above 1/2, then 1."""
    from conformance.corpus import generators
    from oracle.formats import FORMATS

    thirds = generators.expand({"linspace": [0, 1, 4]}, FORMATS["float32"]).tolist()
    assert [Fraction(v) for v in thirds] == [0, Fraction(11184811, 2**25), Fraction(11184811, 2**24), 1]
    tiny = generators.expand({"linspace": ["1e-1100", 1, 3]}, FORMATS["float64"]).tolist()
    assert tiny == [0.0, 0.5, 1.0]


def test_a_long_linspace_is_rounded_once_and_kept_on_disk_and_a_damaged_copy_is_rounded_again(tmp_path, monkeypatch):
    """thirds of 3 * 2**-12 over 3001 points are k 2**-12: exact in every dtype but bfloat16,
    where k = 257 (9 bits) rounds to even, 256 2**-12 = 0.0625."""
    from conformance.corpus import generators
    from oracle.formats import FORMATS

    monkeypatch.setenv("LOSS_CONFORMANCE_CACHE", str(tmp_path))
    spec = {"linspace": [0, "0.732421875", 3001]}  # 3000 * 2**-12

    def fresh(dtype: str) -> list[float]:
        generators._linspace.cache_clear()
        generators._expand.cache_clear()
        return generators.expand(spec, FORMATS[dtype]).tolist()

    assert fresh("float32")[:3] == [0.0, 2.0**-12, 2.0**-11] and fresh("float32")[-1] == 3000 * 2.0**-12
    stored = list((tmp_path / "expansions").glob("*.npz"))
    assert len(stored) == 1
    assert fresh("bfloat16")[257] == 0.0625  # from the stored copy
    stored[0].write_bytes(b"not an npz")
    assert fresh("bfloat16")[257] == 0.0625 and fresh("float16")[257] == 257 * 2.0**-12


def test_a_label_outside_the_classes_loads_when_the_case_expects_no_answer(tmp_path):
    body = "    expect: error\n    inputs: {y_true: [5, -100], y_pred: [[1, 2], [3, 4]]}\n"
    expected, errors = cases.load_file(write(tmp_path, "expected", entry(body, head=SPARSE)))
    assert (len(expected), errors) == (1, [])
    ignored = "    params: {ignore_index: -100}\n    inputs: {y_true: [1, -100], y_pred: [[1, 2], [3, 4]]}\n"
    loaded, errors = cases.load_file(write(tmp_path, "ignored", entry(ignored, head=SPARSE)))
    assert errors == []
    assert loaded[0].materialize("float32")[1]["y_true"].tolist() == [1, -100]


def test_the_bundled_limits_leave_room_above_the_corpus():
    corpus = cases.load([cases.BUNDLED_CASES])
    assert corpus.errors == []
    assert max(len(c.id) for c in corpus.cases) * 2 <= limits().id_chars
    assert max(p.stat().st_size for p in corpus.files) * 10 <= limits().file_bytes


def test_run_with_a_mixed_folder_reports_the_good_results_and_exits_2(tmp_path):
    """Every kind of bad file at once beside three good ones: a report with all good results."""
    folder = tmp_path / "cases"
    folder.mkdir()
    for n in range(3):
        write(folder, f"good{n}", GOOD.format(n=n))
    for kind, (contents, _, _) in BAD_FILES.items():
        write(folder, kind, contents)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "run", str(folder), "--framework", "numpy", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for kind in BAD_FILES:
        assert f"{kind}.yaml:" in result.stderr
    report = json.loads((out / "report.json").read_text())
    ran = {r["case"] for r in report["results"]}
    assert ran == {f"good{n}/softplus/x={x}" for n in range(3) for x in (-1, 0, 2)}
