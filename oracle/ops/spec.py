"""What an op is, in one record: inputs, params with their rules, settings, the exact ideal.

Every other part of the suite derives what it knows about an op from its
:class:`OpDefinition`: the case-file schema and validation, the planner's defaults and
modes, the gate's params, the verdicts' gradient scale, and the oracle's dispatch. Adding
a loss is one module in :mod:`oracle.ops` that defines ``DEFINITIONS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from oracle.interval import Interval
from oracle.semantics import InFormat


class InvalidInput(ValueError):
    """The input has no valid answer (a label out of range, shapes that do not fit).

    ``where`` is the path in a case entry the problem is about (``("params", "axis")``), so a
    case file's error can name its line.
    """

    def __init__(self, message: str, where: tuple[str, ...] = ("inputs",)) -> None:
        super().__init__(message)
        self.where = where


class InputKind(StrEnum):
    FLOAT = "float"  # values of the tested dtype, rounded once from the case's literals
    LABELS = "labels"  # integer class indices, never rounded


@dataclass(frozen=True)
class Input:
    name: str
    kind: InputKind = InputKind.FLOAT
    doc: str = ""
    #: A case may leave it out (a primitive's cotangent).
    optional: bool = False


class ParamKind(StrEnum):
    FLAG = "flag"  # true / false
    INTEGER = "integer"
    CHOICE = "choice"  # one of ``choices``
    VALUE = "value"  # one number of the value grammar, rounded into the dtype like an input
    WEIGHTS = "weights"  # an array of the value grammar, rounded into the dtype like an input


@dataclass(frozen=True)
class Param:
    """A param and every rule about it: its type, default, range, and what it means for planning.

    ``mode`` params select *which* implementations apply (``from_logits``: an implementation on
    probabilities does not apply to a case on logits); the others an implementation either takes
    or is ``unsupported`` for. ``axis`` params name an axis of the prediction that an
    implementation without the param fixes natively.
    """

    name: str
    kind: ParamKind
    default: Any
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    mode: bool = False
    axis: bool = False

    @property
    def rounded(self) -> bool:
        """Held in the tested dtype, like a float input (weights, a smoothing factor)."""
        return self.kind in (ParamKind.VALUE, ParamKind.WEIGHTS)

    def check_number(self, value: float) -> str | None:
        """Why a resolved number is out of this param's range, or None."""
        if math.isnan(value):
            return f"{self.name} is NaN"
        if self.minimum is not None and value < self.minimum:
            return f"{self.name} {value:g} is below {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{self.name} {value:g} is above {self.maximum:g}"
        return None


@dataclass(frozen=True)
class Setting:
    """A knob of the exact computation that a documented variant may turn (a clip, a floor)."""

    name: str
    kind: type  # bool or float
    doc: str


@dataclass
class Enclosures:
    """The op's output and its gradient with respect to the prediction, as flat enclosures."""

    value: list[Interval]
    value_shape: tuple[int, ...]
    grad: list[Interval]
    grad_shape: tuple[int, ...]


Params = Mapping[str, Any]
Arrays = Mapping[str, np.ndarray]
Evaluate = Callable[[Params, Arrays, InFormat], Enclosures]


@dataclass(frozen=True)
class OpDefinition:
    """One canonical op.

    ``evaluate`` computes the exact ideal (or a documented variant, through ``settings``) at the
    working precision; it receives every param, defaults filled in. ``check`` raises
    :class:`InvalidInput` for inputs whose shapes or params do not fit together.
    ``sample_shape`` is the shape of the per-sample losses (``None`` for the primitives, which
    have no reduction): a ``mean`` averages over it, ``sample_weight`` broadcasts to it.
    """

    name: str
    summary: str
    inputs: tuple[Input, ...]
    prediction: str
    params: tuple[Param, ...]
    evaluate: Evaluate = field(repr=False)
    check: Callable[[Params, Arrays], None] = field(repr=False)
    sample_shape: Callable[[Params, Arrays], tuple[int, ...]] | None = field(default=None, repr=False)
    settings: tuple[Setting, ...] = ()
    #: Where the ideal's conventions are argued (a README section or a source).
    reference: str = ""
    #: A small valid input, default params (for the docs and for tests that enumerate every op).
    example: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [i.name for i in self.inputs]
        if self.prediction not in names:
            raise ValueError(f"{self.name}: prediction {self.prediction!r} is not one of its inputs {names}")
        if len({p.name for p in self.params}) != len(self.params):
            raise ValueError(f"{self.name}: a param is declared twice")
        missing = set(self.required_inputs) - set(self.example)
        if missing:
            raise ValueError(f"{self.name}: its example lacks {sorted(missing)}")

    # -- derived views ------------------------------------------------------------
    @property
    def is_loss(self) -> bool:
        """Losses reduce (``reduction``) over samples; primitives are elementwise or along an axis."""
        return self.sample_shape is not None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    @property
    def required_inputs(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs if not i.optional)

    @property
    def label_inputs(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs if i.kind == InputKind.LABELS)

    @property
    def mode_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.mode)

    @property
    def setting_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.settings)

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(f"{self.name} takes no param {name!r}")

    def defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}

    def with_defaults(self, params: Params) -> dict[str, Any]:
        """Every param, the case's value where it gives one."""
        return {**self.defaults(), **{k: v for k, v in params.items() if k in self.param_names}}

    def uses(self, params: Params, name: str) -> bool:
        """Whether ``params`` set ``name`` to something other than its default (so it matters)."""
        if name not in params:
            return False
        value, default = params[name], self.param(name).default
        if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
            return True
        return bool(value != default)

    def reduction(self, params: Params) -> str | None:
        return str(self.with_defaults(params)["reduction"]) if self.is_loss else None

    def samples(self, params: Params, arrays: Arrays) -> int:
        if self.sample_shape is None:
            return int(np.asarray(arrays[self.prediction]).size)
        return int(np.prod(self.sample_shape(self.with_defaults(params), arrays), dtype=np.int64))

    def gradient_scale(self, params: Params, arrays: Arrays) -> float:
        """The scale of one term of the gradient: 1/N for a mean over N samples, else the largest
        |cotangent| (1 by default). Autodiff adds terms of this size before they cancel."""
        if self.reduction(params) == "mean":
            return 1.0 / max(self.samples(params, arrays), 1)
        cotangent = arrays.get("cotangent")
        if cotangent is not None and np.size(cotangent):
            return float(np.max(np.abs(cotangent)))
        return 1.0
