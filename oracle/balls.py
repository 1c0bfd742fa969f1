"""What a fast-path kernel returns: a proven error ball per element, for the value and the gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The sign of a true value where a kernel knows it (an underflowed exp leaves a ball around
#: 0 that only the sign decides): +1, -1, 0 for an exact zero, UNKNOWN elsewhere.
UNKNOWN = 2


@dataclass(frozen=True)
class Balls:
    """Per element: the value's and the gradient's centre, radius and known sign. The centre is
    a float64 (``*_low`` None) or, for float64 targets, a double-double: ``value + value_low``."""

    value: np.ndarray
    value_radius: np.ndarray
    grad: np.ndarray
    grad_radius: np.ndarray
    value_sign: np.ndarray
    grad_sign: np.ndarray
    value_low: np.ndarray | None = None
    grad_low: np.ndarray | None = None
