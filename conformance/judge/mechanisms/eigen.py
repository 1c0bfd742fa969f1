"""Eigen's CPU arithmetic, as TensorFlow's kernels run it.

TensorFlow's x86-64 pip build vectorises with AVX and without FMA: a *packet* holds 8 floats
(float16 and bfloat16 packets are computed as 8 floats) or 4 doubles, and ``pmadd(a, b, c)``
is a multiply then an add, each rounded. Three things follow that change results in the last
bits, and sometimes more:

* an elementwise kernel computes the first ``n - n % P`` elements of its flat buffer with
  packet code and the rest with scalar code (Eigen's TensorExecutor), and the two differ where
  Eigen has its own packet function (exp, log, log1p, the float32 logistic: eigen_math);
* a sum along the last axis adds in a fixed order (InnerMostDimReducer): four packet
  accumulators, then whole packets, then a scalar tail, then the lanes folded pairwise; rows
  longer than ``P * leaf`` are split in halves first (a tree); half and bfloat16 accumulators
  round to their dtype after every addition;
* every half or bfloat16 operation is computed in float32 and rounded back to its dtype.

Not reproduced, so trusted only to an ULP or two: float32 packets' reciprocal (rcp plus one
Newton step, which depends on the CPU: TensorFlow's Reciprocal op, Eigen's softmax), and the
scalar tails of the blocks into which Eigen tiles an expression with a broadcast (the exp of
Xent's backprop and of Eigen's softmax), whose size comes from its cost model.

https://gitlab.com/libeigen/eigen/-/blob/master/unsupported/Eigen/CXX11/src/Tensor/TensorReduction.h
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import eigen_math
from .arithmetic import Arith

HALF = ("float16", "bfloat16")
PACKET = {"float64": 4, "float32": 8, "float16": 8, "bfloat16": 8}
#: Eigen's LeafSize<T>: a row longer than packet * leaf is summed as two halves (a tree).
LEAF = {"float64": 1024, "float32": 1024, "float16": 200, "bfloat16": 128}


class EigenArith(Arith):
    """Arith as a TensorFlow CPU kernel does it: each operation rounded to ``compute`` (float32
    for a half dtype), then to storage; subnormals flushed.

    + - * / are evaluated in float64 and rounded (exactly IEEE for float32 and narrower
    operands); exp, log and log1p follow Eigen's packet code or glibc's scalar one by the
    element's path (``packets``). A half dtype's subnormals are kept (its conversion from
    float32 does not flush); bfloat16's are float32's and flushed.
    """

    def __init__(self, storage: str) -> None:
        compute = "float32" if storage in HALF else storage
        super().__init__(storage, compute, flush=storage != "float16")

    def _apply(self, function: Callable[..., Any], *operands: Any) -> np.ndarray:
        with np.errstate(all="ignore"):
            wide = [np.asarray(op).astype(np.float64) for op in operands]
            result = np.asarray(function(*wide)).astype(self._compute_type).astype(self._storage_type)
        return self._flushed(result)

    def exp(self, a: Any, packets: np.ndarray | None = None) -> np.ndarray:
        return self._function("exp", a, packets)

    def log(self, a: Any, packets: np.ndarray | None = None) -> np.ndarray:
        return self._function("log", a, packets)

    def log1p(self, a: Any, packets: np.ndarray | None = None) -> np.ndarray:
        return self._function("log1p", a, packets)

    def _function(self, name: str, a: Any, packets: np.ndarray | None) -> np.ndarray:
        """Eigen's packet function where ``packets`` (default: all but the flat buffer's tail),
        glibc's elsewhere; a half dtype's in float32, rounded to it."""
        wide = np.asarray(a).astype(np.float64)
        if packets is None:
            packets = packet_mask(wide.shape, self.storage)
        table = eigen_math.PACKET_DOUBLE if self.compute == "float64" else eigen_math.PACKET_FLOAT
        result = np.zeros(wide.shape)
        result[packets] = table[name](wide[packets])
        result[~packets] = eigen_math.scalar(name, wide[~packets], single=self.compute != "float64")
        with np.errstate(all="ignore"):
            rounded = result.astype(self._compute_type).astype(self._storage_type)
        return self._flushed(rounded)

    def lanes(self) -> Arith:
        """Arithmetic on float32 lanes that are rounded to storage only when written back
        (a half packet's horizontal sum); the storage arithmetic itself otherwise."""
        return Arith(self.compute, self.compute, self.flush) if self.storage in HALF else self


def packet_mask(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """True where an elementwise kernel takes the packet path: all but the flat buffer's tail."""
    size = int(np.prod(shape, dtype=np.int64))
    flat = np.arange(size) < size - size % PACKET[dtype]
    return flat.reshape(shape)


def inner_sum(a: EigenArith, values: np.ndarray) -> np.ndarray:
    """Eigen's sum along the last axis of ``values`` (storage dtype), in Eigen's order.

    Rows are consecutive in the flat buffer; the tree split of a long row is aligned on packet
    boundaries of the buffer, so it depends on where the row starts.
    """
    array = np.asarray(values)
    rows = array.reshape(-1, array.shape[-1]) if array.shape[-1:] else array.reshape(1, 1)
    length = rows.shape[1]
    packet, leaf = PACKET[a.storage], LEAF[a.storage]
    if length <= packet * leaf:
        total = _leaf_sum(a, rows)
    else:
        total = np.stack([_tree_sum(a, row, row_index * length) for row_index, row in enumerate(rows)])
    return total.reshape(array.shape[:-1])


def reduction_packets(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """True where a sum along the last axis loads the element in a packet, and so evaluates the
    expression it sums (an exp) with packet code: each row's whole packets from its start, each
    half of a long row on its own; the rest of a row is loaded one scalar at a time."""
    length = shape[-1] if shape else 1
    rows = int(np.prod(shape[:-1], dtype=np.int64)) if shape else 1
    mask = np.zeros((rows, length), dtype=bool)
    for row in range(rows) if length > PACKET[dtype] * LEAF[dtype] else range(1):
        _mark_packets(mask[row], 0, length, row * length, dtype)
    if length <= PACKET[dtype] * LEAF[dtype]:
        mask[:] = mask[0]
    return mask.reshape(shape)


def _mark_packets(mask: np.ndarray, start: int, count: int, first: int, dtype: str) -> None:
    packet = PACKET[dtype]
    if count <= packet * LEAF[dtype]:
        mask[start : start + (count // packet) * packet] = True
        return
    split = packet * -(-(first + -(-count // 2)) // packet)
    left = min(split - first, count)
    _mark_packets(mask, start, left, first, dtype)
    if left < count:
        _mark_packets(mask, start + left, count - left, split, dtype)


def _tree_sum(a: EigenArith, row: np.ndarray, first: int) -> np.ndarray:
    """InnerMostDimReducer with tree reduction: halves split on a packet boundary of the buffer."""
    packet, leaf = PACKET[a.storage], LEAF[a.storage]
    count = row.size
    if count <= packet * leaf:
        leaf_total: np.ndarray = _leaf_sum(a, row[None, :])[0]
        return leaf_total
    split = packet * -(-(first + -(-count // 2)) // packet)
    left = min(split - first, count)
    total = a.add(a.const(0.0), _tree_sum(a, row[:left], first))
    if left < count:
        total = a.add(total, _tree_sum(a, row[left:], split))
    return total


def _leaf_sum(a: EigenArith, rows: np.ndarray) -> np.ndarray:
    """InnerMostDimReducer without the tree, for every row at once (rows: [R, n])."""
    packet = PACKET[a.storage]
    count = rows.shape[1]
    zero = np.zeros((rows.shape[0], packet), dtype=rows.dtype)
    accumulator, start = zero, 0
    if count >= 4 * packet:
        block = (count // (4 * packet)) * 4 * packet
        accumulators = [zero] * 4
        for j in range(0, block, 4 * packet):
            accumulators = [
                a.add(acc, rows[:, j + k * packet : j + (k + 1) * packet]) for k, acc in enumerate(accumulators)
            ]
        accumulator = accumulators[0]
        for other in accumulators[1:]:
            accumulator = a.add(accumulator, other)
        start = block
    if start <= count - packet:
        whole = (count // packet) * packet
        for j in range(start, whole, packet):
            accumulator = a.add(accumulator, rows[:, j : j + packet])
        start = whole
    scalar = np.zeros(rows.shape[0], dtype=rows.dtype)
    for j in range(start, count):
        scalar = a.add(scalar, rows[:, j])
    return a.add(scalar, _fold(a, accumulator))


def _fold(a: EigenArith, lanes: np.ndarray) -> np.ndarray:
    """predux: the packet's lanes added pairwise, high half onto low half, in float32 for a half
    dtype and rounded to it once."""
    k = a.lanes()
    wide = k.cast(lanes)
    while wide.shape[1] > 1:
        half = wide.shape[1] // 2
        wide = k.add(wide[:, :half], wide[:, half:]) if half > 1 else k.add(wide[:, 0], wide[:, 1])[:, None]
    return a.cast(wide[:, 0])


def sequential_sum(a: EigenArith, values: np.ndarray, axis: int) -> np.ndarray:
    """Eigen's sum over an axis that is not the last (InnerMostDimPreserver): an output computed
    in a packet adds its entries with four interleaved accumulators when there are 16 or more;
    the rest (the output buffer's tail, a packet straddling a row) add them one by one."""
    moved = np.moveaxis(np.asarray(values), axis, 0)
    count = moved.shape[0]
    plain = np.zeros(moved.shape[1:], dtype=moved.dtype)
    for j in range(count):
        plain = a.add(plain, moved[j])
    if count < 16:
        return plain
    accumulators = [np.zeros_like(plain)] * 4
    block = (count // 4) * 4
    for j in range(0, block, 4):
        accumulators = [a.add(acc, moved[j + k]) for k, acc in enumerate(accumulators)]
    unrolled = accumulators[0]
    for other in accumulators[1:]:
        unrolled = a.add(unrolled, other)
    for j in range(block, count):
        unrolled = a.add(unrolled, moved[j])
    return a.where(_preserver_packets(plain.shape, a.storage), unrolled, plain)


def _preserver_packets(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    packet, size = PACKET[dtype], int(np.prod(shape, dtype=np.int64))
    inner = shape[-1] if shape else 1
    starts = np.arange(size) - np.arange(size) % packet
    whole = (starts < size - size % packet) & (starts % inner + packet - 1 < inner)
    return whole.reshape(shape)


# -- the logistic function ----------------------------------------------------------------


def logistic(a: EigenArith, x: np.ndarray) -> np.ndarray:
    """Eigen's scalar_logistic_op, per element on the path it takes.

    float32: e / (1 + e) with e = exp(min(x, 16.6355324)) (1 exactly from x = 16.6355, where
    the correctly rounded sigmoid is 1 - 2^-24 up to x = 17.3); packets compute e as
    exp(x/2)^2 with Eigen's own polynomial, up to 6 ULPs off for x < -20. Other dtypes:
    e / (1 + e) with e = exp(x), and 1 where e overflows.
    """
    x = a.cast(x)
    if a.storage != "float32":
        e = a.exp(x)
        return a.where(np.isposinf(a.wide(e)), 1.0, a.div(e, a.add(a.const(1.0), e)))
    e = a.exp(a.minimum(x, a.const(16.6355324)), packets=np.zeros(x.shape, dtype=bool))
    scalar = a.div(e, a.add(a.const(1.0), e))
    packet = a.cast(eigen_math.logistic_float(a.wide(x)))
    return a.where(packet_mask(x.shape, "float32"), packet, scalar)
