"""report.html and one page per op, rendered from report.json alone.

The entry page answers "who differs from whom, where, and why" on one screen: a summary grid
with a row per (op, dtype) and a cell per framework (each Keras backend apart) holding that
framework's worst result there and the reason for it. It stays small whatever the corpus
(no per-case detail), so it loads at once; each op's details live in their own page,
``report-ops/<op>.html``, loaded when asked for.

An op page has a matrix whose columns are that op's implementations only, grouped under
their framework, a legend, filters that narrow rows but keep every framework's column (the
point is the side-by-side comparison), the figures of its sweeps (:mod:`.plots`), and a
detail section per case. Each explanation's text is said once, in the page's list of
explanations, and referred to by number.

No network access, no CDN; every piece of text from a case file is escaped.
"""

from __future__ import annotations

from collections import defaultdict

from oracle.formats import DTYPES

from . import op_page
from .page import (
    ENTRY,
    OPS_FOLDER,
    filters,
    label,
    legend,
    op_path,
    page,
    verdicts_attribute,
    why,
    worst,
)
from .records import VERDICT_ORDER, ReportDocument, ResultRecord, Verdict
from .visible import escape

__all__ = ["OPS_FOLDER", "render"]

# -- the entry page ---------------------------------------------------------------------------


def render(report: ReportDocument) -> dict[str, str]:
    """Every page of the report: ``report.html`` and ``report-ops/<op>.html``, by relative path."""
    results = report["results"]
    by_op: dict[str, list[ResultRecord]] = defaultdict(list)
    for record in results:
        by_op[record["op"]].append(record)
    frameworks = sorted({r["framework"] for r in results})
    pages = {ENTRY: entry_page(report, by_op, frameworks)}
    for op, records in by_op.items():
        body = op_page.body(op, records, frameworks)
        pages[op_path(op)] = page(f"{op}: loss-conformance report", body)
    return pages


def entry_page(report: ReportDocument, by_op: dict[str, list[ResultRecord]], frameworks: list[str]) -> str:
    environment = report["environment"]
    totals = report["summary"]["verdicts"]
    body = [
        "<h1>loss-conformance report</h1>",
        f"<p class=muted>created {escape(report['created'])} · python {escape(environment['python'])} · "
        + " · ".join(f"{escape(k)} {escape(v)}" for k, v in environment["frameworks"].items())
        + "</p>",
        "<p>"
        + " ".join(
            f'<span class=badge data-verdict="{v}">{v} {totals[v]}</span>' for v in VERDICT_ORDER if totals.get(v)
        )
        + "</p>",
        *_case_errors(report),
        "<h2>Summary: each framework's worst result per op and dtype</h2>",
        "<p class=muted>A cell is a framework's worst result over the op's cases in that dtype, and why (for an "
        "unexplained failure: where); "
        "×n: how many of its results there have that verdict. Click a cell for the op's page, filtered to it.</p>",
        filters({"op": sorted(by_op), "framework": frameworks, "dtype": list(DTYPES), "verdict": list(VERDICT_ORDER)}),
        summary_grid(by_op, frameworks),
        legend(),
        *_notes(report),
    ]
    return page("loss-conformance report", body)


def summary_grid(by_op: dict[str, list[ResultRecord]], frameworks: list[str]) -> str:
    head = "".join(f'<th class=fw data-framework="{escape(fw)}">{escape(fw)}</th>' for fw in frameworks)
    rows = []
    for op in sorted(by_op):
        cells: dict[tuple[str, str], list[ResultRecord]] = defaultdict(list)
        for record in by_op[op]:
            cells[(record["dtype"], record["framework"])].append(record)
        for dtype in [d for d in DTYPES if any(key[0] == d for key in cells)]:
            row = [
                f'<tr class=row data-op="{escape(op)}" data-dtype="{dtype}">'
                f'<th><a href="{escape(op_path(op))}">{escape(op)}</a></th><th>{dtype}</th>'
            ]
            row += [_summary_cell(op, dtype, fw, cells.get((dtype, fw), [])) for fw in frameworks]
            rows.append("".join(row) + "</tr>")
    return (
        f"<table class=summary><thead><tr><th>op</th><th>dtype</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _summary_cell(op: str, dtype: str, framework: str, records: list[ResultRecord]) -> str:
    found = worst(records)
    if found is None:
        return f'<td class=none data-framework="{escape(framework)}">·</td>'
    verdict = found["verdict"]
    bad = sum(1 for r in records if r["verdict"] == verdict)
    # An unexplained failure has no reason to give: say where it is worst instead.
    reason = f"{found['case']} ({found['quantity']})" if verdict == Verdict.FAIL else why(found)
    tip = f"worst: {found['case']} · {found['implementation']} · {found['quantity']}: {found['message'][:200]}"
    link = f"{op_path(op)}?framework={framework}&dtype={dtype}&verdict={verdict}"
    return (
        f'<td class=cell data-framework="{escape(framework)}" data-verdict="{verdict}" '
        f'data-verdicts="{verdicts_attribute(records)}" '
        f'title="{escape(tip)}"><a href="{escape(link)}">'
        f"{escape(label(found))} <span class=count>×{bad}</span><small>{escape(reason)}</small></a></td>"
    )


def _case_errors(report: ReportDocument) -> list[str]:
    errors = report.get("case_errors", [])
    if not errors:
        return []
    return [f"<p><b>{len(errors)} case file errors</b></p><ul>", *(f"<li>{escape(e)}</li>" for e in errors), "</ul>"]


def _notes(report: ReportDocument) -> list[str]:
    """Skipped frameworks and the registry's stale or fixed entries: below the grid, folded."""
    lines = [f"<li>skipped {escape(k)}: {escape(v)}</li>" for k, v in report["environment"].get("skipped", {}).items()]
    lines += [
        f"<li>known divergence <b>{escape(d['status'])}</b>: {escape(d['name'])} ({escape(d['implementation'])}): "
        f"{escape(d['reason'])}</li>"
        for d in report.get("divergences", [])
        if d["status"] != "active"
    ]
    if not lines:
        return []
    return [f"<details><summary>{len(lines)} notes on this run (skips, registry entries that explained nothing)"
            f"</summary><ul>{''.join(lines)}</ul></details>"]  # fmt: skip
