"""From raw framework outcomes to verdicts, one per (case, implementation, dtype, quantity).

Order of judgement for a result that ran:

1. the case ``expect``s an error or NaN (no valid answer): raised or NaN -> ``pass``;
2. within tolerance of the ideal oracle -> ``pass``;
3. within tolerance of the oracle under the variants the implementation *documents*
   (Keras clip, torch log floor, ...) -> ``documented``, naming the variant;
4. matched by the known-divergence registry -> ``xfail``, with its reason and link;
5. otherwise ``fail``.

A result that raised on a valid input is ``error`` unless the registry knows it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import yaml

import oracle
from conformance.corpus.cases import Case
from conformance.report.records import GOOD, ResultRecord, Verdict
from conformance.run.runner import RawResult
from conformance.run.wire import Status

from .answers import OracleFailure
from .scoring import Score, score, tolerance

OracleLookup = Callable[[Case, str, tuple[str, ...]], oracle.OracleResult]


@dataclass
class Divergence:
    implementation: str | list[str]
    reason: str
    link: str
    case: str = "*"
    dtype: str | None = None
    quantity: str | None = None
    #: Only results whose failing elements all have one of these outcomes (e.g. flushed_subnormal).
    outcome: str | list[str] | None = None
    matched: int = 0
    still_failing: int = 0

    def matches(
        self, implementation: str, case: str, dtype: str, quantity: str, failing: dict[str, int] | None = None
    ) -> bool:
        patterns = [self.implementation] if isinstance(self.implementation, str) else self.implementation
        return (
            any(glob_match(pattern, implementation) for pattern in patterns)
            and glob_match(self.case, case)
            and self.dtype in (None, dtype)
            and self.quantity in (None, quantity)
            and (self.outcome is None or (bool(failing) and set(failing or ()) <= self._outcomes()))
        )

    def _outcomes(self) -> set[str]:
        return {self.outcome} if isinstance(self.outcome, str) else set(self.outcome or ())

    def status(self) -> str:
        if self.matched == 0:
            return "stale"
        return "fixed" if self.still_failing == 0 else "active"


def glob_match(pattern: str, text: str) -> bool:
    """``*`` is the only wildcard: names such as keras[torch] hold brackets that fnmatch would misread."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None


def load_registry(text: str | None = None) -> list[Divergence]:
    if text is None:
        text = resources.files("conformance").joinpath("data/known_divergences.yaml").read_text(encoding="utf-8")
    entries = yaml.safe_load(text) or []
    registry = []
    for number, entry in enumerate(entries, 1):
        missing = {"implementation", "reason", "link"} - set(entry)
        unknown = set(entry) - {"implementation", "reason", "link", "case", "dtype", "quantity", "outcome"}
        if missing or unknown:
            raise ValueError(
                f"known_divergences.yaml entry {number}: missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        registry.append(Divergence(**entry))
    return registry


@dataclass
class Judge:
    oracle_result: OracleLookup
    registry: list[Divergence] = field(default_factory=load_registry)
    #: Judge against these variants instead of the ideal (the gate's --reference).
    reference: tuple[str, ...] = ()

    def judge(self, raw: RawResult) -> list[ResultRecord]:
        """One record per quantity (value, grad) in report.json's result format."""
        records = []
        for quantity in ("value", "grad"):
            record = _base_record(raw, quantity)
            self._decide(raw, quantity, record)
            returned = record["returned_dtype"]
            if returned and returned != raw.dtype:
                record["message"] = (
                    f"returned {returned} for {raw.dtype} inputs (a silent downcast); " + record["message"]
                )
            records.append(record)
        return records

    def _decide(self, raw: RawResult, quantity: str, record: ResultRecord) -> None:
        case = raw.case
        if raw.status != Status.OK:
            record["verdict"] = Verdict(raw.status)
            if raw.status == Status.ERROR and case.expect in ("error", "error_or_nan"):
                record.update({"verdict": Verdict.PASS, "message": f"raised, as the case expects: {raw.message}"})
            elif raw.status == Status.ERROR:
                self._registered(raw, quantity, record)
            return
        actual = raw.value if quantity == "value" else raw.grad
        if actual is None:
            record.update(
                {"verdict": Verdict.UNSUPPORTED, "message": "no gradient: the implementation has no autodiff"}
            )
            return
        record["actual"] = json_array(actual)
        if case.expect is not None:
            is_nan = bool(np.all(np.isnan(actual)))
            ok = case.expect in ("nan", "error_or_nan") and is_nan
            expected = {"error": "an error", "nan": "NaN", "error_or_nan": "an error or NaN"}[case.expect]
            got = "NaN" if is_nan else "a number"
            record.update(
                {"verdict": Verdict.PASS if ok else Verdict.FAIL, "message": f"the case expects {expected}; got {got}"}
            )
            if not ok:
                self._registered(raw, quantity, record)
            return
        try:
            ideal = self.oracle_result(case, raw.dtype, self.reference)
        except oracle.InvalidInput as problem:
            record.update(
                {"verdict": Verdict.ERROR, "message": f"the case has no valid answer ({problem}) and no expect:"}
            )
            return
        except OracleFailure as problem:  # the oracle's own failure, recorded against the case
            record.update({"verdict": Verdict.ERROR, "message": str(problem)})
            return
        bounds = tolerance(quantity, raw.dtype, case.tolerance)
        floor = raw.case.definition.gradient_scale(raw.params, raw.inputs) if quantity == "grad" else 1.0
        ideal_score = _score(actual, ideal, quantity, raw.dtype, bounds, floor)
        _fill(record, ideal, quantity, ideal_score)
        if self.reference:
            record["semantics"] = "+".join(self.reference)
        if ideal_score.passed:
            record["verdict"] = Verdict.PASS
            return
        declared = tuple(raw.implementation.get("semantics", ()))
        # The smallest set of declared variants that explains the result is the one worth naming.
        for size in range(1, len(declared) + 1):
            for variants in itertools.combinations(declared, size):
                try:
                    documented = self.oracle_result(case, raw.dtype, variants)
                except (oracle.InvalidInput, OracleFailure):  # no variant answer: it cannot explain the result
                    continue
                if _score(actual, documented, quantity, raw.dtype, bounds, floor).passed:
                    record.update(
                        {
                            "verdict": Verdict.DOCUMENTED,
                            "semantics": "+".join(variants),
                            "documented_expected": json_array(getattr(documented, quantity)),
                            "message": f"explained by {', '.join(variants)}: {_explain(variants)} "
                            f"(against the ideal: {ideal_score.summary()})",
                        }
                    )
                    return
        record["verdict"] = Verdict.FAIL
        self._registered(raw, quantity, record)

    def _registered(self, raw: RawResult, quantity: str, record: ResultRecord) -> None:
        for entry in self.registry:
            if entry.matches(raw.implementation["name"], raw.case.id, raw.dtype, quantity, record.get("failing")):
                entry.matched += 1
                entry.still_failing += 1
                record.update(
                    {
                        "verdict": Verdict.XFAIL,
                        "message": f"known divergence: {entry.reason} ({entry.link}); " + record.get("message", ""),
                    }
                )
                return

    def note_passes(self, records: list[ResultRecord]) -> None:
        """Count registry entries that match results which now pass (to report them fixed)."""
        for record in records:
            if record["verdict"] not in GOOD:
                continue
            for entry in self.registry:
                if entry.matches(record["implementation"], record["case"], record["dtype"], record["quantity"]):
                    entry.matched += 1


def _explain(variants: tuple[str, ...]) -> str:
    table = oracle.variants()
    return " ".join(table[name].description for name in variants if name in table)


def _score(
    actual: np.ndarray,
    result: oracle.OracleResult,
    quantity: str,
    dtype: str,
    bounds: Mapping[str, float],
    floor: float,
) -> Score:
    expected = result.value if quantity == "value" else result.grad
    exact = result.value_exact if quantity == "value" else result.grad_exact
    return score(actual, expected, exact, dtype, bounds, floor)


def _fill(record: ResultRecord, result: oracle.OracleResult, quantity: str, scored: Score) -> None:
    record["expected"] = json_array(result.value if quantity == "value" else result.grad)
    exact = result.value_exact if quantity == "value" else result.grad_exact
    shape = (result.value if quantity == "value" else result.grad).shape
    if len(exact) > REPORT_LIMIT:
        record["exact"] = summary(np.array(exact, dtype=object).reshape(shape))
    else:
        record["exact"] = np.array(exact, dtype=object).reshape(shape).tolist() if shape else exact[0]
    record["max_ulp_error"] = json_number(scored.max_ulp)
    record["max_abs_error"] = json_number(scored.max_abs)
    record["max_rel_error"] = json_number(scored.max_rel)
    record["outcomes"] = dict(sorted(scored.outcomes.items()))
    record["failing"] = dict(sorted(scored.failing.items()))
    record["message"] = scored.summary()


def _base_record(raw: RawResult, quantity: str) -> ResultRecord:
    case = raw.case
    return {
        "case": case.id,
        "op": case.op,
        "params": json_params(raw.params),
        "framework": raw.framework,
        "implementation": raw.implementation["name"],
        "dtype": raw.dtype,
        "quantity": quantity,
        "verdict": Verdict.UNSUPPORTED,
        "inputs": {name: json_array(array) for name, array in raw.inputs.items()},
        "expected": None,
        "exact": None,
        "actual": None,
        "max_ulp_error": None,
        "max_abs_error": None,
        "max_rel_error": None,
        "semantics": "ideal",
        "returned_dtype": raw.value_dtype if quantity == "value" else raw.grad_dtype,
        "message": raw.message,
        "description": case.description,
        "provenance": case.provenance,
        "tags": list(case.tags),
        "sweep": dict(case.sweep),
        "sweep_group": case.template if case.sweep else "",
        "doc": raw.implementation.get("doc", ""),
    }


def json_number(value: float) -> float | str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


#: Arrays larger than this appear in report.json as a summary (shape and first elements).
REPORT_LIMIT = 1000


def json_array(array: Any) -> Any:
    data = np.asarray(array)
    if data.size > REPORT_LIMIT:
        return summary(data)
    if data.dtype.kind in "iu":
        return data.tolist()
    flat = [json_number(float(v)) for v in data.astype(np.float64).ravel().tolist()]
    return np.array(flat, dtype=object).reshape(data.shape).tolist() if data.shape else flat[0]


def summary(data: np.ndarray) -> dict[str, Any]:
    head = data.ravel()[:8]
    first = head.tolist() if data.dtype.kind in "iuO" else [json_number(float(v)) for v in head]
    return {"shape": list(data.shape), "truncated": True, "head": first}


def json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: json_array(v) if isinstance(v, np.ndarray) else v for k, v in sorted(params.items())}
