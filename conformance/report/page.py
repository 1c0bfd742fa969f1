"""What every page of the HTML report shares: colours, the legend, filters, cell labels, the frame."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .records import VERDICT_ORDER, ResultRecord, Verdict
from .visible import escape

OPS_FOLDER = "report-ops"
ENTRY = "report.html"

COLOURS: dict[str, str] = {
    Verdict.PASS: "#2e7d32",
    Verdict.DOCUMENTED: "#1565c0",
    Verdict.XFAIL: "#8e24aa",
    Verdict.FAIL: "#c62828",
    Verdict.ERROR: "#ef6c00",
    Verdict.TIMEOUT: "#6d4c41",
    Verdict.CRASH: "#000000",
    Verdict.UNSUPPORTED: "#bdbdbd",
}
#: What a verdict means, for the legend; and the short label a matrix cell shows.
MEANING: dict[str, tuple[str, str]] = {
    Verdict.PASS: ("ok", "within tolerance of the exact value"),
    Verdict.DOCUMENTED: ("doc", "differs as the implementation documents (a semantic variant)"),
    Verdict.XFAIL: ("xf", "a known divergence, reproduced by its model of the computation"),
    Verdict.FAIL: ("ULPs", "an unexplained divergence: the cell shows the worst error in ULPs"),
    Verdict.ERROR: ("err", "raised on a valid input"),
    Verdict.TIMEOUT: ("t/o", "hung past the timeout"),
    Verdict.CRASH: ("crash", "killed its worker"),
    Verdict.UNSUPPORTED: ("–", "no native implementation of this op, param, reduction or dtype"),
}

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em;color:#222}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin-top:1.6em}h3{font-size:1em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 5px;text-align:left;vertical-align:top}
td.cell{color:#fff;text-align:center;font-size:12px;min-width:3em;white-space:nowrap}
td.cell a{color:inherit;text-decoration:none;display:block}
td.cell small{display:block;font-size:10px;opacity:.9;max-width:13em;overflow:hidden;text-overflow:ellipsis}
td.none{background:#f5f5f5;color:#999;text-align:center}
tr.row>th{white-space:nowrap;font-weight:normal;font-size:12px}th.fw{text-align:center;background:#f0f0f0}th.impl{font-weight:normal;font-size:11px;white-space:nowrap}
th.picked,td.picked{outline:2px solid #ffb300;outline-offset:-2px}
.badge{display:inline-block;color:#fff;border-radius:3px;padding:0 5px;margin:1px}
.legend span.badge{min-width:3em;text-align:center}.legend{font-size:12px;columns:2;max-width:70em;margin:.8em 0}
.filters{margin:.8em 0}.filters label{margin-right:1em}.filters select{margin-left:.3em}
code,pre{font-size:12px}.muted{color:#777}.detail{border-top:1px solid #aaa;margin-top:1.2em}
.detail,.sweep{content-visibility:auto;contain-intrinsic-size:auto 30em}
svg{max-width:100%;height:auto}
"""
#: Each verdict's colour as a CSS rule on ``data-verdict``, so no cell carries a style of its own.
STYLE += "".join(f"td[data-verdict={v}],span[data-verdict={v}]{{background:{c}}}" for v, c in COLOURS.items())

SCRIPT = """
const pick=new URLSearchParams(location.search);
pick.forEach((v,k)=>{const s=document.getElementById('f-'+k);if(s)s.value=v;});
function applyFilters(){
  const get=id=>{const s=document.getElementById('f-'+id);return s?s.value:'';};
  const op=get('op'),fw=get('framework'),dt=get('dtype'),vd=get('verdict');
  const shownCases=new Set();let shown=0;
  document.querySelectorAll('tr.row').forEach(tr=>{
    let show=(!op||tr.dataset.op===op)&&(!dt||tr.dataset.dtype===dt);
    if(show&&(vd||fw)){show=[...tr.querySelectorAll('td.cell')].some(td=>
      (!vd||td.dataset.verdicts.split(' ').includes(vd))&&(!fw||td.dataset.framework===fw)
      &&(vd||td.dataset.verdict!=='unsupported'));}
    tr.style.display=show?'':'none';
    if(show){shown++;if(tr.dataset.case)shownCases.add(tr.dataset.case);}});
  // Every framework keeps its columns: the chosen one is outlined, not the others hidden.
  document.querySelectorAll('[data-framework]').forEach(el=>{
    el.classList.toggle('picked',!!fw&&el.dataset.framework===fw&&!el.closest('tr.result'));});
  document.querySelectorAll('section.detail').forEach(s=>{s.style.display=shownCases.has(s.dataset.case)?'':'none';});
  document.querySelectorAll('tr.result').forEach(tr=>{
    tr.style.display=(!vd||tr.dataset.verdict===vd)&&(!dt||tr.dataset.dtype===dt)?'':'none';});
  const out=document.getElementById('shown');if(out)out.textContent=shown;
}
document.addEventListener('change',e=>{if(e.target.closest('.filters'))applyFilters();});
applyFilters();
// How long the page took to be ready, as the browser measured it (read by the browser test).
addEventListener('load',()=>{document.documentElement.dataset.loadedMs=Math.round(performance.now());});
"""


# -- pieces --------------------------------------------------------------------------


def worst(records: Iterable[ResultRecord]) -> ResultRecord | None:
    """The record that matters most: the worst verdict, then the largest ULP error.
    ``unsupported`` counts only when nothing else is there."""
    found = list(records)
    if not found:
        return None
    supported = [r for r in found if r["verdict"] != Verdict.UNSUPPORTED] or found
    return min(supported, key=lambda r: (VERDICT_ORDER.index(Verdict(r["verdict"])), -_ulp(r)))


def _ulp(record: ResultRecord) -> float:
    value = record["max_ulp_error"]
    if value == "inf":
        return float("inf")
    return float(value) if isinstance(value, int | float) else -1.0


def number_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return "" if value is None else str(value)


def json_text(value: Any, limit: int = 240) -> str:
    """A value as JSON, cut at ``limit`` characters (a 1,000-element array belongs in report.json)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def verdicts_attribute(records: Iterable[ResultRecord]) -> str:
    """``data-verdicts``: every verdict in a cell, so the verdict filter finds one hidden behind a worse."""
    return " ".join(sorted({r["verdict"] for r in records}))


def label(record: ResultRecord) -> str:
    """A cell's text: the worst ULP error for a failure, a short word otherwise (a passing
    cell shows no number: its error is within tolerance by definition)."""
    if record["verdict"] == Verdict.FAIL:
        return number_text(record["max_ulp_error"]) or "fail"
    return MEANING[record["verdict"]][0]


def why(record: ResultRecord) -> str:
    """One line: the explanation's name, or the message's first clause."""
    explanation = record.get("explanation")
    if explanation:
        return explanation["name"]
    return record["message"].split(";")[0]


def op_path(op: str) -> str:
    return f"{OPS_FOLDER}/{op}.html"


def natural(text: str) -> list[Any]:
    """Sort key that puts a=9 before a=10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def select(name: str, options: Sequence[str]) -> str:
    choices = "".join(f'<option value="{escape(o)}">{escape(o)}</option>' for o in options)
    return f'<label>{name}<select id="f-{name}"><option value="">all</option>{choices}</select></label>'


def filters(selects: dict[str, Sequence[str]]) -> str:
    return (
        '<div class="filters">'
        + "".join(select(name, options) for name, options in selects.items())
        + ' <span class=muted><span id="shown"></span> rows shown; every framework keeps its column</span></div>'
    )


def legend() -> str:
    items = "".join(
        f'<div><span class=badge data-verdict="{v}">{escape(MEANING[v][0])}</span> '
        f"<b>{v}</b>: {escape(MEANING[v][1])}</div>"
        for v in VERDICT_ORDER
    )
    return f'<div class="legend">{items}</div>'


def page(title: str, body: Sequence[str]) -> str:
    return "\n".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            f"<script>{SCRIPT}</script></body></html>",
        ]
    )
