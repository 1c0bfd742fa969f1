"""Case files: loading, validation, sweep expansion, and inputs rounded per dtype.

Loading never stops at the first problem and never raises on bad input: every problem
becomes a :class:`CaseError` naming the file, the line and the case id, and every good
case still loads. Checks, in order: YAML syntax and duplicate keys, the JSON Schema
(``schema/case-file.schema.json``, unknown keys included), the vocabulary (which params
and inputs each op takes), the value grammar, the shapes in every dtype, and ids unique
across all files. The resource limits of ``data/limits.yaml`` are checked before the work
they bound (a sweep's size before its values are made), and a fault of the loader itself
on one entry or one file is that entry's or file's error, never the run's end.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np

from oracle.formats import DTYPES, FORMATS, FloatFormat
from oracle.ops import InputKind, InvalidInput, OpDefinition, ParamKind, definition

from . import generators, sweeps, values
from .limits import exceeded, limits
from .schema import case_file_schema
from .source import Located, YamlError, line_of
from .source import load as load_yaml

DEFAULT_DTYPES = DTYPES


def _bundled_cases() -> Path:
    """The corpus: ``conformance/cases`` in an installed wheel (pyproject's package-dir puts it
    there), else ``cases/`` at the top of a checkout (the editable install, ``PYTHONPATH``)."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "cases"
    return installed if installed.is_dir() else package.parent / "cases"


#: The corpus shipped with the package.
BUNDLED_CASES = _bundled_cases()
_VARIABLE = re.compile(r"([+-]?)\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class CaseError:
    file: Path
    line: int
    case: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: case {self.case!r}: {self.message}" if self.case else f"{where}: {self.message}"


@dataclass(frozen=True)
class Case:
    id: str
    description: str
    provenance: str
    op: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Any]
    dtypes: tuple[str, ...] = DEFAULT_DTYPES
    tolerance: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    expect: str | None = None
    tags: tuple[str, ...] = ()
    file: Path = Path()
    line: int = 0
    #: Sweep variable -> the literal text it took for this case (for plots and ids).
    sweep: Mapping[str, str] = field(default_factory=dict)
    #: The id before sweep values were put in (``a={a}``): the cases of one sweep share it.
    template: str = ""

    def materialize(self, dtype: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Params and inputs as the framework under test will hold them in ``dtype``.

        Float arrays come back as float64 arrays whose every element is exactly a value
        of ``dtype``; integer inputs (labels) as int64.
        """
        fmt = FORMATS[dtype]
        op = self.definition
        labels = op.label_inputs
        inputs = {
            name: _integer_array(data) if name in labels else _float_array(data, fmt)
            for name, data in self.inputs.items()
        }
        params = dict(self.params)
        for name, value in self.params.items():
            kind = op.param(name).kind
            if kind == ParamKind.WEIGHTS:
                params[name] = _float_array(value, fmt)
            elif kind == ParamKind.VALUE:
                params[name] = values.resolve(value, fmt)
        return params, inputs

    @property
    def definition(self) -> OpDefinition:
        return definition(self.op)


@dataclass
class Corpus:
    cases: list[Case] = field(default_factory=list)
    errors: list[CaseError] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _integer_array(data: Any) -> np.ndarray:
    return generators.expand(data, None) if generators.is_generator(data) else np.asarray(data, dtype=np.int64)


def _ragged(data: Any) -> bool:
    try:
        array = np.array(data, dtype=object)
    except ValueError:
        return True
    return any(isinstance(v, list) for v in array.ravel().tolist())


def _float_array(data: Any, fmt: FloatFormat) -> np.ndarray:
    if generators.is_generator(data):
        return generators.expand(data, fmt)
    if _ragged(data):
        raise ValueError("not a rectangular array")
    array = np.array(data, dtype=object)
    flat = [values.resolve(v, fmt) for v in array.ravel().tolist()]
    return np.array(flat, dtype=np.float64).reshape(array.shape)


def case_files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.yaml") if p.is_file()))
        else:
            found.append(path)
    return found


def load(paths: Iterable[Path]) -> Corpus:
    corpus = Corpus(files=case_files(paths))
    seen: dict[str, Case] = {}
    for path in corpus.files:
        cases, errors = load_file(path)
        corpus.errors.extend(errors)
        for case in cases:
            if case.id in seen:
                first = seen[case.id]
                corpus.errors.append(
                    CaseError(
                        case.file, case.line, case.id, f"duplicate id: first defined at {first.file}:{first.line}"
                    )
                )
                continue
            seen[case.id] = case
            corpus.cases.append(case)
    return corpus


def load_file(path: Path) -> tuple[list[Case], list[CaseError]]:
    """The good cases of one file and an error for each bad one; never raises on bad input."""
    try:
        return _load_file(path)
    except (Exception, RecursionError) as error:  # a loader fault costs this file only
        return [], [CaseError(path, 1, None, f"the loader failed on this file ({type(error).__name__}: {error})")]


def _load_file(path: Path) -> tuple[list[Case], list[CaseError]]:
    try:
        document = load_yaml(path)
    except YamlError as error:
        return [], [CaseError(path, error.line, None, str(error))]
    except OSError as error:
        return [], [CaseError(path, 0, None, f"cannot read: {error.strerror}")]
    entries = document.get("cases") if isinstance(document, Mapping) else None
    if isinstance(entries, list):
        planned = sweeps.planned_cases(entries)
        if planned > limits().file_cases:
            message = str(exceeded("cases in one file", planned, limits().file_cases, "file_cases"))
            return [], [CaseError(path, line_of(document, ["cases"]), None, message)]
    bad_entries: set[int] = set()
    errors = []
    schema = case_file_schema()
    for problem in sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.path)):
        where = list(problem.absolute_path)
        index = where[1] if len(where) > 1 and where[0] == "cases" and isinstance(where[1], int) else None
        if index is not None:
            bad_entries.add(index)
        where, message = _describe(problem, where, schema)
        # A document that is not a mapping (empty, a scalar) has no line of its own: line 1.
        errors.append(CaseError(path, line_of(document, where) or 1, _entry_id(document, index), message))
    file_level = any(error.case is None for error in errors)
    if file_level or not isinstance(document, Mapping) or not isinstance(document.get("cases"), list):
        return [], errors
    defaults = document.get("defaults", {})
    cases: list[Case] = []
    for index, entry in enumerate(document["cases"]):
        if index in bad_entries:
            continue
        expanded, entry_errors = _expand(path, _merge(defaults, entry), entry)
        cases.extend(expanded)
        errors.extend(entry_errors)
    return cases, errors


def _entry_id(document: Any, index: int | None) -> str | None:
    if index is None:
        return None
    try:
        entry = document["cases"][index]
        return str(entry["id"]) if isinstance(entry, Mapping) and "id" in entry else f"#{index + 1}"
    except (KeyError, IndexError, TypeError):
        return f"#{index + 1}"


def _describe(
    problem: jsonschema.ValidationError, where: list[Any], schema: Mapping[str, Any]
) -> tuple[list[Any], str]:
    """A message without schema jargon, and the path of the line it is about."""
    inside_case = where[2:] if where[:1] == ["cases"] else where
    if problem.validator in ("unevaluatedProperties", "additionalProperties") and isinstance(problem.instance, Mapping):
        own = problem.schema.get("properties") if isinstance(problem.schema, Mapping) else None
        known = set(own or schema["$defs"]["caseFields"]["properties"])
        unknown = sorted(k for k in problem.instance if k not in known)
        if unknown:
            return [*where, unknown[0]], f"unknown key {unknown[0]!r} (known keys: {', '.join(sorted(known))})"
    location = ".".join(str(p) for p in inside_case)
    return where, f"{location}: {problem.message}" if location else problem.message


def _merge(defaults: Mapping[str, Any], entry: Located) -> dict[str, Any]:
    merged = {**defaults, **entry}
    if "params" in defaults and "params" in entry:
        merged["params"] = {**defaults["params"], **entry["params"]}
    return merged


def _expand(path: Path, entry: Mapping[str, Any], source: Located) -> tuple[list[Case], list[CaseError]]:
    """The cases of one entry, one per combination of its sweep values."""
    line = source.line
    raw_id = str(entry["id"])
    sweep = entry.get("sweep") or {}
    names = list(sweep)
    try:
        grids = [[sweeps.literal_text(v) for v in sweeps.sweep_values(sweep[name])] for name in names]
        count = math.prod(len(grid) for grid in grids)
        sweeps.check_size(count)
    except (ValueError, ZeroDivisionError) as error:
        return [], [CaseError(path, line_of(source, ["sweep"]), raw_id, f"bad sweep: {error}")]
    try:
        if names:
            sweeps.check_template(raw_id, names)
    except ValueError as error:
        return [], [CaseError(path, line_of(source, ["id"]), raw_id, f"id template: {error}")]
    cases, errors = [], []
    for combination in itertools.product(*grids):
        bound = dict(zip(names, combination))
        try:
            case_id = raw_id.format(**bound) if names else raw_id
            sweeps.check_id(case_id)
        except ValueError as error:
            return [], [CaseError(path, line_of(source, ["id"]), raw_id[:100], f"id: {error}")]
        try:
            case = _build(path, line, case_id, entry, bound)
        except _Problem as problem:
            # One error per entry: the same mistake would repeat for every sweep value.
            return [], [CaseError(path, line_of(source, problem.where), case_id, problem.message)]
        except (Exception, RecursionError) as error:  # a loader fault costs this entry only
            message = f"the loader failed on this case ({type(error).__name__}: {error})"
            return [], [CaseError(path, line, case_id, message)]
        cases.append(case)
    if names and len({c.id for c in cases}) < len(cases):
        errors.append(
            CaseError(path, line_of(source, ["id"]), raw_id, "the id template does not name every sweep variable")
        )
    return cases, errors


class _Problem(Exception):
    def __init__(self, where: list[str | int], message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


def _substitute(data: Any, bound: Mapping[str, str], where: list[str | int]) -> Any:
    """Sweep values put in for ``$name`` (or ``-$name``), alone or inside a call: ``next_up($y)``."""
    if isinstance(data, list):
        return [_substitute(item, bound, [*where, i]) for i, item in enumerate(data)]
    if not isinstance(data, str) or "$" not in data:
        return data

    def value(match: re.Match[str]) -> str:
        sign, name = match.groups()
        if name not in bound:
            raise _Problem(where, f"${name} is not a sweep variable of this case")
        text = bound[name]
        if sign == "-":
            return text[1:] if text.startswith("-") else "-" + text
        return sign + text

    text = _VARIABLE.sub(value, data.strip())
    # Integers stay integers (labels, ignore_index); everything else keeps its exact text.
    return int(text) if _VARIABLE.fullmatch(data.strip()) and re.fullmatch(r"-?\d+", text) else text


def _build(path: Path, line: int, case_id: str, entry: Mapping[str, Any], bound: Mapping[str, str]) -> Case:
    for required in ("description", "provenance", "op", "inputs"):
        if required not in entry:
            raise _Problem([], f"missing {required!r} (in the case or the file's defaults)")
    op = definition(entry["op"])
    params = {k: _substitute(v, bound, ["params", k]) for k, v in (entry.get("params") or {}).items()}
    inputs = {k: _substitute(v, bound, ["inputs", k]) for k, v in entry["inputs"].items()}
    _check_vocabulary(op, params, inputs)
    _check_inputs(op, inputs)
    _check_params(op, params)
    case = Case(
        id=case_id,
        description=str(entry["description"]),
        provenance=str(entry["provenance"]),
        op=op.name,
        params=params,
        inputs=inputs,
        dtypes=tuple(entry.get("dtypes") or DEFAULT_DTYPES),
        tolerance=entry.get("tolerance") or {},
        expect=entry.get("expect"),
        tags=tuple(entry.get("tags") or ()),
        file=path,
        line=line,
        sweep=dict(bound),
        template=str(entry["id"]),
    )
    for dtype in case.dtypes:
        case_params, arrays = case.materialize(dtype)
        try:
            op.check(op.with_defaults(case_params), arrays)
        except InvalidInput as problem:
            raise _Problem(list(problem.where), str(problem)) from None
        if case.expect is None:
            _check_label_range(op, op.with_defaults(case_params), arrays)
    return case


def _check_label_range(op: OpDefinition, params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
    """Class labels index the class axis of the prediction (the op's ``axis`` param); any
    other label, unless it is ``ignore_index``, leaves the case no valid answer, which a case
    must say with ``expect:`` (``run`` would otherwise record an error for every framework)."""
    axis = next((p.name for p in op.params if p.axis), None)
    if axis is None or not op.label_inputs:
        return
    prediction = arrays[op.prediction]
    try:
        classes = prediction.shape[int(params[axis])]
    except (IndexError, TypeError, ValueError):
        return  # a bad axis is op.check's to report
    ignore = params.get("ignore_index")
    for name in op.label_inputs:
        labels = arrays[name]
        outside = labels[((labels < 0) | (labels >= classes)) & (labels != ignore if ignore is not None else True)]
        if outside.size:
            raise _Problem(
                ["inputs", name],
                f"label {int(outside[0])} is outside [0, {classes}) and not ignore_index: the case has no valid "
                "answer, say so with expect: (error, nan or error_or_nan)",
            )


def _check_vocabulary(op: OpDefinition, params: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    for name in params:
        if name not in op.param_names:
            takes = ", ".join(op.param_names) or "none"
            raise _Problem(["params", name], f"{op.name} takes no param {name!r} (params it takes: {takes})")
    for name in inputs:
        if name not in op.input_names:
            raise _Problem(
                ["inputs", name], f"{op.name} takes no input {name!r} (it takes: {', '.join(op.input_names)})"
            )
    for name in op.required_inputs:
        if name not in inputs:
            raise _Problem(["inputs"], f"{op.name} needs input {name!r}")


def _leaves(data: Any, where: list[str | int]) -> Iterable[tuple[Any, list[str | int]]]:
    if isinstance(data, list):
        for i, item in enumerate(data):
            yield from _leaves(item, [*where, i])
    else:
        yield data, where


def _check_array(data: Any, where: list[str | int], labels: bool) -> None:
    """A rectangular array (or a generator) of the value grammar, or of integer labels."""
    if generators.is_generator(data):
        try:
            generators.check(data, labels)
        except values.ValueSyntaxError as error:
            raise _Problem(where, str(error)) from None
        return
    if _ragged(data):
        raise _Problem(where, f"{'.'.join(map(str, where))} is not a rectangular array")
    size = np.asarray(data, dtype=object).size
    if size > limits().array_elements:
        raise _Problem(where, str(exceeded("elements of an array", size, limits().array_elements, "array_elements")))
    for leaf, at in _leaves(data, where):
        if labels:
            if not isinstance(leaf, int) or isinstance(leaf, bool):
                raise _Problem(at, f"{where[-1]} holds integer class labels, got {leaf!r}")
            if abs(leaf) > limits().label_magnitude:
                raise _Problem(at, f"a label of {leaf} is outside int64 (label_magnitude in data/limits.yaml)")
            continue
        try:
            values.check(leaf)
        except values.ValueSyntaxError as error:
            raise _Problem(at, str(error)) from None


def _check_inputs(op: OpDefinition, inputs: Mapping[str, Any]) -> None:
    for spec in op.inputs:
        if spec.name in inputs:
            _check_array(inputs[spec.name], ["inputs", spec.name], spec.kind == InputKind.LABELS)


def _check_params(op: OpDefinition, params: Mapping[str, Any]) -> None:
    """Each param's type and range, as its definition states them."""
    for name, value in params.items():
        param = op.param(name)
        where: list[str | int] = ["params", name]
        if param.kind == ParamKind.FLAG and not isinstance(value, bool):
            raise _Problem(where, f"{name} is true or false, not {value!r}")
        if param.kind == ParamKind.INTEGER and (not isinstance(value, int) or isinstance(value, bool)):
            raise _Problem(where, f"{name} is an integer, not {value!r}")
        if param.kind == ParamKind.INTEGER and abs(value) > limits().label_magnitude:
            raise _Problem(where, f"{name} {value} is outside int64 (label_magnitude in data/limits.yaml)")
        if param.kind == ParamKind.CHOICE and value not in param.choices:
            raise _Problem(where, f"{name} {value!r} is not one of {', '.join(param.choices)}")
        if param.kind == ParamKind.WEIGHTS:
            _check_array(value, where, labels=False)
        if param.kind == ParamKind.VALUE:
            try:
                exact = values.resolve(value, FORMATS["float64"])
            except values.ValueSyntaxError as error:
                raise _Problem(where, str(error)) from None
            problem = param.check_number(exact)
            if problem is not None:
                raise _Problem(where, problem)
