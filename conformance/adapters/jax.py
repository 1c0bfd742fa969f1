"""JAX: jax.nn and optax.losses, differentiated by jax.vjp.

optax's losses return one loss per sample and take no reduction and no label smoothing
(optax.smooth_labels is a separate step): other reductions and smoothing are
``unsupported`` rather than composed here.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from conformance.run import devices
from conformance.run.devices import DeviceUnavailable
from oracle.cache import default_root
from oracle.formats import numpy_dtype

from .base import Implementation, TensorAdapter, dtype_name, primitives

JAX_DOCS = "https://docs.jax.dev/en/latest/_autosummary/jax.nn.{}.html"
OPTAX_DOCS = "https://optax.readthedocs.io/en/latest/api/losses.html#optax.losses.{}"


class JaxTensors:
    def __init__(self, jax: Any) -> None:
        self.jax = jax
        self.jnp = jax.numpy

    def tensor(self, array: np.ndarray, dtype: str) -> Any:
        return self.jnp.asarray(np.asarray(array, dtype=np.float64).astype(numpy_dtype(dtype)))

    def labels(self, array: np.ndarray) -> Any:
        return self.jnp.asarray(np.asarray(array, dtype=np.int64))

    def _out(self, tensor: Any) -> tuple[np.ndarray, str]:
        return np.asarray(tensor).astype(np.float64), dtype_name(tensor.dtype)

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]:
        return self._out(function(wrt))

    def value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        out, pullback = self.jax.vjp(function, wrt)
        seed = self.jnp.ones_like(out) if cotangent is None else self.tensor(cotangent, dtype_name(out.dtype))
        (grad,) = pullback(seed)
        value, value_dtype = self._out(out)
        grad_values, grad_dtype = self._out(grad)
        return value, value_dtype, grad_values, grad_dtype


def _implementations(jax: Any, optax: Any) -> list[Implementation]:
    nn = jax.nn

    losses = [
        Implementation(
            "optax.losses.sigmoid_binary_cross_entropy",
            "binary_crossentropy",
            lambda p, t: optax.losses.sigmoid_binary_cross_entropy(t["y_pred"], t["y_true"]),
            from_logits=True,
            doc=OPTAX_DOCS.format("sigmoid_binary_cross_entropy"),
        ),
        Implementation(
            "optax.losses.softmax_cross_entropy",
            "categorical_crossentropy",
            lambda p, t: optax.losses.softmax_cross_entropy(t["y_pred"], t["y_true"], axis=p["axis"]),
            frozenset({"axis"}),
            from_logits=True,
            doc=OPTAX_DOCS.format("softmax_cross_entropy"),
        ),
        Implementation(
            "optax.losses.safe_softmax_cross_entropy",
            "categorical_crossentropy",
            lambda p, t: optax.losses.safe_softmax_cross_entropy(t["y_pred"], t["y_true"]),
            from_logits=True,
            doc=OPTAX_DOCS.format("safe_softmax_cross_entropy"),
        ),
        Implementation(
            "optax.losses.softmax_cross_entropy_with_integer_labels",
            "sparse_categorical_crossentropy",
            lambda p, t: optax.losses.softmax_cross_entropy_with_integer_labels(
                t["y_pred"], t["y_true"], axis=p["axis"]
            ),
            frozenset({"axis"}),
            from_logits=True,
            doc=OPTAX_DOCS.format("softmax_cross_entropy_with_integer_labels"),
        ),
        Implementation(
            "optax.losses.squared_error",
            "squared_error",
            lambda p, t: optax.losses.squared_error(t["y_pred"], t["y_true"]),
            doc=OPTAX_DOCS.format("squared_error"),
        ),
    ]
    losses += _likelihood_losses(optax)
    return [
        *losses,
        *primitives(
            {
                op: (f"jax.nn.{op}", getattr(nn, op), JAX_DOCS.format(op))
                for op in ("softplus", "log_sigmoid", "sigmoid", "log_softmax", "softmax", "logsumexp")
            }
        ),
    ]


def _likelihood_losses(optax: Any) -> list[Implementation]:
    """optax's KL divergences, sigmoid focal loss and Huber loss (issue 16)."""
    kl = {
        "kl_divergence": {"log_input": True, "log_target": False},
        "kl_divergence_with_log_targets": {"log_input": True, "log_target": True},
        "generalized_kl_divergence": {"log_input": True, "log_target": False, "generalized": True},
    }
    rows = [
        Implementation(
            f"optax.losses.{name}",
            "kl_divergence",
            _kl(getattr(optax.losses, name)),
            frozenset({"axis"}),
            doc=OPTAX_DOCS.format(name),
            mode=mode,
        )
        for name, mode in kl.items()
    ]
    return [
        *rows,
        Implementation(
            "optax.losses.sigmoid_focal_loss",
            "binary_focal_crossentropy",
            lambda p, t: optax.losses.sigmoid_focal_loss(
                t["y_pred"],
                t["y_true"],
                alpha=None if p["alpha"] is None else float(p["alpha"]),
                gamma=float(p["gamma"]),
            ),
            frozenset({"gamma", "alpha"}),
            from_logits=True,
            doc=OPTAX_DOCS.format("sigmoid_focal_loss"),
        ),
        Implementation(
            "optax.losses.huber_loss",
            "huber",
            lambda p, t: optax.losses.huber_loss(t["y_pred"], t["y_true"], delta=float(p["delta"])),
            frozenset({"delta"}),
            doc=OPTAX_DOCS.format("huber_loss"),
        ),
    ]


def _kl(native: Callable[..., Any]) -> Callable[..., Any]:
    return lambda p, t: native(t["y_pred"], t["y_true"], axis=int(p["axis"]))


class JaxAdapter(TensorAdapter):
    name = "jax"

    def attach(self) -> None:
        import jax
        import optax

        self.jax, self.optax = jax, optax
        self.bridge = JaxTensors(jax)

    def configure(self) -> None:
        jax = self.jax
        jax.config.update("jax_enable_x64", True)  # float64 must mean float64, not a silent float32
        self.device = devices.requested()
        jax.config.update("jax_platforms", self.device)
        # Eager ops compile once per shape and dtype; a persistent cache makes a second run skip that.
        cache = os.environ.get("LOSS_CONFORMANCE_JAX_CACHE") or str(default_root().parent / "jax")
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        if self.device != "cpu":
            try:
                platform = jax.devices()[0].platform
            except (RuntimeError, AssertionError) as problem:  # no CUDA plugin (jax asserts), or no GPU behind it
                raise DeviceUnavailable(
                    f"jax {jax.__version__} has no {self.device} backend {problem}".strip()
                ) from None
            if platform != "gpu":
                raise DeviceUnavailable(f"jax {jax.__version__} runs on {platform}, not on a GPU")

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """float64 inside the block only (thread-local in JAX), the caller's setting after it."""
        enable_x64 = getattr(self.jax, "enable_x64", None)
        if enable_x64 is not None:
            with enable_x64(True):
                yield
        else:  # JAX before 0.5 has it under experimental
            from jax.experimental import enable_x64 as experimental_x64

            with experimental_x64():
                yield

    def version(self) -> str:
        device = getattr(self, "device", "cpu")
        gpu = str(self.jax.devices()[0].device_kind) if device != "cpu" else ""
        return devices.described(f"{self.jax.__version__} (optax {self.optax.__version__})", device, gpu)

    def implementations(self) -> list[Implementation]:
        return _implementations(self.jax, self.optax)


def adapter() -> JaxAdapter:
    return JaxAdapter()
