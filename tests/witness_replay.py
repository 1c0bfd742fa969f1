"""A registry entry's witness replayed on a live result: the assertion three test modules share."""

from __future__ import annotations

import numpy as np

from conformance.judge import registry
from conformance.run.runner import RawResult


def assert_model_explains(entry: registry.KnownDivergence, result: RawResult, version: str | None = None) -> None:
    """The framework's output today on the entry's witness still diverges from the ideal, the
    entry's model reproduces it, and on the witness's own framework version it is the frozen one."""
    assert result.status == "ok", result.message
    today = np.asarray(result.value if entry.witness.quantity == "value" else result.grad, dtype=np.float64)
    check = registry.check_witness(entry, today.tolist())
    assert check.failing.any(), f"{entry.name}: {result.framework} no longer diverges on its witness"
    found, nearest = registry.explain([entry], check.context, check.returned, check.failing)
    assert found is not None, f"{entry.name}: the model is {nearest.distance_ulp if nearest else '?'} ulp off"
    if version == entry.witness.version:
        frozen = np.asarray(registry.check_witness(entry).returned)
        np.testing.assert_array_equal(today.reshape(frozen.shape), frozen)
