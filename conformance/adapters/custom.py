"""A user's own loss function, wrapped as a one-implementation adapter.

The gate runs it in an ordinary worker (so a loss that crashes or hangs costs its case,
not the gate). The worker learns what to load from CONFORMANCE_CUSTOM_LOSS, a JSON object:
``{"target": "module:callable", "framework": "torch", "op": ..., "from_logits": bool,
"args": "true,pred" | "pred,true", "name": ...}``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from . import TENSOR_FRAMEWORKS, loaded
from .base import Implementation, TensorAdapter

ENVIRONMENT = "CONFORMANCE_CUSTOM_LOSS"
FRAMEWORKS = TENSOR_FRAMEWORKS


def load_callable(target: str) -> Callable[..., Any]:
    """``module:attribute.path`` -> the object; ImportError/AttributeError say which part failed."""
    module_name, separator, attribute = target.partition(":")
    if not separator or not module_name or not attribute:
        raise ValueError(f"{target!r} is not MODULE:CALLABLE")
    found: Any = import_module(module_name)
    for part in attribute.split("."):
        found = getattr(found, part)
    if not callable(found):
        raise TypeError(f"{target} is a {type(found).__name__}, not a callable")
    return found  # type: ignore[no-any-return]


def implementation_for(
    function: Callable[..., Any], name: str, op: str, from_logits: bool | None, args: str
) -> Implementation:
    def call(params: Mapping[str, Any], tensors: Mapping[str, Any]) -> Any:
        if "x" in tensors:
            return function(tensors["x"])
        y_true, y_pred = tensors["y_true"], tensors["y_pred"]
        return function(y_pred, y_true) if args == "pred,true" else function(y_true, y_pred)

    everything = frozenset({"label_smoothing", "sample_weight", "class_weight", "ignore_index", "axis"})
    return Implementation(name, op, call, everything, frozenset({"none", "sum", "mean"}), from_logits)


class CustomLossAdapter(TensorAdapter):
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.name = f"custom[{spec['framework']}]"

    def load(self) -> None:
        self.inner = loaded(self.spec["framework"])
        self.bridge = self.inner.bridge
        self.function = load_callable(self.spec["target"])

    def version(self) -> str:
        return str(self.inner.version())

    def implementations(self) -> list[Implementation]:
        spec = self.spec
        return [implementation_for(self.function, spec["name"], spec["op"], spec["from_logits"], spec["args"])]


def from_environment() -> CustomLossAdapter:
    return CustomLossAdapter(json.loads(os.environ[ENVIRONMENT]))
