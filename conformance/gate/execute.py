"""The gate for users' own loss functions.

Every corpus case of the op (sweeps included) whose params the function can honour is run
on the function, in float32 and float64 by default, value and gradient by the framework's
own autodiff, and scored against the exact loss (``reference="ideal"``) or against what a
framework documents (``reference="keras.losses.categorical_crossentropy"``, say). The
function's reduction is its own, so each case is scored with the declared reduction.

``run`` (the CLI) executes the function in an isolated worker; ``check_loss`` (for a
user's own test suite) runs it in the calling process, where the function object lives.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

import oracle
from conformance.adapters import loaded
from conformance.adapters.custom import ENVIRONMENT, FRAMEWORKS, implementation_for
from conformance.corpus import cases as case_files
from conformance.judge.verdicts import Judge
from conformance.pipeline import OracleMemo, environment, sort_key, summarize
from conformance.run.runner import DEFAULT_TIMEOUT, RawResult, materialize_all, run_framework
from oracle.signatures import LOSSES, SIGNATURES

from .diagnose import diagnose

BUNDLED_CASES = case_files.BUNDLED_CASES
DEFAULT_DTYPES = ("float32", "float64")
#: Params that change what the function computes: a case applies only if it uses the same.
FIXED_PARAMS = {
    "from_logits": False,
    "label_smoothing": 0,
    "sample_weight": None,
    "class_weight": None,
    "ignore_index": None,
    "axis": -1,
}


class GateUsageError(ValueError):
    """Bad op, params, reference or framework: the gate cannot start."""


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
    known = ", ".join(["ideal", *references(), *oracle.variants()])
    raise GateUsageError(f"unknown reference {reference!r}; known: {known}")


def gate_cases(
    op: str, params: Mapping[str, Any], dtypes: Sequence[str], paths: Sequence[Path] = (BUNDLED_CASES,)
) -> list[case_files.Case]:
    """The corpus cases the function can be judged on, scored with its own reduction."""
    if op not in SIGNATURES:
        raise GateUsageError(f"unknown op {op!r}; known: {', '.join(SIGNATURES)}")
    unknown = set(params) - set(SIGNATURES[op].params)
    if unknown:
        raise GateUsageError(f"{op} takes no param {', '.join(sorted(unknown))}")
    selected = []
    for case in case_files.load(paths).cases:
        if case.op != op or any(_value(case.params, k) != _value(params, k) for k in FIXED_PARAMS):
            continue
        chosen = tuple(d for d in case.dtypes if d in dtypes)
        if not chosen:
            continue
        case_params = dict(case.params)
        if op in LOSSES:
            case_params["reduction"] = params.get("reduction", "mean")
        selected.append(dataclasses.replace(case, params=case_params, dtypes=chosen))
    return selected


def _value(params: Mapping[str, Any], key: str) -> Any:
    value = params.get(key, FIXED_PARAMS[key])
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class GateResult:
    records: list[dict[str, Any]]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["verdict"] not in ("pass", "unsupported")]

    @property
    def ok(self) -> bool:
        return bool(self.records) and not self.failures

    def describe(self, limit: int = 20) -> str:
        lines = []
        for record in self.failures[:limit]:
            lines += [
                f"{record['verdict'].upper()} {record['case']} [{record['dtype']} {record['quantity']}]",
                f"  inputs:   {json.dumps(record['inputs'])}",
                f"  exact:    {json.dumps(record['exact'])}",
                f"  returned: {json.dumps(record['actual'])}  ({record['max_ulp_error']} ulp)",
                f"  diagnosis: {record['diagnosis']}",
            ]
        if len(self.failures) > limit:
            lines.append(f"... and {len(self.failures) - limit} more (see the JSON report)")
        verdicts = summarize(self.records)["verdicts"]
        lines.append(f"{len(self.records)} results: " + ", ".join(f"{n} {v}" for v, n in verdicts.items()))
        return "\n".join(lines)

    def assert_ok(self) -> None:
        if not self.ok:
            raise AssertionError("the loss does not conform:\n" + self.describe())


def _judge(raws: Sequence[RawResult], variants: tuple[str, ...], frameworks: Sequence[Any]) -> GateResult:
    judge = Judge(OracleMemo(oracle_cache()), registry=[], reference=variants)
    records = [record for raw in raws for record in judge.judge(raw)]
    for record in records:
        record["diagnosis"] = diagnose(record) if record["verdict"] not in ("pass", "unsupported") else ""
    records.sort(key=sort_key)
    report = {
        "schema_version": 1,
        "created": "",
        "environment": environment(list(frameworks)),
        "results": records,
        "summary": summarize(records),
        "divergences": [],
        "case_errors": [],
    }
    return GateResult(records, report)


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
) -> GateResult:
    """Gate ``module:callable`` in an isolated worker of ``framework``."""
    params = dict(params or {})
    if framework not in FRAMEWORKS:
        raise GateUsageError(f"the gate runs {', '.join(FRAMEWORKS)} functions, not {framework!r}")
    if args not in ("true,pred", "pred,true"):
        raise GateUsageError(f"--args is true,pred or pred,true, not {args!r}")
    variants = reference_variants(reference)
    selected = gate_cases(op, params, dtypes, paths)
    description = {
        "target": target,
        "framework": framework,
        "op": op,
        "args": args,
        "name": target,
        "from_logits": bool(params.get("from_logits", False)) if op in LOSSES else None,
    }
    spec = "conformance.adapters.custom:from_environment"
    found, raws = run_framework(
        spec, selected, materialize_all(selected), timeout, environment={ENVIRONMENT: json.dumps(description)}
    )
    if found.unloadable or (found.skipped and not raws):
        raise GateUsageError(f"cannot gate {target}: {found.skipped}")
    return _judge(raws, variants, [found])


def check_loss(
    fn: Callable[..., Any],
    *,
    op: str,
    framework: str,
    reference: str = "ideal",
    dtypes: Sequence[str] = DEFAULT_DTYPES,
    args: str = "true,pred",
    **params: Any,
) -> GateResult:
    """Gate a function object from Python; it runs in this process (no crash isolation)."""
    variants = reference_variants(reference)
    selected = gate_cases(op, params, dtypes)
    inner = _framework_adapter(framework)
    from_logits = bool(params.get("from_logits", False)) if op in LOSSES else None
    implementation = implementation_for(fn, getattr(fn, "__qualname__", "loss"), op, from_logits, args)
    raws = []
    for (case_id, dtype), (case_params, inputs) in materialize_all(selected).items():
        case = next(c for c in selected if c.id == case_id)
        raw = RawResult(case, dtype, f"custom[{framework}]", implementation.describe(), "ok", case_params, inputs)
        try:
            outcome = inner.run(implementation, case_params, inputs, dtype)
        except Exception as error:  # the user's function raising is a verdict
            raw.status, raw.message = "error", f"{type(error).__name__}: {error}"
        else:
            raw.value, raw.value_dtype, raw.grad, raw.grad_dtype = (
                outcome.value,
                outcome.value_dtype,
                outcome.grad,
                outcome.grad_dtype,
            )
        raws.append(raw)
    return _judge(raws, variants, [])


@functools.cache
def _framework_adapter(framework: str) -> Any:
    try:
        return loaded(framework)
    except ValueError:
        raise GateUsageError(f"the gate runs {', '.join(FRAMEWORKS)} functions, not {framework!r}") from None
