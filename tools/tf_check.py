"""Check the TensorFlow mechanism models against the installed TensorFlow, element by element.

Every implementation of the ``tensorflow`` adapter runs, through the adapter itself (so through
tf.GradientTape), on random inputs across magnitudes and on adversarial ones (signed zeros,
subnormals, infinities, NaN, the thresholds 16.6 / 17 / 36.7 / 88.7 / 709.8 and each dtype's
softplus threshold, rows with huge spreads, rows of 1 to 10,000 entries, both axes), in the
four dtypes, with ones and with random cotangents. The model of ``conformance/judge/
mechanisms/tensorflow.py`` is evaluated at the same inputs and the largest distance, in ULPs
at the model's scale (the registry's own measure), is printed with the input where it occurs.

    python tools/tf_check.py [implementation-substring] [--seed N] [--show K]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import oracle
from conformance.adapters.tensorflow import TensorFlowAdapter
from conformance.judge import registry
from conformance.judge.mechanisms import ModelContext, models
from oracle.formats import DTYPES, FORMATS, numpy_dtype

MODELS = {
    "tf.math.sigmoid": "tensorflow.sigmoid",
    "tf.math.softplus": "tensorflow.softplus",
    "tf.math.log_sigmoid": "tensorflow.log_sigmoid",
    "tf.nn.log_softmax": "tensorflow.log_softmax",
    "tf.nn.softmax": "tensorflow.softmax",
    "tf.math.reduce_logsumexp": "tensorflow.reduce_logsumexp",
    "tf.nn.sigmoid_cross_entropy_with_logits": "tensorflow.sigmoid_cross_entropy",
    "tf.nn.softmax_cross_entropy_with_logits": "tensorflow.softmax_cross_entropy",
    "tf.nn.sparse_softmax_cross_entropy_with_logits": "tensorflow.sparse_softmax_cross_entropy",
    "tf.math.squared_difference": "tensorflow.squared_difference",
}
EDGES = [
    0.0, -0.0, 1e-310, -1e-310, 1e-40, -1e-40, 1.2e-38, 1e-30, -1e-30, 1e-8, 0.5, 1, -1, 2.85, -2.85,
    4.93, -4.93, 9, -9, 13.9, -13.9, 15, 16.6, 16.64, 17, 17.3, -17, 20, -20, 34.1, -34.1, 36.7, 37, 40,
    -40, 88.7, -87.3, -88.7, -90, -100, -104, -105, 709.8, -708, -745, -810, 810, 1e30, -1e30,
    np.inf, -np.inf, np.nan, 1.7e308, -1.7e308,
]  # fmt: skip
ROWS = [
    [0, -np.inf, 1], [np.inf, 0, 1], [1e30, 1e30, 1e30], [810, 0, -810], [1.7e308, 1.7e308, 0],
    [np.nan, 0, 1], [-np.inf, -np.inf, -np.inf], [20, 0, -20], [30, 0, -30], [88.7, 0, -88.7],
    [8, 1, 1], [0, 9, 1], [2, 3, 5], [0, -100, -104], [37.43, 0, 0], [1, 1, 1], [0, -20, -20],
]  # fmt: skip


def rounded(values: Any, dtype: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(values, dtype=np.float64).astype(numpy_dtype(dtype)).astype(np.float64)


def elementwise(rng: np.random.Generator) -> np.ndarray:
    magnitudes = rng.choice([-1.0, 1.0], 300) * 10.0 ** rng.uniform(-30, 3, 300)
    return np.concatenate([EDGES, magnitudes, rng.uniform(-120, 40, 300), rng.normal(0, 5, 201)])


def matrices(rng: np.random.Generator) -> Iterator[np.ndarray]:
    yield np.array(ROWS, dtype=np.float64)
    for rows, classes in ((5, 3), (4, 8), (3, 9), (2, 33), (3, 100), (6, 1), (1, 2000), (1, 10000)):
        for spread in (1.0, 10.0, 300.0):
            yield rng.normal(0, spread, (rows, classes))
    yield np.linspace(-10, 10, 10000)[None, :]


def cotangents(rng: np.random.Generator, shape: tuple[int, ...]) -> Iterator[np.ndarray | None]:
    yield None
    yield rng.normal(0, 1, shape) * 10.0 ** rng.uniform(-3, 3, shape)


def cases(op: str, rng: np.random.Generator) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(params, inputs) pairs for an op, before rounding to a dtype."""
    if op in ("sigmoid", "softplus", "log_sigmoid"):
        x = elementwise(rng)
        for cotangent in cotangents(rng, x.shape):
            yield {}, {"x": x} | ({} if cotangent is None else {"cotangent": cotangent})
    elif op in ("log_softmax", "softmax", "logsumexp"):
        for x in matrices(rng):
            for axis in (-1, 0) if x.shape[0] > 1 else (-1,):
                shape = x.shape if op != "logsumexp" else tuple(np.delete(np.array(x.shape), axis % 2))
                for cotangent in cotangents(rng, shape):
                    extra = {} if cotangent is None else {"cotangent": cotangent}
                    yield {"axis": axis}, {"x": x, **extra}
    elif op in ("binary_crossentropy", "squared_error"):
        x = elementwise(rng)
        z = rng.choice([0.0, 1.0, 0.25, 0.9], x.size) if op == "binary_crossentropy" else elementwise(rng)
        z = np.where(rng.uniform(size=x.size) < 0.2, rng.uniform(size=x.size), z)
        params = {"from_logits": True} if op == "binary_crossentropy" else {}
        yield params | {"reduction": "none"}, {"y_true": z[: x.size], "y_pred": x}
    elif op in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        for x in matrices(rng):
            onehot = np.eye(x.shape[1])[rng.integers(0, x.shape[1], x.shape[0])]
            soft = rng.dirichlet(np.ones(x.shape[1]), x.shape[0])
            params = {"from_logits": True, "reduction": "none"}
            if op == "sparse_categorical_crossentropy":
                yield params, {"y_true": rng.integers(0, x.shape[1], x.shape[0]), "y_pred": x}
                continue
            for labels in (onehot, soft, soft * 0.5):
                for axis in (-1, 0) if x.shape[0] > 1 and x.shape[1] > 1 else (-1,):
                    moved = (labels, x) if axis == -1 else (labels.T, x.T)
                    yield params | {"axis": axis}, {"y_true": moved[0], "y_pred": moved[1]}


def context_for(op_name: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str, quantity: str):
    op = oracle.definition(op_name)
    return ModelContext(op, op.with_defaults(params), inputs, dtype, quantity, {"semantics": ()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="?", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=1, help="worst elements to print per line")
    args = parser.parse_args()
    adapter = TensorFlowAdapter()
    adapter.load()
    worst: dict[tuple[str, str, str], tuple[float, str]] = {}
    for implementation in adapter.implementations():
        if args.only not in implementation.name:
            continue
        model = models()[MODELS[implementation.name]]
        op = oracle.definition(implementation.op)
        rng = np.random.default_rng(args.seed)
        for params, raw in cases(implementation.op, rng):
            for dtype in DTYPES:
                inputs = {k: v if k in op.label_inputs else rounded(v, dtype) for k, v in raw.items()}
                outcome = adapter.run(implementation, params, inputs, dtype)
                for quantity, actual in (("value", outcome.value), ("grad", outcome.grad)):
                    answer = model(context_for(implementation.op, params, inputs, dtype, quantity))
                    assert answer is not None, f"no prediction for {implementation.name}"
                    candidates = answer if isinstance(answer, list) else [answer]
                    scored = [(registry.distances(actual, p, FORMATS[dtype]), p) for p in candidates]
                    gaps, prediction = min(scored, key=lambda pair: float(np.max(pair[0], initial=0.0)))
                    key = (implementation.name, dtype, quantity)
                    at = int(np.argmax(gaps)) if gaps.size else 0
                    if gaps.size and gaps.flat[at] >= worst.get(key, (-1.0, ""))[0]:
                        where = np.unravel_index(at, actual.shape)
                        detail = (
                            f"params {params} shape {inputs[op.prediction].shape} at {where}: "
                            f"tf {actual.flat[at]!r} model {np.asarray(prediction.value).flat[at]!r} "
                            f"scale {np.broadcast_to(prediction.scales(), actual.shape)[where]!r}"
                        )
                        if inputs[op.prediction].ndim > 1:
                            row = np.moveaxis(inputs[op.prediction], params.get("axis", -1), -1)
                            detail += f" row {row.reshape(-1, row.shape[-1])[0][:6].tolist()}"
                        else:
                            detail += f" x {inputs[op.prediction].flat[at]!r}"
                        worst[key] = (float(gaps.flat[at]), detail)
    for (name, dtype, quantity), (gap, detail) in sorted(worst.items()):
        print(f"{gap:10.3g}  {name} {dtype} {quantity}  {detail}")


if __name__ == "__main__":
    main()
