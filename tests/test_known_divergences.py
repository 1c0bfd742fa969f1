"""Known divergences: every entry's model reproduces its witness, and only that.

The witness of an entry is the input that motivated it and the framework's own output there
(frozen in the registry, recorded from the installed framework; ``test_frameworks.py`` checks
it against the live framework). A model is an explanation only if it reproduces that output,
and a result 100 times the entry's bound further off in the same direction is *not* explained.
"""

from pathlib import Path

import numpy as np
import pytest

from conformance.judge import registry
from conformance.judge.mechanisms import Prediction
from oracle.formats import FORMATS

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = registry.load()


def test_the_registry_has_no_case_id_patterns_and_every_entry_a_model():
    text = "\n".join(p.read_text() for p in (ROOT / "conformance/data/known_divergences").glob("*.yaml"))
    assert "\n  case:" not in text
    with pytest.raises(registry.RegistryError, match="unknown \\['case'\\]"):
        registry.parse(
            "- {name: x, framework: torch, implementation: t, model: torch.bce_with_logits.value, reason: r, "
            "link: l, witness: {}, case: 'bce/*'}"
        )
    with pytest.raises(registry.RegistryError, match=r"no model 'torch\.misspelt'"):
        registry.parse(
            "- {name: x, framework: t, implementation: t, model: torch.misspelt, reason: r, link: l, witness: {}}"
        )
    assert all(entry.model and entry.link.startswith("http") for entry in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_the_model_reproduces_its_witness_and_not_a_perturbed_one(entry):
    check = registry.check_witness(entry)
    assert check.failing.any(), f"the witness of {entry.name} does not diverge from the ideal"
    assert entry.in_scope(entry.witness.implementation, entry.witness.dtype, entry.witness.quantity)
    found, nearest = registry.explain([entry], check.context, check.returned, check.failing)
    assert found is not None, f"{entry.name}: nearest {nearest.distance_ulp if nearest else None} ulp"

    # The same result pushed 100 bounds further from the ideal, at the model's own scale (a NaN or
    # an infinity becomes a finite number): no longer explained.
    prediction = found.prediction
    fmt = FORMATS[prediction.unit or entry.witness.dtype]
    step = 100 * entry.bound_ulp * registry.spacing(np.broadcast_to(prediction.scales(), check.returned.shape), fmt)
    direction = np.where(check.returned >= check.ideal, 1.0, -1.0)
    perturbed = np.where(np.isfinite(check.returned), check.returned + direction * step, 0.0)
    perturbed = np.where(check.failing, perturbed, check.returned)
    refused, _ = registry.explain([entry], check.context, perturbed, check.failing)
    assert refused is None, f"{entry.name} also explains a result {100 * entry.bound_ulp} ulp further off"


def test_distances_keep_nan_infinity_and_finite_apart():
    fmt = FORMATS["float32"]
    actual = np.array([np.nan, np.inf, 1.0, 0.0, 1.0])
    predicted = Prediction(np.array([np.nan, np.inf, 1.0 + 2**-23, 0.0, np.nan]))
    # 1 + 2^-23 is one float32 ulp above 1; 0 and 0 match; NaN against a number never does.
    assert registry.distances(actual, predicted, fmt).tolist() == [0.0, 0.0, 1.0, 0.0, np.inf]
    # At a declared scale of 1, a difference of 2^-24 near 0 is half an ulp of 1, not 2^125 ulps.
    near_zero = Prediction(np.array([0.0]), scale=np.array([1.0]))
    assert registry.distances(np.array([2.0**-24]), near_zero, fmt).tolist() == [0.5]
