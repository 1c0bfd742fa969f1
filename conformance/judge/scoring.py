"""Element-wise comparison of a framework's output with the exact oracle value.

Every element gets an *outcome*, kept apart because they mean different things to a user:

* ``match``: bit-identical to the correctly rounded value (signed zeros included);
* ``finite``: both finite, with errors in ULPs (of the tested dtype, at the exact value;
  0.5 means correctly rounded), absolute and relative;
* ``signed_zero``: a zero of the wrong sign (magnitude errors still apply);
* ``flushed_subnormal``: 0 where the correctly rounded value is a nonzero subnormal;
* ``nan`` / ``unexpected_nan`` / ``missing_nan``: NaN where NaN is right, NaN where it is
  not, a number where NaN is right;
* ``inf_mismatch``: an infinity where there should be another value, or vice versa.

An element passes when its outcome is ``match`` or ``nan``, or when a finite-valued outcome
is within any of its tolerance bounds (ulp, rel, abs, abs_eps).
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import yaml
from mpmath import mp, mpf

from oracle.formats import FORMATS, FloatFormat

PASSING_OUTCOMES = ("match", "nan")
#: Arrays larger than this are scored in float64 numpy arithmetic instead of element by element
#: with mpmath: exact for float32 and narrower; for float64 results the error is then known to
#: within half an ulp (a bit-identical float64 result counts 0 ulp).
LARGE = 1000
FINITE_OUTCOMES = ("finite", "signed_zero", "flushed_subnormal")
OUTCOMES = (*PASSING_OUTCOMES, *FINITE_OUTCOMES, "unexpected_nan", "missing_nan", "inf_mismatch")


@dataclass(frozen=True)
class Element:
    outcome: str
    ulp: float = 0.0
    abs: float = 0.0
    rel: float = 0.0


@dataclass(frozen=True)
class Score:
    """The comparison of one quantity (value or grad) of one result."""

    passed: bool
    #: Which elements (flattened) are within tolerance.
    mask: np.ndarray = field(compare=False)
    max_ulp: float
    max_abs: float
    max_rel: float
    outcomes: dict[str, int] = field(default_factory=dict)
    shape_mismatch: str = ""
    #: Outcomes of the elements outside tolerance only: what kind of failure this is.
    failing: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if self.shape_mismatch:
            return self.shape_mismatch
        notable = {k: v for k, v in self.outcomes.items() if k not in ("match", "finite", "nan")}
        parts = [f"max error {self.max_ulp:.3g} ulp, {self.max_rel:.3g} rel, {self.max_abs:.3g} abs"]
        parts += [f"{count} {name.replace('_', ' ')}" for name, count in sorted(notable.items())]
        return "; ".join(parts)


PROFILES = ("strict", "practical")
DEFAULT_PROFILE = "strict"


@functools.cache
def tolerance_profiles() -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    text = resources.files("conformance").joinpath("data/tolerances.yaml").read_text(encoding="utf-8")
    table: dict[str, dict[str, dict[str, dict[str, float]]]] = yaml.safe_load(text)
    if tuple(table) != PROFILES:
        raise ValueError(f"tolerances.yaml: expected the profiles {PROFILES}, found {tuple(table)}")
    return table


def tolerance(
    quantity: str,
    dtype: str,
    overrides: Mapping[str, Mapping[str, float]] | None = None,
    profile: str = DEFAULT_PROFILE,
) -> dict[str, float]:
    merged = dict(tolerance_profiles()[profile][quantity][dtype])
    merged.update((overrides or {}).get(quantity, {}))
    return {k: float(v) for k, v in merged.items()}


def _ulp_at(exact: mpf, fmt: FloatFormat) -> mpf:
    """The spacing of ``fmt`` in the binade of the exact value (capped at the format's range)."""
    if exact == 0:
        return mpf(fmt.min_subnormal)
    exponent = _binade(exact)
    exponent = min(max(exponent, fmt.emin), fmt.emax)
    return mpf(2) ** (exponent - fmt.precision + 1)


#: How close (relatively, as a power of two) to a power of two the log path decides the binade.
_NEAR_POWER = 64


def _binade(exact: mpf) -> int:
    """floor(log2 |exact|), as ``mp.floor(mp.log(abs(exact), 2))`` gives it, which cost a quarter
    of an element's comparison. Read off the exact binary form, ``man * 2**exp`` with ``bc`` bits
    of ``man``: the exponent is ``exp + bc - 1``. Within 2**-64 of a power of two (relatively)
    the log itself decides, as before: there a 128-bit log may round onto the integer; farther
    away its error (under 2**-117 for any exponent a float has) cannot cross one."""
    _, man, exp, bc = exact._mpf_
    above = (man - (1 << (bc - 1))) << _NEAR_POWER < (1 << (bc - 1))
    below = ((1 << bc) - man) << _NEAR_POWER < (1 << (bc - 1))
    if above or below:
        return int(mp.floor(mp.log(abs(exact), 2)))
    return int(exp + bc - 1)


def compare_element(actual: float, expected: float, exact_text: str, fmt: FloatFormat) -> Element:
    if math.isnan(expected):
        return Element("nan") if math.isnan(actual) else Element("missing_nan", math.inf, math.inf, math.inf)
    if math.isnan(actual):
        return Element("unexpected_nan", math.inf, math.inf, math.inf)
    identical = actual == expected and math.copysign(1, actual) == math.copysign(1, expected)
    if math.isinf(actual) or math.isinf(expected):
        return Element("match") if identical else Element("inf_mismatch", math.inf, math.inf, math.inf)
    # Errors are measured against the exact value, so a correctly rounded match shows <= 0.5 ulp.
    with mp.workprec(128):
        exact = mpf(exact_text)
        error = abs(mpf(actual) - exact)
        ulp = float(error / _ulp_at(exact, fmt))
        rel = float(error / abs(exact)) if exact != 0 else (0.0 if error == 0 else math.inf)
    if identical:
        outcome = "match"
    elif actual == 0 and expected != 0 and abs(expected) < fmt.min_normal:
        outcome = "flushed_subnormal"
    elif actual == 0 and expected == 0:
        outcome = "signed_zero"
    else:
        outcome = "finite"
    return Element(outcome, ulp, float(error), rel)


def compare_large(
    actual: np.ndarray,
    expected: np.ndarray,
    exact: tuple[str, ...],
    fmt: FloatFormat,
    exact_value: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The outcomes and errors of :func:`compare_element`, as arrays computed in float64."""
    if exact_value is None:
        exact_value = np.array([float(x) for x in exact])
    nan_expected, nan_actual = np.isnan(expected), np.isnan(actual)
    infinite = np.isinf(actual) | np.isinf(expected)
    identical = (actual == expected) & (np.signbit(actual) == np.signbit(expected))
    zero_actual = actual == 0
    outcome = np.select(
        [
            nan_expected & nan_actual,
            nan_expected,
            nan_actual,
            identical,
            infinite,
            zero_actual & (expected != 0) & (np.abs(expected) < fmt.min_normal),
            zero_actual & (expected == 0),
        ],
        ["nan", "missing_nan", "unexpected_nan", "match", "inf_mismatch", "flushed_subnormal", "signed_zero"],
        "finite",
    )
    with np.errstate(all="ignore"):
        error = np.abs(actual - exact_value)
        top = np.frexp(np.abs(exact_value))[1] - 1
        spacing = np.ldexp(1.0, np.clip(top, fmt.emin, fmt.emax) - fmt.precision + 1)
        spacing = np.where(exact_value == 0, fmt.min_subnormal, spacing)
        ulp = error / spacing
        rel = np.where(exact_value != 0, error / np.abs(exact_value), np.where(error == 0, 0.0, np.inf))
    unknown = np.isin(outcome, ["missing_nan", "unexpected_nan", "inf_mismatch"])
    settled = outcome == "nan"
    for array in (ulp, error, rel):
        array[unknown] = np.inf
        array[settled | (identical & infinite)] = 0.0
    return outcome, ulp, error, rel


def within_arrays(
    outcome: np.ndarray,
    ulp: np.ndarray,
    error: np.ndarray,
    rel: np.ndarray,
    bounds: Mapping[str, float],
    abs_unit: float,
) -> np.ndarray:
    """Which elements pass: a passing outcome, or a finite-valued one within any bound."""
    finite_valued = _among(outcome, FINITE_OUTCOMES)
    close = (
        (ulp <= bounds.get("ulp", -1))
        | (rel <= bounds.get("rel", -1))
        | (error <= bounds.get("abs", -1))
        | (error <= bounds.get("abs_eps", -1) * abs_unit)
    )
    return _among(outcome, PASSING_OUTCOMES) | (finite_valued & close)


def _among(outcome: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """``np.isin(outcome, names)``; by set lookups for the element-wise path's small object arrays,
    which isin sorts (a few times per record: a tenth of a gate call's judging)."""
    if outcome.dtype != object:
        return np.isin(outcome, names)  # compare_large's: vectorised, and large
    wanted = frozenset(names)
    return np.fromiter((name in wanted for name in outcome.ravel().tolist()), dtype=bool, count=outcome.size).reshape(
        outcome.shape
    )


def _counts(outcome: np.ndarray) -> dict[str, int]:
    """How many elements have each outcome, by name in sorted order (as ``np.unique`` gave them,
    without its sort of the strings: 25 ms for one array of the 100,000-element sweeps)."""
    if outcome.dtype == object:
        counts = Counter(outcome.ravel().tolist())
    else:  # compare_large's unicode array: one vectorised comparison per outcome it can hold
        counts = Counter({name: int(np.count_nonzero(outcome == name)) for name in OUTCOMES})
        if counts.total() != outcome.size:
            counts = Counter(outcome.ravel().tolist())
    return {str(name): counts[name] for name in sorted(counts) if counts[name]}


def within(element: Element, bounds: Mapping[str, float], abs_unit: float) -> bool:
    """``abs_unit`` is eps(dtype) times the natural scale: the unit of the ``abs_eps`` bound."""
    passed = within_arrays(
        np.array([element.outcome]),
        np.array([element.ulp]),
        np.array([element.abs]),
        np.array([element.rel]),
        bounds,
        abs_unit,
    )
    return bool(passed[0])


def natural_scale(exact: np.ndarray, floor: float) -> float:
    """The scale at which a gradient's absolute error is judged: its largest exact entry,
    but at least ``floor`` (1 for sum/none, 1/N for a mean: the size of the terms that
    autodiff adds up before they cancel)."""
    finite = np.abs(exact[np.isfinite(exact)])
    return float(max(floor, finite.max() if finite.size else 0.0))


def score(
    actual: np.ndarray,
    expected: np.ndarray,
    exact: tuple[str, ...],
    dtype: str,
    bounds: Mapping[str, float],
    scale_floor: float = 1.0,
) -> Score:
    fmt = FORMATS[dtype]
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape:
        if actual.size == expected.size:
            actual = actual.reshape(expected.shape)
        else:
            message = f"returned shape {actual.shape}, expected {expected.shape}"
            return Score(False, np.zeros(expected.size, dtype=bool), math.inf, math.inf, math.inf, {}, message)
    exact_value = np.array([float(e) for e in exact]) if exact else expected.ravel()
    eps_scale = fmt.eps * natural_scale(exact_value, scale_floor)
    if actual.size > LARGE:
        outcome, ulp, error, rel = compare_large(actual.ravel(), expected.ravel(), exact, fmt, exact_value)
    else:
        elements = [
            compare_element(a, e, x, fmt) for a, e, x in zip(actual.ravel().tolist(), expected.ravel().tolist(), exact)
        ]
        outcome = np.array([e.outcome for e in elements], dtype=object)
        ulp, error, rel = (
            np.array([getattr(e, name) for e in elements], dtype=np.float64) for name in ("ulp", "abs", "rel")
        )
    passed = within_arrays(outcome, ulp, error, rel, bounds, eps_scale)
    return Score(
        bool(passed.all()),
        passed,
        float(ulp.max(initial=0.0)),
        float(error.max(initial=0.0)),
        float(rel.max(initial=0.0)),
        _counts(outcome),
        failing=_counts(outcome[~passed]),
    )
