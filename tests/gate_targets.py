"""Losses that misbehave on purpose, for the gate's isolation tests."""

import os

import torch


def aborts_on_big_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    if bool((logits.abs() > 700).any()):
        os.abort()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y_true)


not_a_function = 42


def huber_without_its_reduction(y_true: torch.Tensor, y_pred: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Correct elementwise, but returns one loss per element where the gate declares a mean."""
    d = y_pred - y_true
    return torch.where(d.abs() <= delta, 0.5 * d * d, delta * (d.abs() - 0.5 * delta))
