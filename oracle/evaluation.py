"""The oracle's entry point: inputs rounded to a dtype in, correctly rounded answers out.

A Ziv loop: evaluate every output's enclosure at a working precision, round those whose
enclosure decides a single value of the format (:func:`oracle.decide.decide`), and
double the precision for the rest. Elements whose true value is exact come out exact
at the first step; the formulas avoid cancellation, so the rest decide within a step
or two. A value that no precision up to ``MAX_BITS`` decides is an error in the oracle,
reported as such, never guessed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import fast_reduced
from .cache import DiskCache
from .canonical import effective
from .decide import decide, exact_decimal
from .fast import balls_for, covers, round_to, settle, settle_narrow
from .formats import FORMATS, FloatFormat, numpy_dtype, round_float
from .interval import Interval, working_precision
from .kernels import using_backend
from .ops import InputKind, definition
from .semantics import IDEAL, Semantics

#: Bump when a formula or an answer's text changes: it is part of every cache key. 7: float64 off
#: the fast path (its 15-digit strings mis-scored float64 ULPs), lowercase exponents. 8: float64
#: back on it in double-double (24-digit strings), BCE-on-logits balls that decide more. 9: reduced
#: binary cross-entropy of 1,000+ elements into float32/16/bfloat16 on the fast path (the same
#: bits; its decimal strings carry the 12 digits the balls prove). 10: BCE sums that may cancel
#: (negative weights, labels outside [0, 1]) added as linear forms of named logs. 11: a fast-path
#: ball that proves no digit (it reaches 0) leaves its element to the exact path's string. 12:
#: categorical and sparse cross-entropy sums that may cancel, as linear forms too.
ORACLE_VERSION = "12"
MAX_BITS = 1 << 14
FIRST_GUARD_BITS = 32


class OracleUndecided(RuntimeError):
    """No working precision up to MAX_BITS decided the rounding: an oracle bug, not an answer."""


@dataclass(frozen=True, eq=False)
class OracleResult:
    """Correctly rounded value and gradient, as float64 arrays holding values of ``dtype``.

    ``value_exact`` / ``grad_exact`` are decimal strings of the unrounded values, precise
    far beyond ``dtype``, for measuring errors in ULPs. ``bits`` is the largest working
    precision the Ziv loop needed.
    """

    dtype: str
    value: np.ndarray
    value_exact: tuple[str, ...]
    grad: np.ndarray
    grad_exact: tuple[str, ...]
    bits: int

    def to_record(self) -> dict[str, Any]:
        """A JSON-able record that costs little to write and read: the float bits as base64 of
        little-endian float64, the decimal strings joined by newlines (they contain none)."""
        return {
            "dtype": self.dtype,
            "value": _pack(self.value),
            "value_shape": list(self.value.shape),
            "value_exact": "\n".join(self.value_exact),
            "grad": _pack(self.grad),
            "grad_shape": list(self.grad.shape),
            "grad_exact": "\n".join(self.grad_exact),
            "bits": self.bits,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OracleResult:
        def array(name: str) -> np.ndarray:
            flat = np.frombuffer(base64.b64decode(record[name]), dtype="<f8").astype(np.float64)
            return flat.reshape(tuple(record[f"{name}_shape"]))

        def strings(name: str) -> tuple[str, ...]:
            text = record[name]
            return tuple(text.split("\n")) if text else ()

        return cls(
            record["dtype"],
            array("value"),
            strings("value_exact"),
            array("grad"),
            strings("grad_exact"),
            int(record["bits"]),
        )


def _pack(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f8").tobytes()).decode("ascii")


def round_inputs(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, Any], fmt: FloatFormat
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every param, defaults filled in, and every input, with float inputs and params rounded
    into ``fmt`` (idempotent on rounded ones). The oracle never sees a value the framework under
    test could not hold.
    """
    op_definition = definition(op)
    rounded_inputs: dict[str, np.ndarray] = {}
    for spec in op_definition.inputs:
        if spec.name not in inputs:
            continue
        data = inputs[spec.name]
        if spec.kind == InputKind.LABELS:
            rounded_inputs[spec.name] = np.asarray(data, dtype=np.int64)
        else:
            rounded_inputs[spec.name] = _round_array(data, fmt)
    rounded_params = op_definition.with_defaults(params)
    for param in op_definition.params:
        value = rounded_params[param.name]
        if param.rounded and value is not None:
            rounded_params[param.name] = _round_array(value, fmt) if np.ndim(value) else round_float(float(value), fmt)
    return rounded_params, rounded_inputs


def _round_array(data: Any, fmt: FloatFormat) -> np.ndarray:
    array = np.asarray(data, dtype=np.float64)
    if not array.size or _already_in(array, fmt):
        return array
    # One vectorised rounding (nearest, ties to even, once); the tests pin it to round_float.
    return round_to(array, fmt)


def _already_in(array: np.ndarray, fmt: FloatFormat) -> bool:
    """True when every element is a value of ``fmt``: then rounding is the identity.

    A cast of a representable value is exact in every library, so a vectorised round trip
    decides it; any element that does not survive it sends the array through our own
    rounding (ml_dtypes' cast of a non-representable value rounds twice).
    """
    if fmt.name == "float64":
        return True
    with np.errstate(all="ignore"):
        if fmt.name == "bfloat16":  # our own rounding: importing ml_dtypes for its dtype alone costs 0.6 s
            back = round_to(array, fmt)
        else:
            back = array.astype(numpy_dtype(fmt.name)).astype(np.float64)
    same = (back == array) | (np.isnan(back) & np.isnan(array))
    return bool(same.all() and (np.signbit(back) == np.signbit(array)).all())


def batch_key(op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], dtype: str) -> str:
    """The cache file of a (case, dtype): every semantics' answer for these exact inputs."""

    def encode(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            # The exact bits (signed zeros included), hashed: a 1e5-element input costs no JSON.
            raw = np.ascontiguousarray(value, dtype=np.int64 if value.dtype.kind in "iu" else np.float64)
            return {
                "shape": list(value.shape),
                "kind": raw.dtype.kind,
                "sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
            }
        if isinstance(value, float):
            return _exact_token(value)
        return value

    payload = {
        "oracle": ORACLE_VERSION,
        "op": op,
        "dtype": dtype,
        "params": {k: encode(v) for k, v in sorted(params.items())},
        "inputs": {k: encode(v) for k, v in sorted(inputs.items())},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def entry_key(semantics: Semantics) -> str:
    """The entry of a batch: which semantics the record answers."""
    return json.dumps(semantics.key(), sort_keys=True)


def _exact_token(value: float | int) -> str | int:
    return value if isinstance(value, int) else float(value).hex()


def evaluate(
    op: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Any],
    dtype: str,
    semantics: Semantics = IDEAL,
    *,
    backend: str = "mpmath",
    cache: DiskCache | None = None,
    fast: bool = True,
) -> OracleResult:
    """The exact answer for ``op`` at ``inputs`` rounded to ``dtype``, under ``semantics``.

    ``fast`` lets the certified float64 path (:mod:`oracle.fast`) decide what it can: the same
    bits, sooner. Raises :class:`oracle.ops.InvalidInput` where the input has no valid answer.
    """
    fmt = FORMATS[dtype]
    params, rounded = round_inputs(op, params, inputs, fmt)
    definition(op).check(params, rounded)
    semantics = effective(op, params, semantics)
    batch = batch_key(op, params, rounded, dtype) if cache is not None else ""
    entry = entry_key(semantics)
    if cache is not None and (record := cache.get(batch, entry)) is not None:
        return OracleResult.from_record(record)
    with using_backend(backend):
        if fast and fast_reduced.covers(op, params, rounded, fmt, semantics):
            result = _reduced_then_exact(op, params, rounded, fmt, semantics)
        elif fast and covers(op, fmt, dict(semantics.settings)):
            result = _fast_then_exact(op, params, rounded, fmt, semantics)
        else:
            result = _ziv(op, params, rounded, fmt, semantics)
    if cache is not None:
        cache.put(batch, entry, result.to_record())
    return result


def _ziv(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], fmt: FloatFormat, semantics: Semantics
) -> OracleResult:
    evaluate_op = definition(op).evaluate
    constants = semantics.in_format(fmt)
    bits = max(fmt.precision + FIRST_GUARD_BITS, 64)
    values: list[float | None] = []
    grads: list[float | None] = []
    value_exact: list[str] = []
    grad_exact: list[str] = []
    while True:
        with working_precision(bits):
            enclosures = evaluate_op(params, inputs, constants)
            if not values:
                values, grads = [None] * len(enclosures.value), [None] * len(enclosures.grad)
                value_exact, grad_exact = [""] * len(values), [""] * len(grads)
            _settle(enclosures.value, values, value_exact, fmt, bits)
            _settle(enclosures.grad, grads, grad_exact, fmt, bits)
        if None not in values and None not in grads:
            break
        bits *= 2
        if bits > MAX_BITS:
            raise OracleUndecided(f"{op}: rounding into {fmt.name} undecided at {MAX_BITS} bits")
    return OracleResult(
        fmt.name,
        np.array(values, dtype=np.float64).reshape(enclosures.value_shape),
        tuple(value_exact),
        np.array(grads, dtype=np.float64).reshape(enclosures.grad_shape),
        tuple(grad_exact),
        bits,
    )


def _fast_then_exact(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], fmt: FloatFormat, semantics: Semantics
) -> OracleResult:
    """The fast path's decided elements, the exact path's answer for the rest (elementwise ops:
    an element's answer depends on its own inputs only)."""
    balls = balls_for(op, params, inputs, fmt)
    if balls is None:
        return _ziv(op, params, inputs, fmt, semantics)
    value, grad = settle(balls, fmt)
    values, grads, value_exact, grad_exact = value.rounded, grad.rounded, value.texts, grad.texts
    values_ok, grads_ok = value.decided, grad.decided
    shape = np.shape(inputs[definition(op).prediction])
    left = np.flatnonzero(~(values_ok & grads_ok))
    bits = 53
    if left.size:
        subset = {name: np.broadcast_to(array, shape).ravel()[left] for name, array in inputs.items()}
        exact = _ziv(op, params, subset, fmt, semantics)
        values[left], grads[left] = exact.value.ravel(), exact.grad.ravel()
        for position, index in enumerate(left.tolist()):
            value_exact[index], grad_exact[index] = exact.value_exact[position], exact.grad_exact[position]
        bits = exact.bits
    return OracleResult(
        fmt.name, values.reshape(shape), tuple(value_exact), grads.reshape(shape), tuple(grad_exact), bits
    )


def _reduced_then_exact(
    op: str, params: Mapping[str, Any], inputs: Mapping[str, np.ndarray], fmt: FloatFormat, semantics: Semantics
) -> OracleResult:
    """A reduced loss from the sum of its elements' balls (:mod:`oracle.fast_reduced`); the exact
    path for the gradient elements they leave undecided, or for everything if the value is."""
    balls = fast_reduced.reduced_balls(op, params, inputs)
    if balls is None:
        return _ziv(op, params, inputs, fmt, semantics)
    value_ball, grad_ball = balls
    value = settle_narrow(value_ball.value, value_ball.value_radius, value_ball.value_sign, fmt)
    if not value.decided.all():
        return _ziv(op, params, inputs, fmt, semantics)
    grad = settle_narrow(grad_ball.grad, grad_ball.grad_radius, grad_ball.grad_sign, fmt)
    grads, grads_ok, grad_exact = grad.rounded, grad.decided, grad.texts
    shape = np.shape(inputs[definition(op).prediction])
    left = np.flatnonzero(~grads_ok)
    bits = 53
    if left.size:
        subset = {name: np.broadcast_to(array, shape).ravel()[left] for name, array in inputs.items()}
        mean = params["reduction"] == "mean"
        exact, exact_strings, bits = _ziv_grads(op, params, subset, fmt, semantics, grads.size if mean else None)
        grads[left] = exact
        for position, index in enumerate(left.tolist()):
            grad_exact[index] = exact_strings[position]
    return OracleResult(
        fmt.name, value.rounded.reshape(()), tuple(value.texts), grads.reshape(shape), tuple(grad_exact), bits
    )


def _ziv_grads(
    op: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, np.ndarray],
    fmt: FloatFormat,
    semantics: Semantics,
    mean_of: int | None,
) -> tuple[np.ndarray, list[str], int]:
    """The exact path's gradients of a reduced loss at some of its elements (``inputs``): the
    sum's are the elements' own (weight 1), the mean's each times 1 / ``mean_of``, computed as
    the reduction computes them; rounded by the same Ziv loop as :func:`_ziv`."""
    evaluate_op = definition(op).evaluate
    constants = semantics.in_format(fmt)
    each = {**params, "reduction": "none"}
    bits = max(fmt.precision + FIRST_GUARD_BITS, 64)
    grads: list[float | None] = []
    grad_exact: list[str] = []
    while True:
        with working_precision(bits):
            enclosures = evaluate_op(each, inputs, constants).grad
            if mean_of is not None:
                scale = fast_reduced.mean_scale(mean_of)
                enclosures = [scale * g for g in enclosures]
            if not grads:
                grads, grad_exact = [None] * len(enclosures), [""] * len(enclosures)
            _settle(enclosures, grads, grad_exact, fmt, bits)
        if None not in grads:
            return np.array(grads, dtype=np.float64), grad_exact, bits
        bits *= 2
        if bits > MAX_BITS:
            raise OracleUndecided(f"{op}: rounding into {fmt.name} undecided at {MAX_BITS} bits")


def _settle(
    enclosures: list[Interval], rounded: list[float | None], exact: list[str], fmt: FloatFormat, bits: int
) -> None:
    for index, enclosure in enumerate(enclosures):
        if rounded[index] is None:
            decided = decide(enclosure, fmt)
            if decided is not None:
                rounded[index] = decided
                exact[index] = _signed_decimal(enclosure, decided, bits)


def _signed_decimal(enclosure: Interval, decided: float, bits: int) -> str:
    text = exact_decimal(enclosure, bits)
    # A value that rounds to -0 is a tiny negative number (or an exact -0 limit): keep its sign.
    if text == "0" and math.copysign(1.0, decided) < 0:
        return "-0"
    return text
