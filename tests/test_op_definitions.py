"""One definition per op: the schema, validation, the oracle, the planner and the gate derive from it.

The toy op below is defined here and nowhere else; registering it is the only step, and every
stage picks it up. Its ideal, mean((y - p)^2), is checked against hand-computed values.
"""

import ast
import math
from pathlib import Path

import numpy as np
import pytest

from conformance.adapters.base import FixedAxis, Implementation, declaration_problems
from conformance.corpus import cases
from conformance.corpus.schema import case_file_schema, editor_copy, render
from conformance.gate.execute import gate_cases
from conformance.run.plan import assign
from oracle import definitions, evaluate
from oracle.interval import Interval
from oracle.ops import Input, InvalidInput, OpDefinition, registered
from oracle.ops import _reduce as shared
from oracle.ops.params import REDUCTION, SAMPLE_WEIGHT

ROOT = Path(__file__).resolve().parent.parent


def _toy_evaluate(params, inputs, semantics):
    y_true = np.asarray(inputs["y_true"], dtype=np.float64).ravel().tolist()
    y_pred = np.asarray(inputs["y_pred"], dtype=np.float64).ravel().tolist()
    samples = []
    for y, p in zip(y_true, y_pred):
        difference = Interval.of(p) - Interval.of(y)  # exact: the Ziv loop's precision covers two floats
        samples.append(shared.Sample(difference * difference, [difference + difference]))
    shape = np.shape(inputs["y_pred"])
    return shared.reduce(samples, params, semantics, shape, shape, None)


def _toy_check(params, arrays):
    if np.shape(arrays["y_true"]) != np.shape(arrays["y_pred"]):
        raise InvalidInput("shapes differ")


TOY = OpDefinition(
    "toy_squared_error",
    "(p - y)^2, each element a sample",
    (Input("y_true"), Input("y_pred")),
    "y_pred",
    (REDUCTION, SAMPLE_WEIGHT),
    _toy_evaluate,
    _toy_check,
    sample_shape=lambda params, arrays: tuple(np.shape(arrays["y_pred"])),
    example={"y_true": [0, 1], "y_pred": [0.5, 0.25]},
)

TOY_CASES = """
cases:
  - id: toy/basic
    description: a toy op, to show that a new op needs no edit outside its own module
    provenance: tests/test_op_definitions.py
    op: toy_squared_error
    params: {reduction: mean}
    inputs: {y_true: [0, 1], y_pred: [0.5, 0.25]}
    dtypes: [float32]
"""


def test_a_registered_op_is_in_the_schema_validation_oracle_plan_and_gate(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_CASES)
    with registered(TOY):
        schema = case_file_schema()
        assert "toy_squared_error" in schema["$defs"]["caseFields"]["properties"]["op"]["enum"]
        corpus = cases.load([path])
        assert not corpus.errors and [c.id for c in corpus.cases] == ["toy/basic"]

        # The ideal: mean(0.25, 0.5625) = 0.40625; gradient 2 (p - y) / 2 = [0.5, -0.75].
        answer = evaluate("toy_squared_error", {"reduction": "mean"}, corpus.cases[0].inputs, "float32")
        assert answer.value.tolist() == 0.40625 and answer.grad.tolist() == [0.5, -0.75]

        native = Implementation("toy.native", "toy_squared_error", lambda p, t: None, reductions=frozenset({"none"}))
        assert declaration_problems(native) == []
        params, _ = corpus.cases[0].materialize("float32")
        (plan,) = assign(TOY, params, [native.describe()], "toy", "float32", 1)
        assert plan.unsupported == "has no reduction 'mean' (it has: none)"

        assert [c.id for c in gate_cases("toy_squared_error", {"reduction": "sum"}, ["float32"], [path])] == [
            "toy/basic"
        ]
        bad = tmp_path / "bad.yaml"
        bad.write_text(TOY_CASES.replace("{reduction: mean}", "{axis: 0}"))
        (error,) = cases.load([bad]).errors
        assert "toy_squared_error takes no param 'axis' (params it takes: reduction, sample_weight)" in str(error)
    assert "toy_squared_error" not in definitions()


@pytest.mark.parametrize("name", sorted(definitions()))
def test_every_op_agrees_with_the_schema_and_the_oracle(name):
    op = definitions()[name]
    fields = case_file_schema()["$defs"]
    assert name in fields["caseFields"]["properties"]["op"]["enum"]
    assert set(op.param_names) <= set(fields["params"]["properties"])
    assert set(op.input_names) <= set(fields["caseFields"]["properties"]["inputs"]["propertyNames"]["enum"])
    answer = evaluate(name, {}, op.example, "float64")
    assert answer.grad.shape == np.shape(op.example[op.prediction])
    assert all(math.isfinite(v) for v in answer.value.ravel().tolist())


def test_the_editor_copy_of_the_schema_is_current():
    assert editor_copy().read_text(encoding="utf-8") == render(), "refresh it: conformance schema --write"


def test_a_misspelt_variant_or_an_unknown_param_is_refused_when_the_adapter_loads():
    misspelt = Implementation(
        "torch.demo", "binary_crossentropy", lambda p, t: None, semantics=("torch_log_flor",), from_logits=False
    )
    assert declaration_problems(misspelt)[0].startswith("torch.demo: unknown semantic variant 'torch_log_flor'")
    wrong_param = Implementation("x.softplus", "softplus", lambda p, t: None, frozenset({"axis"}))
    assert declaration_problems(wrong_param) == ["x.softplus: softplus has no param 'axis'"]
    wrong_op = Implementation("x.clip", "softplus", lambda p, t: None, semantics=("keras_clip",))
    assert declaration_problems(wrong_op) == ["x.clip: variant 'keras_clip' does not apply to softplus"]


@pytest.mark.parametrize(("rule", "ndim", "axis"), [(FixedAxis(), 5, 4), (FixedAxis(1, {1: 0}), 1, 0)])
def test_a_fixed_class_axis_holds_for_every_rank(rule, ndim, axis):
    from conformance.adapters.base import native_axis

    assert native_axis(rule.describe(), ndim) == axis
    assert native_axis(FixedAxis(1, {1: 0}).describe(), 7) == 1


# -- the layout: report/ renders documents and never reaches back into the stages before it --------

STAGE_RULES = {
    "conformance/report": ("conformance.run", "conformance.judge", "conformance.gate", "conformance.pipeline"),
    "conformance/corpus": ("conformance.run", "conformance.judge", "conformance.report", "conformance.gate"),
    "oracle": ("conformance",),
}


def _imports(path: Path) -> set[str]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            found.add(f"{base}.{node.module}" if base and node.module else base or node.module or "")
    return found


@pytest.mark.parametrize("folder", sorted(STAGE_RULES))
def test_a_stage_does_not_import_the_stages_after_it(folder):
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in _imports(path):
            forbidden = [
                prefix for prefix in STAGE_RULES[folder] if module == prefix or module.startswith(prefix + ".")
            ]
            assert not forbidden, f"{path.relative_to(ROOT)} imports {module}"


def test_the_report_schema_spells_the_verdicts_as_the_records_do():
    from conformance.report.document import report_schema
    from conformance.report.records import Verdict

    assert set(report_schema()["$defs"]["result"]["properties"]["verdict"]["enum"]) == {v.value for v in Verdict}
