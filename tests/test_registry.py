"""The known-divergence registry in the judge: explained only where the model reproduces the result.

A test-only model stands in for a framework mechanism here (these are plumbing tests: no
framework result reaches a report): "the implementation returns twice the softplus".
"""

import numpy as np
import pytest

from conformance.corpus.cases import Case
from conformance.judge import registry
from conformance.judge.answers import OracleAnswers
from conformance.judge.mechanisms import ModelContext, Prediction, model
from conformance.judge.verdicts import Judge
from conformance.run.runner import RawResult

LN2_F32 = float(np.float32(np.log(2)))  # softplus(0) = ln 2, correctly rounded to float32


@model("test.twice_softplus")
def twice_softplus(context: ModelContext) -> Prediction | None:
    if context.op.name != "softplus":
        return None
    a = context.arith()
    x = a.cast(context.inputs["x"])
    doubled = a.mul(a.const(2.0), a.log1p(a.exp(x)))
    return Prediction(a.wide(doubled) if context.quantity == "value" else a.wide(a.sigmoid(x)))


ENTRIES = """
- name: demo-twice
  framework: keras-torch
  implementation: keras[torch].ops.*
  quantity: value
  model: test.twice_softplus
  bound_ulp: 2
  reason: a demo reason
  link: https://example.org/issue/1
  witness: {implementation: "keras[torch].ops.softplus", op: softplus, params: {}, inputs: {x: [0]}, dtype: float32,
            quantity: value, returned: [1.3862943649291992], version: '0'}
- name: demo-renamed
  framework: keras-torch
  implementation: keras[torch].ops.renamed_softplus
  model: test.twice_softplus
  reason: an entry whose implementation no longer exists
  link: https://example.org/issue/2
  witness: {implementation: "keras[torch].ops.renamed_softplus", op: softplus, params: {}, inputs: {x: [0]},
            dtype: float32, quantity: value, returned: [0], version: '0'}
"""


def softplus_result(actual: float) -> RawResult:
    case = Case(
        id="any/name/at/all",
        description="d",
        provenance="p",
        op="softplus",
        params={},
        inputs={"x": [0]},
        dtypes=("float32",),
    )
    params, inputs = case.materialize("float32")
    implementation = {"name": "keras[torch].ops.softplus", "semantics": []}
    raw = RawResult(case, "float32", "keras-torch", implementation, "ok", params, inputs)
    raw.value, raw.value_dtype, raw.grad, raw.grad_dtype = np.array([actual]), "float32", np.array([0.5]), "float32"
    return raw


def judge_of(result: RawResult) -> tuple[Judge, dict]:
    judge = Judge(OracleAnswers(None), registry.parse(ENTRIES))
    value = next(r for r in judge.judge(result) if r["quantity"] == "value")
    return judge, value


def test_star_is_the_only_wildcard():
    assert registry.glob_match("keras[torch].losses.*", "keras[torch].losses.BinaryCrossentropy[logits]")
    assert not registry.glob_match("keras[torch].losses.*", "kerast.losses.X")  # [torch] is no character class
    assert registry.glob_match("*", "anything")


def test_a_result_the_model_reproduces_is_xfail_with_the_prediction_beside_it():
    judge, value = judge_of(softplus_result(2 * LN2_F32))  # 2 ln 2 = 1.3862944 in float32: the model's value
    assert value["verdict"] == "xfail"
    assert "known divergence demo-twice: a demo reason (https://example.org/issue/1)" in value["message"]
    explanation = value["explanation"]
    assert explanation["kind"] == "model" and explanation["name"] == "demo-twice"
    assert explanation["predicted"] == [1.3862943649291992] and explanation["distance_ulp"] == 0.0
    assert [e.status({"keras-torch": ["keras[torch].ops.softplus"]}) for e in judge.known] == ["active", "stale"]


def test_a_result_the_model_does_not_reproduce_fails_and_says_how_far_the_model_was():
    _, value = judge_of(softplus_result(0.7))  # neither ln 2 nor 2 ln 2
    assert value["verdict"] == "fail"
    assert "not reproduced by the model of known divergence 'demo-twice'" in value["message"]
    assert "explanation" not in value


def test_a_right_result_where_the_model_predicts_a_divergence_reports_the_entry_fixed():
    judge, value = judge_of(softplus_result(LN2_F32))
    assert value["verdict"] == "pass"
    assert judge.known[0].status({"keras-torch": ["keras[torch].ops.softplus"]}) == "fixed"


def test_an_entry_whose_framework_did_not_run_says_nothing():
    judge, _ = judge_of(softplus_result(0.7))
    assert [e.status({"torch": ["torch.nn.functional.softplus"]}) for e in judge.known] == [None, None]


def test_an_entry_needs_a_model_a_reason_a_link_and_a_witness():
    with pytest.raises(registry.RegistryError, match=r"missing \['link', 'witness'\]"):
        registry.parse("- {name: x, framework: t, implementation: t, model: test.twice_softplus, reason: r}")
