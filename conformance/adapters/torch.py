"""PyTorch: torch.nn.functional and torch, differentiated by torch.autograd."""

from __future__ import annotations

import importlib
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
        # A copy: from_numpy shares memory, and a framework's in-place op (Keras' `sample_weight *=
        # mask`) would otherwise rewrite the caller's array.
        host = self.torch.from_numpy(np.array(array, dtype=np.float64, copy=True)).to(getattr(self.torch, dtype))
        return host.to(self.device)

    def labels(self, array: np.ndarray) -> Any:
        return self.torch.from_numpy(np.array(array, dtype=np.int64, copy=True)).to(self.device)

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
    losses += _likelihood_losses(torch)
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


def _likelihood_losses(torch: Any) -> list[Implementation]:
    """KL divergence, Huber / smooth L1, Poisson and Gaussian NLL, NLL, pos_weight, focal (issue 16)."""
    F = torch.nn.functional
    loss = "https://pytorch.org/docs/stable/generated/torch.nn.functional.{}.html"
    rows: list[Implementation] = []
    for log_target in (False, True):
        suffix = "log_target" if log_target else ""
        for native_mean in ("batchmean", "mean"):
            # Canonical 'mean' is the mean over distributions: torch's 'batchmean'; its 'mean' is a
            # documented variant of its own (every element), run as a row of its own.
            tags = ",".join(t for t in (suffix, "reduction=mean" if native_mean == "mean" else "") if t)
            rows.append(
                Implementation(
                    "torch.nn.functional.kl_div" + (f"[{tags}]" if tags else ""),
                    "kl_divergence",
                    _kl_div(F, log_target, native_mean),
                    reductions=frozenset({"mean"} if native_mean == "mean" else {"sum", "mean"}),
                    semantics=("torch_kl_mean",) if native_mean == "mean" else ("torch_batchmean",),
                    doc=loss.format("kl_div"),
                    mode={"log_input": True, "log_target": log_target},
                )
            )
    rows += [
        Implementation(
            "torch.nn.functional.huber_loss",
            "huber",
            lambda p, t: F.huber_loss(t["y_pred"], t["y_true"], reduction=p["reduction"], delta=float(p["delta"])),
            frozenset({"delta"}),
            REDUCTIONS,
            doc=loss.format("huber_loss"),
        ),
        Implementation(
            "torch.nn.functional.smooth_l1_loss",
            "huber",
            lambda p, t: F.smooth_l1_loss(t["y_pred"], t["y_true"], reduction=p["reduction"], beta=float(p["delta"])),
            frozenset({"delta"}),
            REDUCTIONS,
            semantics=("torch_smooth_l1",),
            doc=loss.format("smooth_l1_loss"),
        ),
        *(
            Implementation(
                "torch.nn.functional.poisson_nll_loss" + ("[log_input]" if log_input else ""),
                "poisson_nll",
                _poisson(F, log_input),
                frozenset({"full"}),
                REDUCTIONS,
                semantics=("torch_poisson_stirling",) if log_input else ("torch_poisson_eps", "torch_poisson_stirling"),
                doc=loss.format("poisson_nll_loss"),
                mode={"log_input": log_input},
            )
            for log_input in (False, True)
        ),
        *(
            Implementation(
                "torch.nn.functional.gaussian_nll_loss",
                op,
                lambda p, t: F.gaussian_nll_loss(
                    t["y_pred"],
                    t["y_true"],
                    t["var"],
                    full=bool(p["full"]),
                    eps=1e-6 if p["eps"] is None else float(p["eps"]),  # torch's default where the case sets none
                    reduction=p["reduction"],
                ),
                frozenset({"full", "eps"}),
                REDUCTIONS,
                semantics=("torch_gaussian_nll_clamp",),
                doc=loss.format("gaussian_nll_loss"),
            )
            for op in ("gaussian_nll", "gaussian_nll_var")
        ),
        Implementation(
            "torch.nn.functional.nll_loss",
            "nll",
            lambda p, t: F.nll_loss(
                t["y_pred"],
                t["y_true"],
                weight=p["class_weight"],
                ignore_index=-100 if p["ignore_index"] is None else int(p["ignore_index"]),
                reduction=p["reduction"],
            ),
            frozenset({"class_weight", "ignore_index"}),
            REDUCTIONS,
            doc=loss.format("nll_loss"),
            class_axis=FixedAxis(at=1, by_rank={1: 0}),
        ),
        Implementation(
            "torch.nn.functional.binary_cross_entropy_with_logits(pos_weight)",
            "bce_pos_weight",
            lambda p, t: F.binary_cross_entropy_with_logits(
                t["y_pred"],
                t["y_true"],
                weight=p["sample_weight"],
                pos_weight=p["pos_weight"],
                reduction=p["reduction"],
            ),
            frozenset({"pos_weight", "sample_weight"}),
            REDUCTIONS,
            semantics=("mean_over_count",),
            doc=loss.format("binary_cross_entropy_with_logits"),
        ),
    ]
    return rows + _torchvision_losses()


def _kl_div(F: Any, log_target: bool, native_mean: str) -> Any:
    def call(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        reduction = native_mean if p["reduction"] == "mean" else p["reduction"]
        return F.kl_div(t["y_pred"], t["y_true"], reduction=reduction, log_target=log_target)

    return call


def _poisson(F: Any, log_input: bool) -> Any:
    def call(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        return F.poisson_nll_loss(
            t["y_pred"], t["y_true"], log_input=log_input, full=bool(p["full"]), reduction=p["reduction"]
        )

    return call


def _torchvision_losses() -> list[Implementation]:
    """torchvision's sigmoid focal loss, where torchvision is installed beside torch."""
    try:
        sigmoid_focal_loss = importlib.import_module("torchvision.ops").sigmoid_focal_loss
    except ImportError:  # not installable beside this CPU torch: the row is absent, not faked
        return []

    def call(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        alpha = -1.0 if p["alpha"] is None else float(p["alpha"])  # "negative to ignore"
        return sigmoid_focal_loss(
            t["y_pred"], t["y_true"], alpha=alpha, gamma=float(p["gamma"]), reduction=p["reduction"]
        )

    return [
        Implementation(
            "torchvision.ops.sigmoid_focal_loss",
            "binary_focal_crossentropy",
            call,
            frozenset({"gamma", "alpha"}),
            REDUCTIONS,
            from_logits=True,
            doc="https://pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html",
        )
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
