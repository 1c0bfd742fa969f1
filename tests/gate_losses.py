"""Small hand-written losses for the gate's tests: correct ones, and ones with exactly one bug each.

Each bug is the one a diagnosis is about; the correct losses are checked against the exact
loss by the gate, and their formulas are the textbook ones written in log space.
"""

import torch
import torch.nn.functional as F

#: The user's own params, as their code holds them.
SMOOTHING = 0.1
WEIGHTS = (1.0, 2.0, 1.0, 1.0)


def smoothed_bce_with_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Keras' label smoothing for two classes, z (1 - ls) + ls / 2, then a stable BCE on logits."""
    z = y_true * (1 - SMOOTHING) + SMOOTHING / 2
    return -(z * F.logsigmoid(logits) + (1 - z) * F.logsigmoid(-logits)).mean()


def weighted_bce_with_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """A weighted mean: sum(w l) / sum(w), the weights in the inputs' dtype."""
    weights = torch.tensor(WEIGHTS, dtype=logits.dtype).expand_as(logits)
    losses = -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits))
    return (weights * losses).sum() / weights.sum()


def sparse_cross_entropy_nan_per_sample(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-sample losses, NaN for a label outside [0, K) (as TensorFlow on GPU returns), the
    others exact: -log_softmax(x)[label]."""
    classes = logits.shape[-1]
    valid = (labels >= 0) & (labels < classes)
    one_hot = (labels.unsqueeze(-1) == torch.arange(classes)).to(logits.dtype)
    losses = -(one_hot * F.log_softmax(logits, dim=-1)).sum(dim=-1)
    return torch.where(valid, losses, torch.full_like(losses, float("nan")))


def sparse_cross_entropy_any_number(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The same without the NaN: an invalid label silently costs 0."""
    classes = logits.shape[-1]
    one_hot = (labels.unsqueeze(-1) == torch.arange(classes)).to(logits.dtype)
    return -(one_hot * F.log_softmax(logits, dim=-1)).sum(dim=-1)
