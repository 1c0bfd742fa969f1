"""The gate for users' own loss functions.

Every corpus input of the op (sweeps included) is run on the function under the user's own
params (:mod:`.cases`), in all four dtypes by default, value and gradient by the framework's
own autodiff, and scored against the exact loss (``reference="ideal"``) or against what a
native implementation documents (``reference="keras.losses.categorical_crossentropy"``, say).
A failing result then meets the gate's conventions (:mod:`.conventions`), the platform
(:mod:`.platform`), the user's accept file (:mod:`.selection`), and a diagnosis (:mod:`.diagnose`).

``run`` (the CLI) executes the function in an isolated worker; ``check_loss`` (for a
user's own test suite) runs it in the calling process, where the function object lives.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import oracle
from conformance.adapters import borrowed
from conformance.adapters.custom import ENVIRONMENT, IN_PROCESS_FRAMEWORKS, implementation_for
from conformance.corpus import cases as case_files
from conformance.judge.answers import OracleAnswers, OracleFailure
from conformance.judge.scoring import tolerance
from conformance.judge.verdicts import Judge
from conformance.pipeline import environment
from conformance.report.records import ReportDocument, ResultRecord, Verdict, build_report, summarize
from conformance.run.plan import assign
from conformance.run.runner import (
    DEFAULT_TIMEOUT,
    RawResult,
    WorkerPool,
    adapter_specs,
    materialize_all,
    run_framework,
)
from conformance.run.standby import Standby
from conformance.run.wire import Status
from conformance.run.workers import Worker, WorkerFailure, started
from oracle.formats import DTYPES

from . import cases, conventions, platform, selection
from .cases import GateUsageError
from .diagnose import Elsewhere, diagnose

BUNDLED_CASES = case_files.BUNDLED_CASES
#: Every dtype: bugs of half precision (one-hot labels or counts in float16) show only there.
DEFAULT_DTYPES = DTYPES
#: "Is this loss safe to train with": gradients also within a few eps at their natural scale.
PROFILE = "practical"


@functools.cache
def references() -> dict[str, list[str]]:
    text = resources.files("conformance").joinpath("data/references.yaml").read_text(encoding="utf-8")
    table: dict[str, list[str]] = yaml.safe_load(text)
    return table


def reference_variants(reference: str) -> tuple[str, ...]:
    if reference == "ideal":
        return ()
    if reference in references():
        return tuple(references()[reference])
    if reference in oracle.variants():
        return (reference,)
    declared = native_semantics(reference)
    if declared is not None:
        return declared
    known = ", ".join(["ideal", *references(), *oracle.variants()])
    raise GateUsageError(
        f"unknown reference {reference!r}: no installed adapter has an implementation of that name; "
        f"known without asking them: {known}"
    )


def native_semantics(reference: str) -> tuple[str, ...] | None:
    """The semantic variants an installed adapter's implementation named ``reference`` declares
    (any adapter of the entry-point group), asking the adapters whose name its first word suggests
    first. None where no adapter has it."""
    first = reference.split(".")[0].split("[")[0]
    for spec in sorted(adapter_specs(), key=lambda name: (first not in name and name not in first, name)):
        try:
            with started(spec) as worker:
                implementations = worker.handshake.get("implementations", [])
        except WorkerFailure:
            continue
        for implementation in implementations:
            if implementation["name"] == reference:
                return tuple(implementation.get("semantics", ()))
    return None


@dataclass(frozen=True)
class Selection:
    """What the user chose to run and to accept (see :mod:`conformance.gate.selection`)."""

    select: tuple[str, ...] = ()
    deselect: tuple[str, ...] = ()
    #: The user's own case files, added to the bundled corpus.
    cases: tuple[Path, ...] = ()
    accept: Path | None = None


def gate_cases(
    op: str, params: Mapping[str, Any], dtypes: Sequence[str], paths: Sequence[Path] = (BUNDLED_CASES,)
) -> list[case_files.Case]:
    """The cases the gate runs for a loss with these params (no selection)."""
    return select_cases(op, params, dtypes, paths).cases


def select_cases(
    op: str,
    params: Mapping[str, Any],
    dtypes: Sequence[str],
    paths: Sequence[Path] = (BUNDLED_CASES,),
    answers: OracleAnswers | None = None,
    chosen: Selection = Selection(),
) -> cases.GateCases:
    """The corpus's inputs of the op under the user's params (see :mod:`conformance.gate.cases`),
    as selected; those with no valid answer under the params expect an error or NaN."""
    missing = [path for path in chosen.cases if not path.exists()]
    if missing:
        raise GateUsageError(f"no such file or directory: {', '.join(map(str, missing))}")
    found = cases.gate_cases(op, params, dtypes, [*paths, *chosen.cases])
    answers = answers or OracleAnswers(oracle_cache())

    def has_no_answer(case: case_files.Case, dtype: str) -> bool:
        try:
            answers(case, dtype, ())
        except oracle.InvalidInput:
            return True
        except OracleFailure:
            return False
        return False

    kept = selection.select(found.cases, chosen.select, chosen.deselect)
    found.cases = cases.expecting_no_answer(kept, has_no_answer)
    return found


@dataclass
class GateResult:
    report: ReportDocument
    #: What the user should know beyond the verdicts: inputs left out, stale accept entries.
    notes: list[str] = field(default_factory=list)

    @property
    def records(self) -> list[ResultRecord]:
        return self.report["results"]

    @property
    def failures(self) -> list[ResultRecord]:
        return [
            r
            for r in self.records
            if r["verdict"] not in (Verdict.PASS, Verdict.UNSUPPORTED) and _kind(r) not in EXPLAINED
        ]

    @property
    def ok(self) -> bool:
        return bool(self.records) and not self.failures

    def describe(self, limit: int = 20) -> str:
        lines = []
        for record in self.failures[:limit]:
            lines += [
                f"{record['verdict'].upper()} {record['case']} [{record['dtype']} {record['quantity']}]",
                f"  inputs:   {json.dumps(record['inputs'])}",
            ]
            if record["actual"] is None:  # nothing came back (timeout, crash, error): no score to show
                lines.append(f"  returned nothing: {record.get('diagnosis') or record.get('message', '')}")
                continue
            lines += [
                f"  exact:    {json.dumps(record['exact'])}",
                f"  returned: {json.dumps(record['actual'])}  ({record['max_ulp_error']} ulp)",
                f"  diagnosis: {record.get('diagnosis', '')}",
            ]
        if len(self.failures) > limit:
            lines.append(f"... and {len(self.failures) - limit} more (see the JSON report)")
        verdicts = dict(summarize(self.records)["verdicts"])
        for kind in EXPLAINED:  # recorded as xfail with this explanation; said as what they are
            explained = [r for r in self.records if _kind(r) == kind]
            if explained:
                verdicts["xfail"] -= len(explained)
                verdicts[kind] = len(explained)
                lines.append(_explained_line(kind, explained))
        verdicts = {v: n for v, n in verdicts.items() if n}
        lines += self.notes
        lines.append(f"{len(self.records)} results: " + ", ".join(f"{n} {v}" for v, n in verdicts.items()))
        return "\n".join(lines)

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError("the loss does not conform:\n" + self.describe())


#: Explanation kinds of results that do not fail the gate: the platform's doing, or accepted by the user.
EXPLAINED = (platform.PLATFORM, selection.ACCEPTED)


def _explained_line(kind: str, records: Sequence[ResultRecord], shown: int = 4) -> str:
    """One line naming the results the platform or the user's accept file explains, and why."""
    names = sorted({explanation["name"] for r in records if (explanation := r.get("explanation"))})
    where = ", ".join(f"{r['case']} [{r['dtype']} {r['quantity']}]" for r in records[:shown])
    more = f" and {len(records) - shown} more" if len(records) > shown else ""
    return f"{kind.upper()} {len(records)} ({', '.join(names)}): {where}{more}"


def _kind(record: ResultRecord) -> str | None:
    explanation = record.get("explanation")
    return explanation["kind"] if explanation else None


class Verdicts:
    """Each result's records against the reference, conventions applied; fed result by result
    as the worker answers (the CLI judges while the next call runs), or all at once."""

    def __init__(self, answers: OracleAnswers, variants: tuple[str, ...]) -> None:
        self.answers, self.variants = answers, variants
        self.judge = Judge(answers, known=[], reference=variants, profile=PROFILE)
        self.judged: dict[int, list[ResultRecord]] = {}

    def add(self, raw: RawResult) -> None:
        records = self.judge.judge(raw)
        for record in records:
            if record["verdict"] == Verdict.FAIL:
                _reconsider(raw, record, self.variants, self.answers)
        self.judged[id(raw)] = records

    def pairs(self, raws: Sequence[RawResult]) -> list[tuple[RawResult, ResultRecord]]:
        """(result, record) for every result, in order; those not fed yet are judged now."""
        for raw in raws:
            if id(raw) not in self.judged:
                self.add(raw)
        return [(raw, record) for raw in raws for record in self.judged[id(raw)]]


def _judge(
    raws: Sequence[RawResult],
    verdicts: Verdicts,
    frameworks: Sequence[Any],
    framework: str,
    run_natives: platform.RunNatives,
    found: cases.GateCases,
    accepted: Sequence[selection.Acceptance],
) -> GateResult:
    answers, variants = verdicts.answers, verdicts.variants
    pairs = verdicts.pairs(raws)
    if not variants:  # against a documented reference, the platform is the reference's business
        platform.apply(pairs, framework, answers, run_natives)
    records = [record for _, record in pairs]
    for raw, record in pairs:
        good = record["verdict"] in (Verdict.PASS, Verdict.UNSUPPORTED) or _kind(record) == platform.PLATFORM
        record["diagnosis"] = "" if good else diagnose(record, _elsewhere(raw, record["quantity"], variants, answers))
    selection.accept(records, accepted)
    notes = [
        f"left out: {count} corpus input(s) that do not fit your params ({reason})"
        for reason, count in found.left_out.items()
    ]
    notes += selection.stale(accepted)
    return GateResult(build_report(records, environment(list(frameworks))), notes)


def _elsewhere(raw: RawResult, quantity: str, variants: tuple[str, ...], answers: OracleAnswers) -> Elsewhere:
    """The oracle on the same inputs under other params, for the diagnoses."""

    def at(params: Mapping[str, Any]) -> np.ndarray | None:
        try:
            found = oracle.evaluate(
                raw.case.op, params, raw.inputs, raw.dtype, oracle.combine(variants), cache=answers.cache
            )
        except Exception:  # no answer under those params is no diagnosis, not the gate's end
            return None
        return np.asarray(getattr(found, quantity), dtype=np.float64)

    return at


def _reconsider(raw: RawResult, record: ResultRecord, variants: tuple[str, ...], answers: OracleAnswers) -> None:
    """A failing result that one of the gate's conventions accepts passes, saying which."""
    quantity = record["quantity"]
    actual = raw.value if quantity == "value" else raw.grad
    if actual is None:
        return
    op = raw.case.definition
    params = op.with_defaults(raw.params)

    def exact(params: Mapping[str, Any], inputs: Mapping[str, Any]) -> oracle.OracleResult:
        return oracle.evaluate(op.name, params, inputs, raw.dtype, oracle.combine(variants), cache=answers.cache)

    bounds = tolerance(quantity, raw.dtype, raw.case.tolerance, PROFILE)
    accepted = (
        conventions.nan_per_sample(raw.case.expect, raw.value)
        if raw.case.expect is not None
        else conventions.all_ignored_mean(op, params, raw.inputs, quantity, actual, exact)
        or conventions.held_params(op, params, raw.inputs, raw.dtype, quantity, actual, bounds, exact)
    )
    if accepted is not None:
        record["verdict"] = Verdict.PASS
        record["message"] = f"{accepted}; {record['message']}"


def _natives_in_process(inner: Any, framework: str) -> platform.RunNatives:
    """The framework's own implementations of the op, run in this process on the given cases."""
    described = [implementation.describe() for implementation in inner.implementations()]
    table = {implementation.name: implementation for implementation in inner.implementations()}

    def run_natives(natives: Sequence[case_files.Case]) -> list[RawResult]:
        results = []
        for case in natives:
            for dtype in case.dtypes:
                params, inputs = case.materialize(dtype)
                ndim = inputs[case.definition.prediction].ndim
                for assignment in assign(case.definition, params, described, framework, dtype, ndim):
                    if assignment.unsupported is not None:
                        continue
                    name = assignment.implementation["name"]
                    raw = RawResult(case, dtype, framework, dict(assignment.implementation), Status.OK, params, inputs)
                    results.append(_run_in_process(inner, table[name], raw))
        return results

    return run_natives


def oracle_cache() -> Any:
    from oracle.cache import DiskCache

    return DiskCache()


def run(
    target: str,
    op: str,
    framework: str,
    params: Mapping[str, Any] | None = None,
    reference: str = "ideal",
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    args: str = "true,pred",
    timeout: float = DEFAULT_TIMEOUT,
    paths: Sequence[Path] = (BUNDLED_CASES,),
    chosen: Selection = Selection(),
    standby_minutes: float = 0.0,
) -> GateResult:
    """Gate ``module:callable`` in an isolated worker of ``framework`` (any installed adapter).

    The worker starts first, so the framework imports while this process loads the cases and
    their exact answers; the same worker then runs the framework's own implementations where the
    platform verdict needs them: one import per gate call. With ``standby_minutes``, the worker
    waits that long for the next call, which takes it over (see :mod:`conformance.run.standby`).
    """
    params = dict(params or {})
    installed = adapter_specs()
    if framework not in installed:
        raise GateUsageError(f"no installed adapter {framework!r} to gate a loss of; installed: {', '.join(installed)}")
    if args not in ("true,pred", "pred,true"):
        raise GateUsageError(f"--args is true,pred or pred,true, not {args!r}")
    definition = cases.op_definition(op)
    description = {
        "target": target,
        "framework": framework,
        "op": op,
        "args": args,
        "name": target,
        "mode": cases.modes(definition, params),
    }
    pool = WorkerPool()
    kept = Standby(framework, standby_minutes * 60) if standby_minutes > 0 else None
    finished = False  # an exception or an interrupt stops the worker, standby or not
    try:
        worker = pool.launch(CUSTOM_SPEC, environment={ENVIRONMENT: json.dumps(description)}, standby=kept)
        variants = reference_variants(reference)
        answers = OracleAnswers(oracle_cache())
        accepted = selection.load_accepted(chosen.accept) if chosen.accept else []
        found = select_cases(op, params, dtypes, paths, answers, chosen)
        selected = found.cases
        verdicts = Verdicts(answers, variants)
        adapter, raws = run_framework(
            CUSTOM_SPEC, selected, materialize_all(selected), timeout, pool=pool, on_result=verdicts.add
        )
        if adapter.unloadable or (adapter.skipped and not raws):
            raise GateUsageError(f"cannot gate {target}: {adapter.skipped}")

        def run_natives(natives: Sequence[case_files.Case]) -> list[RawResult]:
            ran = run_framework(CUSTOM_SPEC, natives, materialize_all(natives), timeout, pool=pool, roster="natives")[1]
            for raw in ran:  # the framework's own implementation, run in the user's worker
                raw.framework = framework
            return ran

        result = _judge(raws, verdicts, [adapter], framework, run_natives, found, accepted)
        finished = True
    finally:
        pool.close(finished)
    if kept is not None:
        result.notes.append(_standby_note(worker, standby_minutes))
    return result


def _standby_note(worker: Worker, minutes: float) -> str:
    if worker.standby_problem:
        return f"worker: started afresh; standby is off: {worker.standby_problem}"
    taken = "taken over from standby" if worker.handshake.get("standby") else "started afresh"
    if worker.gave_way:
        taken += f" (the standby gave way: {worker.gave_way})"
    if worker.on_standby:
        return f"worker: {taken}; on standby for {minutes:g} min (`conformance standby --stop` ends it)"
    return f"worker: {taken}; not on standby (another call's worker waits there, or it ended)"


#: The worker of a user's loss: the adapter reads what to load from ``ENVIRONMENT``.
CUSTOM_SPEC = "conformance.adapters.custom:from_environment"


def check_loss(
    fn: Callable[..., Any],
    *,
    op: str,
    framework: str,
    reference: str = "ideal",
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    args: str = "true,pred",
    chosen: Selection = Selection(),
    **params: Any,
) -> GateResult:
    """Gate a function object from Python.

    It runs in this process, where the function object lives (so without the CLI's crash
    isolation), and leaves the caller's framework settings as they were: no thread counts or
    TF32 switches are touched, and JAX's float64 is enabled only while the cases run.
    """
    if framework not in IN_PROCESS_FRAMEWORKS:
        raise GateUsageError(
            f"check_loss runs {', '.join(IN_PROCESS_FRAMEWORKS)} functions in this process, not {framework!r} "
            "(the CLI's `conformance gate` takes any installed adapter)"
        )
    variants = reference_variants(reference)
    answers = OracleAnswers(oracle_cache())
    accepted = selection.load_accepted(chosen.accept) if chosen.accept else []
    found = select_cases(op, params, dtypes, (BUNDLED_CASES,), answers, chosen)
    selected = found.cases
    implementation = implementation_for(
        fn, getattr(fn, "__qualname__", "loss"), op, cases.modes(cases.op_definition(op), params), args
    )
    by_id = {case.id: case for case in selected}
    raws = []
    with borrowed(framework) as inner:
        for (case_id, dtype), (case_params, inputs) in materialize_all(selected).items():
            raw = RawResult(
                by_id[case_id], dtype, f"custom[{framework}]", implementation.describe(), Status.OK, case_params, inputs
            )
            raws.append(_run_in_process(inner, implementation, raw))
        natives = _natives_in_process(inner, framework)
        return _judge(raws, Verdicts(answers, variants), [], framework, natives, found, accepted)


def _run_in_process(inner: Any, implementation: Any, raw: RawResult) -> RawResult:
    try:
        outcome = inner.run(implementation, raw.params, raw.inputs, raw.dtype)
    except Exception as error:  # the function raising is its verdict, not the gate's end
        raw.status, raw.message = Status.ERROR, f"{type(error).__name__}: {error}"
    else:
        raw.value, raw.value_dtype = outcome.value, outcome.value_dtype
        raw.grad, raw.grad_dtype = outcome.grad, outcome.grad_dtype
    return raw
