"""``conformance findings REPORT``: the divergences of a run as a markdown table.

One row per explanation (a registered divergence or a documented variant), with the
result that shows it worst: implementation, case, dtype, input, exact value, returned
value, ULP error, and how many results share the explanation. The README's findings
table is this command's output.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .records import ReportDocument, ResultRecord, Verdict

SHOWN = (Verdict.XFAIL, Verdict.DOCUMENTED)


def _key(record: ResultRecord) -> str:
    if record["verdict"] == Verdict.DOCUMENTED:
        return f"documented: {record['semantics']}"
    message: str = record["message"]
    return message.split(" (http")[0].removeprefix("known divergence: ")


def severity(record: ResultRecord) -> float:
    ulp = record["max_ulp_error"]
    if isinstance(ulp, int | float):
        return float(ulp)
    return math.inf if ulp == "inf" else -1.0


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def table(report: ReportDocument) -> str:
    groups: dict[str, list[ResultRecord]] = {}
    for record in report["results"]:
        if record["verdict"] in SHOWN:
            groups.setdefault(_key(record), []).append(record)
    lines = [
        "| explanation | results | worst: implementation | case, dtype, quantity | input | exact | returned | ulp |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for explanation, records in sorted(groups.items(), key=lambda item: -len(item[1])):
        worst = max(records, key=severity)
        reason = explanation if len(explanation) <= 160 else explanation[:157] + "..."
        lines.append(
            f"| {reason} | {len(records)} | `{worst['implementation']}` | {worst['case']}, {worst['dtype']}, "
            f"{worst['quantity']} | `{_short(worst['inputs'])}` | `{_short(worst['exact'], 40)}` | "
            f"`{_short(worst['actual'], 40)}` | {worst['max_ulp_error']} |"
        )
    return "\n".join(lines)
