"""``conformance diff OLD.json NEW.json``: what changed between two runs.

A *regression* is a result that was right (pass or documented) and is now wrong (fail,
xfail, error, timeout, crash), or a known divergence that its model no longer reproduces
(xfail -> fail, error, ...: the error grew beyond the model, or changed its nature), even
where both runs are wrong; a *fix* is a wrong result that is now right. Results are matched
by (case, implementation, dtype, quantity); a framework version change keeps implementation
names, so two framework versions can be compared directly. A result present on one side only is
reported too (*missing* from NEW, or *added* in it), counted per implementation: a subset run
compared with a full one must not read as "0 regressions".
"""

from __future__ import annotations

from collections import Counter

from .records import BAD, GOOD, PROBLEMS, ReportDocument, ResultRecord, Verdict

Key = tuple[str, str, str, str]
Change = tuple[Key, ResultRecord, ResultRecord]
#: Keys of the results on one side only, listed one by one up to this many, then counted.
LISTED = 10


def _index(report: ReportDocument) -> dict[Key, ResultRecord]:
    return {(r["case"], r["implementation"], r["dtype"], r["quantity"]): r for r in report["results"]}


def compare(old: ReportDocument, new: ReportDocument) -> dict[str, list[Change]]:
    before, after = _index(old), _index(new)
    changes: dict[str, list[Change]] = {
        "regressions": [],
        "fixes": [],
        "changed": [],
        "missing": [(key, before[key], before[key]) for key in sorted(before.keys() - after.keys())],
        "added": [(key, after[key], after[key]) for key in sorted(after.keys() - before.keys())],
    }
    for key in sorted(before.keys() & after.keys()):
        was, now = before[key], after[key]
        if (was["verdict"] in GOOD and now["verdict"] in BAD) or (
            was["verdict"] == Verdict.XFAIL and now["verdict"] in PROBLEMS
        ):
            changes["regressions"].append((key, was, now))
        elif was["verdict"] in BAD and now["verdict"] in GOOD:
            changes["fixes"].append((key, was, now))
        elif was["actual"] != now["actual"] or was["verdict"] != now["verdict"]:
            changes["changed"].append((key, was, now))
    return changes


def _one_side(kind: str, changes: list[Change]) -> list[str]:
    """``N missing from NEW`` (or ``added in NEW``), per implementation, then the first few results."""
    where = "missing from NEW (in OLD only)" if kind == "missing" else "added in NEW (not in OLD)"
    lines = [f"{len(changes)} {where}"]
    if not changes:
        return lines
    counts = Counter(implementation for (_, implementation, _, _), _, _ in changes)
    lines.append("  by implementation: " + ", ".join(f"{name} {n}" for name, n in counts.most_common()))
    for (case, implementation, dtype, quantity), record, _ in changes[:LISTED]:
        lines.append(f"  {case} [{implementation} {dtype} {quantity}]: {record['verdict']}")
    if len(changes) > LISTED:
        lines.append(f"  ... and {len(changes) - LISTED} more")
    return lines


def describe(changes: dict[str, list[Change]]) -> str:
    lines = []
    for kind in ("regressions", "fixes", "changed"):
        lines.append(f"{len(changes[kind])} {kind}")
        for (case, implementation, dtype, quantity), was, now in changes[kind]:
            lines.append(
                f"  {case} [{implementation} {dtype} {quantity}]: {was['verdict']} -> {now['verdict']}; "
                f"{was['actual']} -> {now['actual']} (exact {now['exact']})"
            )
    for kind in ("missing", "added"):
        lines += _one_side(kind, changes.get(kind, []))
    return "\n".join(lines)
