"""The report's vocabulary and records, defined once: verdicts, result records, the document.

``report.json`` is the source of truth of a run (every presentation is rendered from it), so
its records are typed here and built by one function, :func:`build_report`, used by ``run``,
the gate, ``explain`` and the pytest plugin alike. ``schema/report.schema.json`` describes
the same document for other tools.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, NotRequired, TypedDict

from oracle.formats import DTYPES

SCHEMA_VERSION = 1


class Verdict(StrEnum):
    """One verdict per (case, implementation, dtype, quantity); worst first."""

    CRASH = "crash"  # the framework killed its worker
    TIMEOUT = "timeout"  # it hung past --timeout
    ERROR = "error"  # it raised on a valid input (or the oracle failed on the case)
    FAIL = "fail"  # a divergence nobody has explained
    XFAIL = "xfail"  # a known divergence, reproduced by its mechanism model
    DOCUMENTED = "documented"  # explained by a semantic variant the implementation documents
    PASS = "pass"  # within tolerance of the exact ideal
    UNSUPPORTED = "unsupported"  # no native implementation of this op, param, reduction, axis or dtype


#: Worst first: the order of every table and of a cell's colour.
VERDICT_ORDER = tuple(Verdict)
#: Right answers (a regression leaves this set, a fix enters it).
GOOD = frozenset({Verdict.PASS, Verdict.DOCUMENTED})
#: Results that need nobody's attention: the run's exit status is 0 when every result is one.
ACCEPTED = frozenset({Verdict.PASS, Verdict.DOCUMENTED, Verdict.XFAIL, Verdict.UNSUPPORTED})
#: Results that are not right, explained or not.
BAD = frozenset({Verdict.FAIL, Verdict.XFAIL, Verdict.ERROR, Verdict.TIMEOUT, Verdict.CRASH})
#: Results nobody has explained.
PROBLEMS = frozenset({Verdict.FAIL, Verdict.ERROR, Verdict.TIMEOUT, Verdict.CRASH})
QUANTITIES = ("value", "grad")
DTYPE_ORDER = {dtype: rank for rank, dtype in enumerate(DTYPES)}


class Explanation(TypedDict):
    """Why a result that is not the ideal is what it is, in a form that was checked: a documented
    variant, or a mechanism model of the implementation's actual computation, evaluated at the
    case's inputs, whose prediction the result matched within ``bound_ulp``."""

    kind: str  # "variant" | "model"
    name: str  # the variant(s), joined by "+", or the model's name
    text: str  # the mechanism in words, once
    link: str
    predicted: Any  # what the variant or model gives here, laid out like ``expected``
    distance_ulp: float | str | None  # largest |result - prediction| in ULPs of the dtype
    bound_ulp: float | None  # what the model allows (None for a variant: judged by the tolerance)


class ResultRecord(TypedDict):
    """One judged result. Arrays are nested lists of numbers or "nan"/"inf"/"-inf" strings, or a
    summary ``{"shape", "truncated", "head"}`` beyond 1,000 elements; ``exact`` holds decimal strings."""

    case: str
    op: str
    params: dict[str, Any]
    framework: str
    implementation: str
    dtype: str
    quantity: str
    verdict: str
    inputs: dict[str, Any]
    expected: Any
    exact: Any
    actual: Any
    max_ulp_error: float | str | None
    max_abs_error: float | str | None
    max_rel_error: float | str | None
    semantics: str
    returned_dtype: str | None
    message: str
    description: str
    provenance: str
    tags: list[str]
    sweep: dict[str, str]
    sweep_group: str
    doc: str
    outcomes: NotRequired[dict[str, int]]
    failing: NotRequired[dict[str, int]]
    documented_expected: NotRequired[Any]
    diagnosis: NotRequired[str]
    explanation: NotRequired[Explanation]
    #: The semantic variants the implementation documents (oracle/variants.yaml names).
    variants: NotRequired[list[str]]


class Environment(TypedDict):
    python: str
    platform: str
    frameworks: dict[str, str]
    skipped: dict[str, str]
    packages: dict[str, str | None]


class DivergenceStatus(TypedDict):
    """A known divergence as the run found it (only those with something to say are listed)."""

    name: str
    implementation: str  # its implementation patterns, comma-separated
    model: str
    dtype: str | None
    quantity: str | None
    reason: str
    link: str
    status: str  # active: it explained results | fixed: its model predicted a divergence that is gone | stale
    explained: int


class Summary(TypedDict):
    total: int
    verdicts: dict[str, int]
    frameworks: dict[str, dict[str, int]]
    cases: int


class ReportDocument(TypedDict):
    schema_version: int
    created: str
    environment: Environment
    results: list[ResultRecord]
    summary: Summary
    divergences: list[DivergenceStatus]
    case_errors: list[str]
    timings: NotRequired[dict[str, float]]
    version_diffs: NotRequired[list[dict[str, Any]]]
    #: strict (ULPs only, the default) or practical (gradients also within a few eps at their scale).
    tolerance_profile: NotRequired[str]


def sort_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return (record["case"], record["implementation"], DTYPE_ORDER.get(record["dtype"], 9), record["quantity"])


def summarize(records: Sequence[ResultRecord]) -> Summary:
    by_verdict = Counter(r["verdict"] for r in records)
    by_framework: dict[str, Counter[str]] = {}
    for record in records:
        by_framework.setdefault(record["framework"], Counter())[record["verdict"]] += 1
    return {
        "total": len(records),
        "verdicts": {str(k): v for k, v in sorted(by_verdict.items())},
        "frameworks": {name: {str(k): v for k, v in sorted(c.items())} for name, c in sorted(by_framework.items())},
        "cases": len({r["case"] for r in records}),
    }


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def build_report(
    results: Iterable[ResultRecord],
    environment: Environment,
    divergences: Sequence[DivergenceStatus] = (),
    case_errors: Sequence[str] = (),
    timings: Mapping[str, float] | None = None,
    created: str | None = None,
) -> ReportDocument:
    """The one way a report document is made: results sorted, summarised, stamped."""
    records = sorted(results, key=sort_key)
    report: ReportDocument = {
        "schema_version": SCHEMA_VERSION,
        "created": now() if created is None else created,
        "environment": environment,
        "results": records,
        "summary": summarize(records),
        "divergences": list(divergences),
        "case_errors": list(case_errors),
    }
    if timings is not None:
        report["timings"] = {k: round(v, 3) for k, v in timings.items()}
    return report


def merge(parts: Sequence[ReportDocument]) -> ReportDocument:
    """One report from several runs over disjoint cases (the pytest plugin runs file by file)."""
    if not parts:
        raise ValueError("nothing to merge")
    statuses: dict[str, list[DivergenceStatus]] = {}
    for part in parts:
        for entry in part.get("divergences", []):
            statuses.setdefault(entry["name"], []).append(entry)
    divergences: list[DivergenceStatus] = []
    for entries in statuses.values():
        found = {e["status"] for e in entries}
        status = "active" if "active" in found else "fixed" if "fixed" in found else "stale"
        divergences.append({**entries[0], "status": status, "explained": sum(e["explained"] for e in entries)})
    frameworks: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for part in parts:
        frameworks.update(part["environment"]["frameworks"])
        skipped.update(part["environment"].get("skipped", {}))
    environment: Environment = {**parts[-1]["environment"], "frameworks": frameworks, "skipped": skipped}
    return build_report(
        (r for part in parts for r in part["results"]),
        environment,
        divergences,
        [e for part in parts for e in part.get("case_errors", [])],
        created=parts[-1]["created"],
    )


def failed(report: ReportDocument) -> bool:
    """Exit status 1: a result that is not pass, documented, xfail or unsupported."""
    return any(r["verdict"] not in ACCEPTED for r in report["results"])
