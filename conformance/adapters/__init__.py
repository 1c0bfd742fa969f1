"""Framework adapters, one small module each; see :mod:`conformance.adapters.base`."""

from __future__ import annotations

from typing import Any

#: The frameworks whose tensors and autodiff other adapters build on (Keras, the gate).
TENSOR_FRAMEWORKS = ("torch", "tensorflow", "jax")


def loaded(framework: str) -> Any:
    """The adapter of ``framework``, imported lazily and loaded (reproducible settings applied)."""
    if framework == "torch":
        from .torch import TorchAdapter as Adapter
    elif framework == "tensorflow":
        from .tensorflow import TensorFlowAdapter as Adapter  # type: ignore[assignment]
    elif framework == "jax":
        from .jax import JaxAdapter as Adapter  # type: ignore[assignment]
    else:
        raise ValueError(f"expected one of {', '.join(TENSOR_FRAMEWORKS)}, not {framework!r}")
    adapter = Adapter()
    adapter.load()
    return adapter
