"""The closed vocabulary: which ops exist, what inputs and params each takes.

This table is the one place the op names live; the case schema's enum is checked
against it by a test, and the oracle dispatches on it.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The loss ops (the others are primitives: no labels, no reduction).
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy")

LOSS_PARAMS = ("from_logits", "label_smoothing", "reduction", "sample_weight")
CATEGORICAL_PARAMS = (*LOSS_PARAMS, "axis", "class_weight")


@dataclass(frozen=True)
class Signature:
    """``prediction`` is the input gradients are taken with respect to."""

    inputs: tuple[str, ...]
    params: tuple[str, ...]
    prediction: str
    integer_inputs: tuple[str, ...] = ()

    @property
    def float_inputs(self) -> tuple[str, ...]:
        return tuple(name for name in self.inputs if name not in self.integer_inputs)


SIGNATURES: dict[str, Signature] = {
    "binary_crossentropy": Signature(("y_true", "y_pred"), LOSS_PARAMS, "y_pred"),
    "categorical_crossentropy": Signature(("y_true", "y_pred"), CATEGORICAL_PARAMS, "y_pred"),
    "sparse_categorical_crossentropy": Signature(
        ("y_true", "y_pred"), (*CATEGORICAL_PARAMS, "ignore_index"), "y_pred", integer_inputs=("y_true",)
    ),
    "softplus": Signature(("x", "cotangent"), (), "x"),
    "log_sigmoid": Signature(("x", "cotangent"), (), "x"),
    "sigmoid": Signature(("x", "cotangent"), (), "x"),
    "log_softmax": Signature(("x", "cotangent"), ("axis",), "x"),
    "softmax": Signature(("x", "cotangent"), ("axis",), "x"),
    "logsumexp": Signature(("x", "cotangent"), ("axis",), "x"),
}

#: Inputs a case may leave out.
OPTIONAL_INPUTS = frozenset({"cotangent"})

#: Params that hold arrays of the tested dtype (rounded like inputs).
ARRAY_PARAMS = frozenset({"sample_weight", "class_weight"})

REDUCTIONS = ("none", "sum", "mean")
