"""One run of the suite: cases -> frameworks and oracle side by side -> verdicts -> report dict.

The frameworks run in their worker processes while this process computes the ideal
oracle answers, so on two cores the two overlap. Every step's wall time is recorded in
the report (``timings``) for the benchmark.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import oracle
from conformance.corpus import cases as case_files
from conformance.judge.verdicts import Judge
from conformance.run.runner import (
    DEFAULT_TIMEOUT,
    Framework,
    RawResult,
    WorkerPool,
    adapter_specs,
    materialize_all,
    run_framework,
)
from oracle.cache import DiskCache
from oracle.formats import DTYPES

SCHEMA_VERSION = 1
DTYPE_ORDER = {dtype: rank for rank, dtype in enumerate(DTYPES)}


class OracleFailure(Exception):
    """The oracle itself failed (a bug of ours): reported as the case's error."""


class OracleMemo:
    """Oracle answers by (case, dtype, variants), memoised in memory over the disk cache."""

    def __init__(self, cache: DiskCache | None) -> None:
        self.cache = cache
        self.memo: dict[tuple[str, str, tuple[str, ...]], oracle.OracleResult | Exception] = {}

    def __call__(self, case: case_files.Case, dtype: str, variants: tuple[str, ...]) -> oracle.OracleResult:
        key = (case.id, dtype, variants)
        if key not in self.memo:
            params, inputs = case.materialize(dtype)
            try:
                self.memo[key] = oracle.evaluate(
                    case.op, params, inputs, dtype, oracle.combine(variants), cache=self.cache
                )
            except oracle.InvalidInput as problem:
                self.memo[key] = problem
        answer = self.memo[key]
        if isinstance(answer, Exception):
            raise answer
        return answer


def environment(frameworks: Sequence[Framework]) -> dict[str, Any]:
    def installed(package: str) -> str | None:
        try:
            return version(package)
        except PackageNotFoundError:
            return None

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "frameworks": {f.name or f.spec: f.version for f in frameworks if not f.skipped},
        "skipped": {f.spec: f.skipped for f in frameworks if f.skipped},
        "packages": {p: installed(p) for p in ("mpmath", "numpy", "ml_dtypes", "python-flint", "loss-conformance")},
    }


def sort_key(record: dict[str, Any]) -> tuple[Any, ...]:
    return (record["case"], record["implementation"], DTYPE_ORDER.get(record["dtype"], 9), record["quantity"])


def execute(
    paths: Sequence[Path],
    frameworks: Sequence[str] = (),
    dtypes: Sequence[str] = (),
    ops: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    cache: DiskCache | None = None,
    progress: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], list[case_files.CaseError]]:
    """Load the case files and run them; case-file errors are returned, the good cases still run."""
    started = time.perf_counter()
    corpus = case_files.load(paths)
    selected = [c for c in corpus.cases if not ops or c.op in ops]
    load_time = time.perf_counter() - started
    report = execute_cases(selected, frameworks, dtypes, timeout, cache, progress)
    report["case_errors"] = [str(error) for error in corpus.errors]
    report["timings"]["load"] = round(load_time, 3)
    return report, corpus.errors


def execute_cases(
    selected: Sequence[case_files.Case],
    frameworks: Sequence[str] = (),
    dtypes: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    cache: DiskCache | None = None,
    progress: Callable[[], None] | None = None,
    workers: WorkerPool | None = None,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    specs = adapter_specs(frameworks)
    run_start = time.perf_counter()
    memo = OracleMemo(cache)
    judge = Judge(memo)
    inputs = materialize_all(selected, dtypes)
    framework_list: list[Framework] = []
    records: list[dict[str, Any]] = []
    scoring = 0.0
    # Two workers run frameworks; this thread computes the ideal oracle meanwhile, then judges
    # each framework's results as soon as it finishes, while the others still run.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        framework_start = time.perf_counter()
        running = [pool.submit(run_framework, spec, selected, inputs, timeout, progress, workers) for spec in specs]
        oracle_start = time.perf_counter()
        for case in selected:
            for dtype in case.dtypes:
                if not dtypes or dtype in dtypes:
                    with contextlib.suppress(oracle.InvalidInput, OracleFailure):
                        memo(case, dtype, ())
        timings["oracle"] = time.perf_counter() - oracle_start
        for future in concurrent.futures.as_completed(running):
            framework, raw_results = future.result()
            framework_list.append(framework)
            judged = time.perf_counter()
            records.extend(record for raw in raw_results for record in judge.judge(raw))
            scoring += time.perf_counter() - judged
        timings["frameworks"] = time.perf_counter() - framework_start
    framework_list.sort(key=lambda f: f.spec)
    scoring_start = time.perf_counter()
    judge.note_passes(records)
    records.sort(key=sort_key)
    after = time.perf_counter() - scoring_start
    timings["scoring (after the frameworks)"] = after
    timings["scoring"] = scoring + after
    for framework in framework_list:
        timings[f"import:{framework.spec}"] = framework.load_seconds
        timings[f"calls:{framework.spec}"] = framework.call_seconds
    report = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "environment": environment(framework_list),
        "results": records,
        "summary": summarize(records),
        "divergences": [
            {
                "implementation": d.implementation
                if isinstance(d.implementation, str)
                else ", ".join(d.implementation),
                "case": d.case,
                "dtype": d.dtype,
                "quantity": d.quantity,
                "reason": d.reason,
                "link": d.link,
                "status": d.status(),
            }
            for d in judge.registry
        ],
        "case_errors": [],
        "timings": {**{k: round(v, 3) for k, v in timings.items()}, "total": round(time.perf_counter() - run_start, 3)},
    }
    return report


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_verdict = Counter(r["verdict"] for r in records)
    by_framework: dict[str, Counter[str]] = {}
    for record in records:
        by_framework.setdefault(record["framework"], Counter())[record["verdict"]] += 1
    return {
        "total": len(records),
        "verdicts": dict(sorted(by_verdict.items())),
        "frameworks": {name: dict(sorted(counts.items())) for name, counts in sorted(by_framework.items())},
        "cases": len({r["case"] for r in records}),
    }


def failed(report: dict[str, Any]) -> bool:
    """Exit status 1: anything but pass, documented, xfail or unsupported happened."""
    return any(r["verdict"] not in ("pass", "documented", "xfail", "unsupported") for r in report["results"])


__all__ = ["RawResult", "execute", "failed"]


def merge(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One report from several runs over disjoint cases (the pytest plugin runs file by file)."""
    if not parts:
        raise ValueError("nothing to merge")
    records = sorted((r for part in parts for r in part["results"]), key=sort_key)
    statuses: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for part in parts:
        for entry in part.get("divergences", []):
            statuses.setdefault((entry["implementation"], entry["case"]), []).append(entry)
    divergences = []
    for entries in statuses.values():
        found = {e["status"] for e in entries}
        status = "active" if "active" in found else "fixed" if "fixed" in found else "stale"
        divergences.append({**entries[0], "status": status})
    frameworks: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for part in parts:
        frameworks.update(part["environment"]["frameworks"])
        skipped.update(part["environment"].get("skipped", {}))
    return {
        **parts[-1],
        "environment": {**parts[-1]["environment"], "frameworks": frameworks, "skipped": skipped},
        "results": records,
        "summary": summarize(records),
        "divergences": divergences,
        "case_errors": [e for part in parts for e in part.get("case_errors", [])],
    }
