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

import contextlib
import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from oracle.formats import DTYPES
from oracle.ops import InvalidInput, ParamKind, definition
from oracle.semantics import variants

ENTRY_POINT_GROUP = "loss_conformance.adapters"
ALL_DTYPES = DTYPES


@dataclass(frozen=True)
class FixedAxis:
    """Where an implementation that takes no axis argument has its class axis: at ``at`` for
    inputs of every rank, except the ranks listed in ``by_rank`` (torch: 1, or 0 for a vector)."""

    at: int = -1
    by_rank: Mapping[int, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"at": self.at, "by_rank": {str(rank): axis for rank, axis in self.by_rank.items()}}


def native_axis(described: Mapping[str, Any] | None, ndim: int) -> int:
    """The class axis, in [0, ndim), of an implementation described with :meth:`FixedAxis.describe`."""
    rule = described or {}
    axis = int(rule.get("by_rank", {}).get(str(ndim), rule.get("at", -1)))
    return axis % max(ndim, 1)


@dataclass(frozen=True)
class Implementation:
    """One native implementation of a canonical op.

    ``params`` lists the canonical params it takes (beyond ``reduction``, which is listed
    in ``reductions``); ``from_logits`` (or, for other ops' mode params, ``mode``) says which
    input it expects; ``semantics`` names the documented variants (``oracle/variants.yaml``) it
    claims, with ``doc`` linking to where they are documented; ``class_axis`` says where its
    class axis is when it takes no ``axis``.
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
    class_axis: FixedAxis = FixedAxis()
    mode: Mapping[str, Any] = field(default_factory=dict)

    def modes(self) -> dict[str, Any]:
        return {**({"from_logits": self.from_logits} if self.from_logits is not None else {}), **self.mode}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "op": self.op,
            "params": sorted(self.params),
            "reductions": sorted(self.reductions),
            "mode": self.modes(),
            "semantics": list(self.semantics),
            "doc": self.doc,
            "dtypes": list(self.dtypes),
            "gradient": self.gradient,
            "class_axis": self.class_axis.describe(),
        }


def declaration_problems(implementation: Implementation) -> list[str]:
    """What an implementation declares that its op's definition does not allow: an unknown op,
    param, reduction or mode, or a variant that does not exist or does not apply to the op.
    The worker refuses to start an adapter with any (a misspelt variant would silently fail)."""
    try:
        op = definition(implementation.op)
    except InvalidInput as problem:
        return [f"{implementation.name}: {problem}"]
    problems = []
    takes = {p.name for p in op.params if not p.mode and p.name != "reduction"}
    for name in sorted(implementation.params - takes):
        problems.append(f"{implementation.name}: {op.name} has no param {name!r}")
    allowed = set(op.param("reduction").choices) if op.is_loss else {"none"}
    for name in sorted(implementation.reductions - allowed):
        problems.append(f"{implementation.name}: {op.name} has no reduction {name!r}")
    modes = {p.name for p in op.mode_params}
    for name in sorted(set(implementation.modes()) - modes):
        problems.append(f"{implementation.name}: {op.name} has no mode param {name!r}")
    known = variants()
    for name in implementation.semantics:
        if name not in known:
            problems.append(f"{implementation.name}: unknown semantic variant {name!r} (known: {', '.join(known)})")
        elif not known[name].setting_names <= op.setting_names:
            problems.append(f"{implementation.name}: variant {name!r} does not apply to {op.name}")
    for dtype in implementation.dtypes:
        if dtype not in ALL_DTYPES:
            problems.append(f"{implementation.name}: unknown dtype {dtype!r}")
    return problems


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

    Concrete adapters supply ``name``, ``version``, ``implementations``, ``attach`` (import the
    framework and make the ``bridge``, a :class:`Tensors`, changing no setting) and ``configure``
    (the worker's process-wide settings: one thread, no TF32, ...). A worker calls ``load``, both;
    the in-process gate uses ``borrowed``, which attaches only, so the caller's settings stay.
    """

    name = "abstract"
    bridge: Tensors
    #: Whether the bridge differentiates (NumPy and ONNX Runtime's inference build do not): a
    #: user's function gated on such an adapter is scored on its values, its gradient unsupported.
    autodiff = True

    def attach(self) -> None:
        raise NotImplementedError

    def configure(self) -> None:
        """Process-wide settings for reproducible results; only ever applied in a worker."""

    def load(self) -> None:
        self.attach()
        self.configure()

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Settings the calls need that can be limited to a block (JAX's float64)."""
        yield

    @classmethod
    @contextlib.contextmanager
    def borrowed(cls) -> Iterator[Any]:
        adapter = cls()
        adapter.attach()
        with adapter.scope():
            yield adapter

    def run(
        self, implementation: Implementation, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str
    ) -> Outcome:
        """Call ``implementation`` on tensors of ``dtype``; it sees every param of its op, defaults
        filled in, and weights as tensors of the dtype."""
        op = definition(implementation.op)
        prediction = op.prediction
        labels = op.label_inputs
        fixed: dict[str, Any] = {}
        for name, array in inputs.items():
            if name in (prediction, "cotangent"):
                continue
            fixed[name] = self.bridge.labels(array) if name in labels else self.bridge.tensor(array, dtype)
        native_params = {
            name: self.bridge.tensor(np.asarray(value), dtype)
            if value is not None and op.param(name).kind == ParamKind.WEIGHTS
            else value
            for name, value in op.with_defaults(params).items()
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
    return native(tensors["x"], **{keyword: int(params["axis"])})
