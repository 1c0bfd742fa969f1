"""One run of the suite: corpus -> frameworks and oracle side by side -> verdicts -> report.

The frameworks run in their worker processes while this process computes the ideal
oracle answers, so on two cores the two overlap. Every step's wall time is recorded in
the report (``timings``) for the benchmark.
"""

from __future__ import annotations

import concurrent.futures
import platform
import sys
import time
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from conformance.corpus import cases as case_files
from conformance.judge import registry
from conformance.judge.answers import OracleAnswers
from conformance.judge.scoring import DEFAULT_PROFILE
from conformance.judge.verdicts import Judge
from conformance.report.records import Environment, ReportDocument, ResultRecord, build_report
from conformance.run.devices import DEFAULT_DEVICE
from conformance.run.journal import Journal
from conformance.run.progress import Tracker
from conformance.run.runner import (
    DEFAULT_TIMEOUT,
    Framework,
    WorkerPool,
    adapter_specs,
    materialize_all,
    run_framework,
)
from oracle.cache import DiskCache


def environment(frameworks: Sequence[Framework]) -> Environment:
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


def execute(
    paths: Sequence[Path],
    frameworks: Sequence[str] = (),
    dtypes: Sequence[str] = (),
    ops: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    cache: DiskCache | None = None,
    progress: Tracker | None = None,
    profile: str = DEFAULT_PROFILE,
    device: str = DEFAULT_DEVICE,
    journal: Journal | None = None,
) -> tuple[ReportDocument, list[case_files.CaseError]]:
    """Load the case files and run them; case-file errors are returned, the good cases still run."""
    adapter_specs(frameworks)  # an unknown framework is a usage error now, not after loading the corpus
    started = time.perf_counter()
    corpus = case_files.load(paths)
    selected = [c for c in corpus.cases if not ops or c.op in ops]
    load_time = time.perf_counter() - started
    case_errors = [str(error) for error in corpus.errors]
    report = execute_cases(
        selected,
        frameworks,
        dtypes,
        timeout,
        cache,
        progress,
        case_errors=case_errors,
        profile=profile,
        device=device,
        journal=journal,
    )
    report.setdefault("timings", {})["load"] = round(load_time, 3)
    return report, corpus.errors


def execute_cases(
    selected: Sequence[case_files.Case],
    frameworks: Sequence[str] = (),
    dtypes: Sequence[str] = (),
    timeout: float = DEFAULT_TIMEOUT,
    cache: DiskCache | None = None,
    progress: Tracker | None = None,
    workers: WorkerPool | None = None,
    case_errors: Sequence[str] = (),
    profile: str = DEFAULT_PROFILE,
    device: str = DEFAULT_DEVICE,
    journal: Journal | None = None,
) -> ReportDocument:
    timings: dict[str, float] = {}
    specs = adapter_specs(frameworks)
    run_start = time.perf_counter()
    answers = OracleAnswers(cache)
    judge = Judge(answers, profile=profile)
    inputs = materialize_all(selected, dtypes)
    framework_list: list[Framework] = []
    records: list[ResultRecord] = []
    scoring = 0.0
    # Two workers run frameworks; this thread computes the ideal oracle meanwhile, then judges
    # each framework's results as soon as it finishes, while the others still run.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        framework_start = time.perf_counter()
        running = [
            pool.submit(run_framework, spec, selected, inputs, timeout, progress, workers, None, device, journal)
            for spec in specs
        ]
        oracle_start = time.perf_counter()
        pairs = [(case, dtype) for case in selected for dtype in case.dtypes if not dtypes or dtype in dtypes]
        if progress is not None:
            progress.begin("oracle", len(pairs))
        for case, dtype in pairs:
            answers.prefetch(case, dtype)
            if progress is not None:
                progress.step("oracle")
        if progress is not None:
            progress.end("oracle")
        timings["oracle"] = time.perf_counter() - oracle_start
        for future in concurrent.futures.as_completed(running):
            framework, raw_results = future.result()
            framework_list.append(framework)
            judged = time.perf_counter()
            records.extend(record for raw in raw_results for record in judge.judge(raw))
            scoring += time.perf_counter() - judged
        timings["frameworks"] = time.perf_counter() - framework_start
    framework_list.sort(key=lambda f: f.spec)
    timings["scoring"] = scoring
    for framework in framework_list:
        timings[f"import:{framework.spec}"] = framework.load_seconds
        timings[f"calls:{framework.spec}"] = framework.call_seconds
    ran = {f.spec: [i["name"] for i in f.implementations] for f in framework_list if not f.skipped}
    divergences = registry.statuses(judge.known, ran)
    timings["total"] = time.perf_counter() - run_start
    report = build_report(records, environment(framework_list), divergences, case_errors, timings)
    report["tolerance_profile"] = profile
    return report
