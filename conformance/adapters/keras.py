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
