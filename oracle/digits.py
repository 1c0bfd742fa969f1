"""Decimal strings from proven error balls: only the digits both ends of a ball agree on.

The fast path answers a batch of 10**5 elements in tens of milliseconds; a Python string per
element, built one at a time, cost ten times that. Here the strings of a whole batch are laid
out as one byte matrix (a row per element: sign, digits, point, exponent, a newline; unused
cells 0), the zeros are dropped and the text is split once, so every step runs in numpy or C.

The look is printf's ``d.ddde±x`` ("-1.25e-7"): the digits of the integer M of a correct
rounding ``M * 10**k``, as ``str(M)`` writes them (trailing zeros kept: they are proven too).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .decide import decimal_digits

#: Mantissas of up to 13 digits (12 proven, plus a carry): exact in int64, and 10**13 < 2**53.
WIDTH = 13
_POWERS = 10 ** np.arange(WIDTH + 1, dtype=np.int64)
#: Digits come three at a time from a table, not one division each.
_TRIPLES = np.array([[n // 100, n // 10 % 10, n % 10] for n in range(1000)], dtype=np.uint8)


def scientific(mantissa: np.ndarray, exponent: np.ndarray) -> list[str]:
    """``M * 10**exponent`` as ``d.ddde±x`` per element (0 < |M| < 10**13, printed as ``str(M)``
    writes it): one byte matrix, one ``decode``, one ``split``, no Python per element.

    M is scaled to exactly 13 digits, so its digits stand in fixed columns (the leading one,
    the point, the rest); the cells past its own digit count are 0, dropped with the others.
    """
    rows = mantissa.shape[0]
    if not rows:
        return []
    magnitude = np.abs(mantissa)
    count = np.searchsorted(_POWERS, magnitude, side="right")  # digits of |M|
    # Below 2**53 float64 is exact, and floor(n / 1000) too: n / 1000 is within 10**-3 / n
    # (relative, > 2**-53) of an integer only when it is one. Faster than int64 division.
    normal = (magnitude * _POWERS[WIDTH - count]).astype(np.float64)
    groups = []
    for _ in range(5):
        quotient = np.floor(normal / 1000.0)
        groups.append(_TRIPLES[(normal - 1000.0 * quotient).astype(np.intp)])
        normal = quotient
    digits = np.concatenate(groups[::-1], axis=1)[:, 15 - WIDTH :] + ord("0")
    power = exponent.astype(np.int64) + count - 1
    size = np.abs(power)
    chars = np.zeros((rows, WIDTH + 8), dtype=np.uint8)
    chars[:, 0] = np.where(mantissa < 0, ord("-"), 0)
    chars[:, 1] = digits[:, 0]
    chars[:, 2] = np.where(count > 1, ord("."), 0)
    chars[:, 3 : WIDTH + 2] = np.where(np.arange(1, WIDTH)[None, :] < count[:, None], digits[:, 1:], 0)
    end = WIDTH + 2
    chars[:, end] = ord("e")
    chars[:, end + 1] = np.where(power < 0, ord("-"), ord("+"))
    chars[:, end + 2] = np.where(size >= 100, size // 100 + ord("0"), 0)
    chars[:, end + 3] = np.where(size >= 10, size // 10 % 10 + ord("0"), 0)
    chars[:, end + 4] = size % 10 + ord("0")
    chars[:, end + 5] = ord("\n")
    flat = chars.ravel()
    text: bytes = flat[flat != 0].tobytes()
    return text.decode("ascii").split("\n")[:-1]


def bound_digit(end: Any) -> str:
    """One digit of a ball's larger end: the magnitude bound of a ball that proves no digit."""
    if not np.isfinite(end):  # NaN and inf only where the element is undecided (the exact path writes it)
        return str(float(end))
    return decimal_digits(Fraction(*end.as_integer_ratio()), 1)


def slow_digits(ends: tuple[Fraction, Fraction], digits: int) -> str:
    """Exact decimal roundings of the two ends (as rationals), for the few elements near a tie."""
    low, high = ends
    for count in range(digits, 0, -1):
        text = decimal_digits(low, count)
        if text == decimal_digits(high, count):
            return text
    return decimal_digits(high if abs(high) >= abs(low) else low, 1)


def proven_digits(value: np.ndarray, radius: np.ndarray, sign: np.ndarray, cap: int, wanted: np.ndarray) -> list[str]:
    """Decimal strings ``d.ddde±x`` with only the digits both ends of a float64 ball agree on,
    for the ``wanted`` elements ("" for the others: the exact path writes theirs).

    Rounding to a decimal quantum 10**k is monotone, so where both ends round to the same
    integer multiple M of 10**k, so does the value between them. The quotient end / 10**k is
    computed in float64 within 3u relative, 3u 10**12 < 4e-4 absolute (``cap`` <= 12); an end
    within 1e-3 of a tie is not trusted and goes to the exact roundings of :func:`slow_digits`,
    as do extreme exponents. A ball with an end at 0 proves no digit (its other end, to one
    digit, bounds it); an exact 0 is "0". The strings come out in element order from one
    :func:`scientific` call; the few others are patched in by index.
    """
    size = value.shape[0]
    with np.errstate(all="ignore"):
        lo = np.where(sign == 1, np.maximum(value - radius, 0.0), value - radius)
        hi = np.where(sign == -1, np.minimum(value + radius, 0.0), value + radius)
        estimate = np.floor(np.log10(np.abs(value) / (2 * radius)))
        top = np.floor(np.log10(np.abs(value)))
    digits = np.clip(np.nan_to_num(estimate, nan=1.0, posinf=cap), 1, cap).astype(np.int64)
    settled = sign == 0
    open_ = wanted & ~settled
    no_digit = open_ & ~((lo > 0) | (hi < 0))
    slow = open_ & ~no_digit & (~np.isfinite(top) | (np.abs(top) > 280))
    pending = open_ & ~no_digit & ~slow
    mantissa = np.ones(size, dtype=np.int64)  # "1e+0" where patched below
    exponents = np.zeros(size, dtype=np.int64)
    while pending.any():
        index = np.flatnonzero(pending)
        exponent = top[index].astype(np.int64) - digits[index] + 1
        scale = np.power(10.0, exponent.astype(np.float64))
        low, high = lo[index] / scale, hi[index] / scale
        near_tie = (np.abs(low - np.floor(low) - 0.5) < 1e-3) | (np.abs(high - np.floor(high) - 0.5) < 1e-3)
        agree = (np.rint(low) == np.rint(high)) & ~near_tie
        mantissa[index[agree]], exponents[index[agree]] = np.rint(low[agree]), exponent[agree]
        pending[index[agree]] = False
        slow[index[near_tie]], pending[index[near_tie]] = True, False
        give_up = index[~agree & ~near_tie & (digits[index] == 1)]
        slow[give_up], pending[give_up] = True, False
        digits[index[~agree & ~near_tie]] -= 1
    texts = scientific(mantissa, exponents)
    for chosen in np.flatnonzero(~wanted & ~settled).tolist():
        texts[chosen] = ""
    for chosen in np.flatnonzero(settled).tolist():
        texts[chosen] = "0"
    # The slow elements repeat (an exact 1/2 - y at every zero logit): each distinct ball once.
    seen: dict[tuple[float, float, int], str] = {}
    for chosen, low_end, high_end, count in zip(
        np.flatnonzero(slow).tolist(), lo[slow].tolist(), hi[slow].tolist(), digits[slow].tolist()
    ):
        key = (low_end, high_end, count)
        if key not in seen:
            ends = (Fraction(*low_end.as_integer_ratio()), Fraction(*high_end.as_integer_ratio()))
            seen[key] = slow_digits(ends, count)
        texts[chosen] = seen[key]
    bound = np.where(np.abs(hi) >= np.abs(lo), hi, lo)
    for chosen in np.flatnonzero(no_digit).tolist():
        texts[chosen] = bound_digit(bound[chosen])
    return texts
