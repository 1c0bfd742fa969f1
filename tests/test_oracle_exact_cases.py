"""Exact results reached through an inexact step: the oracle decides them, every one.

Each input's true value is exact (a rounding midpoint, a representable value, an exact 0) or
an exact value beside a term far below any working precision. Expected figures are derived
by hand in the comments, with exact rationals where the value is rational; none is read
back from the oracle.
"""

import math
from decimal import Decimal
from fractions import Fraction

import mpmath
import numpy as np

from oracle import evaluate


def f32(value: Fraction) -> float:
    """``value`` rounded to float32 by numpy, asserted not to be a float32 rounding tie."""
    rounded = float(np.float32(float(value)))
    assert float(value) == value  # exact in float64, so numpy's cast rounds once
    return rounded


def test_mean_over_three_samples_rounds_an_exact_float32_midpoint_to_even():
    # d/dx_i of mean_i [softplus(x_i) - x_i y_i] = (sigmoid(x_i) - y_i) / 3; sigmoid(0) = 1/2.
    # y = float32(0.1) = 13421773 / 2**27, so 1/2 - y = 53687091 / 2**27 and the gradient is
    # 53687091 / (3 * 2**27) = 17895697 / 2**27 exactly (3 * 17895697 = 53687091): a 25-bit odd
    # integer, a float32 midpoint between 17895696 and 17895698 (/ 2**27). Ties to even:
    # 17895696 / 2**27 = 0x888888 / 2**26 = 0x1.11111p-3 = 0.13333332538604736.
    y = Fraction(float(np.float32(0.1)))
    assert y == Fraction(13421773, 2**27)
    exact = (Fraction(1, 2) - y) / 3
    assert exact == Fraction(17895697, 2**27)
    result = evaluate(
        "binary_crossentropy", {"from_logits": True}, {"y_true": [0.1] * 3, "y_pred": [0.0] * 3}, "float32"
    )
    assert result.grad.tolist() == [float.fromhex("0x1.11111p-3")] * 3 == [0.13333332538604736] * 3
    assert [Fraction(text) for text in result.grad_exact] == [exact] * 3
    # The value is softplus(0) = log 2 = 0x1.62e42fefa...p-1: 24 bits 0x1.62e42f|e..., rounds up.
    assert result.value.tolist() == float.fromhex("0x1.62e43p-1")


def test_label_smoothing_over_three_classes_rounds_exact_thirds():
    # Sparse from logits, label 0, logits [0, 0, 0], ls = float32(0.2) = 13421773 / 2**26.
    # Smoothed label: (1 - ls + ls/3, ls/3, ls/3); softmax = 1/3 each; gradient softmax - label:
    # g_0 = -2 (1 - ls) / 3, g_1 = g_2 = (1 - ls) / 3, with 1 - ls = 53687091 / 2**26, so
    # (1 - ls) / 3 = 17895697 / 2**26: a float32 midpoint, to even 0x1.11111p-2; g_0 twice it.
    ls = Fraction(float(np.float32(0.2)))
    third = (1 - ls) / 3
    assert third == Fraction(17895697, 2**26)
    result = evaluate(
        "sparse_categorical_crossentropy",
        {"from_logits": True, "label_smoothing": 0.2},
        {"y_true": [0], "y_pred": [[0.0, 0.0, 0.0]]},
        "float32",
    )
    assert result.grad.ravel().tolist() == [float.fromhex(h) for h in ("-0x1.11111p-1", "0x1.11111p-2", "0x1.11111p-2")]
    assert [Fraction(text) for text in result.grad_exact] == [-2 * third, third, third]
    # The labels sum to 1, so the loss is logsumexp(0, 0, 0) = log 3 = 1.0986122886681098...,
    # in float32 1.0986123085021973 (0x1.193ea8p+0; log 3 is 0x1.193ea7aad0...p+0, no tie).
    assert result.value.tolist() == f32(Fraction(math.log(3))) == 1.0986123085021973


def test_sample_weight_times_a_rational_gradient_is_an_exact_bfloat16_midpoint():
    # BCE on probabilities, y = 127/512, p = 3/4, sample_weight 3, mean over one sample:
    # 3 (p - y) / (p (1 - p)) = 3 (257/512) / (3/16) = 257/32 = 8.03125. bfloat16 keeps 8 bits,
    # spacing 1/16 in [8, 16): 8.03125 is the midpoint of 8 (even) and 8.0625, so 8.0.
    y, p = Fraction(127, 512), Fraction(3, 4)
    assert 3 * (p - y) / (p * (1 - p)) == Fraction(257, 32)
    result = evaluate(
        "binary_crossentropy", {"sample_weight": [3]}, {"y_true": [0.248046875], "y_pred": [0.75]}, "bfloat16"
    )
    assert result.grad.tolist() == [8.0]
    assert Fraction(result.grad_exact[0]) == Fraction(257, 32)
    # The value 3 (-(y log p + (1 - y) log(1 - p))) = 3.3413610..., spacing 1/64 in [2, 4):
    # 213.85 / 64, so 214 / 64 = 3.34375 (far from a tie).
    loss = 3 * -(127 / 512 * math.log(0.75) + 385 / 512 * math.log(0.25))
    assert round(loss * 64) / 64 == 3.34375
    assert result.value.tolist() == 3.34375


def test_softmax_gradient_exact_zeros_behind_equal_logits():
    # g_i = s_i (c_i - sum_j s_j c_j). With c = (1/2, 0, 1, 1/2) and s_1 = s_2 (equal logits -2):
    # sum_j s_j c_j = s_0/2 + s_2 + s_3/2 = (s_0 + s_1 + s_2 + s_3)/2 = 1/2, so g_0 = g_3 = 0
    # exactly; g_1 = -s_1 / 2 and g_2 = s_2 / 2.
    result = evaluate("softmax", {}, {"x": [3, -2, -2, 7], "cotangent": [0.5, 0, 1, 0.5]}, "float32")
    g0, g1, g2, g3 = result.grad.tolist()
    assert (g0, g3) == (0.0, 0.0) and math.copysign(1, g0) == math.copysign(1, g3) == 1
    assert result.grad_exact[0] == result.grad_exact[3] == "0"
    with mpmath.workdps(50):
        s1 = mpmath.exp(-2) / (mpmath.exp(3) + 2 * mpmath.exp(-2) + mpmath.exp(7))
        expected = float(np.float32(float(s1 / 2)))
    assert (g1, g2) == (-expected, expected)


def test_weights_that_cancel_on_identical_samples_sum_to_an_exact_zero():
    # Weights [1, -1] on two identical BCE elements: L - L = 0 exactly (the losses are one number).
    # The gradients stay per element: +-(p - y) / (p (1 - p)) = +-(3/8) / (15/64) = +-8/5,
    # float32(1.6) = 0x1.99999ap+0 (1.6 = 0x1.99999|99..., the remainder above half: up).
    result = evaluate(
        "binary_crossentropy",
        {"reduction": "sum", "sample_weight": [1, -1]},
        {"y_true": [0.25, 0.25], "y_pred": [0.625, 0.625]},
        "float32",
    )
    assert result.value.tolist() == 0.0 and result.value_exact == ("0",)
    assert result.grad.tolist() == [float.fromhex("0x1.99999ap+0"), -float.fromhex("0x1.99999ap+0")]


def test_losses_equal_without_equal_inputs_cancel_to_an_exact_zero():
    # On logits, BCE is max(x, 0) - x y + log1p(exp(-|x|)): at (x 0, y 0) and (x 0, y 1) both are
    # log 2; at (x 2, y 0) 2 + log1p(e^-2) and at (x -2, y 1) 0 + 2 + log1p(e^-2). Weights [1, -1]:
    # exactly 0. Gradients w (sigmoid(x) - y): (1/2, -(1/2 - 1)) = (1/2, 1/2); at +-2:
    # sigmoid(2) and -(sigmoid(-2) - 1) = sigmoid(2) = 0.88079707797788244...; times 2**24 it is
    # 14777322.829..., far from a tie, so float32 holds 14777323 / 2**24 = 0x1.c2f7d6p-1.
    def weighted_sum(weights, labels, predictions, from_logits=True, dtype="float32"):
        params = {"reduction": "sum", "sample_weight": weights, "from_logits": from_logits}
        return evaluate("binary_crossentropy", params, {"y_true": labels, "y_pred": predictions}, dtype)

    at_zero = weighted_sum([1, -1], [0, 1], [0, 0])
    assert at_zero.value.tolist() == 0.0 and at_zero.value_exact == ("0",)
    assert at_zero.grad.tolist() == [0.5, 0.5]
    mirrored = weighted_sum([1, -1], [0, 1], [2, -2])
    assert mirrored.value.tolist() == 0.0 and mirrored.value_exact == ("0",)
    sigmoid_2 = float(np.float32(1 / (1 + math.exp(-2))))
    assert mirrored.grad.tolist() == [sigmoid_2, sigmoid_2] == [float.fromhex("0x1.c2f7d6p-1")] * 2
    # On probabilities -y log p - (1 - y) log(1 - p): at (y 0, p 1/2) log 2, at (y 0, p 3/4)
    # -log(1/4) = 2 log 2; weights [2, -1]: 0 (log 1/4 = 2 log 1/2, a power of 2 apart).
    # Gradients w (p - y) / (p (1 - p)): 2 (1/2) / (1/4) = 4 and -(3/4) / (3/16) = -4.
    powers = weighted_sum([2, -1], [0, 0], [0.5, 0.75], from_logits=False, dtype="float64")
    assert powers.value.tolist() == 0.0 and powers.value_exact == ("0",)
    assert powers.grad.tolist() == [4.0, -4.0]


def test_cross_entropy_rows_with_equal_losses_cancel_to_an_exact_zero():
    # Sparse on logits, -log_softmax(x)[label] = lse(x) - x_label: row [1, 3] with label 0 and row
    # [3, 1] with label 1 are both lse(1, 3) - 1 = 2 + log1p(e^-2); rows [1, 3] and [0, 2], label
    # 1 both log1p(e^-2) (a shift of the row leaves it). Weights [1, -1]: exactly 0. Gradients
    # w (softmax(x) - onehot): softmax([1, 3]) = (s, 1 - s) with s = sigmoid(-2) = 0.1192029220...;
    # 2**27 s = 15999145.36, no tie: float32 15999145 / 2**27 = 0x1.e84152p-4. 1 - s = sigmoid(2):
    # float32 0x1.c2f7d6p-1 (derived in the test above).
    def weighted_sum(weights, labels, logits):
        params = {"reduction": "sum", "sample_weight": weights, "from_logits": True}
        return evaluate("sparse_categorical_crossentropy", params, {"y_true": labels, "y_pred": logits}, "float32")

    s, c = float.fromhex("0x1.e84152p-4"), float.fromhex("0x1.c2f7d6p-1")
    assert s == 15999145 / 2**27 == 0.11920291930437088
    mirrored = weighted_sum([1, -1], [0, 1], [[1.0, 3.0], [3.0, 1.0]])
    assert mirrored.value.tolist() == 0.0 and mirrored.value_exact == ("0",)
    # Row 1: (s - 1, 1 - s); row 2, weight -1: -(sigmoid(2), s - 1): both (-c, c).
    assert mirrored.grad.tolist() == [[-c, c], [-c, c]]
    shifted = weighted_sum([1, -1], [1, 1], [[1.0, 3.0], [0.0, 2.0]])
    assert shifted.value.tolist() == 0.0 and shifted.value_exact == ("0",)
    assert shifted.grad.tolist() == [[s, -s], [-s, s]]
    # On probabilities, class weights [1, -1] on -log 0.25 (label 0) and -log 0.25 (label 1): 0.
    # Gradients -w_label / p_label: -1 / 0.25 = -4 and 1 / 0.25 = 4.
    probabilities = evaluate(
        "categorical_crossentropy",
        {"reduction": "sum", "class_weight": [1, -1]},
        {"y_true": [[1, 0], [0, 1]], "y_pred": [[0.25, 0.75], [0.75, 0.25]]},
        "float32",
    )
    assert probabilities.value.tolist() == 0.0 and probabilities.value_exact == ("0",)
    assert probabilities.grad.tolist() == [[-4.0, 0.0], [0.0, 4.0]]


def test_a_negligible_term_beside_an_exact_midpoint_decides_the_rounding():
    # log_softmax at x = (0, -12000, -12000), cotangent c = (-1, 1, 3 * 2**-24): g_j = c_j - s_j C,
    # C = sum c = 3 * 2**-24, s_0 = 1 / (1 + 2 e**-12000) = 1 - 2e-5212. So
    # g_0 = -1 - 3 * 2**-24 + (a hair of 2**-24 * 4e-5212): -(1 + 1.5 * 2**-23) is the float32
    # midpoint of -(1 + 2**-23) (odd) and -(1 + 2**-22) (even); the hair is toward 0, so
    # -(1 + 2**-23), where ties-to-even would say -(1 + 2**-22). No precision below 17,300 bits
    # resolves the hair: the enclosure's lower end sits on the midpoint itself.
    # g_1 = 1 - C s_1 with s_1 ~ e**-12000: 1 - (tiny) rounds to 1; g_2 = C (1 - s_2) to C.
    result = evaluate("log_softmax", {}, {"x": [0, -12000, -12000], "cotangent": [-1, 1, 3 * 2**-24]}, "float32")
    assert result.grad.tolist() == [-(1 + 2**-23), 1.0, 3 * 2**-24]
    # Values: -log(1 + 2e**-12000) is a tiny negative (-0 in float32); -12000 - (tiny) -> -12000.
    assert [(v, math.copysign(1, v)) for v in result.value.tolist()] == [(0.0, -1), (-12000.0, -1), (-12000.0, -1)]


def test_bce_gradient_at_p_one_with_a_label_above_one_is_minus_infinity():
    # d/dp = (p - y) / (p (1 - p)) -> (1 - y) / (1 - p) as p -> 1-: -0.5 / 0+ = -inf for y = 1.5;
    # +inf for y = 0.5 (unchanged).
    result = evaluate(
        "binary_crossentropy", {"reduction": "none"}, {"y_true": [1.5, 0.5], "y_pred": [1.0, 1.0]}, "float32"
    )
    assert result.grad.tolist() == [-math.inf, math.inf]


def test_mean_over_soft_labels_divides_by_the_rows_not_the_label_mass():
    # Logits [[0, 1, 2], [1, 0, 2]] share L = logsumexp = log(1 + e + e**2) = 2.4076059644...
    # Row 0, labels (1/4, 1/4, 1/2): L - (0/4 + 1/4 + 2/2) = L - 5/4.
    # Row 1, labels (1/2, 0, 0):     (L - 1) / 2.
    # Sum 3L/2 - 7/4; over 2 rows (torch probability targets, tf reduce_mean, optax, Keras):
    # 3L/4 - 7/8 = 0.93070447...; over the label mass 3/2 it would be L - 7/6 = 1.2409.
    with mpmath.workdps(50):
        big_l = mpmath.log(1 + mpmath.e + mpmath.e**2)
        expected = float(big_l * 3 / 4 - mpmath.mpf(7) / 8)
    assert abs(expected - 0.93070447) < 1e-8
    result = evaluate(
        "categorical_crossentropy",
        {"from_logits": True},
        {"y_true": [[0.25, 0.25, 0.5], [0.5, 0, 0]], "y_pred": [[0, 1, 2], [1, 0, 2]]},
        "float64",
    )
    assert result.value.tolist() == expected


def test_exact_decimal_shows_only_the_digits_a_cancellation_leaves_proven():
    # BCE from logits at x = 0.5 with y = float32(sigmoid(0.5)): the gradient sigmoid(0.5) - y
    # cancels 24 of the 64 working bits, so about 12 digits are proven, not the 18 the
    # working precision alone would suggest (the old string was wrong from the 12th digit:
    # -2.08145944099818146e-8 against the true -2.0814594409970474...e-8).
    y = float(np.float32(1 / (1 + math.exp(-0.5))))
    result = evaluate(
        "binary_crossentropy", {"from_logits": True, "reduction": "none"}, {"y_true": [y], "y_pred": [0.5]}, "float32"
    )
    text = result.grad_exact[0]
    digits = len(Decimal(text).normalize().as_tuple().digits)
    assert digits >= 9  # enough to place the float32 result
    with mpmath.workdps(60):
        true = mpmath.nstr(1 / (1 + mpmath.exp(mpmath.mpf(-0.5))) - mpmath.mpf(y), digits, strip_zeros=False)
    assert Decimal(text) == Decimal(true)
