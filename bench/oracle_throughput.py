"""Oracle throughput: correctly rounded evaluations per second, cold and warm cache.

An evaluation is one output element (a value or a gradient entry) rounded into its dtype.
The workload samples logits by magnitude (1e-30 to 1e3, both signs) through the
elementwise ops, binary cross-entropy and log_softmax rows, in all four dtypes.

    .venv/bin/python bench/oracle_throughput.py [--elements N]

Prints absolute rates and the ratios that matter: warm over cold, arb over mpmath.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from oracle import evaluate
from oracle.cache import DiskCache
from oracle.kernels import available_backends

DTYPES = ("float64", "float32", "float16", "bfloat16")


def workload(elements: int) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    rng = random.Random(0)

    def sample() -> float:
        return rng.choice([-1, 1]) * 10 ** rng.uniform(-30, 3)

    xs = [sample() for _ in range(elements)]
    labels = [rng.choice([0.0, 1.0, 0.25]) for _ in range(elements)]
    rows = [[sample() for _ in range(8)] for _ in range(max(1, elements // 8))]
    chunk = 64
    jobs: list[tuple[str, dict[str, object], dict[str, object]]] = []
    for start in range(0, elements, chunk):
        piece = xs[start : start + chunk]
        for op in ("softplus", "log_sigmoid", "sigmoid"):
            jobs.append((op, {}, {"x": piece}))
        jobs.append(
            (
                "binary_crossentropy",
                {"from_logits": True, "reduction": "none"},
                {"y_true": labels[start : start + chunk], "y_pred": piece},
            )
        )
    for start in range(0, len(rows), chunk // 8):
        jobs.append(("log_softmax", {}, {"x": rows[start : start + chunk // 8]}))
    return jobs


def run(
    jobs: list[tuple[str, dict[str, object], dict[str, object]]], backend: str, cache: DiskCache | None
) -> tuple[int, float]:
    count, start = 0, time.perf_counter()
    for dtype in DTYPES:
        for op, params, inputs in jobs:
            result = evaluate(op, params, inputs, dtype, backend=backend, cache=cache)
            count += result.value.size + result.grad.size
    return count, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=2048, help="sampled inputs per op and dtype")
    args = parser.parse_args()
    jobs = workload(args.elements)
    rates: dict[str, float] = {}
    for backend in available_backends():
        with tempfile.TemporaryDirectory() as folder:
            cache = DiskCache(Path(folder))
            count, cold = run(jobs, backend, cache)
            _, warm = run(jobs, backend, cache)
        _, uncached = run(jobs, backend, None)
        rates[backend] = count / uncached
        print(
            f"{backend:>7}: {count} evaluations | no cache {count / uncached:9.0f}/s | "
            f"cold cache {count / cold:9.0f}/s | warm cache {count / warm:9.0f}/s | warm/cold {cold / warm:5.1f}x"
        )
    if "arb" in rates:
        print(f"arb/mpmath throughput ratio: {rates['arb'] / rates['mpmath']:.2f}x")


if __name__ == "__main__":
    main()
