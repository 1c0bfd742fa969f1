"""Mechanism models: what an implementation actually computes, with the roundings it performs.

A known divergence is explained only by a model that reproduces it. A model is a function of
the case as the framework received it (op, params, inputs rounded to the dtype) that returns
the framework's answer as the framework computes it: its formula in its arithmetic
(:class:`~conformance.judge.mechanisms.arithmetic.Arith`), or the exact answer under the
platform's behaviour (subnormals flushed, float64 computed in float32). The registry
(``conformance/data/known_divergences/*.yaml``) says which implementations a model speaks for
and how close it must come; the judge calls ``xfail`` only where it does.

Models live in the modules of this package, one per framework family plus ``platform``, each
registered by name with :func:`model`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracle import OracleResult
from oracle.ops import OpDefinition

from .arithmetic import Arith

#: (op, params, inputs, dtype, variants) -> the exact answer there (models built on the oracle).
OracleCall = Callable[[str, Mapping[str, Any], Mapping[str, np.ndarray], str, tuple[str, ...]], OracleResult]


@dataclass(frozen=True)
class ModelContext:
    """One result's case, as the implementation received it, and the model's options from the registry."""

    op: OpDefinition
    params: Mapping[str, Any]  # every param, defaults filled in, numbers resolved, weights as arrays
    inputs: Mapping[str, np.ndarray]  # float inputs hold values of the dtype; labels are int64
    dtype: str
    quantity: str  # "value" | "grad"
    options: Mapping[str, Any] = field(default_factory=dict)
    oracle: OracleCall | None = None

    def arith(self, **overrides: Any) -> Arith:
        """The arithmetic the options describe: ``compute`` dtype, ``flush`` subnormals."""
        settings = {**self.options, **overrides}
        return Arith(self.dtype, settings.get("compute"), bool(settings.get("flush", False)))

    @property
    def cotangent(self) -> np.ndarray | None:
        return self.inputs.get("cotangent")


@dataclass(frozen=True)
class Prediction:
    """What the model says the implementation returns, elementwise, as float64 values.

    ``scale`` is the magnitude at which the implementation rounds on the way to each element
    (1 for sigmoid(x) - 1, |value| where nothing cancels): a match is judged in ULPs of the
    dtype at that scale, since the framework's own exp or log may differ from NumPy's by an
    ULP there, and a cancellation after it magnifies that in ULPs of the small result.
    """

    value: np.ndarray
    scale: np.ndarray | None = None
    #: The dtype whose ULPs measure the match (default: the case's); a model of a computation in
    #: a narrower dtype is trusted to that dtype's ULPs.
    unit: str | None = None

    def scales(self) -> np.ndarray:
        magnitude: np.ndarray = np.abs(np.nan_to_num(np.asarray(self.value, dtype=np.float64), posinf=0.0, neginf=0.0))
        if self.scale is None:
            return magnitude
        scale = np.abs(np.nan_to_num(np.asarray(self.scale, dtype=np.float64), posinf=0.0, neginf=0.0))
        widest: np.ndarray = np.maximum(np.broadcast_to(scale, magnitude.shape), magnitude)
        return widest


#: A model's answer: a prediction, several candidates (one per documented variant it composes
#: with, say), or None where it does not apply.
Model = Callable[[ModelContext], Prediction | list[Prediction] | None]
_MODELS: dict[str, Model] = {}


def model(name: str) -> Callable[[Model], Model]:
    """Register a model under ``name`` (``<family>.<mechanism>``); None from it means "not my case"."""

    def register(function: Model) -> Model:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is defined twice")
        _MODELS[name] = function
        return function

    return register


def models() -> dict[str, Model]:
    """Every registered model, the modules of this package imported first (once)."""
    if not _discovered:
        for found in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{found.name}")
        _discovered.append(True)
    return _MODELS


_discovered: list[bool] = []


__all__ = ["Arith", "Model", "ModelContext", "OracleCall", "Prediction", "model", "models"]
