"""Check the torch mechanism models against torch itself, on random and adversarial inputs.

For each implementation: inputs across magnitudes (plus ±0, subnormals, ±inf, NaN and the
thresholds where the arithmetic changes), in every dtype; torch runs them through the suite's
own adapter, the model predicts, and the distance of every element (ULPs at the model's scale)
is summarised. A model is trusted to its registry bound only if the maximum here stays within it.

    PYTHONPATH=. python tools/check_torch_models.py [IMPLEMENTATION | PREFIX*] [--seed N] [--rounds N] [-v]

``--write-cases PATH`` writes the same random inputs as a case file instead, to run end to end
(``conformance run PATH --framework torch``): every result there should pass or be explained.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import oracle
from conformance.adapters.torch import adapter
from conformance.corpus.schema import editor_hint
from conformance.judge import registry
from conformance.judge.mechanisms import ModelContext, Prediction, models
from oracle.evaluation import round_inputs
from oracle.formats import DTYPES, FORMATS

SPECIAL = [0.0, -0.0, 1e-40, -1e-310, 9.0, 16.6, 17.0, 20.0, 30.0, 36.7, 37.43, 88.7, 709.8, 810.0]
Case = tuple[dict[str, Any], dict[str, Any]]  # (params, inputs)


def logits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal logits at a random scale, with some entries replaced by the special values."""
    x = rng.normal(0.0, float(rng.choice([0.1, 1.0, 5.0, 20.0, 100.0])), shape)
    if rng.random() < 0.5:
        flat = x.reshape(-1)
        picks = rng.integers(0, flat.size, max(1, flat.size // 4))
        flat[picks] = rng.choice(SPECIAL, picks.size) * rng.choice([-1.0, 1.0], picks.size)
    if rng.random() < 0.05:
        x.reshape(-1)[rng.integers(0, x.size)] = rng.choice([np.inf, -np.inf, np.nan])
    return x


def shape_and_axis(rng: np.random.Generator) -> tuple[tuple[int, ...], int]:
    shape = [(int(rng.integers(1, 9)),), (int(rng.integers(1, 6)), int(rng.integers(1, 9)))][int(rng.integers(0, 2))]
    if rng.random() < 0.3:
        shape = (int(rng.integers(1, 4)), int(rng.integers(2, 6)), int(rng.integers(1, 5)))
    return tuple(shape), int(rng.integers(-len(shape), len(shape)))


def elementwise(rng: np.random.Generator) -> Case:
    x = logits(rng, (int(rng.integers(1, 12)),))
    inputs: dict[str, Any] = {"x": x}
    if rng.random() < 0.3:
        inputs["cotangent"] = rng.normal(0, 2, x.shape)
    return {}, inputs


def along_axis(reduced: bool) -> Callable[[np.random.Generator], Case]:
    def make(rng: np.random.Generator) -> Case:
        shape, axis = shape_and_axis(rng)
        inputs: dict[str, Any] = {"x": logits(rng, shape)}
        if rng.random() < 0.5 and not (reduced and len(shape) == 1):
            out = np.delete(np.array(shape), axis % len(shape)) if reduced else np.array(shape)
            inputs["cotangent"] = rng.normal(0, 2, tuple(int(n) for n in out))
        return {"axis": axis}, inputs

    return make


def class_layout(rng: np.random.Generator) -> tuple[tuple[int, ...], int]:
    """torch's class axis: (C,), (N, C) or (N, C, d1)."""
    classes = int(rng.integers(2, 7))
    shapes = [((classes,), 0), ((int(rng.integers(1, 6)), classes), 1), ((int(rng.integers(1, 4)), classes, 2), 1)]
    return shapes[int(rng.choice([0, 1, 1, 1, 2]))]


def loss_params(rng: np.random.Generator, classes: int) -> dict[str, Any]:
    params: dict[str, Any] = {"reduction": str(rng.choice(["none", "sum", "mean"]))}
    if rng.random() < 0.3:
        params["class_weight"] = rng.uniform(0.1, 3.0, classes).round(2).tolist()
    if rng.random() < 0.3:
        params["label_smoothing"] = float(rng.choice([0.1, 0.25, 0.5]))
    return params


def sparse(rng: np.random.Generator) -> Case:
    shape, axis = class_layout(rng)
    if len(shape) == 1:  # the adapter's labels() turns a 0-d label into shape (1,), which torch refuses
        shape, axis = (1, *shape), 1
    classes = shape[axis]
    params = {**loss_params(rng, classes), "axis": axis}
    labels = rng.integers(0, classes, np.delete(np.array(shape), axis).tolist())
    if rng.random() < 0.3:
        ignore = int(rng.choice([-100, 0, 1]))
        params["ignore_index"] = ignore
        labels.reshape(-1)[rng.integers(0, labels.size)] = ignore
    return params, {"y_true": labels, "y_pred": logits(rng, shape)}


def probabilities(rng: np.random.Generator) -> Case:
    shape, axis = class_layout(rng)
    classes = shape[axis]
    params = {**loss_params(rng, classes), "axis": axis}
    y = np.moveaxis(rng.dirichlet(np.ones(classes), np.delete(np.array(shape), axis).tolist()), -1, axis)
    if rng.random() < 0.5:
        y = (y == np.max(y, axis=axis, keepdims=True)).astype(float)
    return params, {"y_true": y, "y_pred": logits(rng, shape)}


def bce(rng: np.random.Generator) -> Case:
    size = int(rng.integers(1, 10))
    p = rng.uniform(0, 1, size) ** float(rng.choice([1.0, 8.0, 30.0]))
    if rng.random() < 0.5:
        p = np.where(rng.random(size) < 0.5, 1 - p, p)
    p.reshape(-1)[rng.integers(0, size)] = rng.choice([0.0, 1.0, 1e-40, 1 - 1e-9, 1e-12, 0.5])
    params: dict[str, Any] = {"reduction": str(rng.choice(["none", "sum", "mean"]))}
    if rng.random() < 0.3:
        params["sample_weight"] = rng.uniform(0, 3, size).round(2).tolist()
    return params, {"y_true": rng.choice([0.0, 1.0, 0.25, 0.9], size), "y_pred": p}


def bce_logits(rng: np.random.Generator) -> Case:
    size = int(rng.integers(1, 10))
    params: dict[str, Any] = {"reduction": str(rng.choice(["none", "sum", "mean"]))}
    if rng.random() < 0.3:
        params["sample_weight"] = rng.uniform(0, 3, size).round(2).tolist()
    return params, {"y_true": rng.choice([0.0, 1.0, 0.25, 0.9], size), "y_pred": logits(rng, (size,))}


def squared(rng: np.random.Generator) -> Case:
    size = int(rng.integers(1, 10))
    params = {"reduction": str(rng.choice(["none", "sum", "mean"]))}
    return params, {"y_true": logits(rng, (size,)), "y_pred": logits(rng, (size,))}


CHECKS: dict[str, tuple[str, Callable[[np.random.Generator], Case]]] = {
    "torch.nn.functional.binary_cross_entropy_with_logits": ("torch.bce_with_logits.*", bce_logits),
    "torch.nn.functional.mse_loss": ("torch.mse_loss", squared),
    "torch.nn.functional.softplus": ("", elementwise),
    "torch.nn.functional.logsigmoid": ("", elementwise),
    "torch.nn.functional.cross_entropy": ("torch.cross_entropy", sparse),
    "torch.nn.functional.cross_entropy[probability targets]": ("torch.cross_entropy_probabilities", probabilities),
    "torch.nn.functional.binary_cross_entropy": ("torch.binary_cross_entropy", bce),
    "torch.sigmoid": ("torch.sigmoid", elementwise),
    "torch.nn.functional.log_softmax": ("torch.log_softmax", along_axis(False)),
    "torch.nn.functional.softmax": ("torch.softmax", along_axis(False)),
    "torch.logsumexp": ("torch.logsumexp", along_axis(True)),
}


def predictions(name: str, context: ModelContext) -> list[Prediction]:
    """The model's candidates ("" for an implementation with no model: nothing to compare)."""
    if not name:
        return []
    answer = models()[name.replace("*", context.quantity)](context)
    return [] if answer is None else answer if isinstance(answer, list) else [answer]


def check(
    implementation: Any, model_name: str, cases: Iterator[Case], torch_adapter: Any
) -> dict[tuple[str, str], Any]:
    worst: dict[tuple[str, str], Any] = {}
    op = oracle.definition(implementation.op)
    for params, raw in cases:
        for dtype in DTYPES:
            full = op.with_defaults({**implementation.modes(), **params})
            p, inputs = round_inputs(op.name, full, raw, FORMATS[dtype])
            try:
                outcome = torch_adapter.run(implementation, p, inputs, dtype)
            except Exception as problem:  # torch refuses some inputs (labels out of range)
                print(
                    "torch raised",
                    type(problem).__name__,
                    str(problem)[:200],
                    params,
                    {k: np.shape(v) for k, v in raw.items()},
                    file=sys.stderr,
                )
                continue
            for quantity, actual in (("value", outcome.value), ("grad", outcome.grad)):
                context = ModelContext(op, p, inputs, dtype, quantity, {"semantics": implementation.semantics})
                best = None
                for prediction in predictions(model_name, context):
                    got = np.asarray(actual, dtype=np.float64).reshape(np.shape(prediction.value))
                    gaps = registry.distances(got, prediction, FORMATS[dtype])
                    at = int(np.argmax(gaps)) if gaps.size else 0
                    top = float(gaps.reshape(-1)[at]) if gaps.size else 0.0
                    if best is None or top < best[0]:
                        best = (top, got.reshape(-1)[at], np.ravel(prediction.value)[at], params, raw)
                key = (dtype, quantity)
                if best is not None and (key not in worst or best[0] > worst[key][0]):
                    worst[key] = best
    return worst


def selected(name: str, only: str) -> bool:
    """Every implementation, the one named, or those starting with ``only`` before its ``*``."""
    return not only or name == only or (only.endswith("*") and name.startswith(only[:-1]))


def write_cases(path: str, only: str, seed: int, rounds: int) -> None:
    """The same random inputs as a case file, to run through ``conformance run`` end to end."""
    import yaml

    torch_adapter = adapter()
    torch_adapter.attach()
    implementations = {i.name: i for i in torch_adapter.implementations()}
    cases = []
    for name, (_, make) in CHECKS.items():
        if not selected(name, only):
            continue
        rng = np.random.default_rng(seed)
        implementation = implementations[name]
        for number in range(rounds):
            params, raw = make(rng)
            cases.append(
                {
                    "id": f"random/{name}/{number}",
                    "description": f"random inputs for {name} (tools/check_torch_models.py, seed {seed})",
                    "provenance": "derivation",
                    "op": implementation.op,
                    "params": {**implementation.modes(), **params},
                    "inputs": {k: np.asarray(v).tolist() for k, v in raw.items()},
                }
            )
    with open(path, "w", encoding="utf-8") as out:
        out.write(editor_hint(Path(path)) + "\n")
        yaml.safe_dump({"cases": cases}, out, sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("only", nargs="?", default="")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("-v", action="store_true", help="print the inputs of each worst case")
    parser.add_argument("--write-cases", metavar="PATH", help="write the random cases as a case file instead")
    args = parser.parse_args()
    if args.write_cases:
        write_cases(args.write_cases, args.only, args.seed, args.rounds)
        return
    torch_adapter = adapter()
    torch_adapter.load()
    implementations = {i.name: i for i in torch_adapter.implementations()}
    for name, (model_name, make) in CHECKS.items():
        if not selected(name, args.only):
            continue
        rng = np.random.default_rng(args.seed)
        worst = check(implementations[name], model_name, (make(rng) for _ in range(args.rounds)), torch_adapter)
        for (dtype, quantity), (gap, got, predicted, params, raw) in sorted(worst.items()):
            print(f"{name:58s} {dtype:8s} {quantity:5s} max {gap:8.3g} ulp  torch {got:.17g} model {predicted:.17g}")
            if args.v and gap > 0:
                print("    ", params, {k: np.asarray(v).tolist() for k, v in raw.items()})


if __name__ == "__main__":
    main()
