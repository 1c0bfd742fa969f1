"""Framework adapters, one small module each; see :mod:`conformance.adapters.base`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from .base import ENTRY_POINT_GROUP, Adapter

#: The frameworks whose tensors and autodiff other adapters build on (Keras, the gate).
TENSOR_FRAMEWORKS = ("torch", "tensorflow", "jax")


def _adapter_class(framework: str) -> Any:
    if framework == "torch":
        from .torch import TorchAdapter

        return TorchAdapter
    if framework == "tensorflow":
        from .tensorflow import TensorFlowAdapter

        return TensorFlowAdapter
    if framework == "jax":
        from .jax import JaxAdapter

        return JaxAdapter
    raise ValueError(f"expected one of {', '.join(TENSOR_FRAMEWORKS)}, not {framework!r}")


def loaded(framework: str) -> Any:
    """The adapter of ``framework``, loaded with the worker's reproducible settings (one thread,
    no TF32, JAX in float64): for worker processes only, since those settings are process-wide."""
    adapter = _adapter_class(framework)()
    adapter.load()
    return adapter


@contextlib.contextmanager
def borrowed(framework: str) -> Iterator[Any]:
    """The adapter of ``framework`` for use inside the caller's own process (``check_loss``).

    It changes no process-wide setting: thread counts, TF32 and JAX's configuration stay as the
    caller has them; JAX's float64 is switched on only inside the block, where the calls run.
    """
    with _adapter_class(framework).borrowed() as adapter:
        yield adapter


def resolve(spec: str) -> Adapter:
    """The adapter an entry-point name (``torch``, ``keras-jax``, a third party's) or a
    ``module:factory`` spec makes, not yet loaded."""
    if ":" in spec:
        module, attribute = spec.split(":", 1)
        factory = getattr(import_module(module), attribute)
    else:
        matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
        if not matches:
            raise LookupError(f"no adapter named {spec!r} in entry-point group {ENTRY_POINT_GROUP}")
        factory = matches[0].load()
    adapter: Adapter = factory()
    return adapter
