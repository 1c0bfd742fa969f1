"""A user's own loss function, wrapped as a one-implementation adapter.

The gate runs it in an ordinary worker (so a loss that crashes or hangs costs its case,
not the gate). The worker learns what to load from CONFORMANCE_CUSTOM_LOSS, a JSON object:
``{"target": "module:callable", "framework": "torch", "op": ..., "mode": {"from_logits": bool},
"args": "true,pred" | "pred,true", "name": ...}``. ``framework`` is any installed adapter's
entry-point name: the user's function gets that adapter's tensors (``keras-jax``: JAX arrays
under Keras' settings; ``numpy``: arrays) and its autodiff. The same worker also offers the
adapter's own implementations as ``natives``, which the gate's platform verdict runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

from oracle.ops import definition

from . import TENSOR_FRAMEWORKS, resolve
from .base import Implementation, TensorAdapter

ENVIRONMENT = "CONFORMANCE_CUSTOM_LOSS"
#: The frameworks ``check_loss`` borrows in the caller's own process; the CLI gate takes any adapter.
IN_PROCESS_FRAMEWORKS = TENSOR_FRAMEWORKS


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
    function: Callable[..., Any], name: str, op: str, mode: Mapping[str, Any], args: str, gradient: bool = True
) -> Implementation:
    """The user's function takes every param of its op: the gate runs only the cases whose params
    the user declared, so what the function honours is what the cases use."""
    op_definition = definition(op)

    targets = [name for name in op_definition.required_inputs if name != op_definition.prediction]

    def call(params: Mapping[str, Any], tensors: Mapping[str, Any]) -> Any:
        given = [tensors[name] for name in targets]
        prediction = tensors[op_definition.prediction]
        return function(prediction, *given) if args == "pred,true" else function(*given, prediction)

    takes = frozenset(p.name for p in op_definition.params if not p.mode and p.name != "reduction")
    reductions = frozenset(op_definition.param("reduction").choices) if op_definition.is_loss else frozenset({"none"})
    return Implementation(name, op, call, takes, reductions, mode=dict(mode), gradient=gradient)


class CustomLossAdapter(TensorAdapter):
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.name = f"custom[{spec['framework']}]"

    def load(self) -> None:
        inner: Any = resolve(self.spec["framework"])  # a TensorAdapter: it has a bridge
        inner.load()
        self.inner, self.bridge = inner, inner.bridge
        self.function = load_callable(self.spec["target"])

    def version(self) -> str:
        return str(self.inner.version())

    def implementations(self) -> list[Implementation]:
        spec = self.spec
        gradient = bool(getattr(self.inner, "autodiff", True))
        return [implementation_for(self.function, spec["name"], spec["op"], spec["mode"], spec["args"], gradient)]

    def natives(self) -> list[Implementation]:
        """The framework's own implementations of the op (the gate's platform verdict runs them)."""
        return [native for native in self.inner.implementations() if native.op == self.spec["op"]]


def from_environment() -> CustomLossAdapter:
    return CustomLossAdapter(json.loads(os.environ[ENVIRONMENT]))
