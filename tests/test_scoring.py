"""Meta-tests: the comparator itself, on hand-built values."""

import math

import numpy as np
import pytest

from conformance.judge.scoring import LARGE, compare_element, score, tolerance, within
from oracle.formats import FORMATS

F32 = FORMATS["float32"]


def test_plus_zero_and_minus_zero_are_distinct_outcomes_of_no_magnitude():
    element = compare_element(0.0, -0.0, "-0", F32)
    assert element.outcome == "signed_zero"
    assert element.ulp == 0 and element.abs == 0
    assert compare_element(-0.0, -0.0, "-0", F32).outcome == "match"


def test_nan_against_nan_is_right_and_nan_elsewhere_is_wrong():
    assert compare_element(math.nan, math.nan, "nan", F32).outcome == "nan"
    assert compare_element(math.nan, 1.0, "1", F32).outcome == "unexpected_nan"
    assert compare_element(1.0, math.nan, "nan", F32).outcome == "missing_nan"
    assert not within(compare_element(math.nan, 1.0, "1", F32), {"ulp": 1e9, "abs": 1e9}, F32.eps)


def test_infinities_match_only_themselves():
    assert compare_element(math.inf, math.inf, "inf", F32).outcome == "match"
    assert compare_element(-math.inf, math.inf, "inf", F32).outcome == "inf_mismatch"
    assert compare_element(3.4e38, math.inf, "inf", F32).outcome == "inf_mismatch"
    assert compare_element(math.inf, 100.0, "100", F32).outcome == "inf_mismatch"


def test_a_flushed_subnormal_is_reported_as_such():
    smallest = 2.0**-149
    element = compare_element(0.0, smallest, "1.4012984643248170709e-45", F32)
    assert element.outcome == "flushed_subnormal"
    assert math.isclose(element.ulp, 1.0, rel_tol=1e-12)  # one step of float32's subnormal grid


def test_one_ulp_off_at_a_power_of_two():
    # ULPs are counted in the binade of the exact value: at exactly 1, [1, 2) has spacing
    # 2**-23, so one step up is 1 ulp and one step down (spacing 2**-24 below 1) is 0.5 ulp.
    assert compare_element(1 + 2.0**-23, 1.0, "1", F32).ulp == 1.0
    assert compare_element(1 - 2.0**-24, 1.0, "1", F32).ulp == 0.5
    # An exact value just below 1 lives in [0.5, 1), spacing 2**-24: 1.0 is 1e-8 / 5.96e-8 ulp away.
    assert math.isclose(compare_element(1.0, 1.0, "0.99999999", F32).ulp, 1e-8 / 2.0**-24, rel_tol=1e-9)


def test_correctly_rounded_means_at_most_half_an_ulp():
    # float32(1/3) = 11184811 * 2**-25; 1/3 is 1/3 * 2**-25 below it: 1/3 of an ulp.
    element = compare_element(11184811 * 2.0**-25, 11184811 * 2.0**-25, "0.33333333333333333333333", F32)
    assert element.outcome == "match"
    element = compare_element(11184810 * 2.0**-25, 11184811 * 2.0**-25, "0.33333333333333333333333", F32)
    assert math.isclose(element.ulp, 2 / 3, rel_tol=1e-9)


def test_an_element_passes_on_any_one_of_its_bounds():
    element = compare_element(1.0 + 2.0**-20, 1.0, "1", F32)  # 8 ulp, 9.5e-7 rel and abs
    assert not within(element, {"ulp": 4}, F32.eps)
    assert within(element, {"ulp": 4, "rel": 1e-6}, F32.eps)
    assert within(element, {"ulp": 4, "abs_eps": 8}, F32.eps)  # 8 * eps(float32) = 9.5e-7 >= 2**-20
    assert not within(element, {"ulp": 4, "abs_eps": 8}, F32.eps * 0.1)  # ... but not at a scale of 0.1


def test_a_tiny_gradient_fails_strictly_and_passes_at_its_natural_scale_in_the_practical_profile():
    # d/dx at x = 20, z = 1 is -2.06e-9 (= -1 / (1 + e^20)); a framework that returns 0 is wrong by
    # 100%: strict (the default) flags it. The practical profile accepts it, since 0 is within
    # 4 eps of a gradient whose terms (sigmoid(20) and z) are of size 1.
    exact = -1 / (1 + math.exp(20))
    args = (np.array([0.0]), np.array([float(np.float32(exact))]), (repr(exact),), "float32")
    assert not score(*args, tolerance("grad", "float32"), scale_floor=1.0).passed
    assert score(*args, tolerance("grad", "float32", profile="practical"), scale_floor=1.0).passed
    # The same 0 for a loss *value* of 2e-9 is 100% wrong, and fails.
    assert not score(
        np.array([0.0]), np.array([float(np.float32(2.06e-9))]), ("2.06e-9",), "float32", tolerance("value", "float32")
    ).passed


def test_case_overrides_replace_the_default_bounds():
    assert tolerance("value", "float16") == {"ulp": 2.0}
    assert tolerance("value", "float16", {"value": {"ulp": 16, "rel": 0.01}}) == {"ulp": 16.0, "rel": 0.01}


def test_the_vectorised_path_for_large_arrays_agrees_with_the_elementwise_one():
    from conformance.judge.scoring import compare_large

    # Every outcome, for float32: match, one ulp off, signed zero, flushed subnormal, the NaN
    # kinds and an infinity mismatch. Exact values as decimals; expected = float32 rounding.
    exact = ("0.3333333432674407958984375", "1", "-0", "1.4012984643248170709e-45", "nan", "nan", "2", "inf")
    expected = np.array([float(np.float32(1 / 3)), 1.0, -0.0, 2.0**-149, math.nan, math.nan, 2.0, math.inf])
    actual = np.array([float(np.float32(1 / 3)), 1 + 2.0**-23, 0.0, 0.0, math.nan, 1.0, math.nan, 3e38])
    outcome, ulp, _, rel = compare_large(actual, expected, exact, F32)
    one_by_one = [compare_element(a, e, x, F32) for a, e, x in zip(actual, expected, exact)]
    assert outcome.tolist() == [e.outcome for e in one_by_one]
    assert ulp.tolist() == [e.ulp for e in one_by_one]
    assert rel.tolist() == [e.rel for e in one_by_one]


@pytest.mark.parametrize("copies", [1, 150], ids=["element-wise", "large-array path"])
def test_a_score_counts_every_outcome_and_the_failing_ones_apart(copies):
    # One element of each outcome, in float32, judged with a 1-ulp bound. By hand: 1.0 vs exact 1 is a
    # match; 1 + 2^-23 vs exact 1 is 1 ulp off (within); 1 + 2^-21 is 4 ulp off (failing); +0 vs -0
    # is a signed zero of no magnitude (within); 0 vs 2^-149 is a flushed subnormal 1 ulp off
    # (within); NaN vs NaN is right; NaN vs 1, 1 vs NaN and inf vs 1 fail whatever the bound.
    # 150 copies (1350 elements, over LARGE) take the vectorised path: every count times 150.
    actual = np.array([1.0, 1 + 2.0**-23, 1 + 2.0**-21, 0.0, 0.0, math.nan, math.nan, 1.0, math.inf] * copies)
    expected = np.array([1.0, 1.0, 1.0, -0.0, 2.0**-149, math.nan, 1.0, math.nan, 1.0] * copies)
    exact = ("1", "1", "1", "-0", "1.4012984643248170709e-45", "nan", "1", "nan", "1") * copies
    assert (actual.size > LARGE) == (copies > 1)
    scored = score(actual, expected, exact, "float32", {"ulp": 1.0})
    once = {
        "finite": 2,
        "flushed_subnormal": 1,
        "inf_mismatch": 1,
        "match": 1,
        "missing_nan": 1,
        "nan": 1,
        "signed_zero": 1,
        "unexpected_nan": 1,
    }
    assert scored.outcomes == {name: count * copies for name, count in once.items()}
    assert list(scored.outcomes) == sorted(scored.outcomes)
    failing = {"finite": 1, "inf_mismatch": 1, "missing_nan": 1, "unexpected_nan": 1}
    assert scored.failing == {name: count * copies for name, count in failing.items()}
    assert list(scored.failing) == sorted(scored.failing)
    assert scored.mask.tolist() == [True, True, False, True, True, True, False, False, False] * copies
