"""The gate's cases: the corpus's inputs, under the params the user's loss has.

A user's loss has its own params (a ``label_smoothing`` of 0.1, weights of its own, an
``ignore_index``, a class axis). The gate takes every corpus input of the op in the user's
mode (``from_logits`` and the other ``mode`` params choose the domain of the inputs: logits
or probabilities) and puts the user's params in place of the case's, so the oracle computes
the ideal for exactly what the user's loss computes. Which params exist, their kinds and
their defaults all come from the op's definition.

An input whose shapes do not fit the user's params (four sample weights against three
samples) is left out, and counted; one that has no valid answer under them (a label the user
does not ignore that is out of range) expects an error or NaN, as the corpus's invalid-label
cases do.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conformance.corpus import cases as case_files
from conformance.corpus import generators
from oracle.ops import InvalidInput, OpDefinition, definition

#: A case with no valid answer: an error is ideal, NaN acceptable (the corpus's vocabulary).
NO_VALID_ANSWER = "error_or_nan"
#: The cotangent given to a primitive's case that has none: varied, exact in bfloat16 and float16.
COTANGENT = (1.5, -0.75, 2.0, -1.25, 0.5, 3.0)
#: The corpus shipped with the package.
BUNDLED = case_files.BUNDLED_CASES


class GateUsageError(ValueError):
    """Bad op, params, reference, framework or case file: the gate cannot start."""


@dataclass
class GateCases:
    cases: list[case_files.Case] = field(default_factory=list)
    #: Corpus inputs whose shapes do not fit the user's params, with why (one example per reason).
    left_out: dict[str, int] = field(default_factory=dict)


def op_definition(op: str) -> OpDefinition:
    try:
        return definition(op)
    except InvalidInput as problem:
        raise GateUsageError(str(problem)) from None


def check_params(op: OpDefinition, params: Mapping[str, Any]) -> None:
    """The user's params by the same rules as a case file's (kinds, ranges, choices)."""
    unknown = set(params) - set(op.param_names)
    if unknown:
        raise GateUsageError(
            f"{op.name} takes no param {', '.join(sorted(unknown))} (it takes: {', '.join(op.param_names)})"
        )
    try:
        case_files._check_params(op, params)
    except case_files._Problem as problem:
        raise GateUsageError(f"--param {problem}") from None


def modes(op: OpDefinition, params: Mapping[str, Any]) -> dict[str, Any]:
    complete = op.with_defaults(params)
    return {p.name: complete[p.name] for p in op.mode_params}


def gate_cases(op_name: str, params: Mapping[str, Any], dtypes: Sequence[str], paths: Sequence[Path]) -> GateCases:
    """Every distinct corpus input of the op in the user's mode, under the user's params, in ``dtypes``."""
    op = op_definition(op_name)
    check_params(op, params)
    corpus = case_files.load(_naming(op.name, paths))
    if corpus.errors:
        raise GateUsageError("\n".join(str(error) for error in corpus.errors))
    wanted = modes(op, params)
    found = GateCases()
    seen: dict[str, tuple[case_files.Case, tuple[bool, int]]] = {}
    for case in corpus.cases:
        if case.op != op.name or modes(op, case.params) != wanted:
            continue
        chosen = tuple(d for d in case.dtypes if d in dtypes)
        if not chosen:
            continue
        inputs = _on_users_axis(op, case, params)
        if inputs is None:
            _count(found, "its class axis is elsewhere and its inputs are generated")
            continue
        key = json.dumps([inputs, case.expect], sort_keys=True, default=str)
        # The user's own case wins over a corpus case with the same input, then the closest params.
        closeness = (not case.file.resolve().is_relative_to(BUNDLED), _agreement(op, case.params, params))
        if key in seen and seen[key][1] >= closeness:
            continue
        built = _with_cotangent(dataclasses.replace(case, params=dict(params), inputs=inputs, dtypes=chosen))
        problem = _misfit(built)
        if problem is not None:
            _count(found, problem)
            continue
        seen[key] = (built, closeness)
    found.cases = [built for built, _ in seen.values()]
    return found


def _agreement(op: OpDefinition, theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> int:
    """How many params a corpus case shares with the user's: of the cases with the same inputs, the
    gate keeps the id of the closest (the sweep's ``mean`` case for a mean)."""
    a, b = op.with_defaults(theirs), op.with_defaults(ours)
    return sum(json.dumps(a[name], default=str) == json.dumps(b[name], default=str) for name in op.param_names)


def _naming(op: str, paths: Sequence[Path]) -> list[Path]:
    """The case files whose text names the op: a case's op is spelled in its file (in the case or
    the file's defaults), so the others hold none of its cases and need no loading (the corpus's
    generated inputs make a full load the gate's largest cost)."""
    return [path for path in case_files.case_files(paths) if op in path.read_text(encoding="utf-8")]


def _count(found: GateCases, reason: str) -> None:
    found.left_out[reason] = found.left_out.get(reason, 0) + 1


def _with_cotangent(case: case_files.Case) -> case_files.Case:
    """A primitive's case with a cotangent of varied signs and sizes where it had none (ones), so
    that a custom backward that ignores its incoming gradient cannot pass. Its shape is the
    output's: the input's, or the input's without its reduced axis (logsumexp), whichever the op
    accepts; its values are exact in every dtype."""
    op = case.definition
    optional = [spec.name for spec in op.inputs if spec.optional and spec.name not in case.inputs]
    if not optional:
        return case
    _, arrays = case.materialize("float64")
    shape = np.shape(arrays[op.prediction])
    params = op.with_defaults(case.params)
    shapes = [shape] + [
        tuple(size for i, size in enumerate(shape) if i != int(params[p.name]) % max(len(shape), 1))
        for p in op.params
        if p.axis
    ]
    for candidate in shapes:
        given = {name: np.resize(COTANGENT, candidate).tolist() for name in optional}
        try:
            op.check(params, {**arrays, **{name: np.asarray(v) for name, v in given.items()}})
        except InvalidInput:
            continue
        return dataclasses.replace(case, inputs={**case.inputs, **given})
    return case


def _misfit(case: case_files.Case) -> str | None:
    """Why the case's inputs do not fit its (the user's) params, or None."""
    op = case.definition
    for dtype in case.dtypes:
        try:
            params, arrays = case.materialize(dtype)
            op.check(op.with_defaults(params), arrays)
        except InvalidInput as problem:
            return str(problem)
        except ValueError as problem:
            return str(problem)
    return None


def _on_users_axis(op: OpDefinition, case: case_files.Case, params: Mapping[str, Any]) -> dict[str, Any] | None:
    """The case's inputs with their class axis moved to where the user's loss has it (None where the
    inputs are generated and so cannot be moved)."""
    axes = [p.name for p in op.params if p.axis]
    inputs = dict(case.inputs)
    if not axes:
        return inputs
    prediction = inputs[op.prediction]
    if generators.is_generator(prediction):
        rank = None
    else:
        rank = np.ndim(np.array(prediction, dtype=object))
    theirs, ours = op.with_defaults(case.params)[axes[0]], op.with_defaults(params)[axes[0]]
    if theirs == ours:
        return inputs
    if rank is None:
        return None
    if rank == 0 or theirs % rank == ours % rank:
        return inputs
    for name, data in inputs.items():
        if name in op.label_inputs or generators.is_generator(data):
            if generators.is_generator(data) and name not in op.label_inputs:
                return None
            continue
        array = np.array(data, dtype=object)
        if array.ndim == rank:
            inputs[name] = np.moveaxis(array, theirs, ours).tolist()
    return inputs


def expecting_no_answer(cases: list[case_files.Case], has_no_answer: Any) -> list[case_files.Case]:
    """Cases with no valid answer under the user's params (``has_no_answer(case, dtype)``) expect an
    error or NaN, as the corpus's own invalid-label cases do."""
    return [
        dataclasses.replace(case, expect=NO_VALID_ANSWER)
        if case.expect is None and any(has_no_answer(case, dtype) for dtype in case.dtypes)
        else case
        for case in cases
    ]
