"""The case-file JSON Schema, built from the ops' definitions.

The op enum, the params (with their types, choices and descriptions) and the input names
all come from :mod:`oracle.ops`, so a new op is in the schema the moment its module exists.
``conformance/schema/case-file.schema.json`` is this document written out for editors'
YAML plugins (``conformance schema --write`` refreshes it; a test says when it is stale).
Which params and inputs each op takes is checked by the loader after the schema, with
messages that name the op: a case may take its op from the file's ``defaults``.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from oracle.formats import DTYPES
from oracle.ops import ParamKind, definitions

SCHEMA_ID = "https://github.com/loss-conformance/loss-conformance/conformance/schema/case-file.schema.json"
VALUES = (
    "Values are numbers, hex floats (0x1.8p-3), inf, -inf, nan, dtype-relative tokens (max, min_normal, "
    "min_subnormal, eps, below_one, above_one, optionally signed) or next_up(V), next_down(V), one_minus(V)."
)
_VARIABLE = {"$ref": "#/$defs/variable"}
#: What a case id may contain, before and after sweep values are put in.
ID_PATTERN = "^[A-Za-z0-9_./=,:+\\-{}\\[\\]]+$"


def _param_schema(kind: ParamKind, choices: tuple[str, ...]) -> dict[str, Any]:
    if kind == ParamKind.FLAG:
        return {"type": "boolean"}
    if kind == ParamKind.INTEGER:
        return {"anyOf": [{"type": "integer"}, _VARIABLE]}
    if kind == ParamKind.CHOICE:
        return {"anyOf": [{"enum": list(choices)}, _VARIABLE]}
    if kind == ParamKind.VALUE:
        return {"$ref": "#/$defs/value"}
    return {"$ref": "#/$defs/array"}


def _params() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for op in definitions().values():
        for param in op.params:
            entry = properties.setdefault(
                param.name, {**_param_schema(param.kind, param.choices), "description": param.doc, "x-ops": []}
            )
            entry["x-ops"].append(op.name)
    for entry in properties.values():
        ops = entry.pop("x-ops")
        entry["description"] += f" (ops: {', '.join(ops)})"
    return {"type": "object", "additionalProperties": False, "properties": dict(sorted(properties.items()))}


def case_file_schema() -> dict[str, Any]:
    ops = definitions()
    input_names = sorted({i.name for op in ops.values() for i in op.inputs})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "loss-conformance case file",
        "description": f"Adversarial inputs for ML loss functions, each with provenance and tolerances. {VALUES}",
        "type": "object",
        "additionalProperties": False,
        "required": ["cases"],
        "properties": {
            "defaults": {
                "$ref": "#/$defs/caseFields",
                "unevaluatedProperties": False,
                "description": "Fields every case of this file starts from; params are merged key by key.",
            },
            "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}},
        },
        "$defs": {
            "case": {"$ref": "#/$defs/caseFields", "unevaluatedProperties": False, "required": ["id"]},
            "caseFields": {
                "type": "object",
                "properties": {
                    "id": {
                        "type": "string",
                        "pattern": ID_PATTERN,
                        "description": "Unique across the corpus and readable, e.g. bce/logits/two-point/a={a}; "
                        "{var} is replaced by a sweep value.",
                    },
                    "description": {"type": "string", "minLength": 1},
                    "provenance": {
                        "type": "string",
                        "minLength": 1,
                        "description": "A seed file name, an issue URL or a derivation.",
                    },
                    "op": {
                        "enum": list(ops),
                        "description": "; ".join(f"{name}: {op.summary}" for name, op in ops.items()),
                    },
                    "params": {"$ref": "#/$defs/params"},
                    "inputs": {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"enum": input_names},
                        "additionalProperties": {"$ref": "#/$defs/array"},
                    },
                    "dtypes": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"enum": list(DTYPES)},
                    },
                    "tolerance": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"value": {"$ref": "#/$defs/tolerance"}, "grad": {"$ref": "#/$defs/tolerance"}},
                    },
                    "expect": {
                        "enum": ["error", "nan", "error_or_nan"],
                        "description": "The ideal outcome for an input with no valid finite answer.",
                    },
                    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                    "sweep": {
                        "type": "object",
                        "minProperties": 1,
                        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
                        "additionalProperties": {"$ref": "#/$defs/sweep"},
                    },
                },
            },
            "value": {"type": ["number", "string"]},
            "variable": {
                "type": "string",
                "pattern": "^\\$[A-Za-z_][A-Za-z0-9_]*$",
                "description": "a sweep variable",
            },
            "array": {
                "anyOf": [
                    {"$ref": "#/$defs/value"},
                    {"type": "array", "items": {"$ref": "#/$defs/array"}},
                    {"$ref": "#/$defs/generator"},
                ]
            },
            "generator": {
                "type": "object",
                "description": "A large input as data: {fill: V, shape: [...]}, {linspace: [start, stop, n]} or "
                "{onehot: [index, size]}, optionally with rows: R.",
                "properties": {
                    "fill": {"$ref": "#/$defs/value"},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "linspace": {"type": "array"},
                    "onehot": {"type": "array", "items": {"type": "integer"}},
                    "rows": {"type": "integer", "minimum": 1},
                },
                "additionalProperties": False,
            },
            "params": _params(),
            "tolerance": {
                "type": "object",
                "additionalProperties": False,
                "minProperties": 1,
                "properties": {
                    "ulp": {"type": "number", "minimum": 0},
                    "abs": {"type": "number", "minimum": 0},
                    "rel": {"type": "number", "minimum": 0},
                },
            },
            "sweep": {
                "oneOf": [
                    {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/value"}},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["range"],
                        "properties": {
                            "range": {
                                "type": "array",
                                "prefixItems": [
                                    {"type": "number"},
                                    {"type": "number"},
                                    {"type": "number", "exclusiveMinimum": 0},
                                ],
                                "minItems": 3,
                                "maxItems": 3,
                            }
                        },
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["powers_of_ten"],
                        "properties": {
                            "powers_of_ten": {
                                "type": "array",
                                "items": {"type": "integer"},
                                "minItems": 2,
                                "maxItems": 2,
                            }
                        },
                    },
                ]
            },
        },
    }


def editor_copy() -> Path:
    """Where the schema is written out for editors, inside the package."""
    return Path(str(resources.files("conformance").joinpath("schema/case-file.schema.json")))


def editor_hint(case_file: Path) -> str:
    """The first line of a case file: its schema for editors (YAML language server), as a path
    relative to the file, so it resolves in a checkout. The loader reads it as a comment."""
    relative = os.path.relpath(editor_copy(), Path(case_file).resolve().parent)
    return f"# yaml-language-server: $schema={Path(relative).as_posix()}"


def render() -> str:
    return json.dumps(case_file_schema(), indent=2) + "\n"
