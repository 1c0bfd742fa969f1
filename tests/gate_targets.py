"""Losses that misbehave on purpose, for the gate's isolation tests."""

import os

import torch


def aborts_on_big_logits(y_true: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    if bool((logits.abs() > 700).any()):
        os.abort()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits, y_true)


not_a_function = 42
