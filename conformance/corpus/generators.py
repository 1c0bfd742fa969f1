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

import functools
import json
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import numpy as np

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


@functools.lru_cache(maxsize=64)
def _expand(key: str, dtype: str | None) -> np.ndarray:
    data = json.loads(key)
    fmt = None if dtype is None else FORMATS[dtype]
    if "fill" in data:
        value = data["fill"] if fmt is None else values.resolve(data["fill"], fmt)
        vector = np.full(tuple(data["shape"]), value, dtype=np.int64 if fmt is None else np.float64)
    elif "linspace" in data:
        start, stop, count = _exact(data["linspace"][0]), _exact(data["linspace"][1]), data["linspace"][2]
        step = (stop - start) / (count - 1)
        exact = [start + k * step for k in range(count)]
        vector = np.array([round_fraction(v, fmt) if fmt is not None else int(v) for v in exact])
    else:
        index, size = data["onehot"]
        vector = np.zeros(size, dtype=np.int64 if fmt is None else np.float64)
        vector[index] = 1
    rows = int(data.get("rows", 1))
    return np.broadcast_to(vector, (rows, *vector.shape)).copy() if "rows" in data else vector
