"""Semantic variants: the documented deviations from the ideal loss, as exact settings.

The ideal is the mathematical function (limits at infinities, 0 log 0 = 0, no clipping).
A variant changes *what* is computed, not how accurately: the oracle still evaluates it
exactly and rounds it once. Variants are data (``variants.yaml``): each turns named
settings (a clip epsilon, a log floor) that the op modules of :mod:`oracle.ops` declare and
read; an op's formulas convert a setting into the dtype the way its framework does.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from .formats import FloatFormat


@dataclass(frozen=True)
class Semantics:
    """What to compute: the ideal (no settings) or the settings of one or more variants."""

    name: str = "ideal"
    settings: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.settings).get(key, default)

    def in_format(self, fmt: FloatFormat) -> InFormat:
        return InFormat(fmt, dict(self.settings))

    def key(self) -> dict[str, object]:
        """A JSON-able description, for cache keys and reports."""
        return {"name": self.name, **dict(self.settings)}


@dataclass(frozen=True)
class InFormat:
    """A :class:`Semantics` for one float format: the formulas read settings from here and
    convert them into ``fmt`` as their framework does."""

    fmt: FloatFormat
    settings: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def flag(self, key: str) -> bool:
        return bool(self.settings.get(key, False))


IDEAL = Semantics()


@dataclass(frozen=True)
class Variant:
    semantics: Semantics
    description: str
    source: str

    @property
    def setting_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.semantics.settings)


def _settings(name: str, params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    from .ops import known_settings  # the op modules declare the settings; they import this module

    known = known_settings()
    converted = []
    for key, value in sorted(params.items()):
        if key not in known:
            raise ValueError(f"variants.yaml: {name}: unknown setting {key!r}; known: {', '.join(sorted(known))}")
        kind = known[key].kind
        if kind is bool and not isinstance(value, bool):
            raise ValueError(f"variants.yaml: {name}: {key} is true or false, not {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"variants.yaml: {name}: {key} is a number, not {value!r}")
        converted.append((key, float(value) if kind is float else value))
    return tuple(converted)


@functools.cache
def variants() -> dict[str, Variant]:
    """The documented variants of ``variants.yaml``, by name."""
    text = resources.files(__package__).joinpath("variants.yaml").read_text(encoding="utf-8")
    table: dict[str, Variant] = {}
    for name, entry in yaml.safe_load(text).items():
        semantics = Semantics(name=name, settings=_settings(name, entry["params"]))
        table[name] = Variant(semantics, entry["description"], entry["source"])
    return table


def combine(names: tuple[str, ...] | list[str]) -> Semantics:
    """One Semantics from several orthogonal variants (e.g. torch's log floor and mean over count)."""
    if not names:
        return IDEAL
    settings: dict[str, Any] = {}
    for name in names:
        for key, value in variant(name).settings:
            if key in settings and settings[key] != value:
                raise ValueError(f"variants {', '.join(names)} disagree on {key}")
            settings[key] = value
    return Semantics(name="+".join(names), settings=tuple(sorted(settings.items())))


def variant(name: str) -> Semantics:
    if name == "ideal":
        return IDEAL
    try:
        return variants()[name].semantics
    except KeyError:
        raise ValueError(f"unknown semantic variant {name!r}; known: ideal, {', '.join(variants())}") from None
