"""Platform mechanisms: the exact answer, under the arithmetic the platform imposes.

* ``flush``: XLA (JAX) and TensorFlow's CPU kernels run with denormals flushed to zero, inputs
  and results alike (float64 included): a subnormal input is read as 0 and a subnormal result
  is written as 0. https://github.com/jax-ml/jax/issues/37762
* ``compute``: a dtype narrower than the case's that the implementation computes in (Keras'
  ``ops.mean`` on the JAX and torch backends computes float64 losses in float32): the inputs
  rounded to it, the answer correctly rounded in it, and the match judged in its ULPs.

The prediction is the oracle's, so a platform model composes with the implementation's
documented variants: one candidate for the ideal and one per subset of its declared variants.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from oracle.formats import FORMATS, round_float
from oracle.ops import InvalidInput, ParamKind

from . import ModelContext, Prediction, model


def flush_subnormals(array: np.ndarray, dtype: str) -> np.ndarray:
    """Subnormals of the dtype the CPU computes in flushed to 0: float16 and bfloat16 are computed in
    float32, so a float16 subnormal (a normal float32) survives and only float32's are flushed."""
    values = np.asarray(array, dtype=np.float64)
    computed_in = "float32" if dtype in ("float16", "bfloat16") else dtype
    tiny = (values != 0) & (np.abs(values) < FORMATS[computed_in].min_normal)
    return np.where(tiny, np.copysign(0.0, values), values)


def _round_to(array: Any, dtype: str) -> np.ndarray:
    values = np.asarray(array, dtype=np.float64)
    rounded: np.ndarray = np.vectorize(lambda v: round_float(float(v), FORMATS[dtype]), otypes=[np.float64])(values)
    return rounded


def _as_platform_sees(context: ModelContext, dtype: str, flush: bool) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Params and inputs rounded to ``dtype`` and, where the platform flushes, with subnormals read as 0."""

    def held(array: Any) -> np.ndarray:
        rounded = _round_to(array, dtype) if dtype != context.dtype else np.asarray(array, dtype=np.float64)
        return flush_subnormals(rounded, dtype) if flush else rounded

    labels = context.op.label_inputs
    inputs = {name: value if name in labels else held(value) for name, value in context.inputs.items()}
    params = dict(context.params)
    for param in context.op.params:
        value = params.get(param.name)
        if value is not None and param.kind in (ParamKind.VALUE, ParamKind.WEIGHTS):
            params[param.name] = held(value) if np.ndim(value) else float(held(np.float64(value)))
    return params, inputs


@model("platform.exact_under")
def exact_under(context: ModelContext) -> list[Prediction] | None:
    """The exact answer with the platform's flush and compute dtype; options ``flush``, ``compute``.

    A flush that leaves the answer as it is predicts nothing: the answer is then the ideal, and a
    result near it is not explained by flushing (it would otherwise absorb any small error)."""
    if context.oracle is None:
        return None
    compute = str(context.options.get("compute") or context.dtype)
    flush = bool(context.options.get("flush", False))
    if compute == context.dtype and not flush:
        return None
    params, inputs = _as_platform_sees(context, compute, flush)
    as_computed = _as_platform_sees(context, compute, False) if flush and compute == context.dtype else None
    declared: tuple[str, ...] = tuple(context.options.get("semantics", ()))
    subsets = [c for size in range(len(declared) + 1) for c in itertools.combinations(declared, size)]
    predictions = []
    for variants in subsets:
        try:
            answer = context.oracle(context.op.name, params, inputs, compute, variants)
        except InvalidInput:
            return None
        value = np.asarray(getattr(answer, context.quantity), dtype=np.float64)
        if flush:
            value = flush_subnormals(value, compute)
        if as_computed is not None:
            unflushed = context.oracle(context.op.name, *as_computed, compute, variants)
            if np.array_equal(value, np.asarray(getattr(unflushed, context.quantity)), equal_nan=True):
                continue  # flushing changes nothing here: the ideal answer, which explains nothing
        predictions.append(Prediction(value, unit=compute))
    return predictions or None
