"""The ``conformance`` command line: run loss-conformance cases, explain a result, compare runs.

The exit codes are the same for every command (:class:`ExitCode`); ``--help`` prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance import __version__, explain
from conformance.corpus import cases
from conformance.exits import EPILOG, ExitCode, NothingRan, UsageError
from conformance.gate import command as gate_cli
from conformance.judge.scoring import DEFAULT_PROFILE, PROFILES
from conformance.report import diff, failures
from conformance.report import document as reports
from conformance.report.records import ReportDocument, Verdict, failed
from conformance.run.devices import DEFAULT_DEVICE, DEVICES
from conformance.run.journal import Journal
from conformance.run.progress import TerminalProgress
from conformance.run.runner import DEFAULT_TIMEOUT
from oracle.cache import DiskCache
from oracle.formats import DTYPES
from oracle.ops import names as op_names

BUNDLED_CASES = cases.BUNDLED_CASES


def _validate(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths] or [BUNDLED_CASES]
    missing = [p for p in paths if not p.exists()]
    for path in missing:
        print(f"{path}: no such file or directory", file=sys.stderr)
    corpus = cases.load(p for p in paths if p.exists())
    for error in corpus.errors:
        print(error, file=sys.stderr)
    status = "ok" if not (corpus.errors or missing) else f"{len(corpus.errors) + len(missing)} error(s)"
    print(f"{len(corpus.files)} file(s), {len(corpus.cases)} case(s): {status}")
    if corpus.errors or missing:
        return ExitCode.BAD_INPUT
    if not corpus.files:
        raise NothingRan(f"no case file under {', '.join(map(str, paths))}")
    return ExitCode.OK


def _cache(args: argparse.Namespace) -> DiskCache | None:
    if args.no_cache:
        return None
    return DiskCache(Path(args.cache_dir) if args.cache_dir else None)


def _run(args: argparse.Namespace) -> int:
    from conformance import pipeline

    paths = [Path(p) for p in args.paths] or [BUNDLED_CASES]
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {', '.join(map(str, missing))}")
    resume = Path(args.resume) if args.resume else None
    if resume is not None and not resume.is_dir():
        raise UsageError(f"--resume {resume}: no such report folder")
    out = Path(args.out) if args.out else (resume or Path("reports/latest"))
    journal = Journal(out, resume)
    progress = TerminalProgress(sys.stderr)
    try:
        with progress:
            report, errors = pipeline.execute(
                paths,
                args.framework,
                args.dtype,
                args.op,
                args.timeout,
                _cache(args),
                progress,
                args.tolerance,
                args.device,
                journal,
            )
    except LookupError as problem:
        raise UsageError(str(problem)) from None
    except KeyboardInterrupt:
        journal.close()
        print(f"conformance run: interrupted; 'conformance run --resume {out}' goes on from here", file=sys.stderr)
        # Not sys.exit: the framework threads would first make every remaining call. The
        # workers see their parent gone and kill their process groups.
        os._exit(130)
    finally:
        journal.close()
    for error in errors:
        print(error, file=sys.stderr)
    if resume is not None:
        print(f"resumed: {journal.reused} finished result(s) reused from {resume / 'journal.jsonl'}")
    written = reports.write_all(report, out)
    print(reports.terminal_summary(report))
    short = failures.summary(report)
    if short:
        print(short)
    print(f"reports: {', '.join(str(p) for p in written.values())}")
    if errors:
        return ExitCode.BAD_INPUT
    if not any(r["verdict"] != Verdict.UNSUPPORTED for r in report["results"]):
        raise NothingRan(_why_nothing_ran(report))
    return ExitCode.UNEXPLAINED if failed(report) and not args.report_only else ExitCode.OK


def _why_nothing_ran(report: ReportDocument) -> str:
    skipped = report["environment"].get("skipped", {})
    if report["summary"]["cases"] == 0 and not skipped:
        return "nothing ran: no case matches the selection (--op, --dtype, the case files)"
    if not report["environment"]["frameworks"]:
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        return f"nothing ran: no framework could run ({reasons or 'none installed'})"
    return "nothing ran: no installed framework implements the selected cases (every result is unsupported)"


def _report(args: argparse.Namespace) -> int:
    source = Path(args.report)
    report = reports.read(source)
    written = reports.write_all(report, Path(args.out) if args.out else source.parent)
    print(f"reports: {', '.join(str(p) for p in written.values())}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    old, new = reports.read(Path(args.old)), reports.read(Path(args.new))
    changes = diff.compare(old, new)
    print(diff.describe(changes))
    return ExitCode.UNEXPLAINED if changes["regressions"] or changes["missing"] else ExitCode.OK


def _matrix(args: argparse.Namespace) -> int:
    from conformance.report import matrix

    found = matrix.load([Path(p) for p in args.paths])
    if not found:
        raise UsageError(f"no report.json under {', '.join(args.paths)}")
    merged, diffs = matrix.build(found)
    out = Path(args.out)
    written = reports.write_all(merged, out)
    (out / "diff.txt").write_text(
        "\n\n".join(f"{d['framework']} {d['old']} -> {d['new']}\n{d['text']}" for d in diffs) + "\n", encoding="utf-8"
    )
    (out / "diff.json").write_text(json.dumps(merged["version_diffs"], indent=1) + "\n", encoding="utf-8")
    for entry in merged["version_diffs"]:
        print(
            f"{entry['framework']} {entry['old']} -> {entry['new']}: {entry['regressions']} regressions, "
            f"{entry['fixes']} fixes, {entry['changed']} other changes"
        )
    print(f"reports: {', '.join(str(p) for p in written.values())}, {out / 'diff.txt'}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from conformance.corpus import schema

    if args.write:
        schema.editor_copy().write_text(schema.render(), encoding="utf-8")
        print(f"wrote {schema.editor_copy()}")
    else:
        print(schema.render(), end="")
    return 0


def _findings(args: argparse.Namespace) -> int:
    from conformance.report import findings

    print(findings.table(reports.read(Path(args.report))))
    return 0


def _parse_param(text: str) -> tuple[str, Any]:
    key, separator, value = text.partition("=")
    if not separator:
        raise UsageError(f"--param takes KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _named_input(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise UsageError(f"--input takes NAME=JSON, got {text!r}")
    return name, value


def _explain(args: argparse.Namespace) -> int:
    if args.op not in op_names():
        raise UsageError(f"unknown op {args.op!r}; known: {', '.join(op_names())}")
    params = dict(_parse_param(p) for p in args.param)
    try:
        y_pred = explain.parse_array(args.y_pred)
        y_true = explain.parse_array(args.y_true) if args.y_true is not None else None
        extra = {name: explain.parse_array(text) for name, text in map(_named_input, args.input)}
    except json.JSONDecodeError as problem:
        raise UsageError(f"--y-true/--y-pred/--input take JSON arrays: {problem}") from None
    try:
        case = explain.adhoc_case(args.op, params, y_true, y_pred, tuple(args.dtype or DTYPES), extra)
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    records = explain.run(case, args.framework, args.timeout, _cache(args), args.tolerance, args.device)
    if not any(r["verdict"] != Verdict.UNSUPPORTED for r in records):
        gaps = sorted({r["message"] for r in records}) or [f"no framework ran (selected: {args.framework or 'all'})"]
        raise NothingRan(f"nothing to explain: {'; '.join(gaps)}")
    shown = explain.without_gaps(records)
    print(json.dumps(shown, indent=1) if args.json else explain.describe(case, shown))
    return ExitCode.OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="conformance",
        description=(__doc__ or "").splitlines()[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = top.add_subparsers(dest="command", required=True)

    validate = commands.add_parser("validate", help="check case files against the schema and the vocabulary")
    validate.add_argument("paths", nargs="*", help="case files or folders (default: the bundled corpus)")
    validate.set_defaults(handler=_validate)

    def common(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--framework",
            action="append",
            default=[],
            help="adapter name (torch, tensorflow, jax, numpy, keras = every Keras backend, ...)",
        )
        command.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per framework call")
        command.add_argument("--no-cache", action="store_true", help="do not read or write the oracle's disk cache")
        command.add_argument(
            "--tolerance",
            choices=PROFILES,
            default=DEFAULT_PROFILE,
            help="strict (default): values and gradients within a few ULPs; practical: gradients also within a "
            "few eps at their natural scale",
        )
        command.add_argument("--cache-dir", help="oracle cache folder (default $LOSS_CONFORMANCE_CACHE or ~/.cache)")
        command.add_argument(
            "--device",
            choices=DEVICES,
            default=DEFAULT_DEVICE,
            help="where the frameworks run (default cpu); with cuda, a framework that cannot reach a GPU is "
            "skipped with the reason",
        )

    run = commands.add_parser("run", help="run cases on every installed framework and write the reports")
    run.add_argument("paths", nargs="*", help="case files or folders (default: the bundled corpus)")
    run.add_argument("--dtype", action="append", default=[], choices=DTYPES)
    run.add_argument("--op", action="append", default=[], choices=op_names())
    run.add_argument("--out", help="report folder (default reports/latest, or the --resume folder)")
    run.add_argument(
        "--resume",
        metavar="DIR",
        help="reuse every finished framework call in DIR's journal.jsonl (a killed run's report folder)",
    )
    run.add_argument(
        "--report-only",
        action="store_true",
        help="exit 0 even when divergences are found (bad input still exits 2, and nothing run 3)",
    )
    common(run)
    run.set_defaults(handler=_run)

    explain_command = commands.add_parser("explain", help="what does every framework compute here, and why?")
    explain_command.add_argument("--op", required=True)
    explain_command.add_argument("--param", action="append", default=[], help="KEY=VALUE (VALUE as JSON)")
    explain_command.add_argument("--y-true", help="JSON array (left out for the primitives)")
    explain_command.add_argument("--y-pred", required=True, help="JSON array (the input x, for the primitives)")
    explain_command.add_argument(
        "--input", action="append", default=[], help="NAME=JSON: another input of the op (a cotangent, a variance)"
    )
    explain_command.add_argument("--dtype", action="append", default=[], choices=DTYPES)
    explain_command.add_argument("--json", action="store_true", help="records with report.json's result fields")
    common(explain_command)
    explain_command.set_defaults(handler=_explain)

    report = commands.add_parser("report", help="re-render report.html and junit.xml from a report.json")
    report.add_argument("report")
    report.add_argument("--out", help="folder to write to (default: beside the report)")
    report.set_defaults(handler=_report)

    gate_command = commands.add_parser("gate", help="check your own loss function against the corpus")
    gate_cli.arguments(gate_command)  # its options live with the gate (conformance/gate/command.py)
    gate_command.set_defaults(handler=gate_cli.handler)

    standby_command = commands.add_parser(
        "standby", help="list the gate's standby workers (see gate --standby); --stop ends them"
    )
    standby_command.add_argument("--stop", action="store_true", help="end them now")
    standby_command.set_defaults(handler=_standby)

    schema_command = commands.add_parser("schema", help="the case-file JSON Schema, built from the ops' definitions")
    schema_command.add_argument("--write", action="store_true", help="refresh the copy for editors in the package")
    schema_command.set_defaults(handler=_schema)

    findings_command = commands.add_parser("findings", help="the divergences of a report as a markdown table")
    findings_command.add_argument("report")
    findings_command.set_defaults(handler=_findings)

    matrix_command = commands.add_parser("matrix", help="merge per-version reports into one cross-version report")
    matrix_command.add_argument("paths", nargs="+", help="report.json files or folders holding them (reports/tox)")
    matrix_command.add_argument("--out", default="reports/matrix")
    matrix_command.set_defaults(handler=_matrix)

    diff_command = commands.add_parser(
        "diff", help="regressions, fixes and results missing on either side between two report.json files"
    )
    diff_command.add_argument("old")
    diff_command.add_argument("new")
    diff_command.set_defaults(handler=_diff)
    for command in commands.choices.values():
        command.epilog, command.formatter_class = EPILOG, argparse.RawDescriptionHelpFormatter
    return top


def _standby(args: argparse.Namespace) -> int:
    from conformance.run import standby

    if args.stop:
        stopped = standby.stop_all()
        print(f"stopped {len(stopped)} standby worker{'s' if len(stopped) != 1 else ''}")
        return 0
    waiting = standby.running()
    for path, pid in waiting:
        print(f"pid {pid}  {path}")
    if not waiting:
        print("no standby workers")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)  # a usage error exits 2 here, as argparse does
    try:
        return int(args.handler(args))
    except (UsageError, reports.ReportError) as problem:
        print(f"conformance {args.command}: {problem}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except NothingRan as problem:
        print(f"conformance {args.command}: {problem}", file=sys.stderr)
        return ExitCode.NOTHING_RAN


if __name__ == "__main__":
    raise SystemExit(main())
