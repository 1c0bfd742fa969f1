"""report.html: one self-contained page rendered from report.json alone.

* A matrix: one row per (case, dtype), one column per implementation, each cell coloured
  by the worse verdict of value and gradient and showing the worst ULP error.
* Filters by op, framework, dtype and verdict (a few lines of inline JavaScript that only
  hide rows and columns; the page reads fine without it).
* A detail section per case: description, provenance, inputs, the exact value, and every
  implementation's value, error and the semantic variant that explains it, in words.
* For swept cases, SVG plots of the value and of the ULP error against the swept
  parameter, drawn here (seed 001's figure, by the tool).

No network access, no CDN; every piece of text from a case file is escaped.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from html import escape as escape_html
from typing import Any

from oracle.formats import DTYPES as FORMAT_ORDER

from .records import VERDICT_ORDER, ReportDocument, ResultRecord, Verdict
from .visible import visible


def escape(text: str, quote: bool = True) -> str:
    """HTML-escaped, with bidi overrides and control characters shown as <U+XXXX>."""
    return escape_html(visible(text), quote)


COLOURS: dict[str, str] = {
    Verdict.PASS: "#2e7d32",
    Verdict.DOCUMENTED: "#1565c0",
    Verdict.XFAIL: "#8e24aa",
    Verdict.FAIL: "#c62828",
    Verdict.ERROR: "#ef6c00",
    Verdict.TIMEOUT: "#6d4c41",
    Verdict.CRASH: "#000000",
    Verdict.UNSUPPORTED: "#9e9e9e",
}
DTYPES = list(FORMAT_ORDER)

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}h3{font-size:1em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th.impl{writing-mode:vertical-rl;font-weight:normal;white-space:nowrap;vertical-align:bottom}
td.cell{color:#fff;text-align:center;font-size:12px;min-width:3.2em}
.badge{display:inline-block;color:#fff;border-radius:3px;padding:0 5px;margin:1px}
.filters label{margin-right:1em}.filters select{margin-left:.3em}
code,pre{font-size:12px}pre{white-space:pre-wrap;max-width:60em}
.detail{border-top:2px solid #888;margin-top:1.5em}.muted{color:#777}
svg{background:#fafafa;border:1px solid #ddd;margin:.5em .5em 0 0}
"""

SCRIPT = """
function applyFilters(){
  const get=id=>document.getElementById(id).value;
  const op=get('f-op'),fw=get('f-framework'),dt=get('f-dtype'),vd=get('f-verdict');
  document.querySelectorAll('[data-framework]').forEach(el=>{
    el.style.display=(!fw||el.dataset.framework===fw)?'':'none';});
  document.querySelectorAll('tr.row').forEach(tr=>{
    let show=(!op||tr.dataset.op===op)&&(!dt||tr.dataset.dtype===dt);
    if(show&&vd){show=[...tr.querySelectorAll('td.cell')].some(td=>
      td.dataset.verdict===vd&&(!fw||td.dataset.framework===fw));}
    tr.style.display=show?'':'none';});
  // Hide implementation columns that have no result in the rows left.
  const visible=[...document.querySelectorAll('tr.row')].filter(tr=>tr.style.display!=='none');
  document.querySelectorAll('th.impl').forEach(th=>{
    const col=th.dataset.col;
    const used=visible.some(tr=>tr.querySelector(`td.cell[data-col="${col}"]`));
    const show=used&&(!fw||th.dataset.framework===fw);
    document.querySelectorAll(`[data-col="${col}"]`).forEach(el=>{el.style.display=show?'':'none';});});
  let shown=visible.length;
  document.getElementById('shown').textContent=shown;
}
document.addEventListener('change',e=>{if(e.target.closest('.filters'))applyFilters();});
// Filters can be preset from the address: report.html?verdict=fail&framework=torch
new URLSearchParams(location.search).forEach((value,key)=>{
  const select=document.getElementById('f-'+key);if(select)select.value=value;});
"""


def _worst(verdicts: list[str]) -> str:
    return min(verdicts, key=VERDICT_ORDER.index) if verdicts else Verdict.UNSUPPORTED


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _text(value: Any) -> str:
    return escape(json.dumps(value) if not isinstance(value, str) else value)


def _select(name: str, label: str, options: list[str]) -> str:
    choices = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in options)
    return f'<label>{label}<select id="f-{name}"><option value="">all</option>{choices}</select></label>'


def render(report: ReportDocument) -> str:
    results = report["results"]
    implementations = sorted({(r["framework"], r["implementation"]) for r in results})
    by_cell: dict[tuple[str, str, str], list[ResultRecord]] = defaultdict(list)
    by_case: dict[str, list[ResultRecord]] = defaultdict(list)
    for r in results:
        by_cell[(r["case"], r["dtype"], r["implementation"])].append(r)
        by_case[r["case"]].append(r)
    ops = sorted({r["op"] for r in results})
    frameworks = sorted({r["framework"] for r in results})
    summary = report["summary"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<title>loss-conformance report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>loss-conformance report</h1>",
        f"<p class=muted>created {escape(report['created'])} · python {escape(report['environment']['python'])} · "
        + " · ".join(f"{escape(k)} {escape(v)}" for k, v in report["environment"]["frameworks"].items())
        + "</p>",
        "<p>"
        + " ".join(
            f'<span class=badge style="background:{COLOURS[v]}">{v} {summary["verdicts"].get(v, 0)}</span>'
            for v in VERDICT_ORDER
            if summary["verdicts"].get(v)
        )
        + "</p>",
        _skips_and_registry(report),
        '<div class="filters">',
        _select("op", "op", ops),
        _select("framework", "framework", frameworks),
        _select("dtype", "dtype", DTYPES),
        _select("verdict", "verdict", list(VERDICT_ORDER)),
        ' <span class=muted><span id="shown"></span> rows shown</span></div>',
        _matrix(by_cell, implementations, by_case),
        "<h2>Cases</h2>",
        *(_detail(case, by_case[case]) for case in sorted(by_case, key=natural)),
        "<h2>Sweeps</h2>",
        sweep_plots(report),
        f"<script>{SCRIPT}applyFilters();</script></body></html>",
    ]
    return "\n".join(parts)


def _skips_and_registry(report: ReportDocument) -> str:
    lines = [f"<li>skipped {escape(k)}: {escape(v)}</li>" for k, v in report["environment"].get("skipped", {}).items()]
    lines += [
        f"<li>known divergence <b>{escape(d['status'])}</b>: {escape(d['name'])} ({escape(d['implementation'])}): "
        f"{escape(d['reason'])}</li>"
        for d in report.get("divergences", [])
        if d["status"] != "active"
    ]
    lines += [f"<li>case file error: {escape(e)}</li>" for e in report.get("case_errors", [])]
    return f"<ul>{''.join(lines)}</ul>" if lines else ""


def _matrix(
    by_cell: dict[tuple[str, str, str], list[ResultRecord]],
    implementations: list[tuple[str, str]],
    by_case: dict[str, list[ResultRecord]],
) -> str:
    head = "".join(
        f'<th class=impl data-col="{i}" data-framework="{escape(fw)}">{escape(name)}</th>'
        for i, (fw, name) in enumerate(implementations)
    )
    rows = []
    for case in sorted(by_case, key=natural):
        op = by_case[case][0]["op"]
        for dtype in DTYPES:
            cells = []
            if not any((case, dtype, name) in by_cell for _, name in implementations):
                continue
            for column, (framework, name) in enumerate(implementations):
                records = by_cell.get((case, dtype, name), [])
                if not records:
                    cells.append(f'<td data-col="{column}" data-framework="{escape(framework)}"></td>')
                    continue
                verdict = _worst([r["verdict"] for r in records])
                ulps = [r["max_ulp_error"] for r in records if isinstance(r["max_ulp_error"], int | float)]
                infinite = any(r["max_ulp_error"] == "inf" for r in records)
                label = "inf" if infinite else (_fmt(max(ulps)) if ulps else "")
                tip = " | ".join(f"{r['quantity']}: {r['verdict']} {r['message']}" for r in records)
                cells.append(
                    f'<td class=cell data-col="{column}" data-framework="{escape(framework)}" data-verdict="{verdict}" '
                    f'style="background:{COLOURS[verdict]}" title="{escape(tip)}">{escape(label)}</td>'
                )
            anchor = escape(_anchor(case))
            rows.append(
                f'<tr class=row data-op="{escape(op)}" data-dtype="{dtype}"><th><a href="#{anchor}">'
                f"{escape(case)}</a></th><th>{dtype}</th>{''.join(cells)}</tr>"
            )
    header = f"<thead><tr><th>case</th><th>dtype</th>{head}</tr></thead>"
    return f"<table class=matrix>{header}<tbody>{''.join(rows)}</tbody></table>"


def natural(text: str) -> list[Any]:
    """Sort key that puts a=9 before a=10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _anchor(case: str) -> str:
    return "case-" + "".join(c if c.isalnum() else "-" for c in case)


def _detail(case: str, rows: list[ResultRecord]) -> str:
    first = rows[0]
    parts = [
        f'<section class=detail id="{escape(_anchor(case))}"><h3>{escape(case)}</h3>',
        f"<p>{escape(first['description'])}</p>",
        f"<p class=muted>op <code>{escape(first['op'])}</code> · params <code>{_text(first['params'])}</code> · "
        f"provenance {escape(first['provenance'])}</p>",
    ]
    for dtype in DTYPES:
        in_dtype = [r for r in rows if r["dtype"] == dtype]
        if not in_dtype:
            continue
        parts.append(
            f"<h4>{dtype}</h4><p>inputs as rounded to {dtype}: <code>{_text(in_dtype[0]['inputs'])}</code></p>"
        )
        exact = next((r for r in in_dtype if r["exact"] is not None and r["quantity"] == "value"), None)
        if exact is not None:
            parts.append(
                f"<p>exact value <code>{_text(exact['exact'])}</code>, correctly rounded "
                f"<code>{_text(exact['expected'])}</code></p>"
            )
        table = [
            "<table><tr><th>implementation</th><th>quantity</th><th>verdict</th><th>returned</th>"
            "<th>max ulp</th><th>semantics</th><th>why</th></tr>"
        ]
        for r in sorted(in_dtype, key=lambda r: (r["implementation"], r["quantity"])):
            table.append(
                f'<tr data-framework="{escape(r["framework"])}"><td>{escape(r["implementation"])}</td>'
                f'<td>{r["quantity"]}</td><td><span class=badge style="background:{COLOURS[r["verdict"]]}">'
                f"{r['verdict']}</span></td><td><code>{_text(r['actual'])}</code></td>"
                f"<td>{escape(_fmt(r['max_ulp_error']))}</td><td>{escape(r['semantics'])}</td>"
                f"<td>{escape(r['message'])}</td></tr>"
            )
        table.append("</table>")
        parts.append("".join(table))
    if first.get("sweep"):
        parts.append(
            "<p class=muted>part of the sweep <code>" + escape(first.get("sweep_group", "")) + "</code>"
            f' — see <a href="#{escape(_anchor("sweep-" + first.get("sweep_group", "")))}">its plots</a></p>'
        )
    parts.append("</section>")
    return "".join(parts)


def sweep_plots(report: ReportDocument) -> str:
    """SVG plots of value and ULP error against the swept parameter, per sweep and dtype."""
    groups: dict[str, list[ResultRecord]] = defaultdict(list)
    for r in report["results"]:
        if r.get("sweep_group") and len(r.get("sweep", {})) == 1 and r["quantity"] == "value":
            groups[r["sweep_group"]].append(r)
    out = []
    for group, rows in sorted(groups.items()):
        out.append(f'<section id="{escape(_anchor("sweep-" + group))}"><h3>sweep {escape(group)}</h3>')
        for dtype in DTYPES:
            in_dtype = [r for r in rows if r["dtype"] == dtype and r["verdict"] != Verdict.UNSUPPORTED]
            if not in_dtype:
                continue
            out.append(f"<h4>{dtype}</h4>")
            out.append(_plot(in_dtype, "value", log=True))
            out.append(_plot(in_dtype, "max_ulp_error", log=True))
        out.append("</section>")
    return "".join(out)


def _number(value: Any) -> float | None:
    if isinstance(value, list):
        flat = [v for v in _flatten(value) if isinstance(v, int | float)]
        return float(sum(flat) / len(flat)) if flat else None
    return float(value) if isinstance(value, int | float) else None


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [x for item in value for x in _flatten(item)]
    return [value]


def _plot(rows: list[ResultRecord], what: str, log: bool) -> str:
    """One small SVG: a line per implementation (and the exact value, for 'value')."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rows:
        try:
            x = float(next(iter(r["sweep"].values())))
        except ValueError:
            return ""  # a sweep over tokens (max, eps, ...) has no numeric axis
        y = _number(r["actual"] if what == "value" else r["max_ulp_error"])
        if y is not None:
            series[r["implementation"]].append((x, y))
        if what == "value":
            exact = _number(r["expected"])
            if exact is not None:
                series["exact (oracle)"].append((x, exact))
    points = [(x, y) for line in series.values() for x, y in line if not log or y > 0]
    if not points:
        return ""
    width, height, pad = 520, 260, 40
    xs, ys = [p[0] for p in points], [math.log10(p[1]) if log else p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def sx(x: float) -> float:
        return pad + (x - x0) / (x1 - x0) * (width - 2 * pad)

    def sy(y: float) -> float:
        return height - pad - ((math.log10(y) if log else y) - y0) / (y1 - y0) * (height - 2 * pad)

    palette = ["#c62828", "#1565c0", "#2e7d32", "#ef6c00", "#8e24aa", "#00838f", "#6d4c41", "#455a64"]
    lines, legend = [], []
    for index, (name, line) in enumerate(sorted(series.items())):
        colour = "#000" if name.startswith("exact") else palette[index % len(palette)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line) if not log or y > 0)
        dash = ' stroke-dasharray="4 3"' if name.startswith("exact") else ""
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="{coords}"/>')
        legend.append(
            f'<text x="{pad + 5}" y="{pad + 12 * index}" fill="{colour}" font-size="10">{escape(name)}</text>'
        )
    label = "value (log10)" if what == "value" else "max ulp error (log10)"
    axes = (
        f'<text x="{width / 2}" y="{height - 8}" font-size="11" text-anchor="middle">swept parameter '
        f"{x0:g} .. {x1:g}</text>"
        f'<text x="10" y="{height / 2}" font-size="11" transform="rotate(-90 10 {height / 2})" '
        f'text-anchor="middle">{label}: {y0:.3g} .. {y1:.3g}</text>'
    )
    return (
        f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="{escape(label)}">{axes}{"".join(lines)}{"".join(legend)}</svg>'
    )
