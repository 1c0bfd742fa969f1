"""oneDNN's softmax, which TensorFlow runs for float32 and bfloat16 when oneDNN is on.

TensorFlow's x86 builds turn oneDNN on by default (``TF_ENABLE_ONEDNN_OPTS``) and then replace
the Softmax kernel by oneDNN's JIT softmax for float32 and bfloat16 (src/cpu/x64/
jit_uni_softmax.cpp). It computes in float32 with the CPU's widest vectors (16 lanes on AVX-512,
8 on AVX2), with FMA:

* max over the row: each lane keeps max(acc, x) from -FLT_MAX, then the lanes are folded. An
  x86 max returns its second operand when either is NaN, so a NaN is forgotten by the next
  number in its lane: a row with a NaN gets NaN only where x is NaN, 0 elsewhere;
* e = exp(x - max) by oneDNN's polynomial, which sends NaN to +inf and zeroes x < ln(FLT_MIN);
* the sum of e in up to four lane accumulators, folded pairwise; softmax = e * (1 / sum),
  rounded once to bfloat16 from float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

F32 = np.float32
FLT_MAX = float(np.finfo(np.float32).max)
LN_FLT_MAX, LN_FLT_MIN = 88.72283935546875, float(np.frombuffer(np.uint32(0xC2AEAC50).tobytes(), F32)[0])
LOG2E, LN2 = (
    float(np.frombuffer(np.uint32(0x3FB8AA3B).tobytes(), F32)[0]),
    float(np.frombuffer(np.uint32(0x3F317218).tobytes(), F32)[0]),
)
#: exp's polynomial, p5 down to p1 (then 1), as oneDNN's table holds them.
POLYNOMIAL = [
    float(np.frombuffer(np.uint32(bits).tobytes(), F32)[0])
    for bits in (0x3C07CFCE, 0x3D2B9D0D, 0x3E2AAD40, 0x3EFFFEE3, 0x3F7FFFFB)
]
UNROLL = 4


def fma(a: Any, b: Any, c: Any) -> np.ndarray:
    """float32 a * b + c rounded once (the product is exact in float64; TwoSum keeps the rest)."""
    with np.errstate(all="ignore"):
        p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
        c64 = np.asarray(c, np.float64)
        s = p + c64
        back = s - p
        err = (p - (s - back)) + (c64 - back)
        r = s.astype(F32)
        below = np.where(r.astype(np.float64) > s, np.nextafter(r, F32(-np.inf)), r)
        above = np.nextafter(below, F32(np.inf))
        midpoint = (s - below.astype(np.float64)) == (above.astype(np.float64) - s)
        fixed = np.where(err > 0, above, np.where(err < 0, below, r))
        return np.where(midpoint & np.isfinite(s), fixed, r).astype(F32)


def exp(x: np.ndarray) -> np.ndarray:
    """oneDNN's exp injector: 2 * 2^(n-1) * p(r), r = x - n ln 2 by FMA, n = floor(x log2 e + 1/2)."""
    with np.errstate(all="ignore"):
        x = np.asarray(x, F32)
        zero = x < F32(LN_FLT_MIN)
        v = np.where(np.isnan(x), F32(LN_FLT_MAX), np.minimum(x, F32(LN_FLT_MAX)))
        v = np.maximum(v, F32(LN_FLT_MIN))
        n = np.floor((v * F32(LOG2E)).astype(F32) + F32(0.5)).astype(F32)
        r = fma(-n, F32(LN2), v)
        biased = (n - F32(1.0)).astype(np.int32) + 127
        power = np.where(zero | (biased <= 0), F32(0.0), np.ldexp(F32(1.0), biased - 127).astype(F32))
        y = np.full(x.shape, F32(POLYNOMIAL[0]))
        for coefficient in [*POLYNOMIAL[1:], 1.0]:
            y = fma(y, r, F32(coefficient))
        scaled = (y * power).astype(F32)
        scaled = np.where(np.abs(scaled) < np.finfo(F32).tiny, F32(0.0), scaled)  # FTZ
        return (scaled * F32(2.0)).astype(F32)


def _max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x86 maxps(a, b): b when either is NaN."""
    return np.where(np.isnan(a) | np.isnan(b), b, np.where(a > b, a, b)).astype(F32)


def _fold(lanes: np.ndarray, combine: object) -> np.ndarray:
    """get_horizontal_op: every lane combined with its partner at distance w/2, w/4, ... 1, the
    register itself first. Every lane keeps its own result: a max's NaN survives in some lanes
    and not in others, and each element of the row is then shifted by its own lane's max."""
    step = lanes.shape[-1] // 2
    index = np.arange(lanes.shape[-1])
    while step:
        lanes = combine(lanes, lanes[..., index ^ step])  # type: ignore[operator]
        step //= 2
    return np.asarray(lanes)


def _accumulate(rows: np.ndarray, width: int, start: float, combine: object) -> np.ndarray:
    """axis_loop: chunks of ``width`` lanes into up to four accumulators, the masked tail into the
    first; then the accumulators combined ((0, 1), (2, 3), then both) and the lanes folded."""
    count, length = rows.shape
    full, tail = divmod(length, width)
    loops, rest = divmod(full, UNROLL)
    unroll = UNROLL if loops else (rest or 1)
    acc = [np.full((count, width), F32(start)) for _ in range(unroll)]
    for chunk in range(full):
        slot = chunk % UNROLL
        acc[slot] = combine(acc[slot], rows[:, chunk * width : (chunk + 1) * width])  # type: ignore[operator]
    if tail:
        padded = np.full((count, width), F32(start))
        padded[:, :tail] = rows[:, full * width :]
        masked = combine(acc[0], padded)  # type: ignore[operator]
        acc[0] = np.where(np.arange(width) < tail, masked, acc[0]).astype(F32)
    if unroll >= 3:
        first = combine(acc[0], acc[1])  # type: ignore[operator]
        total = combine(first, combine(acc[2], acc[3]) if unroll == 4 else acc[2])  # type: ignore[operator]
    else:
        total = combine(acc[0], acc[1]) if unroll == 2 else acc[0]  # type: ignore[operator]
    return _fold(total, combine)


def softmax(x: np.ndarray, width: int = 16) -> np.ndarray:
    """The softmax of each row (last axis) of a float32 array, as float64 values of float32."""
    rows = np.asarray(x, F32).reshape(-1, np.shape(x)[-1])
    lane = np.arange(rows.shape[1]) % width
    with np.errstate(all="ignore"):
        top = _accumulate(rows, width, -FLT_MAX, _max)[:, lane]
        e = exp((rows - top).astype(F32))
        total = _accumulate(e, width, 0.0, lambda p, q: (p + q).astype(F32))[:, lane]
        inverse = (F32(1.0) / total).astype(F32)
        return (e * inverse).astype(F32).astype(np.float64).reshape(np.shape(x))
