"""Which implementation runs which case, and why the others are ``unsupported``.

An implementation of another op, or of the other input mode (probabilities vs logits),
simply does not apply. One of the right op and mode that lacks a param the case uses, a
reduction, the case's class axis or the dtype is recorded ``unsupported`` with the reason.
A framework with no implementation at all for the op and mode gets one ``unsupported``
record under the name ``<framework>:(none)``, so the gap shows in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.corpus.cases import Case
from oracle.signatures import LOSSES, SIGNATURES

_DEFAULTS: dict[str, Any] = {"label_smoothing": 0, "from_logits": False}


@dataclass(frozen=True)
class Assignment:
    implementation: Mapping[str, Any]  # Implementation.describe() from the worker's handshake
    unsupported: str | None = None


def reduction_of(case: Case) -> str | None:
    return str(case.params.get("reduction", "mean")) if case.op in LOSSES else None


def assign(
    case: Case, implementations: Sequence[Mapping[str, Any]], framework: str, dtype: str, ndim: int
) -> list[Assignment]:
    from_logits = bool(case.params.get("from_logits", False))
    matching = [
        impl
        for impl in implementations
        if impl["op"] == case.op and (case.op not in LOSSES or impl["from_logits"] == from_logits)
    ]
    if not matching:
        mode = f" on {'logits' if from_logits else 'probabilities'}" if case.op in LOSSES else ""
        none = {"name": f"{framework}:(none)", "op": case.op, "semantics": [], "doc": ""}
        return [Assignment(none, f"{framework} has no native {case.op}{mode}")]
    return [Assignment(impl, _gap(case, impl, dtype, ndim)) for impl in matching]


def _gap(case: Case, impl: Mapping[str, Any], dtype: str, ndim: int) -> str | None:
    if dtype not in impl["dtypes"]:
        return f"does not take {dtype}"
    reduction = reduction_of(case)
    if reduction is not None and reduction not in impl["reductions"]:
        return f"has no reduction {reduction!r} (it has: {', '.join(impl['reductions'])})"
    for name, value in case.params.items():
        if name in ("reduction", "from_logits", "axis") or value == _DEFAULTS.get(name, object()):
            continue
        if name not in impl["params"]:
            return f"takes no {name}"
    if "axis" in SIGNATURES[case.op].params and "axis" not in impl["params"]:
        axis = int(case.params.get("axis", -1)) % max(ndim, 1)
        native = impl.get("class_axis_for_ndim", {}).get(str(ndim), ndim - 1)
        if axis != native:
            return f"takes its class axis at {native} only"
    return None
