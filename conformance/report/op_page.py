"""One op's page of the report: its implementations side by side, its sweeps, its cases.

Columns are the op's implementations only, grouped under their framework; a framework with
no native implementation of the op gets no column but a line saying so. Each distinct
explanation is written once, numbered, and the results it explains point to it.
"""

from __future__ import annotations

from collections import defaultdict

from oracle.formats import DTYPES

from . import plots
from .page import filters, json_text, label, legend, natural, number_text, verdicts_attribute, why, worst
from .records import VERDICT_ORDER, ResultRecord, Verdict
from .visible import escape


def body(op: str, records: list[ResultRecord], frameworks: list[str]) -> list[str]:
    columns = _columns(records)
    absent = _absent(records)
    notes = _Notes()
    figures = plots.series(records)
    colours = plots.plotted_palette(records)
    figure_of = {(point[1]["case"]): entry.key for entry in figures for point in entry.points}
    by_case: dict[str, list[ResultRecord]] = defaultdict(list)
    for record in records:
        by_case[record["case"]].append(record)
    cases = sorted(by_case, key=natural)
    details = [_detail(case, by_case[case], notes, figure_of.get(case)) for case in cases]
    return [
        f'<p><a href="../report.html">← summary</a></p><h1>{escape(op)}</h1>',
        legend(),
        f"<p class=muted>no column: {escape('; '.join(reason for _, reason in sorted(absent.items())))}</p>"
        if absent
        else "",
        filters({"framework": frameworks, "dtype": list(DTYPES), "verdict": list(VERDICT_ORDER)}),
        _matrix(op, cases, by_case, columns),
        *_sweeps(figures, colours),
        "<h2>Explanations</h2>",
        notes.render(),
        "<h2>Cases</h2>",
        *details,
    ]


def _columns(records: list[ResultRecord]) -> list[tuple[str, str]]:
    """(framework, implementation) of every real implementation of the op, by framework."""
    return sorted(
        {(r["framework"], r["implementation"]) for r in records if not r["implementation"].endswith(":(none)")}
    )


def _absent(records: list[ResultRecord]) -> dict[str, str]:
    """Frameworks whose every result here is their ``<framework>:(none)`` placeholder, and why."""
    real = {r["framework"] for r in records if not r["implementation"].endswith(":(none)")}
    return {r["framework"]: r["message"] for r in records if r["framework"] not in real}


def short_name(framework: str, implementation: str) -> str:
    """The implementation without its framework's prefix: ``torch.nn.functional.x`` -> ``nn.functional.x``."""
    head, dot, rest = implementation.partition(".")
    return rest if dot and head.split("[")[0] in framework else implementation


def _matrix(op: str, cases: list[str], by_case: dict[str, list[ResultRecord]], columns: list[tuple[str, str]]) -> str:
    groups: dict[str, int] = defaultdict(int)
    for framework, _ in columns:
        groups[framework] += 1
    top = "".join(
        f'<th class=fw colspan={n} data-framework="{escape(fw)}">{escape(fw)}</th>' for fw, n in groups.items()
    )
    names = "".join(
        f'<th class=impl data-framework="{escape(fw)}" title="{escape(impl)}">{escape(short_name(fw, impl))}</th>'
        for fw, impl in columns
    )
    rows = []
    for case in cases:
        cell_records: dict[tuple[str, str], list[ResultRecord]] = defaultdict(list)
        for record in by_case[case]:
            cell_records[(record["dtype"], record["implementation"])].append(record)
        for dtype in DTYPES:
            if not any(key[0] == dtype for key in cell_records):
                continue
            cells = "".join(_cell(fw, cell_records.get((dtype, impl), [])) for fw, impl in columns)
            rows.append(
                f'<tr class=row data-op="{escape(op)}" data-case="{escape(case)}" data-dtype="{dtype}">'
                f'<th><a href="#{escape(anchor(case))}">{escape(case)}</a></th><th>{dtype}</th>{cells}</tr>'
            )
    return (
        f"<table class=matrix><thead><tr><th rowspan=2>case</th><th rowspan=2>dtype</th>{top}</tr>"
        f"<tr>{names}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _cell(framework: str, records: list[ResultRecord]) -> str:
    found = worst(records)
    if found is None:
        return f'<td class=none data-framework="{escape(framework)}"></td>'
    tip = " | ".join(f"{r['quantity']}: {r['verdict']}, {why(r)}" for r in records)
    return (
        f'<td class=cell data-framework="{escape(framework)}" data-verdict="{found["verdict"]}" '
        f'data-verdicts="{verdicts_attribute(records)}" '
        f'title="{escape(tip)}">{escape(label(found))}</td>'
    )


def anchor(text: str) -> str:
    return "case-" + "".join(c if c.isalnum() else "-" for c in text)


class _Notes:
    """Each explanation's text once, numbered in order of first use."""

    def __init__(self) -> None:
        self.numbers: dict[tuple[str, str, str], int] = {}

    def ref(self, record: ResultRecord) -> str:
        explanation = record.get("explanation")
        if not explanation:
            return escape(record["message"])
        key = (explanation["name"], explanation["text"], explanation["link"])
        number = self.numbers.setdefault(key, len(self.numbers) + 1)
        specifics = ""
        if explanation["kind"] == "model" and explanation["distance_ulp"] is not None:
            specifics = f", model reproduces it within {explanation['distance_ulp']} ulp"
        return f'<a href="#note-{number}">[{number}] {escape(explanation["name"])}</a>{escape(specifics)}'

    def render(self) -> str:
        if not self.numbers:
            return "<p class=muted>none: no result here differs in an explained way</p>"
        items = "".join(
            f'<li id="note-{n}"><b>{escape(name)}</b>: {escape(text)} '
            + (f"<span class=muted>{escape(link)}</span>" if link else "")
            + "</li>"
            for (name, text, link), n in sorted(self.numbers.items(), key=lambda item: item[1])
        )
        return f"<ol>{items}</ol>"


def _detail(case: str, rows: list[ResultRecord], notes: _Notes, figure: str | None) -> str:
    first = rows[0]
    parts = [
        f'<section class=detail id="{escape(anchor(case))}" data-case="{escape(case)}"><h3>{escape(case)}</h3>',
        f"<p>{escape(first['description'])}</p>",
        f"<p class=muted>params <code>{json_text(first['params'])}</code> · provenance {escape(first['provenance'])}"
        + (f' · <a href="#{escape(anchor("sweep-" + figure))}">plotted in its sweep</a>' if figure else "")
        + "</p>",
    ]
    unsupported: dict[str, str] = {}
    table = [
        "<table><tr><th>dtype</th><th>implementation</th><th>quantity</th><th>verdict</th><th>returned</th>"
        "<th>max ulp</th><th>why</th></tr>"
    ]
    for dtype in DTYPES:
        in_dtype = [r for r in rows if r["dtype"] == dtype]
        exact = next((r for r in in_dtype if r["exact"] is not None and r["quantity"] == "value"), None)
        if exact is not None:
            parts.append(
                f"<p>{dtype}: inputs <code>{json_text(exact['inputs'])}</code>, exact value <code>"
                f"{json_text(exact['exact'])}</code>, correctly rounded <code>{json_text(exact['expected'])}</code></p>"
            )
        for r in sorted(in_dtype, key=lambda r: (r["implementation"], r["quantity"])):
            if r["verdict"] == Verdict.UNSUPPORTED:
                unsupported.setdefault(r["implementation"], r["message"])
                continue
            table.append(
                f'<tr class=result data-framework="{escape(r["framework"])}" data-verdict="{r["verdict"]}" '
                f'data-dtype="{dtype}"><td>{dtype}</td><td>{escape(r["implementation"])}</td><td>{r["quantity"]}</td>'
                f'<td><span class=badge data-verdict="{r["verdict"]}">{r["verdict"]}</span></td>'
                f"<td><code>{json_text(r['actual'])}</code></td><td>{escape(number_text(r['max_ulp_error']))}</td>"
                f"<td>{notes.ref(r)}</td></tr>"
            )
    if len(table) > 1:
        parts.append("".join(table) + "</table>")
    if unsupported:
        parts.append(
            "<p class=muted>unsupported here: "
            + "; ".join(f"{escape(impl)} ({escape(reason)})" for impl, reason in sorted(unsupported.items()))
            + "</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def _sweeps(figures: list[plots.Series], colours: dict[str, str]) -> list[str]:
    if not figures:
        return []
    by_key: dict[str, list[plots.Series]] = defaultdict(list)
    for entry in figures:
        by_key[entry.key].append(entry)
    out = ["<h2>Sweeps</h2>"]
    for key, entries in by_key.items():
        out.append(f'<section class=sweep id="{escape(anchor("sweep-" + key))}"><h3>{escape(key)}</h3>')
        out.append(plots.figure(entries, colours))
        out.append("</section>")
    return out
