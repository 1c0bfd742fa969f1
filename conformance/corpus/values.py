"""The input-value grammar of case files, resolved exactly per dtype.

A value is one of

* a decimal number (``0.1``, ``-810``, ``1e-7``): its exact rational, rounded once into the dtype;
* a hex float (``0x1.fffffep-1``): exact, then rounded;
* ``inf``, ``-inf``, ``nan``;
* a dtype-relative token, optionally signed, so one case means the same edge in every
  dtype: ``max``, ``min_normal``, ``min_subnormal``, ``eps`` (gap above 1),
  ``below_one`` (largest value < 1), ``above_one`` (smallest value > 1);
* ``next_up(V)``, ``next_down(V)``: the neighbour of V in the dtype; ``one_minus(V)``: 1 - V
  rounded in the dtype, as a framework computes ``1 - eps`` (``one_minus(1e-7)`` is
  1 - 2**-23 in float32 and exactly 1 in float16).

No ``eval``: a small recursive parser, whose errors say what was expected. Its grammar is
linear (no regex that backtracks on 100,000 digits) and it keeps ``data/limits.yaml``: a
literal's length and its exponent are checked before the exact rational is built, since
``Fraction("1e99999999")`` would never return.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Hashable
from fractions import Fraction

from oracle.formats import FloatFormat, next_toward, round_float, round_fraction

from .limits import Limits, limits
from .source import Literal

# Each part is matched by exactly one branch, so a failing match is linear in the text.
_DECIMAL = re.compile(r"[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE]([+-]?\d+))?")
_HEX = re.compile(r"([+-]?)0x([0-9a-f]+)(?:\.([0-9a-f]*))?p([+-]?\d+)", re.IGNORECASE)
_CALL = re.compile(r"(next_up|next_down|one_minus)\((.*)\)")
_TOKENS: dict[str, Callable[[FloatFormat], float]] = {
    "max": lambda f: f.max,
    "min_normal": lambda f: f.min_normal,
    "min_subnormal": lambda f: f.min_subnormal,
    "eps": lambda f: f.eps,
    "below_one": lambda f: next_toward(1.0, f, -1),
    "above_one": lambda f: next_toward(1.0, f, 1),
}
_SPECIAL = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "nan": math.nan}


class ValueSyntaxError(ValueError):
    pass


def _check_exponent(exponent: str | None, text: str) -> None:
    if exponent is not None and abs(int(exponent)) > limits().exponent:
        raise ValueSyntaxError(f"{_short(text)}: the exponent exceeds the limit of {limits().exponent:,} (exponent)")


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:30]!r}... ({len(text):,} characters)"


def exact_decimal(text: str) -> Fraction:
    """The exact rational of a decimal literal, within the length and exponent limits."""
    if len(text) > limits().number_chars:
        raise ValueSyntaxError(f"{_short(text)} is longer than the limit of {limits().number_chars:,} (number_chars)")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ValueSyntaxError(f"{_short(text)} is not a decimal number")
    _check_exponent(match.group(1), text)
    return Fraction(text.replace("_", ""))


def parse_hex(text: str) -> Fraction:
    match = _HEX.fullmatch(text)
    if match is None:
        raise ValueSyntaxError(f"{_short(text)} is not a hex float")
    sign, whole, fraction, exponent = match.groups()
    _check_exponent(exponent, text)
    fraction = fraction or ""
    mantissa = int(whole + fraction, 16)
    value = Fraction(mantissa) * Fraction(2) ** (int(exponent) - 4 * len(fraction))
    return -value if sign == "-" else value


def check(value: object) -> None:
    """Raise :class:`ValueSyntaxError` unless ``value`` is a well-formed literal."""
    resolve(value, None)


def resolve(value: object, fmt: FloatFormat | None) -> float:
    """The value of a literal in ``fmt``; with ``fmt=None``, only check the syntax.

    A pure function of its arguments, remembered for plain numbers and strings: the gate
    materialises a case's inputs to load it, to fit it to the user's params, to ask the oracle
    and to run it, each time resolving the same literals."""
    if fmt is None or isinstance(value, bool):
        return _resolve(value, fmt)
    if isinstance(value, Literal):
        value = value.text  # resolved from its text alone, as a string is
    if type(value) is float:
        # -0.0 == 0.0 as a key: the sign keeps them apart.
        return _remembered("float", value, math.copysign(1.0, value), fmt, limits())
    if type(value) is int or type(value) is str:
        return _remembered(type(value).__name__, value, 1.0, fmt, limits())  # 1 == 1.0 as keys: kinds apart
    return _resolve(value, fmt)


@functools.lru_cache(maxsize=1 << 16)
def _remembered(kind: str, value: Hashable, sign: float, fmt: FloatFormat, bounds: Limits) -> float:
    """``bounds``: the limits a literal is checked against, part of the key so that an answer
    (or an error, which is never remembered) follows them."""
    return _resolve(value, fmt)


def _resolve(value: object, fmt: FloatFormat | None) -> float:
    if isinstance(value, bool):
        raise ValueSyntaxError(f"{value!r} is a boolean, not a number")
    if isinstance(value, int):
        return 0.0 if fmt is None else round_fraction(Fraction(value), fmt)
    if isinstance(value, Literal):
        value = value.text
    elif isinstance(value, float):
        return 0.0 if fmt is None else round_float(value, fmt)
    if not isinstance(value, str):
        raise ValueSyntaxError(f"expected a number or a value token, got {type(value).__name__}")
    if len(value) > limits().number_chars:
        raise ValueSyntaxError(f"{_short(value)} is longer than the limit of {limits().number_chars:,} (number_chars)")
    return _resolve_text(value.strip(), fmt)


def _resolve_text(text: str, fmt: FloatFormat | None) -> float:
    lowered = text.lower()
    if lowered in _SPECIAL:
        return _SPECIAL[lowered]
    if _DECIMAL.fullmatch(text):
        exact = exact_decimal(text)
        return 0.0 if fmt is None else round_fraction(exact, fmt)
    if _HEX.fullmatch(text):
        exact = parse_hex(text)
        return 0.0 if fmt is None else round_fraction(exact, fmt)
    sign, bare = (-1.0, text[1:]) if text.startswith("-") else (1.0, text.lstrip("+"))
    if bare in _TOKENS:
        return 0.0 if fmt is None else sign * _TOKENS[bare](fmt)
    call = _CALL.fullmatch(bare)
    if call is not None:
        name, argument = call.groups()
        inner = _resolve_text(argument.strip(), fmt)
        if fmt is None:
            return 0.0
        if name == "one_minus":
            result = round_fraction(1 - Fraction(inner), fmt) if math.isfinite(inner) else -inner
        else:
            result = next_toward(inner, fmt, 1 if name == "next_up" else -1)
        return sign * result
    raise ValueSyntaxError(
        f"{_short(text)} is not a value: expected a number, a hex float (0x1.8p-3), inf, -inf, nan, "
        f"a token ({', '.join(_TOKENS)}) or next_up(V), next_down(V), one_minus(V)"
    )
