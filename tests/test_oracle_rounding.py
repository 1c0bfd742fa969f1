"""Correct rounding next to rounding boundaries, where comparing two precisions fails.

Each case puts the exact value a negligible hair away from a midpoint of the target
format: ties-to-even on the midpoint gives the wrong neighbour, the hair decides.
"""

import math

from oracle import evaluate


def test_float16_log_softmax_a_hair_beyond_a_midpoint():
    # log_softmax([2048, 1.5])[1] = -(2048 - 1.5) - log1p(e**-2046.5) = -2046.5 - 1e-889.
    # float16 spacing is 1 in [1024, 2048): -2046.5 is the midpoint of -2046 (even) and -2047;
    # the true value is beyond it in magnitude, so -2047.
    result = evaluate("log_softmax", {}, {"x": [2048, 1.5]}, "float16")
    assert result.value.tolist()[1] == -2047.0


def test_bfloat16_log_softmax_a_hair_beyond_a_midpoint():
    # bfloat16 spacing is 2 in [256, 512): -(512 - 3) = -509 is the midpoint of -508 (even)
    # and -510; the true value -509 - log1p(e**-509) is beyond it: -510.
    result = evaluate("log_softmax", {}, {"x": [512, 3]}, "bfloat16")
    assert result.value.tolist()[1] == -510.0


def test_float16_exact_product_of_two_inputs_plus_a_hair_stays_put():
    # binary cross-entropy on logits, x = 2047, z = 0.5: x (1 - z) = 1023.5 exactly, a float16
    # value (spacing 0.5 in [512, 1024)), plus log1p(e**-2047) ~ 1e-889: a hair above a
    # representable value rounds to that value.
    result = evaluate(
        "binary_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": [0.5], "y_pred": [2047]},
        "float16",
    )
    assert result.value.tolist() == [1023.5]


def test_logsumexp_rounds_to_nearest_in_bfloat16_and_float16():
    # logsumexp([256, -1000]) = 256 + log1p(e**-1256): representable plus a hair: 256.
    # logsumexp([256, 256]) = 256 + ln 2 = 256.693; bfloat16 spacing is 2 in [256, 512): 256.
    result = evaluate("logsumexp", {}, {"x": [[256, -1000], [256, 256]]}, "bfloat16")
    assert result.value.tolist() == [256.0, 256.0]
    # 257.5 + ln 2 = 258.193; float16 spacing is 0.25 in [256, 512): 258.25 is 0.057 away, 258 is 0.193.
    assert evaluate("logsumexp", {}, {"x": [257.5, 257.5]}, "float16").value.tolist() == 258.25


def test_signed_zero_of_a_tiny_negative_result():
    # log_softmax([0, -810])[0] = -log1p(e**-810) ~ -1e-352: below every format's smallest
    # subnormal, it rounds to -0, not +0.
    result = evaluate("log_softmax", {}, {"x": [0, -810]}, "float64")
    value = float(result.value[0])
    assert value == 0 and math.copysign(1, value) == -1
