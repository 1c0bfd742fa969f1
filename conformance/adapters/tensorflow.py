"""TensorFlow: tf.nn and tf.math native ops, differentiated by tf.GradientTape.

tf.nn's cross-entropies return one loss per sample and take no reduction: any other
reduction is ``unsupported`` rather than composed with tf.reduce_mean here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from conformance.run import devices
from conformance.run.devices import DeviceUnavailable
from oracle.formats import numpy_dtype

from .base import Implementation, TensorAdapter, dtype_name, primitives

API = "https://www.tensorflow.org/api_docs/python/tf/{}"


class TensorFlowTensors:
    """``device``: a TensorFlow device name the tensors and calls are placed on (None: TensorFlow's
    own placement, which is the CPU in a CPU worker, where no GPU is visible)."""

    def __init__(self, tf: Any, device: str | None = None) -> None:
        self.tf = tf
        self.device = device

    def placed(self) -> Any:
        return self.tf.device(self.device) if self.device else contextlib.nullcontext()

    def _constant(self, values: np.ndarray) -> Any:
        if not self.device:
            return self.tf.constant(values)
        with self.placed():  # a constant lives on the host; its copy on the device is what the calls read
            return self.tf.identity(values)

    def tensor(self, array: np.ndarray, dtype: str) -> Any:
        return self._constant(np.asarray(array, dtype=np.float64).astype(numpy_dtype(dtype)))

    def labels(self, array: np.ndarray) -> Any:
        return self._constant(np.asarray(array, dtype=np.int64))

    def _out(self, tensor: Any) -> tuple[np.ndarray, str]:
        return np.asarray(self.tf.cast(tensor, self.tf.float64).numpy()), dtype_name(tensor.dtype.name)

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]:
        with self.placed():
            return self._out(function(wrt))

    def value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        with self.placed():
            return self._value_and_vjp(function, wrt, cotangent)

    def _value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        with self.tf.GradientTape() as tape:
            tape.watch(wrt)
            out = function(wrt)
        seed = self.tf.ones_like(out) if cotangent is None else self.tensor(cotangent, dtype_name(out.dtype.name))
        grad = tape.gradient(out, wrt, output_gradients=seed)
        if grad is None:
            raise RuntimeError("tf.GradientTape returned no gradient")
        value, value_dtype = self._out(out)
        grad_values, grad_dtype = self._out(grad)
        return value, value_dtype, grad_values, grad_dtype


def _implementations(tf: Any) -> list[Implementation]:

    losses = [
        Implementation(
            "tf.nn.sigmoid_cross_entropy_with_logits",
            "binary_crossentropy",
            lambda p, t: tf.nn.sigmoid_cross_entropy_with_logits(labels=t["y_true"], logits=t["y_pred"]),
            from_logits=True,
            doc=API.format("nn/sigmoid_cross_entropy_with_logits"),
        ),
        Implementation(
            "tf.nn.softmax_cross_entropy_with_logits",
            "categorical_crossentropy",
            lambda p, t: tf.nn.softmax_cross_entropy_with_logits(
                labels=t["y_true"], logits=t["y_pred"], axis=p["axis"]
            ),
            frozenset({"axis"}),
            from_logits=True,
            doc=API.format("nn/softmax_cross_entropy_with_logits"),
        ),
        Implementation(
            "tf.nn.sparse_softmax_cross_entropy_with_logits",
            "sparse_categorical_crossentropy",
            lambda p, t: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=t["y_true"], logits=t["y_pred"]),
            from_logits=True,
            doc=API.format("nn/sparse_softmax_cross_entropy_with_logits"),
        ),
        Implementation(
            "tf.math.squared_difference",
            "squared_error",
            lambda p, t: tf.math.squared_difference(t["y_pred"], t["y_true"]),
            doc=API.format("math/squared_difference"),
        ),
    ]
    losses += [  # issue 16: Poisson on log rates, sigmoid cross-entropy with pos_weight
        Implementation(
            "tf.nn.log_poisson_loss",
            "poisson_nll",
            lambda p, t: tf.nn.log_poisson_loss(t["y_true"], t["y_pred"], compute_full_loss=bool(p["full"])),
            frozenset({"full"}),
            semantics=("tf_poisson_stirling",),
            doc=API.format("nn/log_poisson_loss"),
            mode={"log_input": True},
        ),
        Implementation(
            "tf.nn.weighted_cross_entropy_with_logits",
            "bce_pos_weight",
            lambda p, t: tf.nn.weighted_cross_entropy_with_logits(
                t["y_true"], t["y_pred"], 1.0 if p["pos_weight"] is None else p["pos_weight"]
            ),
            frozenset({"pos_weight"}),
            doc=API.format("nn/weighted_cross_entropy_with_logits"),
        ),
    ]
    return [
        *losses,
        *primitives(
            {
                "softplus": ("tf.math.softplus", tf.math.softplus, API.format("math/softplus")),
                "log_sigmoid": ("tf.math.log_sigmoid", tf.math.log_sigmoid, API.format("math/log_sigmoid")),
                "sigmoid": ("tf.math.sigmoid", tf.math.sigmoid, API.format("math/sigmoid")),
                "log_softmax": ("tf.nn.log_softmax", tf.nn.log_softmax, API.format("nn/log_softmax")),
                "softmax": ("tf.nn.softmax", tf.nn.softmax, API.format("nn/softmax")),
                "logsumexp": (
                    "tf.math.reduce_logsumexp",
                    tf.math.reduce_logsumexp,
                    API.format("math/reduce_logsumexp"),
                ),
            }
        ),
    ]


class TensorFlowAdapter(TensorAdapter):
    name = "tensorflow"

    def attach(self) -> None:
        import tensorflow as tf

        self.tf = tf
        self.bridge = TensorFlowTensors(tf)

    def configure(self) -> None:
        # Before any op runs: TensorFlow refuses thread settings once it has initialised.
        self.tf.config.threading.set_intra_op_parallelism_threads(1)
        self.tf.config.threading.set_inter_op_parallelism_threads(1)
        self.tf.config.experimental.enable_tensor_float_32_execution(False)
        self.device = devices.requested()
        if self.device == "cuda":
            gpus = self.tf.config.list_physical_devices("GPU")
            if not gpus:
                raise DeviceUnavailable(f"tensorflow {self.tf.__version__} sees no GPU (a CPU-only build, or none)")
            self.bridge = TensorFlowTensors(self.tf, "/GPU:0")

    def version(self) -> str:
        device = getattr(self, "device", "cpu")
        gpu = ""
        if device == "cuda":
            details = self.tf.config.experimental.get_device_details(self.tf.config.list_physical_devices("GPU")[0])
            gpu = str(details.get("device_name", ""))
        return devices.described(str(self.tf.__version__), device, gpu)

    def implementations(self) -> list[Implementation]:
        return _implementations(self.tf)


def adapter() -> TensorFlowAdapter:
    return TensorFlowAdapter()
