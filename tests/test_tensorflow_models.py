"""TensorFlow's mechanism models against TensorFlow itself.

Every witness of ``known_divergences/tensorflow.yaml`` is replayed on the installed TensorFlow
(one worker for all): its model must explain today's output, and on the witness's version that
output must be the frozen one, bit for bit. The exact arithmetic the models are built from is
checked here too; tools/tf_check.py is the wide check on random and adversarial inputs.
"""

from fractions import Fraction

import numpy as np
import pytest
from witness_replay import assert_model_explains

from conformance.judge import registry
from conformance.judge.mechanisms import onednn
from conformance.judge.mechanisms.eigen import EigenArith, inner_sum, reduction_packets
from conformance.run.runner import run

ENTRIES = [e for e in registry.load() if "tensorflow" in e.frameworks and e.model.startswith("tensorflow.")]


@pytest.fixture(scope="module")
def live():
    frameworks, results = run([e.witness_case() for e in ENTRIES], ["tensorflow"])
    if any(f.skipped for f in frameworks):
        pytest.skip(f"tensorflow: {frameworks[0].skipped}")
    (framework,) = frameworks
    assert framework.version, "the worker reported no TensorFlow version"
    return framework.version, {(r.case.id, r.implementation["name"]): r for r in results}


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_the_model_explains_what_tensorflow_returns_today(live, entry):
    version, results = live
    assert_model_explains(entry, results[(entry.name, entry.witness.implementation)], version)


def test_fma_rounds_the_exact_sum_once():
    rng = np.random.default_rng(7)
    a = rng.normal(0, 1, 2000).astype(np.float32)
    b = rng.normal(0, 1, 2000).astype(np.float32)
    c = rng.normal(0, 1e-3, 2000).astype(np.float32)
    # Halfway cases: a * b exactly between two floats, nudged by a tiny c either way.
    a[:4], b[:4] = np.float32(1 + 2**-12), np.float32(1 + 2**-12)
    c[:4] = np.float32([2.0**-60, -(2.0**-60), 0.0, 2.0**-30])
    got = onednn.fma(a, b, c)
    for x, y, z, r in zip(a.tolist(), b.tolist(), c.tolist(), got.tolist(), strict=True):
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        below = np.float32(float(exact))
        candidates = {
            float(np.nextafter(below, np.float32(-np.inf))),
            float(below),
            float(np.nextafter(below, np.float32(np.inf))),
        }
        nearest = min(candidates, key=lambda v: (abs(Fraction(v) - exact), int(np.float32(v).view(np.uint32)) & 1))
        assert r == nearest, (x, y, z)


def test_a_long_row_is_summed_in_lanes_and_halves_not_in_order():
    a = EigenArith("float32")
    row = a.cast(np.concatenate([[1.0], np.full(9000, 2.0**-24)]))[None, :]
    # In order, 1 + 2^-24 rounds back to 1 every time; Eigen's lanes add the small terms among
    # themselves first (only those landing in the lane that holds the 1 are lost).
    total = float(a.wide(inner_sum(a, row))[0])
    assert 1 + 8000 * 2.0**-24 < total < 1 + 9001 * 2.0**-24
    # A row of 9001 float32 is longer than 8 * 1024: halves of 4504 and 4497, each loading whole
    # packets from its own start (so the exp inside the sum takes the packet path) and the rest
    # one scalar at a time.
    mask = reduction_packets((1, 9001), "float32")[0]
    assert mask[:9000].all() and not mask[9000]
    assert not reduction_packets((2, 7), "float32").any()
