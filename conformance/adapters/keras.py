"""Keras 3: keras.losses and keras.ops, once per backend (tensorflow, jax, torch).

The backend is fixed by KERAS_BACKEND before keras is imported, so each backend runs in
its own worker and its implementations are named ``keras[<backend>]....``. Losses are
built with ``dtype=`` the tested dtype: without it Keras computes in floatx (float32),
which would make every float64 result a float32 one. Gradients come from the backend's
own autodiff.

Keras losses average over the last axis; binary cross-entropy is given a trailing axis
of length 1 so that ``reduction: none`` means one loss per element, as everywhere here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from conformance.run import devices

from . import loaded
from .base import Implementation, TensorAdapter, primitives

LOSSES = "https://keras.io/api/losses/probabilistic_losses/#{}-class"
OPS = "https://keras.io/api/ops/nn/#{}-function"
KERAS_REDUCTION = {"none": None, "sum": "sum", "mean": "sum_over_batch_size"}
REDUCTIONS = frozenset(KERAS_REDUCTION)


def _implementations(keras: Any, backend: str) -> list[Implementation]:
    ops = keras.ops
    prefix = f"keras[{backend}]"

    def dtype_of(tensor: Any) -> str:
        return str(keras.backend.standardize_dtype(tensor.dtype))

    def call_loss(loss_class: Any, p: Mapping[str, Any], t: Mapping[str, Any], expand: bool, **options: Any) -> Any:
        loss = loss_class(reduction=KERAS_REDUCTION[str(p["reduction"])], dtype=dtype_of(t["y_pred"]), **options)
        y_true, y_pred = t["y_true"], t["y_pred"]
        if expand:
            y_true, y_pred = ops.expand_dims(y_true, -1), ops.expand_dims(y_pred, -1)
        return loss(y_true, y_pred, sample_weight=p["sample_weight"])

    def binary(from_logits: bool) -> Any:
        return lambda p, t: call_loss(
            keras.losses.BinaryCrossentropy,
            p,
            t,
            True,
            from_logits=from_logits,
            label_smoothing=float(p["label_smoothing"]),
        )

    def categorical(from_logits: bool) -> Any:
        return lambda p, t: call_loss(
            keras.losses.CategoricalCrossentropy,
            p,
            t,
            False,
            from_logits=from_logits,
            label_smoothing=float(p["label_smoothing"]),
            axis=int(p["axis"]),
        )

    def sparse(from_logits: bool) -> Any:
        return lambda p, t: call_loss(
            keras.losses.SparseCategoricalCrossentropy,
            p,
            t,
            False,
            from_logits=from_logits,
            ignore_class=p["ignore_index"],
            axis=int(p["axis"]),
        )

    weighted = frozenset({"sample_weight", "label_smoothing"})
    implementations = []
    for from_logits in (False, True):
        mode = "logits" if from_logits else "probabilities"
        clip = () if from_logits else ("keras_clip",)
        if backend == "torch" and not from_logits:
            # The torch backend hands the clipped probabilities to torch's BCELoss and its log floor.
            clip = (*clip, "torch_log_floor")
        renormalize = () if from_logits else ("keras_categorical",)
        implementations += [
            Implementation(
                f"{prefix}.losses.BinaryCrossentropy[{mode}]",
                "binary_crossentropy",
                binary(from_logits),
                weighted,
                REDUCTIONS,
                from_logits,
                (*clip, "mean_over_count"),
                LOSSES.format("binarycrossentropy"),
            ),
            Implementation(
                f"{prefix}.losses.CategoricalCrossentropy[{mode}]",
                "categorical_crossentropy",
                categorical(from_logits),
                weighted | {"axis"},
                REDUCTIONS,
                from_logits,
                (*renormalize, "mean_over_count"),
                LOSSES.format("categoricalcrossentropy"),
            ),
            Implementation(
                f"{prefix}.losses.SparseCategoricalCrossentropy[{mode}]",
                "sparse_categorical_crossentropy",
                sparse(from_logits),
                # Only the torch backend takes another class axis ("Only axis=-1 is currently supported").
                frozenset({"sample_weight", "ignore_index", *(("axis",) if backend == "torch" else ())}),
                REDUCTIONS,
                from_logits,
                (*renormalize, "mean_over_count"),
                LOSSES.format("sparsecategoricalcrossentropy"),
            ),
        ]
    implementations.append(
        Implementation(
            f"{prefix}.losses.MeanSquaredError",
            "squared_error",
            lambda p, t: call_loss(keras.losses.MeanSquaredError, p, t, True),
            frozenset({"sample_weight"}),
            REDUCTIONS,
            semantics=("mean_over_count",),
            doc="https://keras.io/api/losses/regression_losses/#meansquarederror-class",
        )
    )
    implementations += _likelihood_losses(keras, backend, call_loss)
    # On the torch backend keras.ops.softplus is torch's, threshold included.
    implementations += primitives(
        {
            op: (
                f"{prefix}.ops.{op}",
                getattr(ops, op),
                OPS.format(op) if op != "logsumexp" else "https://keras.io/api/ops/core/#logsumexp-function",
            )
            for op in ("softplus", "log_sigmoid", "sigmoid", "log_softmax", "softmax", "logsumexp")
        },
        semantics={"softplus": ("torch_softplus_threshold",)} if backend == "torch" else None,
    )
    return implementations


def _likelihood_losses(keras: Any, backend: str, call_loss: Any) -> list[Implementation]:
    """KLDivergence, Huber, Poisson and the focal cross-entropies (issue 16)."""
    prefix = f"keras[{backend}]"
    losses = keras.losses
    regression = "https://keras.io/api/losses/regression_losses/#{}-class"

    def focal_alpha(p: Mapping[str, Any], balancing: bool) -> dict[str, Any]:
        if balancing:  # alpha applies only with apply_class_balancing
            return {"apply_class_balancing": p["alpha"] is not None, "alpha": float(p["alpha"] or 0.25)}
        return {"alpha": 1.0 if p["alpha"] is None else float(p["alpha"])}  # categorical: always applied

    def binary_focal(from_logits: bool) -> Any:
        return lambda p, t: call_loss(
            losses.BinaryFocalCrossentropy,
            p,
            t,
            True,
            from_logits=from_logits,
            gamma=float(p["gamma"]),
            label_smoothing=float(p["label_smoothing"]),
            **focal_alpha(p, True),
        )

    def categorical_focal(from_logits: bool) -> Any:
        return lambda p, t: call_loss(
            losses.CategoricalFocalCrossentropy,
            p,
            t,
            False,
            from_logits=from_logits,
            gamma=float(p["gamma"]),
            label_smoothing=float(p["label_smoothing"]),
            axis=int(p["axis"]),
            **focal_alpha(p, False),
        )

    weighted = frozenset({"sample_weight"})
    rows = [
        Implementation(
            f"{prefix}.losses.KLDivergence",
            "kl_divergence",
            lambda p, t: call_loss(losses.KLDivergence, p, t, False),
            weighted,
            REDUCTIONS,
            semantics=("keras_kl_clip", "mean_over_count"),
            doc=LOSSES.format("kldivergence"),
            mode={"log_input": False, "log_target": False},
        ),
        Implementation(
            f"{prefix}.losses.Huber",
            "huber",
            lambda p, t: call_loss(losses.Huber, p, t, True, delta=float(p["delta"])),
            weighted | {"delta"},
            REDUCTIONS,
            semantics=("mean_over_count",),
            doc=regression.format("huber"),
        ),
        Implementation(
            f"{prefix}.losses.Poisson",
            "poisson_nll",
            lambda p, t: call_loss(losses.Poisson, p, t, True),
            weighted,
            REDUCTIONS,
            semantics=("keras_poisson_eps", "mean_over_count"),
            doc=LOSSES.format("poisson"),
            mode={"log_input": False},
        ),
    ]
    focal = weighted | {"gamma", "alpha", "label_smoothing"}
    for from_logits in (False, True):
        mode = "logits" if from_logits else "probabilities"
        # The torch backend hands the clipped probabilities to torch's BCELoss and its log floor;
        # on TensorFlow, sigmoid(x) carries its logits and the cross-entropy term takes them, unclipped.
        floor = ("torch_log_floor",) if backend == "torch" and not from_logits else ()
        clip = () if backend == "tensorflow" and from_logits else ("keras_focal_clip",)
        rows += [
            Implementation(
                f"{prefix}.losses.BinaryFocalCrossentropy[{mode}]",
                "binary_focal_crossentropy",
                binary_focal(from_logits),
                focal,
                REDUCTIONS,
                from_logits,
                (*clip, *floor, "mean_over_count"),
                LOSSES.format("binaryfocalcrossentropy"),
            ),
            Implementation(
                f"{prefix}.losses.CategoricalFocalCrossentropy[{mode}]",
                "categorical_focal_crossentropy",
                categorical_focal(from_logits),
                focal | {"axis"},
                REDUCTIONS,
                from_logits,
                ("keras_focal_clip" if from_logits else "keras_categorical", "mean_over_count"),
                LOSSES.format("categoricalfocalcrossentropy"),
            ),
        ]
    return rows


class KerasAdapter(TensorAdapter):
    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.name = f"keras-{backend}"

    def load(self) -> None:
        os.environ["KERAS_BACKEND"] = self.backend
        inner = loaded(self.backend)  # the backend's own reproducible settings and tensor bridge
        import keras

        if keras.backend.backend() != self.backend:
            raise ImportError(f"keras was already imported with backend {keras.backend.backend()!r}")
        self.keras, self.bridge = keras, inner.bridge

    def version(self) -> str:
        return devices.described(f"{self.keras.__version__} ({self.backend} backend)", devices.requested())

    def implementations(self) -> list[Implementation]:
        return _implementations(self.keras, self.backend)


def tensorflow_backend() -> KerasAdapter:
    return KerasAdapter("tensorflow")


def jax_backend() -> KerasAdapter:
    return KerasAdapter("jax")


def torch_backend() -> KerasAdapter:
    return KerasAdapter("torch")
