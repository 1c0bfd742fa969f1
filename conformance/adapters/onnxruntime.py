"""ONNX Runtime: each op as a one-node ONNX graph, built with the onnx helper, run by onnxruntime.

A deployed model's loss and activations run through ONNX Runtime's kernels, not the training
framework's. Each implementation here is one ONNX operator (SoftmaxCrossEntropyLoss, LogSoftmax,
Softmax, Softplus, Sigmoid, ReduceLogSumExp), built once per (op, attributes, dtype, rank) and
run by an InferenceSession on the CPU execution provider, or on the CUDA provider with
``--device cuda`` (with CPU fallback disabled, so a node without a CUDA kernel is an error rather
than a silent CPU result). ONNX has no binary or soft-label categorical cross-entropy and no
squared error as operators, so those ops are ``unsupported``; NegativeLogLikelihoodLoss joins when
the suite has an NLL op.

Values only: onnxruntime's inference package has no autodiff (training graphs need the separate
onnxruntime-training build and an ONNX model of the backward pass), so every gradient is
``unsupported``. The dtypes each operator takes are found by building its graph once per dtype
when the adapter loads (ONNX Runtime's CPU kernels lack float64 Softplus and most of bfloat16),
so a gap is ``unsupported`` with the reason, and a new ONNX Runtime fills it by itself. bfloat16 is
``unsupported`` throughout: the Python binding takes no bfloat16 arrays.

Graphs use opset 18 and IR version 8, which every ONNX Runtime since 1.14 reads. A prediction of
rank 1 (one sample) gets a batch axis of length 1 for SoftmaxCrossEntropyLoss, which needs
(N, C), as the Keras adapter adds a trailing axis for binary cross-entropy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from conformance.run import devices
from conformance.run.devices import DeviceUnavailable
from oracle.formats import DTYPES, numpy_dtype

from .base import FixedAxis, Implementation, TensorAdapter, dtype_name

OPSET = 18
IR_VERSION = 8
DOCS = "https://onnx.ai/onnx/operators/onnx__{}.html"
REDUCTIONS = frozenset({"none", "sum", "mean"})
ELEMENT_TYPES = {"float64": "DOUBLE", "float32": "FLOAT", "float16": "FLOAT16", "bfloat16": "BFLOAT16"}


class OrtArrays:
    """Tensors are NumPy arrays of the dtype; a call runs a session and returns its output."""

    def tensor(self, array: np.ndarray, dtype: str) -> Any:
        return np.asarray(array, dtype=np.float64).astype(numpy_dtype(dtype))

    def labels(self, array: np.ndarray) -> Any:
        return np.asarray(array, dtype=np.int64)

    def value(self, function: Callable[[Any], Any], wrt: Any) -> tuple[np.ndarray, str]:
        out = np.asarray(function(wrt))
        return out.astype(np.float64), dtype_name(out.dtype)

    def value_and_vjp(
        self, function: Callable[[Any], Any], wrt: Any, cotangent: np.ndarray | None
    ) -> tuple[np.ndarray, str, np.ndarray, str]:
        raise NotImplementedError("ONNX Runtime's inference build has no autodiff")


class Graphs:
    """One InferenceSession per (operator, attributes, dtype, rank, inputs), built on first use."""

    def __init__(self, onnx: Any, ort: Any, providers: list[str]) -> None:
        self.onnx, self.ort, self.providers = onnx, ort, providers
        self.run = functools.cache(self._session)

    def _session(self, op: str, attributes: tuple[tuple[str, Any], ...], dtype: str, inputs: tuple[str, ...]) -> Any:
        helper, proto = self.onnx.helper, self.onnx.TensorProto
        element = getattr(proto, ELEMENT_TYPES[dtype])
        declared = [
            helper.make_tensor_value_info(name, proto.INT64 if name == "labels" else element, None) for name in inputs
        ]
        initializers = []
        names = list(inputs)
        values = dict(attributes)
        if op == "ReduceLogSumExp":  # axes is an input from opset 18 on
            initializers.append(helper.make_tensor("axes", proto.INT64, [1], [int(values.pop("axes"))]))
            names.append("axes")
        node = helper.make_node(op, names, ["out"], **values)
        graph = helper.make_graph(
            [node], op, declared, [helper.make_tensor_value_info("out", element, None)], initializers
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        options = self.ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        if "CPUExecutionProvider" not in self.providers:
            options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        return self.ort.InferenceSession(model.SerializeToString(), options, providers=self.providers)

    def call(self, op: str, attributes: Mapping[str, Any], feed: Mapping[str, np.ndarray]) -> Any:
        dtype = dtype_name(next(v.dtype for k, v in feed.items() if k != "labels"))
        session = self.run(op, tuple(sorted(attributes.items())), dtype, tuple(feed))
        return session.run(None, dict(feed))[0]

    def takes(self, op: str, attributes: Mapping[str, Any], inputs: tuple[str, ...], dtype: str) -> bool:
        """Whether this ONNX Runtime builds the operator's graph for ``dtype`` (a kernel, or a
        function body it can run) on the chosen provider."""
        try:
            self.run(op, tuple(sorted(attributes.items())), dtype, inputs)
        except Exception:  # onnxruntime raises its own exception types for a missing kernel
            return False
        return True


def _implementations(graphs: Graphs) -> list[Implementation]:
    def sce(p: Mapping[str, Any], t: Mapping[str, Any]) -> Any:
        scores, labels = t["y_pred"], t["y_true"]
        single = scores.ndim == 1
        if single:
            scores, labels = scores[None], np.asarray(labels)[None]
        attributes: dict[str, Any] = {"reduction": str(p["reduction"])}
        if p["ignore_index"] is not None:
            attributes["ignore_index"] = int(p["ignore_index"])
        feed = {"scores": scores, "labels": labels}
        if p["class_weight"] is not None:
            feed["weights"] = p["class_weight"]
        out = graphs.call("SoftmaxCrossEntropyLoss", attributes, feed)
        return out[0] if single and p["reduction"] == "none" else out

    def unary(op: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
        return lambda p, t: graphs.call(op, {}, {"x": t["x"]})

    def along_axis(op: str, keyword: str) -> Callable[[Mapping[str, Any], Mapping[str, Any]], Any]:
        extra = {"keepdims": 0} if op == "ReduceLogSumExp" else {}
        return lambda p, t: graphs.call(op, {keyword: int(p["axis"]), **extra}, {"x": t["x"]})

    def dtypes(op: str, attributes: Mapping[str, Any], inputs: tuple[str, ...]) -> tuple[str, ...]:
        # onnxruntime's Python binding refuses bfloat16 NumPy arrays ("Numpy_type 256 can't be
        # converted to MLDataType"), whatever its kernels take: bfloat16 is unsupported here.
        return tuple(d for d in DTYPES if d != "bfloat16" and graphs.takes(op, attributes, inputs, d))

    sce_inputs = ("scores", "labels")
    implementations = [
        Implementation(
            "onnxruntime.SoftmaxCrossEntropyLoss",
            "sparse_categorical_crossentropy",
            sce,
            frozenset({"class_weight", "ignore_index"}),
            REDUCTIONS,
            from_logits=True,
            doc=DOCS.format("SoftmaxCrossEntropyLoss"),
            dtypes=dtypes("SoftmaxCrossEntropyLoss", {"reduction": "none"}, sce_inputs),
            gradient=False,
            class_axis=FixedAxis(at=1, by_rank={1: 0}),  # (N, C, d1, ..., dk); one sample (C) as (1, C)
        )
    ]
    for op, name in (("softplus", "Softplus"), ("sigmoid", "Sigmoid")):
        implementations.append(
            Implementation(
                f"onnxruntime.{name}",
                op,
                unary(name),
                doc=DOCS.format(name),
                dtypes=dtypes(name, {}, ("x",)),
                gradient=False,
            )
        )
    for op, name, keyword in (
        ("log_softmax", "LogSoftmax", "axis"),
        ("softmax", "Softmax", "axis"),
        ("logsumexp", "ReduceLogSumExp", "axes"),
    ):
        probe = {keyword: -1, **({"keepdims": 0} if op == "logsumexp" else {})}
        implementations.append(
            Implementation(
                f"onnxruntime.{name}",
                op,
                along_axis(name, keyword),
                frozenset({"axis"}),
                doc=DOCS.format(name),
                dtypes=dtypes(name, probe, ("x",)),
                gradient=False,
            )
        )
    return implementations


class OnnxRuntimeAdapter(TensorAdapter):
    name = "onnxruntime"
    autodiff = False

    def attach(self) -> None:
        import onnx
        import onnxruntime

        self.onnx, self.ort = onnx, onnxruntime
        self.bridge = OrtArrays()
        self.device = "cpu"
        self.graphs = Graphs(onnx, onnxruntime, ["CPUExecutionProvider"])

    def configure(self) -> None:
        self.device = devices.requested()
        if self.device == "cuda":
            available = self.ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise DeviceUnavailable(
                    f"onnxruntime {self.ort.__version__} has no CUDA provider (it has {', '.join(available)}; "
                    "install onnxruntime-gpu)"
                )
            self.graphs = Graphs(self.onnx, self.ort, ["CUDAExecutionProvider"])

    def version(self) -> str:
        provider = self.graphs.providers[0].removesuffix("ExecutionProvider")
        return devices.described(f"{self.ort.__version__} (onnx {self.onnx.__version__})", self.device, provider)

    def implementations(self) -> list[Implementation]:
        return _implementations(self.graphs)


def adapter() -> OnnxRuntimeAdapter:
    return OnnxRuntimeAdapter()
