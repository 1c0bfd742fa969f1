"""Keras' mechanism models against Keras itself, on inputs nobody wrote a case for.

The models of ``conformance/judge/mechanisms/keras.py`` say what a Keras loss computes on each
backend. Each test here draws fresh logits and labels (confident rows whose small losses the
kernels round away, flat rows, mixed signs; sample weights; every reduction), runs the
installed Keras on them, and requires the registry entry that speaks for the implementation to
reproduce every element of what Keras returned within its bound: a model that matched only the
corpus's inputs would fail here.
"""

from __future__ import annotations

import numpy as np
import pytest

import oracle
from conformance.corpus.cases import Case
from conformance.judge import registry
from conformance.judge.mechanisms import ModelContext
from conformance.run.runner import RawResult, adapter_specs, run
from oracle.evaluation import round_inputs
from oracle.formats import FORMATS

RNG_SEED = 20261207
DTYPES = ("float32", "float64", "float16")


def _logits(rng: np.random.Generator, rows: int, classes: int) -> list[list[float]]:
    """Rows from flat to confident: N(0, s) with s from 0.5 to 20, a few with one dominant logit."""
    scale = rng.choice([0.5, 3.0, 20.0], size=(rows, 1))
    x = rng.normal(0.0, 1.0, (rows, classes)) * scale
    x[::3, 0] += 25.0
    return np.round(x, 3).tolist()


def _cases() -> list[Case]:
    rng = np.random.default_rng(RNG_SEED)
    cases = []
    for index, reduction in enumerate(["mean", "sum", "none", "mean"]):
        rows, classes = 4 + index, 3 + index
        labels = rng.integers(0, classes, rows)
        onehot = np.eye(classes)[labels].tolist()
        weight = {"sample_weight": np.round(rng.uniform(0.1, 3.0, rows), 2).tolist()} if index == 3 else {}
        logits = _logits(rng, rows, classes)
        common = {"from_logits": True, "reduction": reduction, **weight}
        cases.append(
            Case(
                id=f"random/cce/{index}",
                description="random logits",
                provenance="tests/test_keras_models.py",
                op="categorical_crossentropy",
                params=dict(common),
                inputs={"y_true": onehot, "y_pred": logits},
                dtypes=DTYPES,
            )
        )
        cases.append(
            Case(
                id=f"random/sparse/{index}",
                description="random logits",
                provenance="tests/test_keras_models.py",
                op="sparse_categorical_crossentropy",
                params=dict(common),
                inputs={"y_true": labels.tolist(), "y_pred": logits},
                dtypes=DTYPES,
            )
        )
    return cases


def _context(result: RawResult, quantity: str) -> ModelContext:
    op = oracle.definition(result.case.op)
    params, inputs = round_inputs(result.case.op, result.params, result.inputs, FORMATS[result.dtype])
    return ModelContext(op, op.with_defaults(params), inputs, result.dtype, quantity, {"semantics": ()})


BACKENDS = [spec for spec in ("keras-tensorflow", "keras-torch", "keras-jax", "tf_keras") if spec in adapter_specs()]


@pytest.mark.parametrize("framework", BACKENDS)
def test_the_keras_model_reproduces_keras_cross_entropies_on_logits_beyond_the_corpus(framework):
    frameworks, results = run(_cases(), [framework])
    if frameworks[0].skipped:
        pytest.skip(frameworks[0].skipped)
    entries = registry.load()
    checked = 0
    for result in results:
        name = result.implementation["name"]
        if "[logits]" not in name or result.status != "ok":
            continue
        for quantity, actual in (("value", result.value), ("grad", result.grad)):
            candidates = [e for e in entries if e.in_scope(name, result.dtype, quantity) and e.model == "keras.loss"]
            assert candidates, f"no Keras model speaks for {name}"
            returned = np.asarray(actual, dtype=np.float64)
            everything = np.ones(returned.shape, dtype=bool)
            found, nearest = registry.explain(candidates, _context(result, quantity), returned, everything)
            assert found is not None, (
                f"{result.case.id} {name} {result.dtype} {quantity}: the model is "
                f"{nearest.distance_ulp if nearest else '?'} ulp off"
            )
            checked += 1
    assert checked >= 8 * len(DTYPES)
