"""Reductions, weights, ignore_index, label smoothing and the softmax family.

Expected values are closed forms in float64 (math module), compared within a few ulps.
"""

import math

import numpy as np
import pytest

from oracle import InvalidInput, evaluate, variant


def close(actual, expected, ulps=4):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    spacing = np.spacing(np.maximum(np.abs(actual), np.abs(expected)))
    assert np.all(np.abs(actual - expected) <= ulps * spacing), (actual, expected)


def lse(row):
    top = max(row)
    return top + math.log(sum(math.exp(v - top) for v in row))


ROWS = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]
WEIGHTS = [1.0, 2.0, 3.0]


def sparse(params, labels=(0, 2, -100), dtype="float64", semantics=None):
    base = {"from_logits": True, "ignore_index": -100, "class_weight": WEIGHTS}
    args = ("sparse_categorical_crossentropy", {**base, **params}, {"y_true": list(labels), "y_pred": ROWS}, dtype)
    return evaluate(*args, semantics) if semantics else evaluate(*args)


def test_weighted_mean_divides_by_the_weights_that_apply_and_drops_ignored_rows():
    loss0, loss1 = 1 * (lse(ROWS[0]) - 1.0), 3 * math.log(3)  # w_target (lse - x_target)
    close(sparse({"reduction": "mean"}).value, (loss0 + loss1) / (1 + 3))
    close(sparse({"reduction": "sum"}).value, loss0 + loss1)
    close(sparse({"reduction": "none"}).value, [loss0, loss1, 0.0])


def test_mean_over_count_divides_by_the_rows_that_count():
    loss0, loss1 = 1 * (lse(ROWS[0]) - 1.0), 3 * math.log(3)
    close(sparse({"reduction": "mean"}, semantics=variant("mean_over_count")).value, (loss0 + loss1) / 2)


def test_label_smoothing_spreads_ls_over_k_classes_with_class_weights():
    ls = 0.5  # exact in every format, so the expectation needs no rounding of ls

    def row_loss(row, target):
        smoothed = [(1 - ls) * (k == target) + ls / 3 for k in range(3)]
        return sum(w * y * (lse(row) - x) for w, y, x in zip(WEIGHTS, smoothed, row))

    expected = (row_loss(ROWS[0], 0) + row_loss(ROWS[1], 2)) / (WEIGHTS[0] + WEIGHTS[2])
    close(sparse({"reduction": "mean", "label_smoothing": 0.5}).value, expected)


def test_gradient_of_the_weighted_mean():
    # d/dx_j of w_t (lse - x_t) / D is w_t (softmax_j - [j = t]) / D.
    result = sparse({"reduction": "mean"})
    soft0 = [math.exp(v - lse(ROWS[0])) for v in ROWS[0]]
    expected = [
        [1 * (s - (j == 0)) / 4 for j, s in enumerate(soft0)],
        [3 * (1 / 3 - (j == 2)) / 4 for j in range(3)],
        [0.0, 0.0, 0.0],
    ]
    close(result.grad, expected)


def test_a_batch_where_every_label_is_ignored_has_a_nan_mean():
    assert math.isnan(float(sparse({"reduction": "mean"}, labels=(-100, -100, -100)).value))


def test_labels_out_of_range_have_no_valid_answer():
    with pytest.raises(InvalidInput, match="label 3 is outside"):
        sparse({"reduction": "mean"}, labels=(3, 0, 0))


def test_binary_sample_weights_weight_the_sum_and_the_mean_divides_by_the_count():
    # The frameworks' mean (Keras sum_over_batch_size, torch BCELoss(weight)): sum(w L) / N.
    y, p, w = [1.0, 0.0], [0.25, 0.5], [3.0, 1.0]
    losses = [-math.log(0.25), -math.log(0.5)]
    result = evaluate(
        "binary_crossentropy", {"reduction": "mean", "sample_weight": w}, {"y_true": y, "y_pred": p}, "float64"
    )
    close(result.value, (3 * losses[0] + 1 * losses[1]) / 2)
    # d/dp = (p - y) / (p (1 - p)), times w / N.
    close(result.grad, [3 / 2 * (0.25 - 1) / (0.25 * 0.75), 1 / 2 * 0.5 / 0.25])


def test_keras_renormalisation_gradient_by_hand():
    # loss = -log(p1 / (p0 + p1)) = log(p0 + p1) - log p1; d/dp0 = 1/0.8, d/dp1 = 1/0.8 - 1/0.6.
    result = evaluate(
        "categorical_crossentropy",
        {"reduction": "sum"},
        {"y_true": [0, 1], "y_pred": [0.25, 0.5]},
        "float64",
        variant("keras_categorical"),
    )
    close(result.value, math.log(0.75) - math.log(0.5))
    close(result.grad, [1 / 0.75, 1 / 0.75 - 1 / 0.5])


def test_softmax_and_its_gradient_with_a_cotangent():
    x, c = [0.5, -1.0, 2.0], [1.0, 2.0, 3.0]
    s = [math.exp(v - lse(x)) for v in x]
    weighted = sum(ci * si for ci, si in zip(c, s))
    result = evaluate("softmax", {}, {"x": x, "cotangent": c}, "float64")
    close(result.value, s)
    close(result.grad, [si * (ci - weighted) for si, ci in zip(s, c)])
    # With the default cotangent (ones), the gradient of sum(softmax) = 1 is exactly 0.
    assert evaluate("softmax", {}, {"x": x}, "float64").grad.tolist() == [0.0, 0.0, 0.0]


def test_log_softmax_gradient_of_the_sum_is_one_minus_k_softmax():
    x = [0.5, -1.0, 2.0]
    result = evaluate("log_softmax", {}, {"x": x}, "float64")
    close(result.value, [v - lse(x) for v in x])
    close(result.grad, [1 - 3 * math.exp(v - lse(x)) for v in x])
    # Equal logits: softmax is exactly 1/3 and the gradient exactly 0.
    assert evaluate("log_softmax", {}, {"x": [7, 7, 7]}, "float64").grad.tolist() == [0.0, 0.0, 0.0]


def test_axis_selects_the_class_axis():
    x = [[0.0, 1.0], [2.0, 4.0]]
    result = evaluate("logsumexp", {"axis": 0}, {"x": x}, "float64")
    close(result.value, [lse([0.0, 2.0]), lse([1.0, 4.0])])


@pytest.mark.parametrize(
    ("x", "value"),
    [
        ([0.0, -math.inf], 0.0),  # a -inf entry has no mass
        ([math.inf, 1.0], math.inf),
        ([math.inf, math.inf], math.inf),
        ([-math.inf, -math.inf], -math.inf),  # log of an empty sum
    ],
)
def test_logsumexp_limits(x, value):
    assert evaluate("logsumexp", {}, {"x": x}, "float32").value.tolist() == value


def test_softmax_without_a_limit_is_nan():
    for x in ([-math.inf, -math.inf], [math.inf, math.inf], [math.nan, 0.0]):
        assert all(math.isnan(v) for v in evaluate("softmax", {}, {"x": x}, "float32").value.tolist())


def test_crossentropy_with_a_minus_inf_logit():
    # On a non-target class it is just a class with no mass: loss = lse([0, 1]) - 1 ... of the
    # two finite classes; on the target class the loss is infinite.
    result = evaluate(
        "categorical_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": [[0, 1, 0], [1, 0, 0]], "y_pred": [[0, 1, -math.inf], [-math.inf, 1, 0]]},
        "float64",
    )
    close(result.value[0], lse([0.0, 1.0]) - 1.0)
    assert result.value[1] == math.inf


def test_logit_limits_of_binary_crossentropy():
    result = evaluate(
        "binary_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": [1, 0, 0, 1], "y_pred": [math.inf, math.inf, -math.inf, -math.inf]},
        "float32",
    )
    assert result.value.tolist() == [0.0, math.inf, 0.0, math.inf]
    assert result.grad.tolist() == [0.0, 1.0, 0.0, -1.0]  # sigmoid(x) - z at the limits


def test_torch_softplus_threshold_returns_x_itself():
    # Ideal: 25 + log1p(e**-25) = 25 + 1.3888e-11, which float64 can tell from 25.
    ideal = float(evaluate("softplus", {}, {"x": [25]}, "float64").value[0])
    close(ideal, 25 + math.log1p(math.exp(-25)))
    assert ideal != 25.0
    assert evaluate("softplus", {}, {"x": [25]}, "float64", variant("torch_softplus_threshold")).value.tolist() == [
        25.0
    ]


def test_inputs_are_rounded_to_the_dtype_before_evaluation():
    # 0.1 as a double rounded into float16 is 1638/16384; the oracle must see that value:
    # sigmoid(1638/16384) in float64 arithmetic, then rounded to float16.
    rounded = 1638 / 16384
    result = evaluate("sigmoid", {}, {"x": [0.1]}, "float16")
    assert float(result.value[0]) == float(np.float16(1 / (1 + math.exp(-rounded))))


def test_rounding_inputs_never_goes_through_a_double_rounding_cast():
    from oracle import round_inputs
    from oracle.formats import FORMATS

    # ml_dtypes casts 1 + 2**-8 + 2**-40 to bfloat16 through float32: 1.0. The oracle's own
    # rounding gives 1 + 2**-7 (the value is above the midpoint 1 + 2**-8).
    _, rounded = round_inputs("softplus", {}, {"x": [1 + 2**-8 + 2**-40, 0.5]}, FORMATS["bfloat16"])
    assert rounded["x"].tolist() == [1 + 2**-7, 0.5]
