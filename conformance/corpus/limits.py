"""The resource limits a case file must keep, read from ``data/limits.yaml``.

Limits are data so that a project with larger inputs can see (and review) what it raises;
the loader checks each one before doing the work it bounds, so a limit is an error with
a line and never a hang.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

import yaml


class LimitError(ValueError):
    """A case file asks for more than a limit allows (the message names the limit)."""


@dataclass(frozen=True)
class Limits:
    file_bytes: int
    nesting_depth: int
    number_chars: int
    exponent: int
    array_elements: int
    generator_elements: int
    sweep_cases: int
    file_cases: int
    id_chars: int
    label_magnitude: int
    aliases: int
    answer_bytes: int


@functools.cache
def limits() -> Limits:
    text = resources.files("conformance").joinpath("data/limits.yaml").read_text(encoding="utf-8")
    table = yaml.safe_load(text)
    names = {f.name for f in fields(Limits)}
    if not isinstance(table, dict) or set(table) != names or not all(isinstance(v, int) for v in table.values()):
        raise ValueError(f"limits.yaml: expected integer limits {sorted(names)}, found {table!r}")
    return Limits(**table)


def exceeded(what: str, amount: int, limit: int, name: str) -> LimitError:
    return LimitError(f"{what} ({amount:,}) exceeds the limit of {limit:,} ({name} in data/limits.yaml)")
