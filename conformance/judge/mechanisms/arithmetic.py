"""Floating-point arithmetic as a framework performs it, so that a model can repeat its roundings.

A framework holds tensors in a *storage* dtype and computes each elementwise operation in a
*compute* dtype (on CPU, float16 and bfloat16 operations are computed in float32 and rounded
back after every operation), and XLA and TensorFlow's CPU kernels flush subnormal inputs and
results to zero: subnormals of the dtype they compute in, so a float16 subnormal, which is a
normal float32 converted in software, survives. :class:`Arith` does the same with NumPy: every
operation takes and returns arrays of the storage dtype, rounds once per operation, and flushes
where the platform does.
NumPy's own kernels (exp, log, ...) are not the framework's, so a model is trusted only to a
few ULPs of the magnitudes it rounds at; the registry entry states that bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from oracle.formats import FORMATS, numpy_dtype


class Arith:
    def __init__(self, storage: str, compute: str | None = None, flush: bool = False) -> None:
        self.storage, self.compute = storage, compute or storage
        self.flush = flush
        self._storage_type, self._compute_type = numpy_dtype(self.storage), numpy_dtype(self.compute)
        self.min_normal = FORMATS[self.compute].min_normal  # flushing happens in the compute dtype

    # -- values --------------------------------------------------------------------------
    def cast(self, value: Any) -> np.ndarray:
        """A value held in the storage dtype (from float64 or another dtype), flushed if need be."""
        with np.errstate(all="ignore"):
            array = np.asarray(value, dtype=np.float64).astype(self._storage_type)
        return self._flushed(array)

    def const(self, value: float) -> np.ndarray:
        return self.cast(np.float64(value))

    def _flushed(self, array: np.ndarray) -> np.ndarray:
        if not self.flush:
            return array
        wide = array.astype(np.float64)
        tiny = (wide != 0) & (np.abs(wide) < self.min_normal)
        if not tiny.any():
            return array
        return np.where(tiny, np.copysign(0.0, wide), wide).astype(self._storage_type)

    def _apply(self, function: Callable[..., Any], *operands: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            wide = [np.asarray(op).astype(self._compute_type) for op in operands]
            result = np.asarray(function(*wide)).astype(self._compute_type).astype(self._storage_type)
        return self._flushed(result)

    # -- elementwise, rounded once each ----------------------------------------------------
    def add(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.add, a, b)

    def sub(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.subtract, a, b)

    def mul(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.multiply, a, b)

    def div(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.divide, a, b)

    def neg(self, a: Any) -> np.ndarray:
        return self._apply(np.negative, a)

    def abs(self, a: Any) -> np.ndarray:
        return self._apply(np.abs, a)

    def exp(self, a: Any) -> np.ndarray:
        return self._apply(np.exp, a)

    def expm1(self, a: Any) -> np.ndarray:
        return self._apply(np.expm1, a)

    def log(self, a: Any) -> np.ndarray:
        return self._apply(np.log, a)

    def log1p(self, a: Any) -> np.ndarray:
        return self._apply(np.log1p, a)

    def maximum(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.maximum, a, b)

    def minimum(self, a: Any, b: Any) -> np.ndarray:
        return self._apply(np.minimum, a, b)

    def where(self, condition: Any, a: Any, b: Any) -> np.ndarray:
        return self.cast(np.where(condition, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)))

    def sigmoid(self, a: Any) -> np.ndarray:
        """1 / (1 + exp(-x)) as one kernel, the way most CPU kernels write it: each step rounded in
        the compute dtype, the result once to storage (so a half's exp(-x) does not overflow)."""
        k = self.kernel()
        one = k.const(1.0)
        return self.cast(k.div(one, k.add(one, k.exp(k.neg(k.cast(a))))))

    # -- reductions -------------------------------------------------------------------------
    def sum(self, a: Any, axis: int | None = None, accumulate: str | None = None) -> np.ndarray:
        """A sum accumulated in ``accumulate`` (default: the compute dtype), rounded to storage."""
        acc = numpy_dtype(accumulate) if accumulate else self._compute_type
        with np.errstate(all="ignore"):
            total = np.sum(np.asarray(a).astype(acc), axis=axis, dtype=acc)
            held = np.asarray(total).astype(self._storage_type)  # a sum beyond the dtype's range is inf
        return self._flushed(held)

    def mean(self, a: Any, axis: int | None = None, accumulate: str | None = None) -> np.ndarray:
        array = np.asarray(a)
        count = array.size if axis is None else array.shape[axis]
        return self.div(self.sum(array, axis, accumulate), self.const(float(count)))

    def kernel(self) -> Arith:
        """The arithmetic inside one fused kernel: every step in the compute dtype, rounded to the
        storage dtype only when the kernel writes its result (``self.cast`` of what it returns)."""
        return Arith(self.compute, self.compute, self.flush)

    @staticmethod
    def wide(a: Any) -> np.ndarray:
        """Back to float64 (exact: every dtype's values are float64 values), for the judge."""
        return np.asarray(a).astype(np.float64)
