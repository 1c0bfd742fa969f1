"""A user's loss written in NumPy, for gating on an adapter other than torch, TensorFlow and JAX."""

import numpy as np


def stable_bce_with_logits(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Mean of x (1 - z) for x >= 0, -x z below, plus log1p(exp(-|x|)): nothing overflows or cancels.
    The mean accumulates in float64: NumPy sums ml_dtypes' bfloat16 in bfloat16, which the gate
    catches (100,000 samples of 7.53 averaged to 0.082)."""
    with np.errstate(over="ignore", invalid="ignore"):
        linear = np.where(logits >= 0, logits * (1 - y_true), -logits * y_true)
        return np.mean(linear + np.log1p(np.exp(-np.abs(logits))), dtype=np.float64).astype(logits.dtype)


def bce_with_logits_mean_in_dtype(y_true: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """The same with NumPy's own mean, which for bfloat16 inputs adds in bfloat16."""
    with np.errstate(over="ignore", invalid="ignore"):
        linear = np.where(logits >= 0, logits * (1 - y_true), -logits * y_true)
        return np.mean(linear + np.log1p(np.exp(-np.abs(logits))))
