"""The platform verdict: a user's loss judged against what its platform lets any code compute.

On CPU, XLA (JAX) and TensorFlow flush subnormal inputs and results to zero, float64 included;
no JAX or TensorFlow code can avoid it. A failing result of the user's loss is ``platform``
rather than ``fail`` when (1) a platform mechanism model of the registry in scope for the
framework (``platform.*`` models, ``conformance/data/known_divergences/platform.yaml``)
reproduces it, and (2) the framework's own native implementation of the op, run on the same
input, shows that same mechanism (its result is explained by that entry), under the user's
reduction or, per sample, under none (the only one ``tf.nn``'s losses have). Both are checked per
result: a platform that does not flush, or an input where the native result is exact, leaves
the failure a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

import oracle
from conformance.corpus.cases import Case
from conformance.judge import registry
from conformance.judge.answers import OracleAnswers
from conformance.judge.mechanisms import ModelContext
from conformance.judge.registry import KnownDivergence
from conformance.judge.verdicts import Judge, json_array
from conformance.report.records import ResultRecord, Verdict
from conformance.run.runner import RawResult

#: The verdict word the gate shows for such a result (recorded as ``xfail`` with this explanation kind).
PLATFORM = "platform"
#: Native results of the framework's own implementations on the given cases.
RunNatives = Callable[[Sequence[Case]], list[RawResult]]


def entries(framework: str) -> list[KnownDivergence]:
    """The registry's platform mechanisms that speak for ``framework``'s native implementations."""
    return [entry for entry in registry.load() if entry.model.startswith("platform.") and framework in entry.frameworks]


def apply(
    pairs: Sequence[tuple[RawResult, ResultRecord]],
    framework: str,
    answers: OracleAnswers,
    run_natives: RunNatives,
) -> None:
    """Turn the failing records that a platform mechanism explains, on the user's loss and on the
    framework's own implementation alike, into ``platform`` records."""
    failing = [(raw, record) for raw, record in pairs if record["verdict"] == Verdict.FAIL]
    candidates = entries(framework) if failing else []  # no failure: the registry need not even be read
    if not candidates:
        return
    reproduced = []
    for raw, record in failing:
        found = _reproduce(candidates, raw, record["quantity"], answers)
        if found is not None:
            reproduced.append((raw, record, found))
    if not reproduced:
        return
    # The native runs only in the dtypes where the user's result needs it (each dtype is a call).
    dtypes: dict[str, set[str]] = {}
    for raw, _, _ in reproduced:
        dtypes.setdefault(raw.case.id, set()).add(raw.dtype)
    by_id = {raw.case.id: raw.case for raw, _, _ in reproduced}
    cases = [replace(case, dtypes=tuple(d for d in case.dtypes if d in dtypes[key])) for key, case in by_id.items()]
    variants = {case.id: variant for case in cases if (variant := _per_sample(case)) is not None}
    per_sample = {variant.id: case_id for case_id, variant in variants.items()}
    cases += variants.values()
    judge = Judge(answers, known=[replace(entry) for entry in candidates])
    shown: set[tuple[str, str, str, str]] = set()
    for native in run_natives(cases):
        for judged in judge.judge(native):
            explanation = judged.get("explanation")
            if judged["verdict"] == Verdict.XFAIL and explanation is not None:
                case_id = per_sample.get(judged["case"], judged["case"])
                shown.add((case_id, judged["dtype"], judged["quantity"], explanation["name"]))
    for raw, record, found in reproduced:
        entry = found.entry
        if (raw.case.id, raw.dtype, record["quantity"], entry.name) not in shown:
            continue
        record["verdict"] = Verdict.XFAIL
        record["message"] = (
            f"platform: {entry.reason} The framework's own implementation shows it on this input; " + record["message"]
        )
        record["explanation"] = {
            "kind": PLATFORM,
            "name": entry.name,
            "text": entry.reason,
            "link": entry.link,
            "predicted": json_array(np.broadcast_to(found.prediction.value, np.shape(_actual(raw, record)))),
            "distance_ulp": found.distance_ulp,
            "bound_ulp": entry.bound_ulp,
        }


def _per_sample(case: Case) -> Case | None:
    """The case under ``reduction: none`` (its own id), where it declares another reduction: a
    framework whose own implementation returns one loss per sample
    (``tf.nn.sigmoid_cross_entropy_with_logits``) shows a flushed element there, on the same
    input, though it cannot run the user's mean."""
    op = case.definition
    if not any(param.name == "reduction" for param in op.params):
        return None
    if op.with_defaults(case.params).get("reduction") == "none":
        return None
    return replace(case, id=f"{case.id} (per sample)", params={**case.params, "reduction": "none"})


def _actual(raw: RawResult, record: ResultRecord) -> np.ndarray:
    return np.asarray(raw.value if record["quantity"] == "value" else raw.grad, dtype=np.float64)


def _reproduce(
    candidates: Sequence[KnownDivergence], raw: RawResult, quantity: str, answers: OracleAnswers
) -> registry.Explanation | None:
    actual = raw.value if quantity == "value" else raw.grad
    if actual is None:
        return None

    def exact(
        op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str, variants: tuple[str, ...]
    ) -> oracle.OracleResult:
        return oracle.evaluate(op, params, inputs, dtype, oracle.combine(variants), cache=answers.cache)

    op = raw.case.definition
    context = ModelContext(op, op.with_defaults(raw.params), raw.inputs, raw.dtype, quantity, {"semantics": ()}, exact)
    values = np.asarray(actual, dtype=np.float64)
    try:
        found, _ = registry.explain(candidates, context, values, np.ones(values.shape, dtype=bool))
    except oracle.InvalidInput:
        return None
    return found
