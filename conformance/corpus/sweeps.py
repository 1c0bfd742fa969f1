"""Sweeps and id templates: one case-file entry -> the literals of each of its cases.

A sweep variable takes a list of literals, a ``range: [start, stop, step]`` of exact
decimals or ``powers_of_ten: [low, high]``; the entry's id template names each variable
as a bare ``{name}``. Every size is checked against ``data/limits.yaml`` before a value is
made, so a sweep of 10^9 steps is an error, not a hang.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from . import values
from .limits import exceeded, limits
from .schema import ID_PATTERN
from .source import Literal


def sweep_values(spec: Any) -> list[Any]:
    """The literals a sweep variable takes, in order."""
    if isinstance(spec, list):
        return list(spec)
    if "range" in spec:
        start, stop, step = (values.exact_decimal(literal_text(v)) for v in spec["range"])
        count = math.floor((stop - start) / step) + 1
        if count < 1:
            raise ValueError(f"range {[literal_text(v) for v in spec['range']]} makes no values: stop is below start")
        check_size(count)
        return [decimal_text(start + k * step) for k in range(count)]
    low, high = (int(v) for v in spec["powers_of_ten"])
    if max(abs(low), abs(high)) > limits().exponent:
        raise exceeded("an exponent of powers_of_ten", max(abs(low), abs(high)), limits().exponent, "exponent")
    check_size(abs(high - low) + 1)
    direction = 1 if high >= low else -1
    return [f"1e{k}" for k in range(low, high + direction, direction)]


def check_size(count: int) -> None:
    if count > limits().sweep_cases:
        raise exceeded("cases of one sweep", count, limits().sweep_cases, "sweep_cases")


def literal_text(value: Any) -> str:
    return value.text if isinstance(value, Literal) else str(value)


def decimal_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    # A decimal's denominator is 2^a 5^b; it needs max(a, b) digits after the point.
    denominator = value.denominator
    twos = (denominator & -denominator).bit_length() - 1
    denominator >>= twos
    fives = 0
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    scale = max(twos, fives)
    digits = str(abs(value.numerator * 10**scale // value.denominator)).rjust(scale + 1, "0")
    return ("-" if value < 0 else "") + digits[:-scale] + "." + digits[-scale:]


def check_template(template: str, names: list[str]) -> None:
    """Raise ValueError unless every ``{field}`` of an id template is a bare sweep variable.

    ``str.format`` would also evaluate ``{v.real}``, ``{v[x]}`` and ``{v:>99999999}``.
    """
    for _, field_name, spec, conversion in string.Formatter().parse(template):
        if field_name is None:
            continue
        if field_name not in names or spec or conversion:
            raise ValueError(
                f"{{{field_name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} is not "
                f"one of this case's sweep variables ({', '.join('{' + n + '}' for n in names)})"
            )


def check_id(case_id: str) -> None:
    if len(case_id) > limits().id_chars:
        raise exceeded("the characters of an id", len(case_id), limits().id_chars, "id_chars")
    if re.fullmatch(ID_PATTERN, case_id) is None:
        raise ValueError(f"{case_id!r} does not match {ID_PATTERN}")


def planned_cases(entries: list[Any]) -> int:
    """How many cases the entries will make, counted before any is built (a bad sweep counts 1)."""
    total = 0
    for entry in entries:
        sweep = entry.get("sweep") if isinstance(entry, Mapping) else None
        try:
            total += math.prod(len(sweep_values(spec)) for spec in sweep.values()) if isinstance(sweep, Mapping) else 1
        except (ValueError, ZeroDivisionError, TypeError, KeyError):
            total += 1
    return total
