"""Writing a run's reports: report.json (the source of truth), junit.xml, report.html.

Every presentation is rendered from the JSON document alone, never from live objects,
so ``conformance report report.json`` can redo the HTML of any past run.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jsonschema

from . import html as html_report

PROBLEMS = ("fail", "error", "timeout", "crash")


@functools.cache
def report_schema() -> dict[str, Any]:
    text = resources.files("conformance").joinpath("schema/report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(report: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(report_schema()).validate(report)


def write_all(report: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Write the reports; wall times go to timings.json so that report.json of two runs on
    the same inputs differs only in ``created``."""
    folder.mkdir(parents=True, exist_ok=True)
    report = dict(report)
    timings = report.pop("timings", None)
    paths = {"json": folder / "report.json", "junit": folder / "junit.xml", "html": folder / "report.html"}
    paths["json"].write_text(json.dumps(report, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    if timings is not None:
        (folder / "timings.json").write_text(json.dumps(timings, indent=1) + "\n", encoding="utf-8")
    paths["junit"].write_text(junit(report), encoding="utf-8")
    paths["html"].write_text(html_report.render(report), encoding="utf-8")
    return paths


def junit(report: dict[str, Any]) -> str:
    """One testsuite per framework, one testcase per result; unsupported ones are skipped."""
    root = ElementTree.Element("testsuites", name="loss-conformance")
    suites: dict[str, ElementTree.Element] = {}
    for result in report["results"]:
        suite = suites.get(result["framework"])
        if suite is None:
            suite = suites[result["framework"]] = ElementTree.SubElement(root, "testsuite", name=result["framework"])
        name = f"{result['case']}[{result['implementation']}-{result['dtype']}-{result['quantity']}]"
        testcase = ElementTree.SubElement(suite, "testcase", classname=result["op"], name=name)
        verdict = result["verdict"]
        if verdict in PROBLEMS:
            tag = "failure" if verdict == "fail" else "error"
            ElementTree.SubElement(
                testcase, tag, type=verdict, message=result["message"][:500]
            ).text = f"exact: {result['exact']}\nactual: {result['actual']}\nmax ulp error: {result['max_ulp_error']}"
        elif verdict == "unsupported":
            ElementTree.SubElement(testcase, "skipped", message=result["message"][:500])
        elif verdict in ("documented", "xfail"):
            ElementTree.SubElement(testcase, "system-out").text = f"{verdict}: {result['message']}"
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def terminal_summary(report: dict[str, Any]) -> str:
    verdicts = ["pass", "documented", "xfail", "fail", "error", "timeout", "crash", "unsupported"]
    rows = report["summary"]["frameworks"]
    width = max([len("framework"), *map(len, rows)])
    lines = [f"{'framework':<{width}} " + " ".join(f"{v:>11}" for v in verdicts)]
    for name, counts in rows.items():
        lines.append(f"{name:<{width}} " + " ".join(f"{counts.get(v, 0):>11}" for v in verdicts))
    totals = report["summary"]["verdicts"]
    lines.append(f"{'all':<{width}} " + " ".join(f"{totals.get(v, 0):>11}" for v in verdicts))
    for framework, reason in report["environment"].get("skipped", {}).items():
        lines.append(f"skipped {framework}: {reason}")
    for entry in report.get("divergences", []):
        if entry["status"] != "active":
            lines.append(
                f"known divergence {entry['status']}: {entry['implementation']} {entry['case']}: {entry['reason']}"
            )
    return "\n".join(lines)
