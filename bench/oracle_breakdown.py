"""Where a cold run's oracle time goes: the ideal answer of every (case, dtype), grouped.

    .venv/bin/python bench/oracle_breakdown.py [PATH ...] [--top N]

Computes what a run's prefetch computes (``OracleAnswers.prefetch`` over every case and
dtype, an empty cache) and prints the CPU seconds per (op, dtype, reduction, size), the
largest first, then the slowest single answers. CPU time, not wall time: the figures hold on
a shared machine. No frameworks run; the variants that scoring asks for are not included.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import time
from pathlib import Path

import numpy as np

import oracle
from conformance.corpus import cases as case_files
from conformance.judge.answers import OracleAnswers
from oracle.cache import DiskCache


def size_class(size: int) -> str:
    return "1" if size <= 1 else "<=16" if size <= 16 else "<=1000" if size <= 1000 else ">1000"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    corpus = case_files.load(args.paths or [case_files.BUNDLED_CASES])
    groups: dict[tuple[str, str, str, str], list[float]] = collections.defaultdict(lambda: [0.0, 0, 0])
    single: list[tuple[float, str, str]] = []
    oracle.evaluate("binary_crossentropy", {}, {"y_true": [0.25], "y_pred": [0.5]}, "bfloat16")  # imports, once
    with tempfile.TemporaryDirectory() as folder:
        answers = OracleAnswers(DiskCache(Path(folder)))
        started = time.process_time()
        for case in corpus.cases:
            for dtype in case.dtypes:
                params, inputs = case.materialize(dtype)
                size = max((int(np.size(v)) for v in inputs.values()), default=0)
                reduction = str(case.definition.with_defaults(params).get("reduction", "-"))
                before = time.process_time()
                answers.prefetch(case, dtype)
                spent = time.process_time() - before
                group = groups[(case.op, dtype, reduction, size_class(size))]
                group[0] += spent
                group[1] += 1
                group[2] += size
                single.append((spent, case.id, dtype))
        total = time.process_time() - started
    print(f"oracle CPU {total:.1f} s over {len(single)} (case, dtype) pairs")
    print(f"{'CPU s':>8} {'pairs':>6} {'elements':>9}  op, dtype, reduction, size")
    for key, (spent, count, elements) in sorted(groups.items(), key=lambda item: -item[1][0])[: args.top]:
        print(f"{spent:8.2f} {int(count):6d} {int(elements):9d}  {', '.join(key)}")
    print("slowest answers:")
    for spent, case_id, dtype in sorted(single, reverse=True)[: args.top // 2]:
        print(f"{spent:8.2f}  {case_id} {dtype}")


if __name__ == "__main__":
    main()
