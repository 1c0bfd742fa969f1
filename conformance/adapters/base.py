"""The adapter interface: how a framework joins the suite.

An adapter maps canonical ops to a framework's *native* implementations and says what
each one documents about itself. It is deliberately small:

* ``name``, ``load()`` (import the framework, apply reproducible settings; raise
  ImportError when it is not installed), ``version()``;
* ``implementations()``: one :class:`Implementation` per native function, each holding a
  ``call(params, tensors)`` that invokes exactly that function;
* a :class:`Tensors` bridge (numpy in the tested dtype -> framework tensors -> value and
  vector-Jacobian product by the framework's own autodiff -> numpy).

An op or param a framework lacks is left out of ``params``/``reductions`` and is scored
``unsupported``: it is never faked by composing other calls. Adapters are discovered
through the ``loss_conformance.adapters`` entry-point group, so a third-party package can
add a framework without touching this repository.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from oracle.formats import DTYPES

ENTRY_POINT_GROUP = "loss_conformance.adapters"
ALL_DTYPES = DTYPES


@dataclass(frozen=True)
class Implementation:
    """One native implementation of a canonical op.

    ``params`` lists the canonical params it takes (beyond ``reduction``, which is listed
    in ``reductions``); ``from_logits`` says which input it expects for the losses;
    ``semantics`` names the documented variants (``oracle/variants.yaml``) it claims, with
    ``doc`` linking to where they are documented.
    """

    name: str
    op: str
    call: Callable[[Mapping[str, Any], Mapping[str, Any]], Any] = field(compare=False, repr=False)
    params: frozenset[str] = frozenset()
    reductions: frozenset[str] = frozenset({"none"})
    from_logits: bool | None = None
    semantics: tuple[str, ...] = ()
    doc: str = ""
    dtypes: tuple[str, ...] = ALL_DTYPES
    gradient: bool = True
    #: Canonical ``axis`` must resolve to this (for ndim-dependent class axes, a callable).
    class_axis: Callable[[int], int] | None = field(default=None, compare=False, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op": self.op,
            "params": sorted(self.params),
            "reductions": sorted(self.reductions),
            "from_logits": self.from_logits,
            "semantics": list(self.semantics),
            "doc": self.doc,
            "dtypes": list(self.dtypes),
            "gradient": self.gradient,
            "class_axis_for_ndim": {str(n): self.class_axis(n) for n in range(1, 5)} if self.class_axis else {},
        }


@dataclass(frozen=True)
class Outcome:
    """What a framework returned, widened exactly to float64 for scoring."""

    value: np.ndarray
    value_dtype: str
    grad: np.ndarray | None
    grad_dtype: str | None


class Tensors(Protocol):
    """The framework side of the bridge."""

    def tensor(self, array: np.ndarray, dtype: str) -> Any: ...

    def labels(self, array: np.ndarray) -> Any: ...

    def value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        """Value of ``function(wrt)`` and the VJP with ``cotangent`` (ones if None), as float64."""
        ...

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]: ...


class Adapter(Protocol):
    name: str

    def load(self) -> None: ...

    def version(self) -> str: ...

    def implementations(self) -> list[Implementation]: ...

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome: ...


def dtype_name(dtype: Any) -> str:
    """A canonical name for a returned dtype of any framework ('float32', 'bfloat16', ...)."""
    text = str(dtype)
    for prefix in ("torch.", "<dtype: '", "dtype('"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.rstrip("')>")


class TensorAdapter:
    """The shared run loop: build tensors, call the native function, differentiate.

    Concrete adapters supply ``name``, ``load``, ``version``, ``implementations`` and a
    ``bridge`` (:class:`Tensors`); nothing else about running a case differs between them.
    """

    name = "abstract"
    bridge: Tensors

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        prediction = "x" if "x" in inputs else "y_pred"
        fixed: dict[str, Any] = {}
        for name, array in inputs.items():
            if name in (prediction, "cotangent"):
                continue
            fixed[name] = self.bridge.labels(array) if array.dtype.kind == "i" else self.bridge.tensor(array, dtype)
        native_params = {
            name: self.bridge.tensor(np.asarray(value), dtype) if name in ("sample_weight", "class_weight") else value
            for name, value in params.items()
        }
        wrt = self.bridge.tensor(inputs[prediction], dtype)

        def function(tensor: Any) -> Any:
            return implementation.call(native_params, {**fixed, prediction: tensor})

        if not implementation.gradient:
            value, value_dtype = self.bridge.value(function, wrt)
            return Outcome(value, value_dtype, None, None)
        value, value_dtype, grad, grad_dtype = self.bridge.value_and_vjp(function, wrt, inputs.get("cotangent"))
        return Outcome(value, value_dtype, grad, grad_dtype)


AXIS_OPS = ("log_softmax", "softmax", "logsumexp")


def primitives(
    natives: Mapping[str, tuple[str, Callable[..., Any], str]],
    axis_keyword: str = "axis",
    semantics: Mapping[str, tuple[str, ...]] | None = None,
    gradient: bool = True,
) -> list[Implementation]:
    """The primitive ops of a framework from a table: op -> (qualified name, native, doc link).

    Elementwise natives are called as ``native(x)``; the softmax family as
    ``native(x, <axis_keyword>=axis)`` with the case's canonical axis.
    """
    implementations = []
    for op, (name, native, doc) in natives.items():
        along_axis = op in AXIS_OPS
        call = (
            functools.partial(_along_axis, native, axis_keyword)
            if along_axis
            else functools.partial(_elementwise, native)
        )
        implementations.append(
            Implementation(
                name,
                op,
                call,
                frozenset({"axis"}) if along_axis else frozenset(),
                semantics=(semantics or {}).get(op, ()),
                doc=doc,
                gradient=gradient,
            )
        )
    return implementations


def _elementwise(native: Callable[..., Any], params: Mapping[str, Any], tensors: Mapping[str, Any]) -> Any:
    return native(tensors["x"])


def _along_axis(native: Callable[..., Any], keyword: str, params: Mapping[str, Any], tensors: Mapping[str, Any]) -> Any:
    return native(tensors["x"], **{keyword: int(params.get("axis", -1))})
