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
    """A weighted mean as the frameworks take it (Keras, torch, optax): sum(w l) / N, the number of
    samples, not the weights' sum; the weights in the inputs' dtype."""
    weights = torch.tensor(WEIGHTS, dtype=logits.dtype).expand_as(logits)
    losses = -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits))
    return (weights * losses).mean()


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


def mean_with_count_in_dtype(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """A stable BCE whose mean divides by a count held in the inputs' dtype: 100000 samples are
    inf in float16 (above 65504) and 99840 in bfloat16, exact in float32 and float64."""
    losses = -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits))
    return losses.sum() / torch.ones_like(losses).sum()


class _SoftplusIgnoringCotangent(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # type: ignore[no-untyped-def]
        ctx.save_for_backward(x)
        return softplus(x)

    @staticmethod
    def backward(ctx, grad_output):  # type: ignore[no-untyped-def]
        (x,) = ctx.saved_tensors
        return torch.sigmoid(x)  # the bug: grad_output * sigmoid(x)


def softplus_ignoring_cotangent(x: torch.Tensor) -> torch.Tensor:
    return _SoftplusIgnoringCotangent.apply(x)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """log(e^x + e^0) (F.softplus returns x itself above its threshold 20, 2e-9 short)."""
    return torch.logaddexp(x, torch.zeros_like(x))


# -- one bug each, for the diagnoses ------------------------------------------------------------


def bce_ignoring_its_smoothing(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Declared with label_smoothing=0.1, computed without it."""
    return -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits)).mean()


def bce_summed(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Declared as a mean, reduced with a sum."""
    return -(y_true * F.logsigmoid(logits) + (1 - y_true) * F.logsigmoid(-logits)).sum()


def softplus_through_log(x: torch.Tensor) -> torch.Tensor:
    """log(1 + e^x): 1 + e^-40 is 1 in float64, so softplus(-40) = 4.2e-18 comes back as 0."""
    return torch.log(1 + torch.exp(x))


def bce_on_probabilities_with_plain_logs(y_true: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """z log p + (1 - z) log1p(-p) with a plain log p: at a hard p = 0 with z = 0 the value is 0 * -inf
    and the gradient z / p = 0 / 0 (xlogy gives 0 for both)."""
    return -(y_true * torch.log(p) + (1 - y_true) * torch.log1p(-p)).mean()


def cross_entropy_ignoring_minus_100(labels: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """torch's own cross-entropy with ignore_index=-100 and a mean over the labels that count."""
    return F.cross_entropy(logits, labels, ignore_index=-100)


def bce_in_half_precision(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """softplus(x) - x z, every step rounded to the input's dtype: in bfloat16, x z for x = 20,
    z = 0.8984375 is 17.96875, which rounds to 18, and 20.000000002 - 18 = 2 where the loss is 2.03125."""
    return (torch.nn.functional.softplus(logits) - logits * y_true).mean()


def squared_error_plainly(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """(p - t)^2 averaged: right until |p - t| passes sqrt(max), where the square overflows."""
    return ((y_pred - y_true) ** 2).mean()


def huber_dropping_nans(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    """Huber (delta 1) per sample, NaN losses zeroed by nan_to_num before the mean: "NaN-safe",
    so a NaN input comes back as a number and its gradient as 0."""
    d = y_pred - y_true
    losses = torch.where(d.abs() <= 1.0, 0.5 * d * d, d.abs() - 0.5)
    return torch.nan_to_num(losses, nan=0.0).mean()
