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
    a float64 (``*_low`` None) or, for float64 targets, a double-double: ``value + value_low``.

    ``value_tilt``, where a kernel knows it: +1 (-1) where the true value lies above (below) the
    float64 centre and nearer it than its float64 neighbours, 0 elsewhere. It decides a centre
    that is exactly a rounding midpoint (an exact term plus a positive tail far below its ulp)."""

    value: np.ndarray
    value_radius: np.ndarray
    grad: np.ndarray
    grad_radius: np.ndarray
    value_sign: np.ndarray
    grad_sign: np.ndarray
    value_low: np.ndarray | None = None
    grad_low: np.ndarray | None = None
    value_tilt: np.ndarray | None = None
