"""Arrays across the process boundary, bit for bit: floats as hex, shapes explicit."""

from __future__ import annotations

from typing import Any

import numpy as np


def encode(array: Any) -> dict[str, Any]:
    array = np.asarray(array)
    if array.dtype.kind in "iu":
        return {"kind": "int", "shape": list(array.shape), "data": [int(v) for v in array.ravel().tolist()]}
    flat = np.asarray(array, dtype=np.float64).ravel().tolist()
    return {"kind": "float", "shape": list(array.shape), "data": [float(v).hex() for v in flat]}


def decode(payload: dict[str, Any]) -> np.ndarray:
    shape = tuple(payload["shape"])
    if payload["kind"] == "int":
        return np.array(payload["data"], dtype=np.int64).reshape(shape)
    return np.array([float.fromhex(v) for v in payload["data"]], dtype=np.float64).reshape(shape)


def encode_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: {"array": encode(v)} if isinstance(v, np.ndarray) else v for k, v in params.items()}


def decode_params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: decode(v["array"]) if isinstance(v, dict) and "array" in v else v for k, v in params.items()}
