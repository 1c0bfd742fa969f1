"""The end of ``conformance run``: what failed, worst first, each with the command that reproduces it.

Like pytest's short summary: one line per unexplained result (crash, timeout, error, fail),
ordered by verdict (worst first) then by ULP error (largest first), and under it the one-line
``conformance explain`` that reruns exactly that input on exactly that implementation, so a
porter can go from the terminal to the mechanism without opening the report.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from .findings import severity
from .records import PROBLEMS, VERDICT_ORDER, ReportDocument, ResultRecord

#: Lines of the summary; the rest are counted, not listed (report.html has them all).
SHOWN = 20
_RANK: dict[str, int] = {verdict: rank for rank, verdict in enumerate(VERDICT_ORDER)}


def worst_first(report: ReportDocument) -> list[ResultRecord]:
    """The unexplained results, worst verdict first, then the largest ULP error first."""
    problems = [r for r in report["results"] if r["verdict"] in PROBLEMS]
    return sorted(problems, key=lambda r: (_RANK[r["verdict"]], -severity(r), r["case"], r["implementation"]))


def _complete(value: Any) -> bool:
    """False for an array the report summarised (``{"shape", "truncated", "head"}``): not reproducible."""
    if isinstance(value, Mapping):
        return "truncated" not in value and all(_complete(v) for v in value.values())
    if isinstance(value, list):
        return all(_complete(v) for v in value)
    return True


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def explain_command(record: ResultRecord) -> str | None:
    """``conformance explain ...`` for this result's op, params, inputs, dtype and framework.

    The report's inputs and params are the values the framework held in the dtype, printed
    exactly (shortest round-trip repr), so rounding them into the dtype again is the identity.
    ``None`` when an input is too large to have been kept whole in the report.
    """
    inputs = record["inputs"]
    if not _complete(inputs) or not _complete(record["params"]):
        return None
    words = ["conformance", "explain", "--op", record["op"]]
    for name, value in record["params"].items():
        words += ["--param", f"{name}={_json(value)}"]
    main = ("y_true", "y_pred") if "y_true" in inputs else ("x",)
    if "y_true" in inputs:
        words += ["--y-true", _json(inputs["y_true"]), "--y-pred", _json(inputs["y_pred"])]
    else:
        words += ["--y-pred", _json(inputs["x"])]
    for name, value in inputs.items():
        if name not in main:
            words += ["--input", f"{name}={_json(value)}"]
    words += ["--dtype", record["dtype"], "--framework", record["framework"]]
    return shlex.join(words)


def _ulps(record: ResultRecord) -> str:
    ulp = record["max_ulp_error"]
    if isinstance(ulp, int | float):
        return f"{ulp:.3g} ulp"
    return f"{ulp} ulp" if ulp is not None else record["message"].splitlines()[0][:100] if record["message"] else ""


def summary(report: ReportDocument, shown: int = SHOWN) -> str:
    """The short summary of unexplained results; empty when there are none."""
    problems = worst_first(report)
    if not problems:
        return ""
    lines = [f"{len(problems)} unexplained result(s), worst first:"]
    for record in problems[:shown]:
        lines.append(
            f"{record['verdict'].upper():<8} {record['case']} [{record['implementation']} {record['dtype']} "
            f"{record['quantity']}] {_ulps(record)}"
        )
        command = explain_command(record)
        lines.append(f"    {command}" if command else "    (inputs over 1,000 elements: see report.json)")
    if len(problems) > shown:
        lines.append(f"... and {len(problems) - shown} more in report.html")
    return "\n".join(lines)
