"""Which implementation runs which case, and why the others are ``unsupported``.

An implementation of another op, or of another mode (probabilities vs logits: the op's
``mode`` params), simply does not apply. One of the right op and mode that lacks a param the
case uses, a reduction, the case's class axis or the dtype is recorded ``unsupported`` with
the reason. A framework with no implementation at all for the op and mode gets one
``unsupported`` record under the name ``<framework>:(none)``, so the gap shows in the report.
Everything about params (defaults, modes, axes) comes from the op's definition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.adapters.base import native_axis
from oracle.ops import OpDefinition


@dataclass(frozen=True)
class Assignment:
    implementation: Mapping[str, Any]  # Implementation.describe() from the worker's handshake
    unsupported: str | None = None


def _applies(op: OpDefinition, params: Mapping[str, Any], implementation: Mapping[str, Any]) -> bool:
    if implementation["op"] != op.name:
        return False
    params = op.with_defaults(params)
    mode = implementation.get("mode", {})
    return all(mode.get(p.name, p.default) == params[p.name] for p in op.mode_params)


def _mode_text(op: OpDefinition, params: Mapping[str, Any]) -> str:
    params = op.with_defaults(params)
    if [p.name for p in op.mode_params] == ["from_logits"]:
        return f" on {'logits' if params['from_logits'] else 'probabilities'}"
    return "".join(f" with {p.name}={params[p.name]}" for p in op.mode_params)


def assign(
    op: OpDefinition,
    params: Mapping[str, Any],
    implementations: Sequence[Mapping[str, Any]],
    framework: str,
    dtype: str,
    ndim: int,
) -> list[Assignment]:
    """``params`` as materialized in ``dtype`` (numbers resolved), ``ndim`` the prediction's rank."""
    matching = [impl for impl in implementations if _applies(op, params, impl)]
    if not matching:
        none = {"name": f"{framework}:(none)", "op": op.name, "semantics": [], "doc": ""}
        return [Assignment(none, f"{framework} has no native {op.name}{_mode_text(op, params)}")]
    return [Assignment(impl, _gap(op, params, impl, dtype, ndim)) for impl in matching]


def _gap(op: OpDefinition, params: Mapping[str, Any], impl: Mapping[str, Any], dtype: str, ndim: int) -> str | None:
    if dtype not in impl["dtypes"]:
        return f"does not take {dtype}"
    reduction = op.reduction(params)
    if reduction is not None and reduction not in impl["reductions"]:
        return f"has no reduction {reduction!r} (it has: {', '.join(impl['reductions'])})"
    for param in op.params:
        if param.mode or param.axis or param.name == "reduction" or not op.uses(params, param.name):
            continue
        if param.name not in impl["params"]:
            return f"takes no {param.name}"
    for param in op.params:
        if param.axis and param.name not in impl["params"]:
            axis = int(op.with_defaults(params)[param.name]) % max(ndim, 1)
            native = native_axis(impl.get("class_axis"), ndim)
            if axis != native:
                return f"takes its class axis at {native} only (for inputs of rank {ndim})"
    return None
