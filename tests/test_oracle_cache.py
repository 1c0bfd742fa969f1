"""The disk cache: a second evaluation computes nothing; one file per (case, dtype); concurrent
writers corrupt nothing."""

import json
import multiprocessing

import pytest

from oracle import evaluate, evaluation, variant
from oracle.cache import DiskCache

INPUTS = {"y_true": [1, 0], "y_pred": [-810, 17]}
PARAMS = {"from_logits": True, "reduction": "none"}


def test_a_warm_cache_answers_without_computing(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path)
    cold = evaluate("binary_crossentropy", PARAMS, INPUTS, "float32", cache=cache)

    def refuse(*args, **kwargs):
        raise AssertionError("the oracle computed again")

    monkeypatch.setattr(evaluation, "_ziv", refuse)
    monkeypatch.setattr(evaluation, "_fast_then_exact", refuse)
    warm = evaluate("binary_crossentropy", PARAMS, INPUTS, "float32", cache=cache)
    assert warm.to_record() == cold.to_record()
    with pytest.raises(AssertionError, match="computed again"):
        evaluate("binary_crossentropy", PARAMS, INPUTS, "float16", cache=cache)  # another dtype is another key


def _hammer(root: str) -> None:
    cache = DiskCache(root)
    for _ in range(30):
        evaluate("binary_crossentropy", PARAMS, INPUTS, "float64", cache=cache)
        # Bypass the read: rewrite the same key over and over.
        cache.put("ab" * 32, "entry", {"payload": list(range(2000))})


def test_concurrent_writers_leave_whole_files(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_hammer, args=(str(tmp_path),)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    files = [p for p in tmp_path.rglob("*.json")]
    assert len(files) == 2  # one oracle result, one hammered key; no temporary leftovers
    for path in files:
        json.loads(path.read_text())
    assert not list(tmp_path.rglob(".tmp-*"))


def test_every_semantics_of_a_case_and_dtype_shares_one_file(tmp_path, monkeypatch):
    probabilities = {"y_true": [1, 0], "y_pred": [0.25, 1.0]}
    ideal = evaluate("binary_crossentropy", {}, probabilities, "float32", cache=DiskCache(tmp_path))
    clipped = evaluate(
        "binary_crossentropy", {}, probabilities, "float32", variant("keras_clip"), cache=DiskCache(tmp_path)
    )
    assert len(list(tmp_path.rglob("*.json"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("the oracle computed again")

    monkeypatch.setattr(evaluation, "_ziv", refuse)
    monkeypatch.setattr(evaluation, "_fast_then_exact", refuse)
    # Both answers survive in the one file, each under its own semantics (the clip makes them differ).
    again = evaluate("binary_crossentropy", {}, probabilities, "float32", cache=DiskCache(tmp_path))
    assert again.to_record() == ideal.to_record()
    again = evaluate(
        "binary_crossentropy", {}, probabilities, "float32", variant("keras_clip"), cache=DiskCache(tmp_path)
    )
    assert again.to_record() == clipped.to_record() != ideal.to_record()
