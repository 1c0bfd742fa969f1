"""Rounding into the four formats, pinned by hand-derived values."""

import math
from fractions import Fraction

import pytest

from oracle.formats import ABOVE, BELOW, FORMATS, next_toward, round_float, round_fraction, round_magnitude

F64, F32, F16, BF16 = (FORMATS[n] for n in ("float64", "float32", "float16", "bfloat16"))


def test_bfloat16_rounds_once_not_through_float32():
    # 1 + 2**-8 + 2**-40 lies above the midpoint 1 + 2**-8 between bfloat16's 1 and
    # 1 + 2**-7, so it rounds up; through float32 the 2**-40 is lost first and the tie
    # goes to even (1.0). ml_dtypes' cast does the latter.
    assert round_float(1 + 2**-8 + 2**-40, BF16) == 1 + 2**-7


def test_decimal_literals_round_from_the_exact_rational():
    # 0.1 * 2**27 = 13421772.8 -> 13421773 (float32 has 24 bits; 0.1 is in [2**-4, 2**-3)).
    assert round_fraction(Fraction("0.1"), F32) == 13421773 * 2.0**-27
    # 0.1 * 2**14 = 1638.4 -> 1638 (float16 has 11 bits).
    assert round_fraction(Fraction("0.1"), F16) == 1638 / 16384
    # 1e-7 / 2**-24 = 1.678: float16's subnormal grid, so 2 * 2**-24.
    assert round_fraction(Fraction("1e-7"), F16) == 2 * 2.0**-24


def test_ties_go_to_even_and_overflow_follows_ieee():
    assert round_fraction(Fraction(2049), F16) == 2048  # tie between 2048 (even) and 2050
    assert round_fraction(Fraction(2051), F16) == 2052  # tie between 2050 and 2052 (even)
    assert round_fraction(Fraction(65519), F16) == 65504  # below max + half an ulp (65520)
    assert round_fraction(Fraction(65520), F16) == math.inf  # the tie goes to the even side: inf
    assert round_fraction(Fraction(-70000), F16) == -math.inf


def test_a_perturbation_breaks_a_tie_without_being_computed():
    assert round_magnitude(2049, 0, F16, ABOVE) == 2050
    assert round_magnitude(2049, 0, F16, BELOW) == 2048
    assert round_magnitude(2048, 0, F16, ABOVE) == 2048  # representable: a hair does not move it


def test_subnormals_round_on_the_fixed_grid():
    # float32's smallest subnormal is 2**-149; 1.5 of it is a tie, which goes to 2 (even).
    assert round_fraction(Fraction(3, 2**150), F32) == 2 * 2.0**-149
    assert round_fraction(Fraction(1, 2**151), F32) == 0.0  # a quarter of the smallest: to zero
    assert round_float(5e-324, F64) == 5e-324


@pytest.mark.parametrize(
    ("fmt", "largest", "below_one", "smallest"),
    [
        (F64, 1.7976931348623157e308, 1 - 2.0**-53, 2.0**-1074),
        (F32, 3.4028234663852886e38, 1 - 2.0**-24, 2.0**-149),
        (F16, 65504.0, 1 - 2.0**-11, 2.0**-24),
        (BF16, 3.3895313892515355e38, 1 - 2.0**-8, 2.0**-133),
    ],
)
def test_format_constants(fmt, largest, below_one, smallest):
    assert fmt.max == largest
    assert next_toward(1.0, fmt, -1) == below_one
    assert fmt.min_subnormal == smallest
    assert next_toward(fmt.max, fmt, 1) == math.inf
    assert next_toward(0.0, fmt, 1) == smallest
