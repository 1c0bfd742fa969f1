"""A report.json the size of the whole corpus's, without running a framework (plumbing only).

Every case of the bundled corpus, in each of its dtypes, gets a value and a gradient result
from every adapter registered in pyproject's entry points, with one or two implementations
per op and framework (or the ``<framework>:(none)`` placeholder), and verdicts cycling through
all eight, explanations and messages as long as real ones. The numbers are not results: the
report's presentation is what is tested with it.
"""

import functools
import itertools
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from conformance.corpus.cases import load
from conformance.report.records import VERDICT_ORDER, build_report

from report_fixture import result

ROOT = Path(__file__).resolve().parent.parent
REASON = (
    "Keras clips probabilities to [epsilon, 1 - epsilon] before the log (epsilon = 1e-7, both bounds "
    "converted to the tensor's dtype), so a hard 0/1 prediction costs -log(1e-7) = 16.118 instead of +inf; "
    "the gradient is 0 where the clip is active. "
)


def frameworks() -> list[str]:
    names = sorted(e.name for e in entry_points(group="loss_conformance.adapters"))
    return names or ["jax", "keras-jax", "keras-tensorflow", "keras-torch", "numpy", "tensorflow", "torch"]


def _implementations(op: str, framework: str, index: int) -> list[str]:
    if index % 5 == 4:
        return [f"{framework}:(none)"]
    names = [f"{framework}.losses.{op}"]
    if index % 3 == 0:
        names.append(f"{framework}.functional.{op}_alt")
    return names


def _record(case: Any, dtype: str, framework: str, implementation: str, quantity: str, n: int) -> dict[str, Any]:
    verdict = "unsupported" if implementation.endswith(":(none)") else VERDICT_ORDER[n % len(VERDICT_ORDER)]
    extra: dict[str, Any] = {}
    if verdict in ("xfail", "documented"):
        name = f"{framework}-explanation-{n % 6}"
        extra["explanation"] = {
            "kind": "model" if verdict == "xfail" else "variant",
            "name": name,
            "text": REASON * 2,
            "link": "https://example.org/source",
            "predicted": [0.5],
            "distance_ulp": 0.5,
            "bound_ulp": 2.0,
        }
    return result(
        case.id,
        implementation,
        verdict,
        dtype=dtype,
        quantity=quantity,
        op=case.op,
        framework=framework,
        params={k: str(v) for k, v in case.params.items()},
        description=case.description,
        provenance=case.provenance,
        sweep=dict(case.sweep),
        sweep_group=case.template if case.sweep else "",
        max_ulp_error=float(n % 997) * 3.5,
        actual=[float(n % 97) / 7],
        message=("known divergence: " + REASON if verdict == "xfail" else f"max error {n % 997} ulp, 2.1e-7 rel"),
        **extra,
    )


@functools.cache
def full_report() -> dict[str, Any]:
    corpus = load([ROOT / "cases"])
    ops = sorted({case.op for case in corpus.cases})
    plan = {(op, fw): _implementations(op, fw, i) for i, (op, fw) in enumerate(itertools.product(ops, frameworks()))}
    counter = itertools.count()
    records = [
        _record(case, dtype, fw, implementation, quantity, next(counter))
        for case in corpus.cases
        for dtype in case.dtypes
        for fw in frameworks()
        for implementation in plan[(case.op, fw)]
        for quantity in ("value", "grad")
    ]
    environment = {
        "python": "3.11",
        "platform": "synthetic",
        "frameworks": {fw: "0.0" for fw in frameworks()},
        "skipped": {},
        "packages": {},
    }
    return dict(build_report(records, environment, created="2026-12-07T00:00:00+00:00"))
