"""Keras 2 (the ``tf_keras`` package: ``tf.keras`` before TensorFlow 2.16) on TensorFlow.

The seeds were written against this Keras. Its losses compute in the dtype of ``y_pred`` (a
Keras 2 loss takes no ``dtype=``; ``y_true`` is cast to the prediction's dtype), and like
Keras 3 they average over the last axis, so binary cross-entropy gets a trailing axis of
length 1 for one loss per element. Where Keras 2 differs from Keras 3 (see the README):

* binary cross-entropy on probabilities clips to [eps, 1 - eps] and then takes
  ``log(p + eps)`` and ``log(1 - p + eps)`` (tf_keras/src/backend.py): at the clip bounds
  ``1 - eps + eps`` rounds back to 1 and the clipped loss is 0, not -log(1 - eps);
* label smoothing of binary cross-entropy is ``y (1 - ls) + 0.5 ls`` (Keras 3: the same);
* a mean over ``ignore_class`` scales the mask by total / valid before the mean.

The primitives are tf_keras.backend's (thin wrappers of tf.math and tf.nn). Tensors, the
device and autodiff are TensorFlow's adapter's, so Keras 2 runs where TensorFlow runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import loaded
from .base import Implementation, TensorAdapter, primitives

LOSSES = "https://github.com/keras-team/tf-keras/blob/master/tf_keras/src/losses.py"
BACKEND = "https://github.com/keras-team/tf-keras/blob/master/tf_keras/src/backend.py"
KERAS2_REDUCTION = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}
REDUCTIONS = frozenset(KERAS2_REDUCTION)


def _implementations(keras: Any) -> list[Implementation]:
    backend = keras.backend
    prefix = "tf_keras"

    def call_loss(loss_class: Any, p: Mapping[str, Any], t: Mapping[str, Any], expand: bool, **options: Any) -> Any:
        loss = loss_class(reduction=KERAS2_REDUCTION[str(p["reduction"])], **options)
        y_true, y_pred = t["y_true"], t["y_pred"]
        if expand:
            y_true, y_pred = backend.expand_dims(y_true, -1), backend.expand_dims(y_pred, -1)
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
        # The class takes no axis (its backend function does, but the class passes -1).
        return lambda p, t: call_loss(
            keras.losses.SparseCategoricalCrossentropy,
            p,
            t,
            False,
            from_logits=from_logits,
            ignore_class=p["ignore_index"],
        )

    weighted = frozenset({"sample_weight", "label_smoothing"})
    implementations = []
    for from_logits in (False, True):
        mode = "logits" if from_logits else "probabilities"
        clip = () if from_logits else ("keras_clip",)
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
                LOSSES,
            ),
            Implementation(
                f"{prefix}.losses.CategoricalCrossentropy[{mode}]",
                "categorical_crossentropy",
                categorical(from_logits),
                weighted | {"axis"},
                REDUCTIONS,
                from_logits,
                (*renormalize, "mean_over_count"),
                LOSSES,
            ),
            Implementation(
                f"{prefix}.losses.SparseCategoricalCrossentropy[{mode}]",
                "sparse_categorical_crossentropy",
                sparse(from_logits),
                frozenset({"sample_weight", "ignore_index"}),
                REDUCTIONS,
                from_logits,
                (*renormalize, "mean_over_count"),
                LOSSES,
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
            doc=LOSSES,
        )
    )
    implementations += primitives(
        {
            "softplus": (f"{prefix}.backend.softplus", backend.softplus, BACKEND),
            "sigmoid": (f"{prefix}.backend.sigmoid", backend.sigmoid, BACKEND),
            "softmax": (f"{prefix}.backend.softmax", backend.softmax, BACKEND),
        }
    )
    return implementations


class TfKerasAdapter(TensorAdapter):
    name = "tf_keras"

    def load(self) -> None:
        inner = loaded("tensorflow")  # TensorFlow's reproducible settings, device and tensor bridge
        import tf_keras

        self.keras, self.bridge, self.inner = tf_keras, inner.bridge, inner

    def version(self) -> str:
        return f"{self.keras.__version__} (tensorflow {self.inner.version()})"

    def implementations(self) -> list[Implementation]:
        return _implementations(self.keras)


def adapter() -> TfKerasAdapter:
    return TfKerasAdapter()
