"""The disk cache: a second evaluation computes nothing; concurrent writers corrupt nothing."""

import json
import multiprocessing

import pytest

from oracle import evaluate, evaluation
from oracle.cache import DiskCache

INPUTS = {"y_true": [1, 0], "y_pred": [-810, 17]}
PARAMS = {"from_logits": True, "reduction": "none"}


def test_a_warm_cache_answers_without_computing(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path)
    cold = evaluate("binary_crossentropy", PARAMS, INPUTS, "float32", cache=cache)

    def refuse(*args, **kwargs):
        raise AssertionError("the oracle computed again")

    monkeypatch.setattr(evaluation, "_ziv", refuse)
    warm = evaluate("binary_crossentropy", PARAMS, INPUTS, "float32", cache=cache)
    assert warm.to_record() == cold.to_record()
    with pytest.raises(AssertionError, match="computed again"):
        evaluate("binary_crossentropy", PARAMS, INPUTS, "float16", cache=cache)  # another dtype is another key


def _hammer(root: str) -> None:
    cache = DiskCache(root)
    for _ in range(30):
        evaluate("binary_crossentropy", PARAMS, INPUTS, "float64", cache=cache)
        # Bypass the read: rewrite the same key over and over.
        cache.put("ab" * 32, {"payload": list(range(2000))})


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
