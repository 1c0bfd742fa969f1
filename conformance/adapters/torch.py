"""PyTorch: torch.nn.functional and torch, differentiated by torch.autograd."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from conformance.run import devices
from conformance.run.devices import DeviceUnavailable

from .base import FixedAxis, Implementation, TensorAdapter, dtype_name, primitives

TORCH_DOCS = "https://pytorch.org/docs/stable/generated/torch.{}.html"
REDUCTIONS = frozenset({"none", "sum", "mean"})


class TorchTensors:
    def __init__(self, torch: Any, device: str = "cpu") -> None:
        self.torch = torch
        self.device = device

    def tensor(self, array: np.ndarray, dtype: str) -> Any:
        # Through float64: torch.from_numpy knows no bfloat16, and every value is exact in the target.
        host = self.torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64)).to(getattr(self.torch, dtype))
        return host.to(self.device)

    def labels(self, array: np.ndarray) -> Any:
        return self.torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(self.device)

    def _out(self, tensor: Any) -> tuple[np.ndarray, str]:
        return tensor.detach().cpu().to(self.torch.float64).numpy().copy(), dtype_name(tensor.dtype)

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]:
        with self.torch.no_grad():
            return self._out(function(wrt))

    def value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        leaf = wrt.clone().requires_grad_(True)
        out = function(leaf)
        seed = self.torch.ones_like(out) if cotangent is None else self.tensor(cotangent, dtype_name(out.dtype))
        (grad,) = self.torch.autograd.grad(out, leaf, grad_outputs=seed, allow_unused=False)
        value, value_dtype = self._out(out)
        grad_values, grad_dtype = self._out(grad)
        return value, value_dtype, grad_values, grad_dtype


def _implementations(torch: Any) -> list[Implementation]:
    F = torch.nn.functional

    def bce(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        return F.binary_cross_entropy(t["y_pred"], t["y_true"], weight=p["sample_weight"], reduction=p["reduction"])

    def bce_logits(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        return F.binary_cross_entropy_with_logits(
            t["y_pred"], t["y_true"], weight=p["sample_weight"], reduction=p["reduction"]
        )

    def cross_entropy(p: Mapping[str, Any], t: Mapping[str, Any], ignore_index: int = -100) -> Any:
        return F.cross_entropy(
            t["y_pred"],
            t["y_true"],
            weight=p["class_weight"],
            ignore_index=ignore_index,
            reduction=p["reduction"],
            label_smoothing=float(p["label_smoothing"]),
        )

    def sparse_cross_entropy(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        # No ignore_index in the case: torch's own default (-100), which no valid label can hit.
        return cross_entropy(p, t, -100 if p["ignore_index"] is None else int(p["ignore_index"]))

    class_dim = FixedAxis(at=1, by_rank={1: 0})  # "C", "(N, C)" or "(N, C, d1, ..., dK)"

    loss = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
    losses = [
        Implementation(
            "torch.nn.functional.binary_cross_entropy",
            "binary_crossentropy",
            bce,
            frozenset({"sample_weight"}),
            REDUCTIONS,
            from_logits=False,
            semantics=("torch_log_floor", "mean_over_count"),
            doc="https://pytorch.org/docs/stable/generated/torch.nn.BCELoss.html",
        ),
        Implementation(
            "torch.nn.functional.binary_cross_entropy_with_logits",
            "binary_crossentropy",
            bce_logits,
            frozenset({"sample_weight"}),
            REDUCTIONS,
            from_logits=True,
            semantics=("mean_over_count",),
            doc=loss.format("binary_cross_entropy_with_logits"),
        ),
        Implementation(
            "torch.nn.functional.cross_entropy[probability targets]",
            "categorical_crossentropy",
            cross_entropy,
            frozenset({"class_weight", "label_smoothing"}),
            REDUCTIONS,
            from_logits=True,
            # With probability targets torch's 'mean' divides by the batch size, class weights or not.
            semantics=("mean_over_count",),
            doc=loss.format("cross_entropy"),
            class_axis=class_dim,
        ),
        Implementation(
            "torch.nn.functional.cross_entropy",
            "sparse_categorical_crossentropy",
            sparse_cross_entropy,
            frozenset({"class_weight", "label_smoothing", "ignore_index"}),
            REDUCTIONS,
            from_logits=True,
            doc=loss.format("cross_entropy"),
            class_axis=class_dim,
        ),
    ]
    losses.append(
        Implementation(
            "torch.nn.functional.mse_loss",
            "squared_error",
            lambda p, t: F.mse_loss(t["y_pred"], t["y_true"], reduction=p["reduction"]),
            reductions=REDUCTIONS,
            doc=loss.format("mse_loss"),
        )
    )
    return [
        *losses,
        *primitives(
            {
                "softplus": ("torch.nn.functional.softplus", F.softplus, loss.format("softplus")),
                "log_sigmoid": ("torch.nn.functional.logsigmoid", F.logsigmoid, loss.format("logsigmoid")),
                "sigmoid": ("torch.sigmoid", torch.sigmoid, TORCH_DOCS.format("sigmoid")),
                "log_softmax": ("torch.nn.functional.log_softmax", F.log_softmax, loss.format("log_softmax")),
                "softmax": ("torch.nn.functional.softmax", F.softmax, loss.format("softmax")),
                "logsumexp": ("torch.logsumexp", torch.logsumexp, TORCH_DOCS.format("logsumexp")),
            },
            axis_keyword="dim",
            semantics={"softplus": ("torch_softplus_threshold",)},
        ),
    ]


class TorchAdapter(TensorAdapter):
    name = "torch"

    def attach(self) -> None:
        import torch

        self.torch = torch
        self.bridge = TorchTensors(torch)

    def configure(self) -> None:
        self.torch.set_num_threads(1)  # 2 OpenMP threads make tiny calls erratic and 50x slower here
        self.torch.backends.cuda.matmul.allow_tf32 = False
        self.torch.backends.cudnn.allow_tf32 = False
        self.device = devices.requested()
        if self.device == "cuda":
            if not self.torch.cuda.is_available():
                raise DeviceUnavailable(f"torch {self.torch.__version__} sees no CUDA device")
            self.bridge = TorchTensors(self.torch, "cuda")

    def version(self) -> str:
        device = getattr(self, "device", "cpu")
        gpu = self.torch.cuda.get_device_name(0) if device == "cuda" else ""
        return devices.described(str(self.torch.__version__), device, gpu)

    def implementations(self) -> list[Implementation]:
        return _implementations(self.torch)


def adapter() -> TorchAdapter:
    return TorchAdapter()
