"""The exit codes every command keeps, and the two errors that end a command with one of them.

Apart from :mod:`conformance.cli` so that a sub-command's module (the gate's) raises the very
classes ``cli.main`` catches, also when the CLI runs as ``python -m conformance.cli``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a CI job needs to know from the status alone; every command keeps to it."""

    OK = 0
    UNEXPLAINED = 1
    BAD_INPUT = 2
    NOTHING_RAN = 3


MEANINGS = {
    ExitCode.OK: "all explained: every result passed, is documented, a known divergence or unsupported",
    ExitCode.UNEXPLAINED: "unexplained results: a fail, error, timeout or crash (diff: a regression or a lost result)",
    ExitCode.BAD_INPUT: "bad input or usage: an unreadable or invalid case file or report, a bad option",
    ExitCode.NOTHING_RAN: "nothing ran: no framework installed or able to run the cases, or an empty selection",
}
EPILOG = "exit codes (every command):\n" + "\n".join(f"  {code.value}  {text}" for code, text in MEANINGS.items())


class UsageError(Exception):
    pass


class NothingRan(Exception):
    """No framework call was made: not an error in the input, and not a pass either."""
