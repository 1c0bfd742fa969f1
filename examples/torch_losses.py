"""Binary cross-entropy on logits written by hand in PyTorch: naive, subtly wrong, fixed."""

import torch
import torch.nn.functional as F


def naive_bce_with_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The textbook formula: sigmoid(x) rounds to exactly 0 or 1 for |x| > 17 in float32, and
    then log(0) = -inf and 0 * log 0 = NaN."""
    p = torch.sigmoid(logits)
    return -(y_true * torch.log(p) + (1 - y_true) * torch.log(1 - p)).mean()


def abs_bce_with_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """max(x, 0) - x z + log1p(exp(-|x|)): right values, but at x = 0 torch differentiates |x|
    as 0 and clamp as 1, so the gradient there is 1 - z instead of 1/2 - z."""
    return (torch.clamp(logits, min=0) - logits * y_true + torch.log1p(torch.exp(-logits.abs()))).mean()


def stable_bce_with_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """-(z log_sigmoid(x) + (1 - z) log_sigmoid(-x)): both terms non-negative, no abs, no
    cancellation, and torch's log_sigmoid has an exact gradient everywhere."""
    return -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits)).mean()
