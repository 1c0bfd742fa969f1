"""Arrays across the process boundary, bit for bit: raw little-endian bytes in base64.

Floats travel as float64 (every tested dtype's values are exact in it), labels as int64;
signed zeros and NaN payloads survive. A complex answer travels as complex128, so that its
imaginary part is judged, not dropped by a cast. A 100,000-element input costs a memcpy, not 100,000
hex strings.
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any

import numpy as np


class Status(StrEnum):
    """What became of one framework call, as the worker and its parent say it (before judging)."""

    OK = "ok"
    ERROR = "error"  # the framework raised
    TIMEOUT = "timeout"  # it hung and its worker was killed
    CRASH = "crash"  # it killed its worker
    UNSUPPORTED = "unsupported"  # never called: no native implementation of what the case needs
    #: Wrong on its face, no oracle needed: a complex answer (a loss is real). Set by the
    #: parent on reading the answer, never sent by a worker.
    FAIL = "fail"


_WIRE = {"int": "<i8", "float": "<f8", "complex": "<c16"}


def encode(array: Any) -> dict[str, Any]:
    array = np.asarray(array)
    kind = {"i": "int", "u": "int", "c": "complex"}.get(array.dtype.kind, "float")
    raw = np.ascontiguousarray(array, dtype=_WIRE[kind])
    return {"kind": kind, "shape": list(array.shape), "data": base64.b64encode(raw.tobytes()).decode("ascii")}


def decode(payload: dict[str, Any]) -> np.ndarray:
    flat = np.frombuffer(base64.b64decode(payload["data"]), dtype=_WIRE[payload["kind"]])
    return flat.astype(np.dtype(_WIRE[payload["kind"]]).newbyteorder("=")).reshape(tuple(payload["shape"]))


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: {"array": encode(v)} if isinstance(v, np.ndarray) else v for k, v in params.items()}


def decode_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: decode(v["array"]) if isinstance(v, dict) and "array" in v else v for k, v in params.items()}
