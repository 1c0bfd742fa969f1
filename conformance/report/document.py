"""Reading and writing a run's reports: report.json (the source of truth), junit.xml, report.html.

Every presentation is rendered from the JSON document alone, never from live objects,
so ``conformance report report.json`` can redo the HTML of any past run. Files are written
whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any, cast
from xml.etree import ElementTree

import jsonschema

from oracle.cache import atomic_file

from . import html as html_report
from .records import PROBLEMS, VERDICT_ORDER, ReportDocument, Verdict
from .visible import visible


class ReportError(ValueError):
    """A report file that cannot be read or is not a report: one line naming the file."""


@functools.cache
def report_schema() -> dict[str, Any]:
    text = resources.files("conformance").joinpath("schema/report.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(report: Any) -> None:
    jsonschema.Draft202012Validator(report_schema()).validate(report)


def read(path: Path) -> ReportDocument:
    """A report.json, checked against its schema; :class:`ReportError` says why it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as problem:
        raise ReportError(f"{path}: cannot read: {problem.strerror or problem}") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a report: not UTF-8 text") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise ReportError(f"{path}: not a report: invalid JSON at line {problem.lineno}: {problem.msg}") from None
    try:
        validate(document)
    except jsonschema.ValidationError as problem:
        where = "/".join(str(p) for p in problem.absolute_path) or "the document"
        raise ReportError(f"{path}: not a report: {where}: {problem.message}") from None
    return cast(ReportDocument, document)


def write_text(path: Path, text: str) -> None:
    """Write a whole file or nothing: readers (and a killed run) never see half of one."""
    with atomic_file(path) as out:
        out.write(text)


def write_all(report: ReportDocument, folder: Path) -> dict[str, Path]:
    """Write the reports; wall times go to timings.json so that report.json of two runs on
    the same inputs differs only in ``created``."""
    folder.mkdir(parents=True, exist_ok=True)
    document = cast(ReportDocument, {k: v for k, v in report.items() if k != "timings"})
    paths = {"json": folder / "report.json", "junit": folder / "junit.xml", "html": folder / "report.html"}
    write_text(paths["json"], json.dumps(document, indent=1, allow_nan=False) + "\n")
    if "timings" in report:
        write_text(folder / "timings.json", json.dumps(report["timings"], indent=1) + "\n")
    write_text(paths["junit"], junit(document))
    write_html(html_report.render(document), folder)
    return paths


def write_html(pages: dict[str, str], folder: Path) -> None:
    """The HTML pages, each whole; op pages left from an earlier run of other ops are removed."""
    ops = folder / html_report.OPS_FOLDER
    ops.mkdir(exist_ok=True)
    for old in ops.glob("*.html"):
        if f"{html_report.OPS_FOLDER}/{old.name}" not in pages:
            old.unlink()
    for relative, text in pages.items():
        write_text(folder / relative, text)


def junit(report: ReportDocument) -> str:
    """One testsuite per framework, one testcase per result; unsupported ones are skipped."""
    root = ElementTree.Element("testsuites", name="loss-conformance")
    suites: dict[str, ElementTree.Element] = {}
    for result in report["results"]:
        suite = suites.get(result["framework"])
        if suite is None:
            framework = visible(result["framework"])
            suite = suites[result["framework"]] = ElementTree.SubElement(root, "testsuite", name=framework)
        name = visible(f"{result['case']}[{result['implementation']}-{result['dtype']}-{result['quantity']}]")
        testcase = ElementTree.SubElement(suite, "testcase", classname=visible(result["op"]), name=name)
        verdict = result["verdict"]
        message = visible(result["message"][:500])
        if verdict in PROBLEMS:
            tag = "failure" if verdict == Verdict.FAIL else "error"
            ElementTree.SubElement(
                testcase, tag, type=verdict, message=message
            ).text = f"exact: {result['exact']}\nactual: {result['actual']}\nmax ulp error: {result['max_ulp_error']}"
        elif verdict == Verdict.UNSUPPORTED:
            ElementTree.SubElement(testcase, "skipped", message=message)
        elif verdict in (Verdict.DOCUMENTED, Verdict.XFAIL):
            ElementTree.SubElement(testcase, "system-out").text = f"{verdict}: {visible(result['message'])}"
    for suite in suites.values():
        cases = suite.findall("testcase")
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
        suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def terminal_summary(report: ReportDocument) -> str:
    verdicts = [*reversed(VERDICT_ORDER[:-1]), Verdict.UNSUPPORTED]  # pass first, unsupported last
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
            lines.append(f"known divergence {entry['status']}: {entry['name']} ({entry['implementation']})")
    return "\n".join(lines)
