"""Check the issue-16 mechanism models against the live frameworks on random inputs (not the corpus).

For each family, random and adversarial inputs in all four dtypes and every reduction run through
every installed framework (the suite's own workers); for every result, pass or not, each in-scope
entry of ``known_divergences/new_families.yaml`` predicts it, and the largest distance in ULPs at
the model's scale is printed per (implementation, quantity). A model is trusted to its entry's
``bound_ulp``; anything above is a mechanism the model misses.

    python tools/check_likelihood_models.py [--seed N] [--framework F ...] [--op OP ...]
"""

from __future__ import annotations

import argparse
import collections
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from conformance.corpus.cases import Case
from conformance.judge import registry
from conformance.judge.mechanisms import ModelContext
from conformance.run.runner import adapter_specs, run
from oracle import combine, definition, evaluate
from oracle.formats import FORMATS

DTYPES = ("float64", "float32", "float16", "bfloat16")
N = 48


def _magnitudes(rng: np.random.Generator, size: int, low: int = -4, high: int = 3) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size) * 10.0 ** rng.uniform(low, high, size)


def _cases(rng: np.random.Generator) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    adversarial = np.array([0.0, 1.0, -1.0, 17.0, -17.0, 30.0, -30.0, 88.7, -88.7, 100.0, -100.0])
    for reduction in ("none", "sum", "mean"):
        for delta in (0.5, 1.0, 3.0):
            y = _magnitudes(rng, N)
            p = y + _magnitudes(rng, N, -6, 2)
            yield "huber", {"delta": delta, "reduction": reduction}, {"y_true": y, "y_pred": p}
        for log_input in (False, True):
            for full in (False, True):
                y = np.concatenate([rng.integers(0, 30, N - 8).astype(float), [0, 1, 0.5, 1.5, 2, 100, 1e4, 3.25]])
                rate = 10.0 ** rng.uniform(-3, 2, N)
                prediction = np.log(rate) if log_input else rate
                params = {"log_input": log_input, "full": full, "reduction": reduction}
                yield "poisson_nll", params, {"y_true": y, "y_pred": prediction}
        for op in ("gaussian_nll", "gaussian_nll_var"):
            y, mu = _magnitudes(rng, N, -2, 2), _magnitudes(rng, N, -2, 2)
            var = 10.0 ** rng.uniform(-7, 2, N)
            yield op, {"full": bool(rng.integers(2)), "reduction": reduction}, {"y_true": y, "y_pred": mu, "var": var}
        for pos_weight in ([0.5, 3.0], [1.0, 1.0]):
            x = np.concatenate([rng.normal(0, 12, N - len(adversarial)), adversarial]).reshape(-1, 2)
            y = rng.choice([0.0, 1.0, 0.3], x.shape)
            yield "bce_pos_weight", {"pos_weight": pos_weight, "reduction": reduction}, {"y_true": y, "y_pred": x}
        logits = rng.normal(0, 3, (N // 4, 4))
        log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        p = rng.dirichlet(np.ones(4) * 0.5, N // 4)
        p[::3, 0] = 0.0
        yield "kl_divergence", {"log_input": True, "reduction": reduction}, {"y_true": p, "y_pred": log_q}
        yield "kl_divergence", {"reduction": reduction}, {"y_true": p, "y_pred": np.exp(log_q)}
        labels = rng.integers(0, 4, N // 4)
        nll = {"class_weight": [1.0, 2.0, 0.5, 3.0], "ignore_index": 2, "reduction": reduction, "axis": 1}
        yield "nll", nll, {"y_true": labels, "y_pred": log_q}
        for gamma in (0.0, 0.5, 2.0):
            for alpha in (None, 0.25):
                x = np.concatenate([rng.normal(0, 8, N - len(adversarial)), adversarial])
                y = rng.choice([0.0, 1.0, 0.25], N)
                params = {"from_logits": True, "gamma": gamma, "alpha": alpha, "reduction": reduction}
                yield "binary_focal_crossentropy", params, {"y_true": y, "y_pred": x}
                probs = {**params, "from_logits": False}
                yield "binary_focal_crossentropy", probs, {"y_true": y, "y_pred": rng.uniform(0, 1, N)}
            rows = rng.normal(0, 4, (N // 4, 4))
            onehot = np.eye(4)[rng.integers(0, 4, N // 4)]
            for from_logits in (True, False):
                prediction = rows if from_logits else np.exp(log_q)
                params = {"from_logits": from_logits, "gamma": gamma, "reduction": reduction}
                yield "categorical_focal_crossentropy", params, {"y_true": onehot, "y_pred": prediction}


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--framework", action="append")
    parser.add_argument("--op", action="append")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every element above its bound")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = []
    for number, (op, params, inputs) in enumerate(_cases(rng)):
        if args.op and op not in args.op:
            continue
        listed = {k: np.asarray(v).tolist() for k, v in inputs.items()}
        cases.append(Case(f"random/{op}/{number}", "random", "tools", op, _clean(params), listed, DTYPES))
    entries = [e for e in registry.load() if e.model.split(".")[0] in ("torch", "jax", "tf", "keras_likelihood")]
    frameworks, results = run(cases, args.framework or adapter_specs())
    worst: dict[tuple[str, str], tuple[float, str]] = collections.defaultdict(lambda: (0.0, ""))
    for result in results:
        if result.status != "ok":
            continue
        op = definition(result.case.op)
        for quantity, actual in (("value", result.value), ("grad", result.grad)):
            scope = [e for e in entries if e.in_scope(result.implementation["name"], result.dtype, quantity)]
            if actual is None or not scope:
                continue
            context = ModelContext(
                op,
                op.with_defaults(result.params),
                result.inputs,
                result.dtype,
                quantity,
                {"semantics": tuple(result.implementation.get("semantics", ()))},
                lambda o, p, i, d, v: evaluate(o, p, i, d, combine(v)),
            )
            for entry in scope:
                for prediction in entry.predict(context):
                    got = np.asarray(actual, dtype=np.float64).reshape(np.shape(prediction.value))
                    gaps = registry.distances(got, prediction, FORMATS[result.dtype])
                    distance = float(np.max(gaps, initial=0.0))
                    if args.verbose and distance > entry.bound_ulp:
                        for index in zip(*np.nonzero(gaps > entry.bound_ulp)):
                            picked = {
                                k: np.asarray(v)[index] if np.shape(v) == gaps.shape else v
                                for k, v in result.inputs.items()
                            }
                            print(
                                result.implementation["name"],
                                result.dtype,
                                quantity,
                                picked,
                                "returned",
                                got[index],
                                "model",
                                np.asarray(prediction.value)[index],
                            )
                    key = (result.implementation["name"], quantity)
                    if distance > worst[key][0] or not worst[key][1]:
                        where = f"{result.case.id} {result.dtype} {result.case.params}"
                        worst[key] = (distance, where)
    for (name, quantity), (distance, where) in sorted(worst.items()):
        flag = "" if distance <= 4 else "   <-- above the bound"
        print(f"{distance:10.3g}  {name} {quantity}  worst at {where}{flag}")
    print(f"{len(results)} results from {', '.join(f.name for f in frameworks if not f.skipped)}")


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main()
