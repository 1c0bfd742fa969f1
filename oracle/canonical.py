"""The semantics an evaluation actually depends on: settings that cannot change it dropped.

The judge asks for every subset of an implementation's declared variants when the ideal
fails, and mechanism models ask again under each; a variant whose settings cannot change
this op at these params is the ideal (or the smaller set) there, bit for bit, and costs a
second exact evaluation (15 s for the 100,000-element batch) for nothing.

``mean_over_count`` changes one thing (:func:`oracle.ops._reduce.reduce`): a ``mean``'s
denominator, from the sum of the applied weights of the samples that count to their number.
The ops of ``UNIT_SAMPLES`` build every sample with the default applied weight 1 and
``counts`` true, so both denominators are the same exact integer n: the setting is a no-op
there, and under ``sum`` and ``none`` for every op.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .ops.params import MEAN_OVER_COUNT
from .semantics import IDEAL, Semantics

#: Ops whose samples all carry applied weight 1 and count (no class weights, no ignore_index).
UNIT_SAMPLES = frozenset(
    ("binary_crossentropy", "binary_focal_crossentropy", "bce_pos_weight", "huber", "poisson_nll", "squared_error")
)


def effective(op: str, params: Mapping[str, Any], semantics: Semantics) -> Semantics:
    """``semantics`` less the settings that cannot change ``op`` at ``params`` (defaults filled in)."""
    settings = dict(semantics.settings)
    if MEAN_OVER_COUNT.name not in settings:
        return semantics
    if params.get("reduction") == "mean" and op not in UNIT_SAMPLES:
        return semantics
    del settings[MEAN_OVER_COUNT.name]
    if not settings:
        return IDEAL
    return Semantics(name=semantics.name, settings=tuple(sorted(settings.items())))
