"""``conformance gate``: its options and its handler, kept beside the gate so the CLI stays small.

Importing this module imports no framework and no oracle: the handler imports the gate when it
runs. Exit codes as for the whole CLI: 0 conforms, 1 does not, 2 a usage or case-file error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from conformance.run import standby
from conformance.run.runner import DEFAULT_TIMEOUT
from conformance.run.standby import MINUTES_VARIABLE
from oracle.formats import DTYPES
from oracle.ops import names as op_names


def arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("target", help="MODULE:CALLABLE taking (y_true, y_pred) tensors of --framework")
    command.add_argument("--op", required=True, choices=op_names())
    command.add_argument(
        "--param",
        action="append",
        default=[],
        help="KEY=VALUE (VALUE as JSON): your loss's own params, e.g. from_logits=true label_smoothing=0.1 "
        "sample_weight=[1,2,1,1]",
    )
    command.add_argument(
        "--framework",
        required=True,
        help="the installed adapter whose tensors and autodiff your function takes: torch, tensorflow, jax, "
        "or any other entry-point name (keras-jax, numpy, a third party's)",
    )
    command.add_argument(
        "--reference",
        default="ideal",
        help="ideal (default), or a framework's implementation whose semantics to reproduce",
    )
    command.add_argument(
        "--dtype", action="append", default=[], choices=DTYPES, help="default: all four (float16 and bfloat16 too)"
    )
    command.add_argument("--args", default="true,pred", help="argument order: true,pred or pred,true (torch's habit)")
    command.add_argument(
        "--select",
        action="append",
        default=[],
        help="run only cases with this tag (non-finite, subnormal, large, half, a dtype, a case file's tag) or "
        "whose id matches this pattern (bce/logits/x=*)",
    )
    command.add_argument("--deselect", action="append", default=[], help="leave out cases with this tag or id pattern")
    command.add_argument(
        "--cases", action="append", default=[], help="your own case file or folder (added to the corpus)"
    )
    command.add_argument(
        "--accept", help="YAML list of accepted divergences of your loss: case, reason, dtype?, quantity?"
    )
    command.add_argument("--out", default="reports/gate", help="report folder (default reports/gate)")
    command.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per call")
    command.add_argument(
        "--standby",
        type=float,
        metavar="MINUTES",
        help="keep the worker (framework imported, kernels compiled) that long for the next gate call of "
        f"this framework; default ${MINUTES_VARIABLE}, else 0 (see README, 'Standby workers')",
    )


def handler(args: argparse.Namespace) -> int:
    from conformance.cli import _parse_param
    from conformance.exits import NothingRan, UsageError
    from conformance.gate import execute as gate
    from conformance.report import document as reports

    from .cases import GateUsageError

    params = dict(_parse_param(p) for p in args.param)
    chosen = gate.Selection(
        tuple(args.select),
        tuple(args.deselect),
        tuple(Path(p) for p in args.cases),
        Path(args.accept) if args.accept else None,
    )
    try:
        standby_minutes = standby.minutes(args.standby)
    except ValueError as problem:
        raise UsageError(str(problem)) from None
    try:
        result = gate.run(
            args.target,
            args.op,
            args.framework,
            params,
            args.reference,
            tuple(args.dtype or gate.DEFAULT_DTYPES),
            args.args,
            args.timeout,
            chosen=chosen,
            standby_minutes=standby_minutes,
        )
    except GateUsageError as problem:
        raise UsageError(str(problem)) from None
    if not result.records:  # the CLI's exit code 3: nothing ran, not a bad input
        chosen_by = [f"--select {pattern}" for pattern in args.select] + [f"--deselect {p}" for p in args.deselect]
        because = f" under {' '.join(chosen_by)}" if chosen_by else ""
        raise NothingRan(f"no corpus case applies to {args.op} with {params}{because}")
    written = reports.write_all(result.report, Path(args.out))
    print(result.describe())
    print(f"reports: {', '.join(str(p) for p in written.values())}")
    return 0 if result.ok else 1
