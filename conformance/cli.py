"""The ``conformance`` command line.

Exit codes: 0 all good; 1 a conformance failure; 2 a usage or case-file error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import cases

BUNDLED_CASES = Path(__file__).resolve().parent.parent / "cases"


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
    return 2 if corpus.errors or missing else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="conformance", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check case files against the schema and the vocabulary")
    validate.add_argument("paths", nargs="*", help="case files or folders (default: the bundled corpus)")
    validate.set_defaults(handler=_validate)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    raise SystemExit(main())
