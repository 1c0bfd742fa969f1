"""Which cases the gate runs (``--select``/``--deselect``), and what the user accepts (``--accept``).

A selector is a tag or a case-id pattern (``fnmatch``: ``bce/logits/x=*``). A (case, dtype)
carries the case file's tags, the dtype's name, and tags the gate derives from the inputs
themselves, so they hold for the user's own case files too:

* ``non-finite``: an input holds inf or NaN;
* ``subnormal``: an input holds a subnormal of the dtype;
* ``large``: the prediction has more elements than the scorer compares one by one;
* ``half``: the dtype is float16 or bfloat16.

An accept file lists known divergences of the user's own loss, each with a reason::

    - case: "bce/logits/x=8*"      # a case-id pattern
      dtype: float16               # optional
      quantity: grad               # optional
      reason: our loss clamps logits to [-8, 8] on purpose

A failing result an entry matches is reported as ``accepted`` (with the reason) and does not
fail the gate; an entry that matches no failing result is stale, and said so.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conformance.corpus.cases import Case
from conformance.corpus.source import Located, YamlError
from conformance.corpus.source import load as load_yaml
from conformance.judge.scoring import LARGE
from conformance.report.records import ResultRecord, Verdict
from oracle.formats import FORMATS

from .cases import GateUsageError

HALF = ("float16", "bfloat16")
#: The explanation kind of an accepted result (recorded as ``xfail``).
ACCEPTED = "accepted"


def tags(case: Case, dtype: str) -> set[str]:
    found = {*case.tags, dtype}
    if dtype in HALF:
        found.add("half")
    op = case.definition
    _, arrays = case.materialize(dtype)
    floats = [np.asarray(array, dtype=np.float64) for name, array in arrays.items() if name not in op.label_inputs]
    if any(not np.all(np.isfinite(a)) for a in floats):
        found.add("non-finite")
    tiny = FORMATS[dtype].min_normal
    if any(np.any((a != 0) & (np.abs(a) < tiny)) for a in floats):
        found.add("subnormal")
    if np.size(arrays[op.prediction]) > LARGE:
        found.add("large")
    return found


def _matches(selector: str, case: Case, found: set[str]) -> bool:
    return selector in found or fnmatch.fnmatchcase(case.id, selector)


def select(cases: Sequence[Case], chosen: Sequence[str], dropped: Sequence[str]) -> list[Case]:
    """The cases (and dtypes of each) that ``chosen`` selects (all, if none) and ``dropped`` does not."""
    if not chosen and not dropped:
        return list(cases)
    kept = []
    for case in cases:
        dtypes = []
        for dtype in case.dtypes:
            found = tags(case, dtype)
            if chosen and not any(_matches(s, case, found) for s in chosen):
                continue
            if any(_matches(s, case, found) for s in dropped):
                continue
            dtypes.append(dtype)
        if dtypes:
            kept.append(dataclasses.replace(case, dtypes=tuple(dtypes)))
    return kept


@dataclass
class Acceptance:
    case: str
    reason: str
    file: Path
    line: int
    dtype: str | None = None
    quantity: str | None = None
    used: int = 0

    def matches(self, record: ResultRecord) -> bool:
        return (
            fnmatch.fnmatchcase(record["case"], self.case)
            and self.dtype in (None, record["dtype"])
            and self.quantity in (None, record["quantity"])
        )


def load_accepted(path: Path) -> list[Acceptance]:
    """Entries of an accept file; a bad one is a usage error naming the file and line."""
    try:
        document = load_yaml(path)
    except OSError as problem:
        raise GateUsageError(f"{path}: {problem.strerror}") from None
    except YamlError as problem:
        raise GateUsageError(f"{path}:{problem.line}: {problem}") from None
    if document is None:
        return []
    if not isinstance(document, list):
        raise GateUsageError(f"{path}: an accept file is a list of entries (case, reason, dtype?, quantity?)")
    entries = []
    for entry in document:
        line = getattr(entry, "line", 0)
        if not isinstance(entry, Located):
            raise GateUsageError(f"{path}:{line}: an entry is a mapping with case and reason")
        unknown = set(entry) - {"case", "reason", "dtype", "quantity"}
        if unknown:
            raise GateUsageError(f"{path}:{line}: unknown key(s) {', '.join(sorted(unknown))}")
        if not entry.get("case") or not str(entry.get("reason", "")).strip():
            raise GateUsageError(f"{path}:{line}: case {entry.get('case')!r}: every entry needs a case and a reason")
        quantity = entry.get("quantity")
        if quantity not in (None, "value", "grad"):
            raise GateUsageError(f"{path}:{line}: case {entry['case']!r}: quantity is value or grad, not {quantity!r}")
        dtype = entry.get("dtype")
        if dtype is not None and dtype not in FORMATS:
            raise GateUsageError(f"{path}:{line}: case {entry['case']!r}: unknown dtype {dtype!r}")
        entries.append(Acceptance(str(entry["case"]), str(entry["reason"]).strip(), path, line, dtype, quantity))
    return entries


def accept(records: Sequence[ResultRecord], entries: Sequence[Acceptance]) -> None:
    """Mark the failing records an entry matches as accepted, with the entry's reason."""
    for record in records:
        if record["verdict"] in (Verdict.PASS, Verdict.UNSUPPORTED) or record.get("explanation"):
            continue
        for entry in entries:
            if entry.matches(record):
                entry.used += 1
                record["verdict"] = Verdict.XFAIL
                record["message"] = f"accepted ({entry.file}:{entry.line}): {entry.reason}; " + record["message"]
                record["explanation"] = {
                    "kind": ACCEPTED,
                    "name": entry.case,
                    "text": entry.reason,
                    "link": f"{entry.file}:{entry.line}",
                    "predicted": None,
                    "distance_ulp": None,
                    "bound_ulp": None,
                }
                break


def stale(entries: Sequence[Acceptance]) -> list[str]:
    return [
        f"{entry.file}:{entry.line}: accepted case {entry.case!r} matched no failing result (stale: remove it?)"
        for entry in entries
        if not entry.used
    ]
