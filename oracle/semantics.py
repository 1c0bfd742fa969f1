"""Semantic variants: the documented deviations from the ideal loss, as exact parameters.

The ideal is the mathematical function (limits at infinities, 0 log 0 = 0, no clipping).
A variant changes *what* is computed, not how accurately: the oracle still evaluates it
exactly and rounds it once. Variants are data (``variants.yaml``); this module gives
them a type.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

import yaml

from .formats import FORMATS, FloatFormat, round_float


@dataclass(frozen=True)
class Semantics:
    """What to compute. Every field's default is the ideal."""

    name: str = "ideal"
    #: Clip probabilities to [eps, 1 - eps], both bounds converted to the tested dtype
    #: from the double values eps and 1.0 - eps (what Keras' clip_by_value does).
    clip_epsilon: float | None = None
    #: Clamp each log term of binary cross-entropy to >= this (torch BCELoss: -100).
    log_floor: float | None = None
    #: Backward of BCE divides by max(p (1 - p), this) (torch BCELoss: 1e-12).
    grad_denominator_floor: float | None = None
    #: Divide probabilities by their sum along the class axis first (Keras categorical).
    renormalize: bool = False
    #: softplus(x) = x where x > threshold (torch: 20).
    softplus_threshold: float | None = None
    #: Weighted 'mean' divides by the element count, not the sum of the weights.
    mean_over_count: bool = False

    def in_format(self, fmt: FloatFormat) -> InFormat:
        """The variant's constants as the framework holds them: converted to the dtype."""
        clip = None
        if self.clip_epsilon is not None:
            clip = round_float(self.clip_epsilon, fmt), round_float(1.0 - self.clip_epsilon, fmt)
        floor = self.grad_denominator_floor
        if floor is not None:
            # torch's EPSILON is a float32 constant whatever the dtype: 1e-12 as float32, then the dtype.
            floor = round_float(floor, FORMATS["float32"])
        return InFormat(
            clip=clip,
            log_floor=self.log_floor,
            grad_denominator_floor=None if floor is None else round_float(floor, fmt),
            renormalize=self.renormalize,
            softplus_threshold=self.softplus_threshold,
            mean_over_count=self.mean_over_count,
        )

    def key(self) -> dict[str, object]:
        """A JSON-able description, for cache keys and reports."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class InFormat:
    """A :class:`Semantics` with its constants rounded into one float format."""

    clip: tuple[float, float] | None
    log_floor: float | None
    grad_denominator_floor: float | None
    renormalize: bool
    softplus_threshold: float | None
    mean_over_count: bool


IDEAL = Semantics()


@dataclass(frozen=True)
class Variant:
    semantics: Semantics
    description: str
    source: str


@functools.cache
def variants() -> dict[str, Variant]:
    """The documented variants of ``variants.yaml``, by name."""
    text = resources.files(__package__).joinpath("variants.yaml").read_text(encoding="utf-8")
    known = {f.name for f in fields(Semantics)} - {"name"}
    table: dict[str, Variant] = {}
    for name, entry in yaml.safe_load(text).items():
        unknown = set(entry["params"]) - known
        if unknown:
            raise ValueError(f"variants.yaml: {name}: unknown params {sorted(unknown)}")
        params: dict[str, Any] = {
            k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in entry["params"].items()
        }
        table[name] = Variant(Semantics(name=name, **params), entry["description"], entry["source"])
    return table


def combine(names: tuple[str, ...] | list[str]) -> Semantics:
    """One Semantics from several orthogonal variants (e.g. torch's log floor and mean over count)."""
    if not names:
        return IDEAL
    settings: dict[str, Any] = {}
    for name in names:
        chosen = variant(name)
        settings.update(
            {
                f.name: getattr(chosen, f.name)
                for f in fields(Semantics)
                if f.name != "name" and getattr(chosen, f.name) != getattr(IDEAL, f.name)
            }
        )
    return Semantics(name="+".join(names), **settings)


def variant(name: str) -> Semantics:
    if name == "ideal":
        return IDEAL
    try:
        return variants()[name].semantics
    except KeyError:
        raise ValueError(f"unknown semantic variant {name!r}; known: ideal, {', '.join(variants())}") from None
