"""Array generators: large inputs written as data, not as 10**5 literals.

An input (or an array param) may be one mapping instead of a nested list:

* ``{fill: V, shape: [n, ...]}``: every element V (a value of the grammar, or an integer label);
* ``{linspace: [start, stop, n]}``: n evenly spaced values, exact decimals rounded once per dtype;
* ``{onehot: [index, size]}``: a one-hot vector.

``rows: R`` repeats the generated vector R times, for a (R, n) batch.

A generator makes at most ``generator_elements`` (``data/limits.yaml``) elements, rows
included, checked from the spec before anything is allocated; for labels, every element
it makes is an integer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import zipfile
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from oracle.cache import atomic_file, default_root
from oracle.formats import FORMATS, FloatFormat, round_fraction

from . import values
from .limits import limits
from .source import Literal

KINDS = ("fill", "linspace", "onehot")


def is_generator(data: Any) -> bool:
    return isinstance(data, Mapping)


def check(data: Mapping[str, Any], labels: bool = False) -> None:
    """Raise :class:`values.ValueSyntaxError` for a malformed generator (or one over its limit).

    With ``labels``, the generator must make integers: a fractional linspace step would be
    truncated silently when the labels are made.
    """
    kinds = [k for k in KINDS if k in data]
    extra = set(data) - {*KINDS, "shape", "rows"}
    if len(kinds) != 1 or extra:
        raise values.ValueSyntaxError(
            f"a generator has exactly one of {', '.join(KINDS)} (and shape, rows); got {sorted(data)}"
        )
    rows = data.get("rows", 1)
    if not isinstance(rows, int) or rows < 1:
        raise values.ValueSyntaxError(f"rows must be a positive integer, not {rows!r}")
    kind = kinds[0]
    if kind == "fill":
        shape = data.get("shape")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n > 0 for n in shape):
            raise values.ValueSyntaxError("fill needs shape: a list of positive integers")
        _check_size(math.prod(shape) * rows)
        if labels:
            _check_label(data["fill"])
        else:
            values.check(data["fill"])
    elif kind == "linspace":
        spec = data["linspace"]
        if not (isinstance(spec, list) and len(spec) == 3 and isinstance(spec[2], int) and spec[2] >= 2):
            raise values.ValueSyntaxError("linspace is [start, stop, count] with count >= 2")
        _check_size(spec[2] * rows)
        start, stop = _exact(spec[0]), _exact(spec[1])
        if labels and (start.denominator != 1 or ((stop - start) / (spec[2] - 1)).denominator != 1):
            raise values.ValueSyntaxError(f"labels are integers: linspace {spec} makes fractional values")
    else:
        spec = data["onehot"]
        if not (
            isinstance(spec, list)
            and len(spec) == 2
            and all(isinstance(n, int) for n in spec)
            and 0 <= spec[0] < spec[1]
        ):
            raise values.ValueSyntaxError("onehot is [index, size] with 0 <= index < size")
        _check_size(spec[1] * rows)


def _check_size(elements: int) -> None:
    if elements > limits().generator_elements:
        raise values.ValueSyntaxError(
            f"a generator of {elements:,} elements exceeds the limit of {limits().generator_elements:,} "
            "(generator_elements in data/limits.yaml)"
        )


def _check_label(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise values.ValueSyntaxError(f"labels are integers, not {value!r}")
    if abs(value) > limits().label_magnitude:
        raise values.ValueSyntaxError(f"a label of {value} is outside int64 (label_magnitude)")


def _exact(bound: Any) -> Fraction:
    text = getattr(bound, "text", None) or str(bound)
    if isinstance(bound, bool) or not isinstance(bound, (int, float, str)):
        raise values.ValueSyntaxError(f"linspace bounds are decimal numbers, not {bound!r}")
    try:
        return values.exact_decimal(text)
    except values.ValueSyntaxError as error:
        raise values.ValueSyntaxError(f"linspace bounds are decimal numbers: {error}") from None


def expand(data: Mapping[str, Any], fmt: FloatFormat | None) -> np.ndarray:
    """The generated array: rounded into ``fmt``, or as integers when ``fmt`` is None (labels).

    Expansions are memoised per (generator, dtype): a 100,000-element linspace is rounded once
    per dtype, not again for every validation, run and oracle lookup.
    """
    key = json.dumps(_plain(data), sort_keys=True)
    return _expand(key, None if fmt is None else fmt.name).copy()


def _plain(data: Any) -> Any:
    """JSON-able, with every YAML float as its decimal text: through a double, 0.1 would round twice."""
    if isinstance(data, Mapping):
        return {k: _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data.text if isinstance(data, Literal) else data


#: Linspaces at least this long are kept on disk once rounded (a fresh process, a gate call
#: say, would otherwise spend seconds rounding 100,000 exact decimals into four dtypes again).
STORED_FROM = 1_000
#: Part of a stored expansion's name: bump it when the rounding below changes.
EXPANSION_FORMAT = "1"


@functools.lru_cache(maxsize=4)
def _linspace(spec: str) -> dict[str, np.ndarray]:
    """A linspace rounded into every dtype at once, from the disk store when it is there."""
    if json.loads(spec)[2] < STORED_FROM:
        return _round_linspace(spec)
    path = default_root() / "expansions" / f"{hashlib.sha256((EXPANSION_FORMAT + spec).encode()).hexdigest()}.npz"
    try:
        with np.load(path) as stored:
            return {name: stored[name] for name in (*FORMATS, "labels")}
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):  # absent or damaged: round again
        pass
    rounded = _round_linspace(spec)
    with contextlib.suppress(OSError):  # a read-only cache costs time, not the run
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, binary=True) as out:
            np.savez(out, **rounded)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
    return rounded


def _round_linspace(spec: str) -> dict[str, np.ndarray]:
    """A linspace rounded into every dtype at once (and as integer labels).

    The k-th value is (A + k B) / C over one common denominator: no gcd per element, which
    made bounds like 1e-1100 (3,600-bit denominators) cost a minute for 200,000 elements.
    """
    low, high, count = json.loads(spec)
    start, stop = _exact(low), _exact(high)
    step = (stop - start) / (count - 1)
    common = math.lcm(start.denominator, step.denominator)
    first, stride = start.numerator * (common // start.denominator), step.numerator * (common // step.denominator)
    numerators = [first + k * stride for k in range(count)]
    proxies = [_rounding_proxy(n, common) for n in numerators]
    rounded = {
        name: np.array([round_fraction(proxy, fmt) for proxy in proxies], dtype=np.float64)
        for name, fmt in FORMATS.items()
    }
    rounded["labels"] = np.array([n // common for n in numerators], dtype=np.int64)
    return rounded


#: Quotient bits of a rounding proxy: more than any dtype's precision (53) plus guard bits.
_PROXY_BITS = 64


def _rounding_proxy(numerator: int, denominator: int) -> Fraction:
    """A dyadic rational that rounds like numerator / denominator into every dtype.

    With q = floor(|n| 2^S / d) of 64 bits, |n / d| lies in [q, q + 1) 2^-S, a cell no rounding
    boundary of a <= 53-bit format falls inside; so q 2^-S when exact, and the cell's
    midpoint otherwise, round the same. It costs one division, not a gcd of 3,600-bit numbers.
    """
    if numerator == 0:
        return Fraction(0)
    shift = _PROXY_BITS + denominator.bit_length() - abs(numerator).bit_length()
    scaled, divisor = (abs(numerator) << shift, denominator) if shift >= 0 else (abs(numerator), denominator << -shift)
    quotient, remainder = divmod(scaled, divisor)
    proxy = Fraction(quotient, 1 << shift) if shift >= 0 else Fraction(quotient << -shift)
    if remainder:
        proxy += Fraction(1, 1 << (shift + 1)) if shift >= -1 else Fraction(1 << (-shift - 1))
    return -proxy if numerator < 0 else proxy


@functools.lru_cache(maxsize=64)
def _expand(key: str, dtype: str | None) -> np.ndarray:
    data = json.loads(key)
    fmt = None if dtype is None else FORMATS[dtype]
    if "fill" in data:
        value = data["fill"] if fmt is None else values.resolve(data["fill"], fmt)
        vector = np.full(tuple(data["shape"]), value, dtype=np.int64 if fmt is None else np.float64)
    elif "linspace" in data:
        vector = _linspace(json.dumps(data["linspace"]))[dtype or "labels"]
    else:
        index, size = data["onehot"]
        vector = np.zeros(size, dtype=np.int64 if fmt is None else np.float64)
        vector[index] = 1
    rows = int(data.get("rows", 1))
    return np.broadcast_to(vector, (rows, *vector.shape)).copy() if "rows" in data else vector
