"""The value grammar of case files, resolved per dtype."""

import math

import pytest

from conformance.corpus.source import Literal
from conformance.corpus.values import ValueSyntaxError, check, resolve
from oracle.formats import FORMATS

F32, F16, BF16 = FORMATS["float32"], FORMATS["float16"], FORMATS["bfloat16"]


def test_yaml_floats_keep_their_decimal_text():
    assert resolve(Literal("0.1"), F16) == 1638 / 16384  # the decimal rounded once, not via a double


def test_hex_floats_are_exact():
    assert resolve("0x1.fffffep-1", F32) == 1 - 2.0**-24
    assert resolve("-0x1p-149", F32) == -(2.0**-149)


def test_tokens_mean_the_same_edge_in_every_dtype():
    assert resolve("below_one", F16) == 1 - 2.0**-11
    assert resolve("below_one", BF16) == 1 - 2.0**-8
    assert resolve("-max", F16) == -65504.0
    assert resolve("min_subnormal", F32) == 2.0**-149
    assert resolve("eps", BF16) == 2.0**-7
    assert resolve("next_up(1)", F16) == 1 + 2.0**-10


def test_one_minus_rounds_like_a_framework_computing_1_minus_eps():
    # 1 - 1e-7 lies between float32's 1 - 2**-23 and 1 - 2**-24, nearer the first.
    assert resolve("one_minus(1e-7)", F32) == 1 - 2.0**-23
    assert resolve("one_minus(1e-7)", F16) == 1.0  # float16 cannot hold anything that close to 1


def test_non_finite_spellings():
    assert resolve("-inf", F32) == -math.inf
    assert math.isnan(resolve("nan", F32))
    assert resolve(Literal(".inf"), F32) == math.inf


@pytest.mark.parametrize("bad", ["maxx", "1e", "next_up()", "0x1.gp0", "__import__('os')", True])
def test_anything_else_is_a_syntax_error(bad):
    with pytest.raises(ValueSyntaxError):
        check(bad)


def test_remembered_values_keep_what_sets_them_apart_sign_kind_and_text():
    """resolve remembers its answers; keys that compare equal must not share one."""
    assert math.copysign(1.0, resolve(0.0, F32)) == 1.0
    assert math.copysign(1.0, resolve(-0.0, F32)) == -1.0
    # 1 + 2^-24 is the float32 midpoint between 1 and 1 + 2^-23: exactly, it rounds to even (1.0);
    # 1e-30 above it, up. Both texts are the same float64 (the gap is under its half ulp, 1.1e-16),
    # so Literals of the two compare equal and hash alike.
    tie, above = Literal("1.000000059604644775390625"), Literal("1.000000059604644775390625000001")
    assert tie == above
    assert resolve(tie, F32) == 1.0
    assert resolve(above, F32) == 1 + 2.0**-23
    assert resolve(tie, F32) == 1.0
    assert resolve(3, F16) == 3.0 and resolve("3", F16) == 3.0 and resolve(3.0, F16) == 3.0


def test_a_remembered_literal_is_still_checked_against_the_limits_in_force(monkeypatch):
    import dataclasses

    from conformance.corpus import values
    from conformance.corpus.limits import limits

    text = "0.123456789"  # 11 characters
    assert resolve(text, F32) == resolve(Literal(text), F32)
    monkeypatch.setattr(values, "limits", lambda: dataclasses.replace(limits(), number_chars=10))
    with pytest.raises(ValueSyntaxError, match="longer than the limit of 10"):
        resolve(text, F32)
