"""Binary floating-point formats and correct rounding into them, in integer arithmetic.

Every value here is a dyadic rational ``man * 2**exp``. Rounding is done on the
integers, never through a library cast: ml_dtypes' float64 -> bfloat16 cast rounds
twice (through float32), so 1 + 2**-8 + 2**-40 would come out as 1.0, not 1.0078125.

A value of a format is returned as a Python float: float64 holds every value of the
four formats exactly, so the float is the value, not an approximation of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

#: Direction of an infinitesimal perturbation of a dyadic value: the true value is
#: exactly the dyadic (EXACT), a hair above it (ABOVE) or a hair below it (BELOW).
EXACT, ABOVE, BELOW = 0, 1, -1


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE-754 style binary format: ``precision`` counts the hidden bit."""

    name: str
    precision: int
    emin: int
    emax: int

    @property
    def quantum_min(self) -> int:
        """Exponent of the smallest subnormal."""
        return self.emin - self.precision + 1

    @property
    def max(self) -> float:
        return math.ldexp((1 << self.precision) - 1, self.emax - self.precision + 1)

    @property
    def min_normal(self) -> float:
        return math.ldexp(1.0, self.emin)

    @property
    def min_subnormal(self) -> float:
        return math.ldexp(1.0, self.quantum_min)

    @property
    def eps(self) -> float:
        """Machine epsilon: the gap between 1 and the next value above it."""
        return math.ldexp(1.0, 1 - self.precision)

    def ulp(self, value: float) -> float:
        """Gap between |value| and the next larger value of the format (its ULP)."""
        if not math.isfinite(value):
            return math.nan
        if value == 0:
            return self.min_subnormal
        top = math.frexp(abs(value))[1] - 1
        return math.ldexp(1.0, max(top - self.precision + 1, self.quantum_min))


FORMATS: dict[str, FloatFormat] = {
    "float64": FloatFormat("float64", 53, -1022, 1023),
    "float32": FloatFormat("float32", 24, -126, 127),
    "float16": FloatFormat("float16", 11, -14, 15),
    "bfloat16": FloatFormat("bfloat16", 8, -126, 127),
}

#: The tested dtypes, widest first (the order of every report).
DTYPES: tuple[str, ...] = tuple(FORMATS)


def numpy_dtype(name: str) -> Any:
    """The numpy dtype that holds a format's values exactly (ml_dtypes' for bfloat16)."""
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    import numpy as np

    return np.dtype(name)


def round_magnitude(man: int, exp: int, fmt: FloatFormat, perturbation: int = EXACT) -> float:
    """Round the non-negative value ``man * 2**exp`` (+ an infinitesimal) into ``fmt``.

    Ties go to even unless the perturbation says on which side of the tie the true
    value lies: that is what lets a value a hair above a midpoint round up without
    ever computing the hair.
    """
    if man < 0:
        raise ValueError("round_magnitude takes a magnitude")
    if man == 0:
        return 0.0
    top = exp + man.bit_length() - 1
    if top < fmt.quantum_min - 1:
        return 0.0  # below half the smallest subnormal (e**-1e30, say): no shift of 1e30 bits
    if top > fmt.emax:
        return math.inf
    quantum = max(top - fmt.precision + 1, fmt.quantum_min)
    if exp >= quantum:
        kept = man << (exp - quantum)
    else:
        shift = quantum - exp
        kept = man >> shift
        rest = man - (kept << shift)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and (perturbation == ABOVE or (perturbation == EXACT and kept & 1))):
            kept += 1
    max_quantum = fmt.emax - fmt.precision + 1
    if quantum >= max_quantum and (kept << (quantum - max_quantum)) >= (1 << fmt.precision):
        return math.inf
    return math.ldexp(kept, quantum)


def round_signed(negative: bool, man: int, exp: int, fmt: FloatFormat, toward: int = EXACT) -> float:
    """Round ``(-1)**negative * man * 2**exp``; ``toward`` is the signed perturbation (+1: toward +inf)."""
    magnitude = round_magnitude(man, exp, fmt, -toward if negative else toward)
    if man == 0:
        return -0.0 if (toward == BELOW or (toward == EXACT and negative)) else 0.0
    return -magnitude if negative else magnitude


def round_fraction(value: Fraction, fmt: FloatFormat) -> float:
    """Correctly round an exact rational (a decimal literal, say) into ``fmt``."""
    num, den = abs(value.numerator), value.denominator
    if num == 0:
        return 0.0
    # Enough quotient bits that the remainder only ever acts as a sticky bit.
    shift = fmt.precision + 3 - (num.bit_length() - den.bit_length())
    quotient, remainder = divmod(num << shift, den) if shift >= 0 else divmod(num, den << -shift)
    magnitude = round_magnitude(quotient, -shift, fmt, ABOVE if remainder else EXACT)
    return -magnitude if value < 0 else magnitude


def round_float(value: float, fmt: FloatFormat) -> float:
    """Round a float64 into ``fmt`` (once, exactly); NaN and infinities pass through."""
    if not math.isfinite(value):
        return value
    if value == 0:
        return value
    mantissa, exponent = math.frexp(abs(value))
    man = int(mantissa * (1 << 53))
    return round_signed(value < 0, man, exponent - 53, fmt)


def next_toward(value: float, fmt: FloatFormat, direction: int) -> float:
    """The neighbour of a ``fmt`` value in ``direction`` (+1 up, -1 down)."""
    if math.isnan(value):
        return value
    if value == 0:
        return math.copysign(fmt.min_subnormal, direction)
    magnitude, away_from_zero = abs(value), (value > 0) == (direction > 0)
    if away_from_zero:
        stepped = math.inf if magnitude >= fmt.max else magnitude + fmt.ulp(magnitude)
    elif math.isinf(magnitude):
        stepped = fmt.max
    else:
        gap = fmt.ulp(magnitude)
        # Just below a normal power of two the values are twice as dense.
        if magnitude > fmt.min_normal and math.frexp(magnitude)[0] == 0.5:
            gap /= 2
        stepped = magnitude - gap
    return math.copysign(stepped, value)
