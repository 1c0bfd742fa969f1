"""Every figure in the seeds comes out of the oracle.

Expected values come from the seeds themselves or from closed forms evaluated with
Python's math module (correctly rounded to within an ulp in float64), never from the
oracle.
"""

import math

import numpy as np
import pytest

from oracle import evaluate, variant

SEED000 = {"y_true": [[0, 1], [1, 0]], "y_pred": [[0, 1], [0, 1]]}
SEED003_LABELS = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
SEED003_LOGITS = [[1, -810, 20], [11, 12, 14], [12, 21, 23]]
# TensorFlow's output as printed in seed 003 (9 significant digits, float64).
SEED003_TENSORFLOW = [
    [3.13261688e-01, 0.0, 2.00000000e01],
    [1.10000167e01, 6.14419348e-06, 1.40000008e01],
    [1.20000061e01, 2.10000000e01, 1.02618796e-10],
]


def ulps_apart(a: float, b: float) -> float:
    return abs(a - b) / math.ulp(max(abs(a), abs(b)))


def test_seed000_keras_clip_gives_8_059_in_float64():
    result = evaluate(
        "categorical_crossentropy", {"reduction": "mean"}, SEED000, "float64", variant("keras_categorical")
    )
    # The seed's answer: np.clip(pred, 1e-7, 1 - 1e-7) then the analytic formula.
    assert result.value == 8.059047875479163


def test_seed000_keras_clip_in_float32_is_the_value_tensorflow_printed():
    result = evaluate(
        "categorical_crossentropy", {"reduction": "mean"}, SEED000, "float32", variant("keras_categorical")
    )
    # The seed's TF session printed 8.05904769897461: the float32 nearest to
    # (-log(fl32(1e-7)) - log(1 - 2**-23)) / 2 = 8.0590478792...
    assert float(result.value) == 8.05904769897461
    assert float(np.float32((-math.log(float(np.float32(1e-7))) - math.log(1 - 2**-23)) / 2)) == 8.05904769897461


def test_seed000_without_clipping_is_infinite():
    result = evaluate("categorical_crossentropy", {"reduction": "mean"}, SEED000, "float32")
    assert result.value == math.inf
    # d/dp of -y log p is -y/p: -1/0 for the hard wrong prediction, -1/(1 * 2 samples) for the right one.
    assert result.grad.tolist() == [[0.0, -0.5], [-math.inf, 0.0]]


def test_hard_wrong_probability_is_infinite_for_binary_crossentropy_too():
    result = evaluate("binary_crossentropy", {"reduction": "none"}, {"y_true": [1, 0], "y_pred": [0, 1]}, "float32")
    assert result.value.tolist() == [math.inf, math.inf]


def test_seed003_matrix_matches_tensorflow_to_the_printed_digits():
    result = evaluate(
        "binary_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": SEED003_LABELS, "y_pred": SEED003_LOGITS},
        "float64",
    )
    np.testing.assert_allclose(result.value, SEED003_TENSORFLOW, rtol=5e-9, atol=0)


def test_seed003_matrix_matches_the_stable_closed_form_to_an_ulp():
    result = evaluate(
        "binary_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": SEED003_LABELS, "y_pred": SEED003_LOGITS},
        "float64",
    )
    for row_z, row_x, row_v in zip(SEED003_LABELS, SEED003_LOGITS, result.value.tolist()):
        for z, x, v in zip(row_z, row_x, row_v):
            closed = max(x, 0) - x * z + math.log1p(math.exp(-abs(x)))
            assert ulps_apart(v, closed) <= 1, (x, z)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("float64", math.log(2)),  # 0x1.62e42fefa39efp-1
        # ln 2 = 0.693147180559945...; float32 grid 2**-24 in [0.5, 1): 11629079.6 -> 11629080.
        ("float32", 11629080 * 2.0**-24),
        # float16 grid 2**-11: 0.6931471805 * 2048 = 1419.565 -> 1420.
        ("float16", 1420 / 2048),
        # bfloat16 grid 2**-8: 0.6931471805 * 256 = 177.446 -> 177.
        ("bfloat16", 177 / 256),
    ],
)
def test_log2_at_logit_zero(dtype, expected):
    result = evaluate(
        "binary_crossentropy", {"from_logits": True, "reduction": "none"}, {"y_true": [0, 1], "y_pred": [0, 0]}, dtype
    )
    assert result.value.tolist() == [expected, expected]
    assert result.grad.tolist() == [0.5, -0.5]  # sigmoid(0) - z


@pytest.mark.parametrize(("x", "z"), [(2.0, 1.0), (-3.5, 0.0), (20.0, 1.0), (-30.0, 1.0), (0.75, 0.25)])
def test_logit_gradient_is_sigmoid_minus_label(x, z):
    result = evaluate(
        "binary_crossentropy", {"from_logits": True, "reduction": "sum"}, {"y_true": [z], "y_pred": [x]}, "float64"
    )
    # 1 - sigmoid(x) = sigmoid(-x) avoids the cancellation the oracle also avoids.
    closed = -1 / (1 + math.exp(x)) if z == 1 else 1 / (1 + math.exp(-x)) - z
    assert ulps_apart(float(result.grad[0]), closed) <= 1


def test_subnormal_result_rounds_on_the_subnormal_grid():
    # softplus(-100) = log1p(e**-100) = e**-100 (1 - 5e-45) = 3.7200759760e-44, which is
    # 26.547 times float32's smallest subnormal 2**-149: the answer is 27 * 2**-149.
    assert math.exp(-100) / 2.0**-149 == pytest.approx(26.547, abs=1e-3)
    result = evaluate("softplus", {}, {"x": [-100]}, "float32")
    assert float(result.value[0]) == 27 * 2.0**-149


def test_torch_log_floor_caps_a_hard_wrong_prediction_at_100():
    result = evaluate(
        "binary_crossentropy",
        {"reduction": "none"},
        {"y_true": [1], "y_pred": [0]},
        "float32",
        variant("torch_log_floor"),
    )
    assert result.value.tolist() == [100.0]


def test_keras_clip_caps_differ_on_the_two_sides_in_float32():
    result = evaluate(
        "binary_crossentropy",
        {"reduction": "none"},
        {"y_true": [1, 0], "y_pred": [0, 1]},
        "float32",
        variant("keras_clip"),
    )
    # -log(fl32(1e-7)) = 16.1180953 and -log(1 - (1 - 2**-23)) = 23 ln 2 = 15.9423851.
    lower_cap = float(np.float32(-math.log(float(np.float32(1e-7)))))
    upper_cap = float(np.float32(23 * math.log(2)))
    assert result.value.tolist() == [lower_cap, upper_cap]
    assert round(lower_cap, 3) == 16.118 and round(upper_cap, 2) == 15.94
    assert result.grad.tolist() == [0.0, 0.0]  # the clip is active: no gradient flows


def test_keras_clip_cannot_save_float16_where_1_minus_1e7_is_1():
    result = evaluate(
        "binary_crossentropy", {"reduction": "none"}, {"y_true": [0], "y_pred": [1]}, "float16", variant("keras_clip")
    )
    assert result.value.tolist() == [math.inf]


def test_seed001_floor_is_where_keras_clip_meets_log1p_exp():
    # Keras on probabilities: sigmoid(17) as float32 is 1 - 2**-24 > 1 - 2**-23, so it is clipped
    # and the loss is -log(1 - 2**-23) = 1.1920929e-7: the ~1e-7 floor of the seed's figure.
    p = float(np.float32(1 / (1 + math.exp(-17))))
    result = evaluate(
        "binary_crossentropy", {"reduction": "none"}, {"y_true": [1], "y_pred": [p]}, "float32", variant("keras_clip")
    )
    assert float(result.value[0]) == float(np.float32(-math.log1p(-(2**-23))))
    # The exact loss on logits keeps falling: log(1 + e**-17) = 4.14e-8.
    exact = evaluate(
        "binary_crossentropy", {"from_logits": True, "reduction": "none"}, {"y_true": [1], "y_pred": [17]}, "float32"
    )
    assert float(exact.value[0]) == float(np.float32(math.log1p(math.exp(-17))))


def test_torch_gradient_floor_is_zero_in_float16_and_divides_by_zero():
    # 1e-12 rounds to 0 in float16 (its smallest subnormal is 6e-8), so torch's backward
    # (p - y) / max(p (1 - p), 1e-12) is (0 - 1) / 0 = -inf at p = 0, y = 1, and 0/0 = NaN at y = 0.
    result = evaluate(
        "binary_crossentropy",
        {"reduction": "none"},
        {"y_true": [1, 0], "y_pred": [0, 0]},
        "float16",
        variant("torch_log_floor"),
    )
    assert result.grad[0] == -math.inf and math.isnan(result.grad[1])
