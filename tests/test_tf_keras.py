"""Keras 2 (tf_keras), the seeds' own Keras, on the real package: seed 000's figures to the last
bit, and what becomes of seed 001's floor."""

import math
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

import oracle
from conformance.corpus import cases
from conformance.run.runner import run

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("tf_keras", reason="tf_keras (Keras 2) is not installed")

BCE = "tf_keras.losses.BinaryCrossentropy[probabilities]"


def corpus(name, prefix):
    return [c for c in cases.load([ROOT / "cases" / name]).cases if c.id.startswith(prefix)]


def values(results, implementation, dtype):
    found = {r.case.id: r for r in results if r.implementation["name"] == implementation and r.dtype == dtype}
    assert all(r.status == "ok" for r in found.values()), [r.message for r in found.values()]
    return {case: r.value.tolist() for case, r in found.items()}


@pytest.fixture(scope="module")
def seeds_on_keras2():
    """Seed 000 and seed 001 (probabilities) in one Keras 2 worker."""
    selected = corpus("seeds.yaml", "seed000/cce/probs/hard-0-1") + corpus("seed001_probabilities.yaml", "seed001/")
    frameworks, results = run(selected, ["tf_keras"], dtypes=["float32", "float64"])
    assert not frameworks[0].skipped, frameworks[0].skipped
    return results


def test_keras2_categorical_crossentropy_reproduces_seed000_to_the_last_bit(seeds_on_keras2):
    results = seeds_on_keras2
    name = "tf_keras.losses.CategoricalCrossentropy[probabilities]"
    # The seed's figures: np.clip(pred, 1e-7, 1 - 1e-7) then -sum(y log p) / 2 is 8.059047875479163
    # in float64; its TF 1 session printed 8.05904769897461 (float32).
    assert values(results, name, "float64")["seed000/cce/probs/hard-0-1"] == 8.059047875479163
    assert values(results, name, "float32")["seed000/cce/probs/hard-0-1"] == 8.05904769897461


def test_keras2_floors_seed001_at_zero_where_the_seed_reports_1e7(seeds_on_keras2):
    """Keras 2 takes log(p + eps) after clipping p to [eps, 1 - eps]: in float32 1 - eps is
    1 - 2**-23 and 1 - 2**-23 + 1e-7 rounds to 1 (the gap above 1 - 2**-23 is 2**-24, and 1e-7
    is nearer 2**-23 than 2**-24), so from a = 16.2, where both outputs are clipped, each term is
    log(1) = 0. The seed's 1.09e-7 is the clip computed exactly (next test)."""
    got = values(seeds_on_keras2, BCE, "float32")
    assert all(got[f"seed001/bce/probs/two-point/a={a}"] == 0.0 for a in ("16.2", "17", "20", "30"))


def test_the_documented_clip_computed_exactly_is_the_seeds_floor():
    """(-log(1 - eps32) - log(1 - (1 - 2**-23))) / 2 with eps32 = float32(1e-7): 1.0960e-07, the
    seed's 1.09e-7, which Keras 3 on torch returns bit for bit (the README's seed section)."""
    with mpmath.workdps(40):  # 1e-7 as float32 is 1.0000000116860974e-07; 1 - 1e-7 as float32 is 1 - 2**-23
        hand = float(
            np.float32((-mpmath.log(1 - mpmath.mpf(1.0000000116860974e-07)) - mpmath.log(1 - mpmath.mpf(2) ** -23)) / 2)
        )
    params = {"from_logits": False, "reduction": "mean"}
    for a in (16.2, 17.0, 30.0):
        s = 1 / (1 + math.exp(a))
        inputs = {"y_true": [0.0, 1.0], "y_pred": [s, 1 - s]}
        clipped = oracle.evaluate("binary_crossentropy", params, inputs, "float32", oracle.combine(["keras_clip"]))
        assert float(clipped.value) == hand
        assert float(clipped.value) == pytest.approx(1.0960e-07, abs=5e-12)


SEED_MODEL = """
import numpy as np, tf_keras as K
model = K.Sequential([K.layers.Dense(1, activation="sigmoid", input_shape=(1,))])
model.set_weights([np.ones((1, 1)), np.zeros(1)])
model.compile(loss="binary_crossentropy", optimizer="adam")
for a in (16.2, 20.0):
    x = np.array([[-a], [a]], np.float32)
    print(repr(model.evaluate(x, np.array([[0.0], [1.0]], np.float32), verbose=0)))
"""


def test_the_seeds_own_model_on_keras2_has_no_floor():
    """Through model.evaluate, Keras 2 finds the logits behind the sigmoid layer and calls
    sigmoid_cross_entropy_with_logits: log(1 + exp(-a)) keeps falling (2.06e-9 at a = 20)."""
    done = subprocess.run([sys.executable, "-c", SEED_MODEL], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = [float(line) for line in done.stdout.split()]
    for a, value in zip((16.2, 20.0), got):
        assert value == pytest.approx(math.log1p(math.exp(-a)), rel=2e-7)
