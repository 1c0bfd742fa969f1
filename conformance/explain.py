"""``conformance explain``: one ad-hoc input on every installed implementation.

It answers the seeds' question directly: what does Keras compute here, and why? For
each dtype it prints the exact value, every implementation's result, its ULP error, and
the documented variant that explains a divergence, in words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from conformance.corpus.cases import Case
from conformance.corpus.source import Literal
from conformance.pipeline import execute_cases
from conformance.report.records import ResultRecord, Verdict
from oracle.cache import DiskCache
from oracle.ops import definition


def parse_array(text: str) -> Any:
    """JSON, with floats kept as decimal text so they round once into each dtype."""
    return json.loads(text, parse_float=Literal)


def adhoc_case(
    op: str,
    params: dict[str, Any],
    y_true: Any,
    y_pred: Any,
    dtypes: Sequence[str],
    extra: dict[str, Any] | None = None,
) -> Case:
    """The command line's case; ``extra`` holds the op's other inputs by name (a cotangent, a variance)."""
    op_definition = definition(op)
    if "y_true" in op_definition.input_names:
        if y_true is None:
            raise ValueError(f"{op} needs --y-true")
        inputs = {"y_true": y_true, "y_pred": y_pred}
    else:
        if y_true is not None:
            raise ValueError(f"{op} takes one input: give it as --y-pred, without --y-true")
        inputs = {"x": y_pred}
    strange = set(extra or {}) - set(op_definition.input_names) - {"cotangent"}
    if strange:
        raise ValueError(
            f"{op} has no input {', '.join(sorted(strange))} (it has: {', '.join(op_definition.input_names)})"
        )
    inputs.update(extra or {})
    unknown = set(params) - set(op_definition.param_names)
    if unknown:
        takes = ", ".join(op_definition.param_names) or "none"
        raise ValueError(f"{op} takes no param {', '.join(sorted(unknown))} (it takes: {takes})")
    return Case(
        id="explain",
        description="conformance explain",
        provenance="command line",
        op=op,
        params=params,
        inputs=inputs,
        dtypes=tuple(dtypes),
    )


def run(
    case: Case,
    frameworks: Sequence[str],
    timeout: float,
    cache: DiskCache | None,
    profile: str = "strict",
    device: str = "cpu",
) -> list[ResultRecord]:
    """Every record, the ``<framework>:(none)`` gaps included: they say why nothing ran."""
    report = execute_cases([case], frameworks, (), timeout, cache, profile=profile, device=device)
    return report["results"]


def without_gaps(records: Sequence[ResultRecord]) -> list[ResultRecord]:
    """The records of implementations that exist (a framework lacking the op is not a row)."""
    return [r for r in records if r["verdict"] != Verdict.UNSUPPORTED or not r["implementation"].endswith("(none)")]


def describe(case: Case, records: Sequence[ResultRecord]) -> str:
    """Per dtype and quantity: the exact answer, then each implementation's, its error and why."""
    lines = [f"{case.op} {json.dumps(case.params)}"]
    for dtype in case.dtypes:
        in_dtype = [r for r in records if r["dtype"] == dtype]
        if not in_dtype:
            continue
        lines += ["", f"{dtype}: inputs {json.dumps(in_dtype[0]['inputs'])}"]
        for quantity in ("value", "grad"):
            rows = sorted((r for r in in_dtype if r["quantity"] == quantity), key=lambda r: r["implementation"])
            lines += _quantity_lines(quantity, rows)
    return "\n".join(lines)


def _quantity_lines(quantity: str, rows: Sequence[ResultRecord]) -> list[str]:
    if not rows:
        return []
    exact = next((r for r in rows if r["exact"] is not None), None)
    lines = [f"  {quantity}: exact {json.dumps(exact['exact'])}" if exact else f"  {quantity}:"]
    width = max(len(r["implementation"]) for r in rows)
    for r in rows:
        ulp = r["max_ulp_error"]
        error = f"{ulp:.3g} ulp" if isinstance(ulp, int | float) else f"{ulp} ulp" if ulp is not None else ""
        value = json.dumps(r["actual"]) if r["actual"] is not None else "-"
        lines.append(f"    {r['implementation']:<{width}}  {r['verdict']:<11} {value:<26} {error}")
        explanation = r.get("explanation")
        if explanation is not None and explanation["kind"] == "model":
            lines.append(
                f"    {'':<{width}}  model {explanation['name']} predicts {json.dumps(explanation['predicted'])}, "
                f"{explanation['distance_ulp']} ulp away: {explanation['text']}"
            )
        elif r["verdict"] not in (Verdict.PASS, Verdict.UNSUPPORTED) and r["message"]:
            lines.append(f"    {'':<{width}}  {r['message']}")
    return lines
