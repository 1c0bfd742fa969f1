"""The known-divergence registry: matching, xfail, stale and fixed entries."""

import numpy as np
import pytest

from conformance.corpus.cases import Case
from conformance.judge.answers import OracleAnswers
from conformance.judge.verdicts import Judge, glob_match, load_registry
from conformance.run.runner import RawResult

ENTRY = """
- implementation: keras[torch].losses.*
  case: demo/*
  dtype: float32
  quantity: value
  reason: a demo reason
  link: https://example.org/issue/1
- implementation: nobody.*
  reason: matches nothing
  link: https://example.org/issue/2
"""


def test_star_is_the_only_wildcard():
    assert glob_match("keras[torch].losses.*", "keras[torch].losses.BinaryCrossentropy[logits]")
    assert not glob_match("keras[torch].losses.*", "kerast.losses.X")  # [torch] is not a character class
    assert glob_match("*", "anything")


def test_entries_need_a_reason_and_a_link():
    with pytest.raises(ValueError, match="missing \\['link'\\]"):
        load_registry("- {implementation: x, reason: y}")


def softplus_result(actual: float) -> RawResult:
    case = Case(
        id="demo/softplus",
        description="d",
        provenance="p",
        op="softplus",
        params={},
        inputs={"x": [0]},
        dtypes=("float32",),
    )
    params, inputs = case.materialize("float32")
    implementation = {"name": "keras[torch].losses.Demo", "semantics": []}
    return RawResult(
        case,
        "float32",
        "keras-torch",
        implementation,
        "ok",
        params,
        inputs,
        np.array([actual]),
        "float32",
        np.array([0.5]),
        "float32",
    )


def test_a_registered_divergence_is_xfail_and_an_unused_entry_is_stale(tmp_path):
    judge = Judge(OracleAnswers(None), load_registry(ENTRY))
    # softplus(0) = ln 2 = 0.693147...; 0.7 is thousands of float32 ulps away.
    records = judge.judge(softplus_result(0.7))
    judge.note_passes(records)
    value = next(r for r in records if r["quantity"] == "value")
    assert value["verdict"] == "xfail"
    assert "a demo reason (https://example.org/issue/1)" in value["message"]
    assert [entry.status() for entry in judge.registry] == ["active", "stale"]


def test_a_registered_divergence_that_now_passes_is_reported_fixed():
    judge = Judge(OracleAnswers(None), load_registry(ENTRY))
    records = judge.judge(softplus_result(float(np.float32(np.log(2)))))
    judge.note_passes(records)
    assert records[0]["verdict"] == "pass"
    assert judge.registry[0].status() == "fixed"


def test_an_outcome_entry_matches_only_that_kind_of_failure():
    entry = load_registry("- {implementation: '*', outcome: flushed_subnormal, reason: r, link: l}")[0]
    assert entry.matches("tf.x", "c", "float32", "value", {"flushed_subnormal": 1})
    assert not entry.matches("tf.x", "c", "float32", "value", {"flushed_subnormal": 1, "finite": 2})
    assert not entry.matches("tf.x", "c", "float32", "value", {"unexpected_nan": 1})
