"""oracle/special.py against python-flint's arb balls (certified) and exact arithmetic."""

import math
import random
from fractions import Fraction

import numpy as np
import pytest

from oracle import evaluate
from oracle.decide import decide
from oracle.formats import FORMATS
from oracle.interval import Interval, working_precision
from oracle.special import log_factorial, log_sum_is_zero, power, sqrt

flint = pytest.importorskip("flint")


def rounded(enclosure_of, fmt="float64"):
    """The correctly rounded value, raising the precision until the enclosure decides it (a Ziv loop)."""
    bits = 64
    while bits <= 1 << 13:
        with working_precision(bits):
            decided = decide(enclosure_of(), FORMATS[fmt])
        if decided is not None:
            return decided
        bits *= 2
    raise AssertionError("undecided")


def arb_round(ball):
    """arb's midpoint, rounded to float64: correctly rounded wherever its radius is far below an ulp."""
    return float(ball.mid())


def test_log_factorial_agrees_with_arb_lgamma():
    rng = random.Random(16)
    points = [0.5, 1.5, 2.5, 1e-10, 0.9999, 1 + 2**-52, 7.25, 100.5, 3e38, 12345.678, 4097.0, 5.0]
    points += [rng.uniform(0, 50) for _ in range(20)] + [10 ** rng.uniform(-12, 20) for _ in range(20)]
    flint.ctx.prec = 400
    try:
        for y in points:
            assert rounded(lambda y=y: log_factorial(y)) == arb_round((flint.arb(y) + 1).lgamma()), y
    finally:
        flint.ctx.prec = 53


def test_log_factorial_exact_points_and_limits():
    assert log_factorial(0.0).exact and log_factorial(1.0).exact
    assert rounded(lambda: log_factorial(5.0)) == math.log(120)
    assert math.isnan(rounded(lambda: log_factorial(-1.0))) and rounded(lambda: log_factorial(math.inf)) == math.inf


def test_sqrt_and_powers_are_exact_where_the_value_is_a_dyadic():
    with working_precision(64):
        assert sqrt(Interval.of(0.25)).exact and sqrt(Interval.of(0.25)).lo == Interval.of(0.5).lo
        assert not sqrt(Interval.of(2.0)).exact
        assert power(Interval.of(0.25), 2.5).exact  # 0.25^2 sqrt(0.25) = 1/32
        assert power(Interval.of(0.0), 0.0).exact and power(Interval.of(0.0), 0.0).lo == Interval.of(1.0).lo
    assert rounded(lambda: sqrt(Interval.of(2.0))) == math.sqrt(2)
    flint.ctx.prec = 200
    try:
        assert rounded(lambda: power(Interval.of(0.3), 0.7)) == arb_round(flint.arb(0.3) ** flint.arb(0.7))
    finally:
        flint.ctx.prec = 53


def test_log_sum_is_zero_decides_exact_cancellation():
    half = Fraction(1, 2)
    assert log_sum_is_zero([(half, Fraction(2)), (half, Fraction(1, 2))])  # log 2 - log 2
    assert log_sum_is_zero([(Fraction(2), Fraction(6)), (Fraction(1), Fraction(1, 36))])  # 6^2 / 36
    assert not log_sum_is_zero([(Fraction(2), Fraction(6)), (Fraction(1), Fraction(1, 35))])
    assert not log_sum_is_zero([(half, Fraction(2)), (half, Fraction(1, 3))])


@pytest.mark.parametrize(
    ("op", "params", "inputs"),
    [
        ("poisson_nll", {"full": True}, {"y_true": [0.5, 5, 100.25], "y_pred": [0.5, 3, 90]}),
        ("kl_divergence", {"log_input": True}, {"y_true": [[0.25, 0.75]], "y_pred": [[-1.5, -0.25]]}),
        ("binary_focal_crossentropy", {"from_logits": True, "gamma": 0.5}, {"y_true": [0, 0.3], "y_pred": [-3, 17]}),
        ("gaussian_nll", {"full": True}, {"y_true": [0, 1], "y_pred": [0.5, -2], "var": [3, 0.1]}),
    ],
)
def test_the_new_ops_agree_between_the_mpmath_and_arb_backends(op, params, inputs):
    for dtype in ("float64", "float32"):
        ours = evaluate(op, params, inputs, dtype)
        theirs = evaluate(op, params, inputs, dtype, backend="arb")
        assert np.array_equal(ours.value, theirs.value) and np.array_equal(ours.grad, theirs.grad)
