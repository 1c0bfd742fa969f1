"""``conformance matrix``: one cross-version report from the reports of several tox envs.

Each input is a report.json written by ``conformance run`` in one environment (one version
of one framework). The merged report names every implementation ``name @ version``, so the
HTML matrix has a column per version; for each framework seen at two or more versions, the
results of consecutive versions are compared (``conformance diff``) and the regressions and
fixes are written beside it (``diff.txt``, ``diff.json``) and summarised in the report.

A framework that a later one succeeds under another adapter (Keras 2, ``tf_keras``, by Keras 3 on
TensorFlow) joins its successor's line in :data:`LINEAGES`: its newest version is compared with
the successor's oldest, its implementations renamed to theirs, so the upgrade shows as one more
step of consecutive versions.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

from . import diff
from .document import read
from .records import ReportDocument, ResultRecord, merge

#: adapter -> (the adapter that succeeds it, its implementations' prefix, the successor's prefix).
LINEAGES = {"tf_keras": ("keras-tensorflow", "tf_keras.", "keras[tensorflow].")}


def version_key(version: str) -> tuple[Any, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"\d+|[a-z]+", version))


def load(paths: list[Path]) -> list[tuple[str, ReportDocument]]:
    """Every report.json under ``paths`` (each checked: a broken one is a ReportError)."""
    found = []
    for path in paths:
        files = sorted(path.rglob("report.json")) if path.is_dir() else [path]
        for file in files:
            found.append((file.parent.name, read(file)))
    return found


def _tag(report: ReportDocument) -> ReportDocument:
    versions = report["environment"]["frameworks"]
    records: list[ResultRecord] = []
    for record in report["results"]:
        version = versions.get(record["framework"], "?").split(" ")[0]
        tagged: ResultRecord = {
            **record,
            "implementation": f"{record['implementation']} @ {version}",
            "framework": f"{record['framework']} {version}",
        }
        records.append(tagged)
    return {**report, "results": records}


def build(reports: list[tuple[str, ReportDocument]]) -> tuple[ReportDocument, list[dict[str, Any]]]:
    """The merged report and, per framework, the diffs of consecutive versions."""
    merged = merge([_tag(report) for _, report in reports])
    by_framework: dict[str, list[tuple[str, ReportDocument]]] = {}
    for _, report in reports:
        for framework, version in report["environment"]["frameworks"].items():
            subset: ReportDocument = {
                **report,
                "results": [r for r in report["results"] if r["framework"] == framework],
            }
            by_framework.setdefault(framework, []).append((version.split(" ")[0], subset))
    diffs: list[dict[str, Any]] = []
    for framework, versions in sorted(by_framework.items()):
        versions.sort(key=lambda item: version_key(item[0]))
        steps = list(itertools.pairwise(versions))
        if framework in LINEAGES and LINEAGES[framework][0] in by_framework:
            successor, prefix, new_prefix = LINEAGES[framework]
            newest_version, newest = versions[-1]
            oldest = min(by_framework[successor], key=lambda item: version_key(item[0]))
            renamed = _renamed(newest, prefix, new_prefix)
            steps.append(((newest_version, renamed), (f"{successor} {oldest[0]}", oldest[1])))
        for (old_version, old), (new_version, new) in steps:
            changes = diff.compare(old, new)
            diffs.append(
                {
                    "framework": framework,
                    "old": old_version,
                    "new": new_version,
                    "regressions": len(changes["regressions"]),
                    "fixes": len(changes["fixes"]),
                    "changed": len(changes["changed"]),
                    "text": diff.describe(changes),
                }
            )
    merged["version_diffs"] = [{k: v for k, v in d.items() if k != "text"} for d in diffs]
    return merged, diffs


def _renamed(report: ReportDocument, prefix: str, new_prefix: str) -> ReportDocument:
    """``report`` with its implementations named as their successors are."""
    results: list[ResultRecord] = []
    for record in report["results"]:
        name = record["implementation"]
        renamed: ResultRecord = {
            **record,
            "implementation": new_prefix + name[len(prefix) :] if name.startswith(prefix) else name,
        }
        results.append(renamed)
    return {**report, "results": results}
