"""From raw framework outcomes to verdicts, one per (case, implementation, dtype, quantity).

Order of judgement for a result that ran:

1. the case ``expect``s an error or NaN (no valid answer): raised or NaN -> ``pass``;
2. within tolerance of the ideal oracle -> ``pass``;
3. within tolerance of the oracle under the variants the implementation *documents*
   (Keras clip, torch log floor, ...) -> ``documented``, naming the smallest such set;
4. every failing element reproduced by the mechanism model of a known divergence in scope
   (:mod:`conformance.judge.registry`), within its bound -> ``xfail``, with the model's
   prediction beside the result;
5. otherwise ``fail``, naming the nearest model and how far it was.

A result that raised on a valid input is ``error``. The tolerance profile (strict: ULPs only;
practical: gradients also within a few eps at their natural scale) is the judge's setting.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import oracle
from conformance.corpus.cases import Case
from conformance.report.records import ResultRecord, Verdict
from conformance.run.runner import RawResult
from conformance.run.wire import Status

from . import registry
from .answers import OracleFailure
from .mechanisms import ModelContext, Prediction
from .registry import KnownDivergence
from .scoring import DEFAULT_PROFILE, Score, score, tolerance

OracleLookup = Callable[[Case, str, tuple[str, ...]], oracle.OracleResult]


@dataclass
class Judge:
    oracle_result: OracleLookup
    #: The known divergences in force (a fresh copy per run: entries count what they explain).
    known: list[KnownDivergence] = field(default_factory=registry.load)
    #: Judge against these variants instead of the ideal (the gate's --reference).
    reference: tuple[str, ...] = ()
    #: Which tolerance profile of data/tolerances.yaml (strict: ULPs only).
    profile: str = DEFAULT_PROFILE

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
            return
        actual = raw.value if quantity == "value" else raw.grad
        if actual is None:
            record.update(
                {"verdict": Verdict.UNSUPPORTED, "message": "no gradient: the implementation has no autodiff"}
            )
            return
        record["actual"] = json_array(actual)
        if case.expect is not None:
            self._expected_no_answer(raw, quantity, np.asarray(actual, dtype=np.float64), record)
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
        wanted = np.shape(getattr(ideal, quantity))
        if np.size(actual) != np.prod(wanted, dtype=np.int64):
            reduction = case.definition.with_defaults(raw.params).get("reduction", "none")
            record.update(
                {
                    "verdict": Verdict.FAIL,
                    "message": f"returned shape {tuple(np.shape(actual))}, where the op with these params "
                    f"gives {tuple(wanted)} (is the reduction {reduction!r} applied?)",
                }
            )
            return
        bounds = tolerance(quantity, raw.dtype, case.tolerance, self.profile)
        floor = case.definition.gradient_scale(raw.params, raw.inputs) if quantity == "grad" else 1.0
        ideal_score = _score(actual, ideal, quantity, raw.dtype, bounds, floor)
        _fill(record, ideal, quantity, ideal_score)
        if self.reference:
            record["semantics"] = "+".join(self.reference)
        if ideal_score.passed:
            record["verdict"] = Verdict.PASS
            self._note_right(raw, quantity, getattr(ideal, quantity), bounds)
            return
        if self._documented(raw, quantity, actual, record, ideal_score, bounds, floor):
            return
        actual = np.asarray(actual, dtype=np.float64).reshape(np.shape(getattr(ideal, quantity)))
        failing = ~ideal_score.mask.reshape(actual.shape)
        self._explain(raw, quantity, actual, failing, record)

    def _documented(
        self,
        raw: RawResult,
        quantity: str,
        actual: np.ndarray,
        record: ResultRecord,
        ideal_score: Score,
        bounds: Mapping[str, float],
        floor: float,
    ) -> bool:
        """The smallest set of the implementation's declared variants that explains the result."""
        declared = tuple(raw.implementation.get("semantics", ()))
        for size in range(1, len(declared) + 1):
            for variants in itertools.combinations(declared, size):
                try:
                    documented = self.oracle_result(raw.case, raw.dtype, variants)
                except (oracle.InvalidInput, OracleFailure):  # no variant answer: it cannot explain the result
                    continue
                if not _score(actual, documented, quantity, raw.dtype, bounds, floor).passed:
                    continue
                predicted = json_array(getattr(documented, quantity))
                text = _variant_text(variants)
                record.update(
                    {
                        "verdict": Verdict.DOCUMENTED,
                        "semantics": "+".join(variants),
                        "documented_expected": predicted,
                        "message": f"explained by {', '.join(variants)}: {text} "
                        f"(against the ideal: {ideal_score.summary()})",
                        "explanation": {
                            "kind": "variant",
                            "name": "+".join(variants),
                            "text": text,
                            "link": " ".join(oracle.variants()[v].source for v in variants if v in oracle.variants()),
                            "predicted": predicted,
                            "distance_ulp": None,
                            "bound_ulp": None,
                        },
                    }
                )
                return True
        return False

    # -- known divergences: explained only where their model reproduces the result --------------
    def _context(self, raw: RawResult, quantity: str) -> ModelContext:
        def exact(
            op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str, variants: tuple[str, ...]
        ) -> oracle.OracleResult:
            return oracle.evaluate(op, params, inputs, dtype, oracle.combine(variants), cache=self._disk_cache())

        op = raw.case.definition
        return ModelContext(
            op,
            op.with_defaults(raw.params),
            raw.inputs,
            raw.dtype,
            quantity,
            {"semantics": tuple(raw.implementation.get("semantics", ()))},
            exact,
        )

    def _disk_cache(self) -> Any:
        return getattr(self.oracle_result, "cache", None)

    def _candidates(self, raw: RawResult, quantity: str) -> list[KnownDivergence]:
        name = raw.implementation["name"]
        return [entry for entry in self.known if entry.in_scope(name, raw.dtype, quantity)]

    def _explain(
        self, raw: RawResult, quantity: str, actual: np.ndarray, failing: np.ndarray, record: ResultRecord
    ) -> None:
        candidates = self._candidates(raw, quantity)
        found, nearest = registry.explain(candidates, self._context(raw, quantity), actual, failing)
        if found is None:
            record["verdict"] = Verdict.FAIL
            if nearest is not None:
                record["message"] += (
                    f"; not reproduced by the model of known divergence {nearest.entry.name!r} "
                    f"(predicted {json_array(_shaped(nearest.prediction, actual))}, {nearest.distance_ulp:.3g} ulp "
                    f"away, bound {nearest.entry.bound_ulp:g})"
                )
            return
        entry = found.entry
        entry.explained += 1
        predicted = json_array(_shaped(found.prediction, actual))
        record.update(
            {
                "verdict": Verdict.XFAIL,
                "message": f"known divergence {entry.name}: {entry.reason} ({entry.link}); model predicts "
                f"{predicted}, {found.distance_ulp:.3g} ulp away; " + record["message"],
                "explanation": {
                    "kind": "model",
                    "name": entry.name,
                    "text": entry.reason,
                    "link": entry.link,
                    "predicted": predicted,
                    "distance_ulp": json_number(found.distance_ulp),
                    "bound_ulp": entry.bound_ulp,
                },
            }
        )

    def _expected_no_answer(self, raw: RawResult, quantity: str, actual: np.ndarray, record: ResultRecord) -> None:
        """A case with no valid answer (``expect``): NaN or an error is right; a number needs a model."""
        expect = raw.case.expect
        is_nan = bool(np.all(np.isnan(actual)))
        ok = expect in ("nan", "error_or_nan") and is_nan
        wanted = {"error": "an error", "nan": "NaN", "error_or_nan": "an error or NaN"}[str(expect)]
        record.update(
            {
                "verdict": Verdict.PASS if ok else Verdict.FAIL,
                "message": f"the case expects {wanted}; got {'NaN' if is_nan else 'a number'}",
            }
        )
        if not ok:
            self._explain(raw, quantity, actual, ~np.isnan(actual), record)

    def _note_right(self, raw: RawResult, quantity: str, expected: np.ndarray, bounds: Mapping[str, float]) -> None:
        """A result that is right where a model in scope predicted a divergence: that entry is fixed
        (or its model is too pessimistic); either way the status line says so."""
        candidates = self._candidates(raw, quantity)
        if not candidates or np.size(expected) > 1000:
            return
        context = self._context(raw, quantity)
        fmt_bound = bounds.get("ulp", 0.0)
        for entry in candidates:
            for prediction in entry.predict(context):
                right = np.asarray(expected, dtype=np.float64)
                gaps = registry.distances(right, Prediction(prediction.value), oracle.FORMATS[raw.dtype])
                if gaps.size and float(gaps.max()) > max(fmt_bound, entry.bound_ulp):
                    entry.fixed += 1
                    return


def _shaped(prediction: Prediction, actual: np.ndarray) -> np.ndarray:
    return np.broadcast_to(np.asarray(prediction.value, dtype=np.float64), actual.shape)


def _variant_text(variants: tuple[str, ...]) -> str:
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
        "variants": list(raw.implementation.get("semantics", ())),
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
