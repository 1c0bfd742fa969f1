"""The arb backend (certified ball arithmetic) independently confirms the mpmath backend.

Inputs are sampled by magnitude on both signs, from 1e-30 to the edge of exp's range, in
every dtype; both backends must give bit-identical correctly rounded results.
"""

import random

import numpy as np
import pytest

from oracle import evaluate

pytest.importorskip("flint")

DTYPES = ["float64", "float32", "float16", "bfloat16"]


def magnitudes(rng: random.Random, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        exponent = rng.uniform(-30, 3)
        samples.append(rng.choice([-1, 1]) * 10**exponent)
    return samples


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["softplus", "log_sigmoid", "sigmoid"])
def test_elementwise_ops_agree(op, dtype):
    x = magnitudes(random.Random(f"{op}-{dtype}"), 40)
    mp, arb = (evaluate(op, {}, {"x": x}, dtype, backend=b, fast=False) for b in ("mpmath", "arb"))
    assert same(mp.value, arb.value) and same(mp.grad, arb.grad)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_family_and_crossentropy_agree(dtype):
    rng = random.Random(dtype)
    logits = [magnitudes(rng, 5) for _ in range(8)]
    labels = [[rng.choice([0.0, 0.25, 1.0]) for _ in range(5)] for _ in range(8)]
    for op, inputs, params in [
        ("log_softmax", {"x": logits}, {}),
        ("logsumexp", {"x": logits}, {}),
        ("categorical_crossentropy", {"y_true": labels, "y_pred": logits}, {"from_logits": True, "reduction": "none"}),
        ("binary_crossentropy", {"y_true": labels, "y_pred": logits}, {"from_logits": True, "reduction": "mean"}),
    ]:
        mp, arb = (evaluate(op, params, inputs, dtype, backend=b, fast=False) for b in ("mpmath", "arb"))
        assert same(mp.value, arb.value) and same(mp.grad, arb.grad), op
