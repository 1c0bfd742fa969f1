"""Oracle throughput: correctly rounded values per CPU-second, cold and warm cache, beside numpy.

A value is one output element (a loss value or a gradient entry) rounded into its dtype. The
workload samples logits by magnitude (1e-30 to 1e3, both signs), labels from {0, 0.1, 0.25,
0.9, 1} and probabilities in (0, 1), already values of each dtype, through the elementwise ops
and binary cross-entropy (reduction none), one batch per (op, dtype) as a case would send it.

    .venv/bin/python bench/oracle_throughput.py [--elements N]

Per (op, dtype) it prints: the share the certified fast path decided, values per CPU-second
with no cache, a cold cache and a warm one, and the floor: numpy evaluating the same formula
in float64 (no rounding, no proof), as a ratio. float64 targets run the fast path's kernels in
double-double (oracle/fast64.py) and print 24-digit strings. CPU time, not wall time, so the
figures hold per core on a shared machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from oracle import evaluate
from oracle.cache import DiskCache
from oracle.evaluation import round_inputs
from oracle.fast import balls_for, settle
from oracle.formats import FORMATS

DTYPES = ("float32", "float16", "bfloat16", "float64")
Job = tuple[str, str, dict[str, Any], dict[str, Any], Callable[[], Any]]


def jobs(elements: int) -> list[Job]:
    rng = np.random.default_rng(0)
    x = rng.choice([-1.0, 1.0], elements) * 10.0 ** rng.uniform(-30, 3, elements)
    y = rng.choice([0.0, 0.1, 0.25, 0.9, 1.0], elements)
    p = rng.uniform(0, 1, elements)
    none = {"reduction": "none"}

    def softplus() -> Any:
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), 1 / (1 + np.exp(-x))

    def log_sigmoid() -> Any:
        return -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))), 1 / (1 + np.exp(x))

    def sigmoid() -> Any:
        s = 1 / (1 + np.exp(-x))
        return s, s * (1 - s)

    def bce_logits() -> Any:
        return np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))), 1 / (1 + np.exp(-x)) - y

    def bce_probabilities() -> Any:
        return -(y * np.log(p) + (1 - y) * np.log1p(-p)), (p - y) / (p * (1 - p))

    return [
        ("softplus", "softplus", {}, {"x": x}, softplus),
        ("log_sigmoid", "log_sigmoid", {}, {"x": x}, log_sigmoid),
        ("sigmoid", "sigmoid", {}, {"x": x}, sigmoid),
        ("bce logits", "binary_crossentropy", {**none, "from_logits": True}, {"y_true": y, "y_pred": x}, bce_logits),
        ("bce probs", "binary_crossentropy", none, {"y_true": y, "y_pred": p}, bce_probabilities),
    ]


def cpu_seconds(function: Callable[[], Any], repeat: int = 1) -> float:
    start = time.process_time()
    for _ in range(repeat):
        function()
    return (time.process_time() - start) / repeat


def decided_share(op: str, params: dict[str, Any], inputs: dict[str, Any], dtype: str) -> float:
    fmt = FORMATS[dtype]
    rounded_params, rounded = round_inputs(op, params, inputs, fmt)
    balls = balls_for(op, rounded_params, rounded, fmt)
    if balls is None:
        return 0.0
    values, grads = settle(balls, fmt)
    return float(np.mean(values.decided & grads.decided))


def main() -> None:
    np.seterr(all="ignore")  # the numpy floor overflows exp(-x) to inf for x < -709, as it should
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=200_000, help="elements per (op, dtype) batch")
    args = parser.parse_args()
    header = ("op", "dtype", "fast", "no cache/s", "cold/s", "warm/s", "numpy/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (12, 9, 6, 11, 11, 11, 12))), "cold/numpy")
    for dtype in DTYPES:
        size = args.elements
        for name, op, params, full_inputs, floor in jobs(size):
            # The batch as a case holds it: values of the dtype already.
            _, inputs = round_inputs(op, params, full_inputs, FORMATS[dtype])
            values = 2 * size
            share = decided_share(op, params, inputs, dtype)
            uncached = cpu_seconds(lambda: evaluate(op, params, inputs, dtype))  # noqa: B023
            with tempfile.TemporaryDirectory() as folder:
                cache = DiskCache(Path(folder))
                cold = cpu_seconds(lambda: evaluate(op, params, inputs, dtype, cache=cache))  # noqa: B023
                warm = cpu_seconds(lambda: evaluate(op, params, inputs, dtype, cache=cache))  # noqa: B023
            numpy_time = cpu_seconds(floor, repeat=5)
            print(
                f"{name:>12} {dtype:>9} {share:6.1%} {values / uncached:11,.0f} {values / cold:11,.0f} "
                f"{values / warm:11,.0f} {values / max(numpy_time, 1e-9):12,.0f} {cold / max(numpy_time, 1e-9):9,.0f}x"
            )


if __name__ == "__main__":
    main()
