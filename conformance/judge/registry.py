"""Known divergences: real, understood, undocumented behaviour, each with an executable model.

Every entry of ``conformance/data/known_divergences/*.yaml`` names the implementations it
speaks for (patterns on their names, ``*`` the only wildcard), optionally the dtypes and the
quantity, and the mechanism model (:mod:`conformance.judge.mechanisms`) that reproduces what
they compute. A failing result is ``xfail`` only when the model, evaluated at that result's own
inputs, predicts every failing element within the entry's ``bound_ulp``; whatever the case is
called. There are no case-id patterns: an entry's ``first_seen`` is documentation only, and its
``witness`` (the inputs that motivated it and the framework's own output there) is what the
tests check the model against.

Status, judged over the results that ran: ``active`` (it explained results), ``fixed`` (its model
predicted a divergence on a result that ran, and the implementation is right there now),
``stale`` (its framework ran but has no implementation the entry's patterns name).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import yaml

from conformance.corpus.cases import Case
from conformance.report.records import DivergenceStatus
from oracle.formats import FORMATS, FloatFormat

from .mechanisms import ModelContext, Prediction, models
from .scoring import score, tolerance

FIELDS = {
    "name": True,
    "framework": True,
    "implementation": True,
    "model": True,
    "reason": True,
    "link": True,
    "witness": True,
    "bound_ulp": False,
    "dtype": False,
    "quantity": False,
    "options": False,
    "first_seen": False,
}
WITNESS_FIELDS = {"implementation", "op", "params", "inputs", "dtype", "quantity", "returned", "version"}


def glob_match(pattern: str, text: str) -> bool:
    """``*`` is the only wildcard: names such as keras[torch] hold brackets that fnmatch would misread."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text) is not None


def _strings(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value or ())


@dataclass(frozen=True)
class Witness:
    """The inputs that motivated an entry and what the framework returned there (frozen evidence)."""

    implementation: str
    op: str
    params: Mapping[str, Any]
    inputs: Mapping[str, Any]
    dtype: str
    quantity: str
    returned: Any
    version: str


@dataclass
class KnownDivergence:
    name: str
    frameworks: tuple[str, ...]
    implementations: tuple[str, ...]
    model: str
    reason: str
    link: str
    witness: Witness
    bound_ulp: float = 2.0
    dtypes: tuple[str, ...] = ()
    quantity: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    first_seen: str = ""
    explained: int = 0
    fixed: int = 0

    def witness_case(self) -> Case:
        """The witness as a case of its own (id: the entry's name), to run it on a framework again."""
        w = self.witness
        return Case(
            id=self.name,
            description=self.reason,
            provenance=self.link,
            op=w.op,
            params=dict(w.params),
            inputs=dict(w.inputs),
            dtypes=(w.dtype,),
        )

    def in_scope(self, implementation: str, dtype: str, quantity: str) -> bool:
        return (
            any(glob_match(pattern, implementation) for pattern in self.implementations)
            and (not self.dtypes or dtype in self.dtypes)
            and self.quantity in (None, quantity)
        )

    def predict(self, context: ModelContext) -> list[Prediction]:
        """The model's prediction(s) for this result (a model may offer several, e.g. one per
        documented variant it composes with); empty where the model does not apply."""
        answer = models()[self.model](_with_options(context, self.options))
        if answer is None:
            return []
        return answer if isinstance(answer, list) else [answer]

    def status(self, ran: Mapping[str, Sequence[str]]) -> str | None:
        """``ran``: framework -> its implementations' names, for the frameworks that ran."""
        if self.explained:
            return "active"
        if self.fixed:
            return "fixed"
        mine = [names for framework, names in ran.items() if framework in self.frameworks]
        if mine and not any(self.in_scope_name(name) for names in mine for name in names):
            return "stale"
        return None

    def in_scope_name(self, implementation: str) -> bool:
        return any(glob_match(pattern, implementation) for pattern in self.implementations)


def _with_options(context: ModelContext, options: Mapping[str, Any]) -> ModelContext:
    from dataclasses import replace

    return replace(context, options={**context.options, **options})


# -- matching ------------------------------------------------------------------------------


def spacing(magnitude: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    """The ULP of ``fmt`` in the binade of each magnitude (the smallest subnormal at 0)."""
    with np.errstate(all="ignore"):
        top = np.frexp(np.abs(magnitude))[1] - 1
        gap = np.ldexp(1.0, np.clip(top, fmt.emin, fmt.emax) - fmt.precision + 1)
    return np.where(magnitude == 0, fmt.min_subnormal, gap)


def distances(actual: np.ndarray, prediction: Prediction, fmt: FloatFormat) -> np.ndarray:
    """|actual - predicted| in ULPs (of the dtype, or of the prediction's ``unit``) at the prediction's
    scale; 0 where both are NaN or the same infinity, inf where one is and the other is not."""
    if prediction.unit is not None:
        fmt = FORMATS[prediction.unit]
    predicted = np.broadcast_to(prediction.value, actual.shape).astype(np.float64)
    scale = np.broadcast_to(prediction.scales(), actual.shape)
    nan_a, nan_p = np.isnan(actual), np.isnan(predicted)
    inf_a, inf_p = np.isinf(actual), np.isinf(predicted)
    with np.errstate(all="ignore"):
        gap = np.abs(actual - predicted) / spacing(scale, fmt)
    same_special = (nan_a & nan_p) | (inf_a & inf_p & (actual == predicted))
    mismatched = (nan_a != nan_p) | ((inf_a | inf_p) & ~same_special)
    return np.where(same_special, 0.0, np.where(mismatched, math.inf, gap))


@dataclass(frozen=True)
class Explanation:
    entry: KnownDivergence
    prediction: Prediction
    distance_ulp: float


def explain(
    entries: Iterable[KnownDivergence], context: ModelContext, actual: np.ndarray, failing: np.ndarray
) -> tuple[Explanation | None, Explanation | None]:
    """(the entry whose model reproduces every failing element, the nearest miss for the message)."""
    fmt = FORMATS[context.dtype]
    best: Explanation | None = None
    for entry in entries:
        for prediction in entry.predict(context):
            if np.shape(prediction.value) != actual.shape and np.size(prediction.value) != 1:
                continue
            gaps = distances(actual, prediction, fmt)[failing]
            worst = float(gaps.max()) if gaps.size else 0.0
            candidate = Explanation(entry, prediction, worst)
            if worst <= entry.bound_ulp:
                return candidate, None
            if best is None or worst < best.distance_ulp:
                best = candidate
    return None, best


# -- loading -------------------------------------------------------------------------------


class RegistryError(ValueError):
    pass


def _entry(source: str, number: int, raw: Mapping[str, Any]) -> KnownDivergence:
    where = f"{source} entry {number} ({raw.get('name', '?')})"
    missing = sorted(k for k, required in FIELDS.items() if required and k not in raw)
    unknown = sorted(set(raw) - set(FIELDS))
    if missing or unknown:
        raise RegistryError(f"{where}: missing {missing}, unknown {unknown}")
    if raw["model"] not in models():
        raise RegistryError(f"{where}: no model {raw['model']!r}; known: {', '.join(sorted(models()))}")
    witness = raw["witness"]
    if not isinstance(witness, Mapping) or set(witness) != WITNESS_FIELDS:
        raise RegistryError(f"{where}: a witness has exactly {sorted(WITNESS_FIELDS)}")
    dtypes = _strings(raw.get("dtype"))
    unknown_dtypes = [d for d in dtypes if d not in FORMATS]
    if unknown_dtypes:
        raise RegistryError(f"{where}: unknown dtype {unknown_dtypes}")
    if raw.get("quantity") not in (None, "value", "grad"):
        raise RegistryError(f"{where}: quantity is value or grad")
    return KnownDivergence(
        name=str(raw["name"]),
        frameworks=_strings(raw["framework"]),
        implementations=_strings(raw["implementation"]),
        model=str(raw["model"]),
        reason=" ".join(str(raw["reason"]).split()),
        link=str(raw["link"]),
        witness=Witness(**{k: witness[k] for k in WITNESS_FIELDS}),
        bound_ulp=float(raw.get("bound_ulp", 2.0)),
        dtypes=dtypes,
        quantity=raw.get("quantity"),
        options=dict(raw.get("options") or {}),
        first_seen=str(raw.get("first_seen", "")),
    )


def parse(text: str, source: str = "<text>") -> list[KnownDivergence]:
    entries = yaml.safe_load(text) or []
    if not isinstance(entries, list):
        raise RegistryError(f"{source}: a list of entries")
    return [_entry(source, number, raw) for number, raw in enumerate(entries, 1)]


@functools.cache
def _bundled() -> tuple[tuple[str, str], ...]:
    folder = resources.files("conformance").joinpath("data/known_divergences")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".yaml")), key=lambda f: f.name)
    return tuple((f"known_divergences/{f.name}", f.read_text(encoding="utf-8")) for f in files)


def load() -> list[KnownDivergence]:
    """A fresh copy of the bundled registry (entries carry the run's statistics)."""
    entries = list(itertools.chain.from_iterable(parse(text, source) for source, text in _bundled()))
    names = [e.name for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise RegistryError(f"known divergences named twice: {', '.join(twice)}")
    return entries


def statuses(entries: Sequence[KnownDivergence], ran: Mapping[str, Sequence[str]]) -> list[DivergenceStatus]:
    out: list[DivergenceStatus] = []
    for entry in entries:
        status = entry.status(ran)
        if status is None:
            continue
        out.append(
            {
                "name": entry.name,
                "implementation": ", ".join(entry.implementations),
                "model": entry.model,
                "dtype": ", ".join(entry.dtypes) or None,
                "quantity": entry.quantity,
                "reason": entry.reason,
                "link": entry.link,
                "status": status,
                "explained": entry.explained,
            }
        )
    return out


# -- witnesses: the evidence each entry was made from ---------------------------------------


@dataclass(frozen=True)
class WitnessCheck:
    """The witness's inputs as the framework held them, what it returned, and which elements of
    that differ from the ideal (the divergence the entry is about)."""

    context: ModelContext
    returned: np.ndarray
    failing: np.ndarray
    ideal: np.ndarray


def check_witness(entry: KnownDivergence, returned: Any = None) -> WitnessCheck:
    """Evaluate the witness (or another ``returned`` for its inputs) against the ideal oracle."""
    import oracle
    from oracle.evaluation import round_inputs

    witness = entry.witness
    op = oracle.definition(witness.op)
    params, inputs = round_inputs(witness.op, witness.params, witness.inputs, FORMATS[witness.dtype])
    ideal = oracle.evaluate(witness.op, params, inputs, witness.dtype)
    expected = np.asarray(getattr(ideal, witness.quantity), dtype=np.float64)
    got = np.asarray(_floats(witness.returned if returned is None else returned), dtype=np.float64).reshape(
        expected.shape
    )
    exact_text = ideal.value_exact if witness.quantity == "value" else ideal.grad_exact
    bounds = tolerance(witness.quantity, witness.dtype)
    off = ~score(got, expected, exact_text, witness.dtype, bounds).mask.reshape(expected.shape)

    def exact(
        name: str, p: Mapping[str, Any], i: Mapping[str, np.ndarray], dtype: str, variants: tuple[str, ...]
    ) -> Any:
        return oracle.evaluate(name, p, i, dtype, oracle.combine(variants))

    context = ModelContext(op, params, inputs, witness.dtype, witness.quantity, {"semantics": ()}, exact)
    return WitnessCheck(context, got, off, expected)


def _floats(value: Any) -> Any:
    if isinstance(value, list):
        return [_floats(v) for v in value]
    return float(value)
