"""NumPy/SciPy: the reference code a careful user would write, value only.

scipy.special's xlogy, log_expit, logsumexp and friends, each in the form a careful
author would choose. NumPy has no autodiff, so gradients are ``unsupported``; bfloat16
has no ufunc loops in NumPy, so inputs are ml_dtypes arrays and whatever dtype comes
back is recorded as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from conformance.run import devices
from conformance.run.devices import DeviceUnavailable
from oracle.formats import numpy_dtype

from .base import Implementation, TensorAdapter, dtype_name, primitives

SCIPY = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.{}.html"


class NumpyArrays:
    def tensor(self, array: np.ndarray, dtype: str) -> Any:
        return np.asarray(array, dtype=np.float64).astype(numpy_dtype(dtype))

    def labels(self, array: np.ndarray) -> Any:
        return np.asarray(array, dtype=np.int64)

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]:
        with np.errstate(all="ignore"):
            out = np.asarray(function(wrt))
        return out.astype(np.float64), dtype_name(out.dtype)

    def value_and_vjp(self, function: Callable[[Any], Any], wrt: Any, cotangent: Any) -> Any:
        raise NotImplementedError("NumPy has no autodiff")


def _implementations() -> list[Implementation]:
    from scipy import special

    def bce_probabilities(p: Any, t: Any) -> Any:
        y, q = t["y_true"], t["y_pred"]
        return -(special.xlogy(y, q) + special.xlogy(1 - y, 1 - q))

    def bce_logits(p: Any, t: Any) -> Any:
        x, z = t["y_pred"], t["y_true"]
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))

    def cce_logits(p: Any, t: Any) -> Any:
        return -(t["y_true"] * special.log_softmax(t["y_pred"], axis=p["axis"])).sum(axis=p["axis"])

    def cce_probabilities(p: Any, t: Any) -> Any:
        return -special.xlogy(t["y_true"], t["y_pred"]).sum(axis=p["axis"])

    def sparse_logits(p: Any, t: Any) -> Any:
        log_probabilities = special.log_softmax(t["y_pred"], axis=-1)
        return -np.take_along_axis(log_probabilities, t["y_true"][..., None], axis=-1)[..., 0]

    def ref(
        name: str,
        op: str,
        call: Any,
        params: frozenset[str] = frozenset(),
        from_logits: bool | None = None,
        doc: str = "",
    ) -> Implementation:
        return Implementation(
            f"numpy.reference.{name}", op, call, params, from_logits=from_logits, doc=doc, gradient=False
        )

    losses = [
        ref("bce_xlogy", "binary_crossentropy", bce_probabilities, from_logits=False, doc=SCIPY.format("xlogy")),
        ref(
            "bce_stable_logits",
            "binary_crossentropy",
            bce_logits,
            from_logits=True,
            doc="https://www.tensorflow.org/api_docs/python/tf/nn/sigmoid_cross_entropy_with_logits",
        ),
        ref(
            "cce_log_softmax",
            "categorical_crossentropy",
            cce_logits,
            frozenset({"axis"}),
            True,
            SCIPY.format("log_softmax"),
        ),
        ref(
            "cce_xlogy",
            "categorical_crossentropy",
            cce_probabilities,
            frozenset({"axis"}),
            False,
            SCIPY.format("xlogy"),
        ),
        ref(
            "sparse_log_softmax",
            "sparse_categorical_crossentropy",
            sparse_logits,
            from_logits=True,
            doc=SCIPY.format("log_softmax"),
        ),
        ref(
            "squared_difference",
            "squared_error",
            lambda p, t: np.square(t["y_pred"] - t["y_true"]),
            doc="https://numpy.org/doc/stable/reference/generated/numpy.square.html",
        ),
    ]
    reference_primitives = primitives(
        {
            "softplus": (
                "numpy.reference.softplus_logaddexp",
                lambda x: np.logaddexp(0, x),
                "https://numpy.org/doc/stable/reference/generated/numpy.logaddexp.html",
            ),
            "log_sigmoid": ("numpy.reference.log_expit", special.log_expit, SCIPY.format("log_expit")),
            "sigmoid": ("numpy.reference.expit", special.expit, SCIPY.format("expit")),
            "log_softmax": ("numpy.reference.log_softmax", special.log_softmax, SCIPY.format("log_softmax")),
            "softmax": ("numpy.reference.softmax", special.softmax, SCIPY.format("softmax")),
            "logsumexp": ("numpy.reference.logsumexp", special.logsumexp, SCIPY.format("logsumexp")),
        },
        gradient=False,
    )
    # SciPy's logsumexp goes through the array API, whose dtype check refuses ml_dtypes' bfloat16
    # ("dtype argument must be a NumPy dtype"): it does not take bfloat16, as a user would find.
    reference_primitives = [
        replace(i, dtypes=tuple(d for d in i.dtypes if d != "bfloat16")) if i.op == "logsumexp" else i
        for i in reference_primitives
    ]
    return [*losses, *reference_primitives]


class NumpyAdapter(TensorAdapter):
    name = "numpy"
    autodiff = False

    def load(self) -> None:
        if devices.requested() != "cpu":
            raise DeviceUnavailable("NumPy and SciPy run on the CPU only")
        import scipy

        self.scipy_version = scipy.__version__
        self.bridge = NumpyArrays()

    def version(self) -> str:
        return f"{np.__version__} (scipy {self.scipy_version})"

    def implementations(self) -> list[Implementation]:
        return _implementations()


def adapter() -> NumpyAdapter:
    return NumpyAdapter()
