"""Case files: the corpus validates, and each broken fixture gives one clear error."""

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.corpus import cases
from conformance.corpus.schema import case_file_schema
from oracle import definitions

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ROOT / "tests" / "fixtures" / "broken"

# fixture -> (line, case id or None, words the message must contain)
EXPECTED_ERRORS = {
    "unknown_key.yaml": (6, "broken/unknown-key", "unknown key 'inptus'"),
    "bad_value.yaml": (7, "broken/bad-value", "'maxx' is not a value"),
    "unknown_op.yaml": (5, "broken/unknown-op", "'hinge' is not one of"),
    "wrong_param.yaml": (6, "broken/wrong-param", "softplus takes no param 'label_smoothing'"),
    "missing_provenance.yaml": (2, "broken/missing-provenance", "missing 'provenance'"),
    "ragged.yaml": (7, "broken/ragged", "inputs.x is not a rectangular array"),
    "duplicate_key.yaml": (6, None, "duplicate key 'op'"),
    "not_yaml.yaml": (4, None, "not valid YAML"),
    "float_label.yaml": (7, "broken/float-label", "integer class labels"),
    "unbound_variable.yaml": (8, "broken/unbound/a=1", "$b is not a sweep variable"),
    "duplicate_id.yaml": (7, "broken/duplicate-id", "duplicate id: first defined at"),
    "python_tag.yaml": (3, None, "not valid YAML"),
    "bad_generator.yaml": (7, "broken/bad-generator", "a generator has exactly one of fill, linspace, onehot"),
}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_the_bundled_corpus_validates():
    result = run_cli("validate", "cases")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": ok")


def test_every_broken_fixture_is_covered():
    assert {p.name for p in BROKEN.glob("*.yaml")} == set(EXPECTED_ERRORS)


@pytest.mark.parametrize("fixture", sorted(EXPECTED_ERRORS))
def test_a_broken_file_gives_one_error_with_file_line_and_case(fixture):
    line, case_id, words = EXPECTED_ERRORS[fixture]
    result = run_cli("validate", str(BROKEN / fixture))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{BROKEN / fixture}:{line}: ")
    if case_id:
        assert f"case {case_id!r}" in errors[0]
    assert words in errors[0]


def test_yaml_tags_construct_nothing(tmp_path, capfd):
    cases.load([BROKEN / "python_tag.yaml"])
    assert "pwned" not in capfd.readouterr().out


def test_good_cases_load_beside_bad_ones(tmp_path):
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(
        "cases:\n"
        "  - {id: good, description: d, provenance: p, op: softplus, inputs: {x: [1]}}\n"
        "  - {id: bad, description: d, provenance: p, op: softplus, inputs: {x: [nope]}}\n"
        "  - {id: also-good, description: d, provenance: p, op: sigmoid, inputs: {x: [2]}}\n"
    )
    corpus = cases.load([mixed])
    assert [c.id for c in corpus.cases] == ["good", "also-good"]
    assert [e.case for e in corpus.errors] == ["bad"]


def test_a_sweep_expands_into_cases_with_their_own_ids():
    corpus = cases.load([ROOT / "cases" / "seeds.yaml"])
    two_point = [c for c in corpus.cases if c.id.startswith("seed001/")]
    assert [c.id for c in two_point][:2] == ["seed001/bce/logits/two-point/a=0", "seed001/bce/logits/two-point/a=1"]
    assert len(two_point) == 41
    last = two_point[-1]
    _, inputs = last.materialize("float32")
    assert inputs["y_pred"].tolist() == [-40.0, 40.0]
    assert last.sweep == {"a": "40"}


def test_defaults_fill_every_case_of_a_file(tmp_path):
    path = tmp_path / "defaults.yaml"
    path.write_text(
        "defaults: {provenance: derivation, op: softplus, dtypes: [float16], params: {}}\n"
        "cases:\n"
        "  - {id: d/1, description: one, inputs: {x: [max]}}\n"
    )
    corpus = cases.load([path])
    assert not corpus.errors
    assert corpus.cases[0].materialize("float16")[1]["x"].tolist() == [65504.0]


def test_the_schema_names_exactly_the_oracles_ops():
    assert set(case_file_schema()["$defs"]["caseFields"]["properties"]["op"]["enum"]) == set(definitions())


def test_generators_write_large_inputs_as_data(tmp_path):
    path = tmp_path / "large.yaml"
    path.write_text(
        "cases:\n"
        "  - id: g/bce\n    description: d\n    provenance: p\n    op: binary_crossentropy\n"
        "    params: {from_logits: true, reduction: mean}\n"
        "    inputs: {y_true: {fill: 1, shape: [5]}, y_pred: {linspace: [-1, 1, 5]}}\n"
        "  - id: g/sparse\n    description: d\n    provenance: p\n    op: sparse_categorical_crossentropy\n"
        "    inputs: {y_true: {fill: 2, shape: [2]}, y_pred: {linspace: [0, 0.3, 4], rows: 2}}\n"
        "  - id: g/onehot\n    description: d\n    provenance: p\n    op: categorical_crossentropy\n"
        "    inputs: {y_true: {onehot: [1, 3], rows: 1}, y_pred: [[1, 2, 3]]}\n"
        "  - id: g/fill\n    description: d\n    provenance: p\n    op: softplus\n"
        "    inputs: {x: {fill: 0.1, shape: [2]}}\n"
    )
    corpus = cases.load([path])
    assert not corpus.errors
    bce, sparse, onehot, fill = (case.materialize("float16")[1] for case in corpus.cases)
    assert bce["y_true"].tolist() == [1, 1, 1, 1, 1] and bce["y_pred"].tolist() == [-1, -0.5, 0, 0.5, 1]
    assert sparse["y_true"].dtype.kind == "i" and sparse["y_true"].tolist() == [2, 2]
    # Each decimal rounds once into float16: 0.1 * 2**14 = 1638.4 -> 1638 (spacing 2**-14 in
    # [1/16, 1/8)), 0.2 * 2**13 = 1638.4 -> 1638, 0.3 * 2**12 = 1228.8 -> 1229 (spacing 2**-12 in [1/4, 1/2)).
    assert sparse["y_pred"].tolist()[0] == [0.0, 1638 / 2**14, 1638 / 2**13, 1229 / 2**12]
    assert onehot["y_true"].tolist() == [[0, 1, 0]]
    assert fill["x"].tolist() == [1638 / 2**14, 1638 / 2**14]  # the decimal 0.1, rounded once
