"""The ideals of the issue-16 families, pinned at points derived independently of the oracle.

Expected values are the issue threads' own figures, closed forms computed with the math module
(compared within a few float64 ulps, tight enough to catch a misrounding of a float32 result), or
exact rationals derived by hand in the comments.
"""

import math

import mpmath
import numpy as np
import pytest

from oracle import evaluate, variant
from oracle.semantics import Semantics


def close(actual, expected, ulps=4):
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape
    spacing = np.spacing(np.maximum(np.abs(actual), np.abs(expected)))
    assert np.all(np.abs(actual - expected) <= ulps * spacing), (actual, expected)


def f32(value):
    return float(np.float32(value))


# -- Poisson -----------------------------------------------------------------------------------


def poisson(params, y, rate, dtype="float64", semantics=None):
    args = ("poisson_nll", {"reduction": "none", **params}, {"y_true": y, "y_pred": rate}, dtype)
    return evaluate(*args, semantics) if semantics else evaluate(*args)


def test_poisson_issue_28575_figures():
    # pytorch/pytorch#28575, input 3, target 5, log_input=False, full=True, eps=0:
    # exact 3 - 5 log 3 + log 5! = 2.2944302994414967; Stirling 2.2777856082516754; torch 1.3 returned
    # -2.4930615425109863, the loss without the full term (3 - 5 log 3).
    close(poisson({"full": True}, [5], [3]).value, [2.2944302994414967])
    assert poisson({"full": True}, [5], [3], "float32").value.tolist() == [f32(2.2944302994414967)]
    stirling = variant("torch_poisson_stirling")
    close(poisson({"full": True}, [5], [3], semantics=stirling).value, [2.2777856082516754])
    assert poisson({}, [5], [3], "float32").value.tolist() == [f32(-2.4930615425109863)]
    close(poisson({}, [5], [3]).value, [3 - 5 * math.log(3)])


def test_poisson_full_term_is_log_gamma_and_stirling_is_masked_at_one():
    # log Gamma(1.5) = log(sqrt(pi) / 2); log 1! = 0; log 100! by the math module's lgamma.
    rates = [1.0, 1.0, 1.0, 1.0]
    targets = [0.5, 1.0, 100.0, 1.0 + 2.0**-52]
    value = poisson({"full": True}, targets, rates).value
    expected_constants = [0.5 * math.log(math.pi) - math.log(2), 0.0, math.lgamma(101)]
    for got, y, constant in zip(value[:3], targets, expected_constants):
        close(got, 1 - y * 0.0 + constant, ulps=8)  # log 1 = 0: the loss is 1 + log Gamma(1 + y)
    # Stirling's term jumps from 0 to -1 + log(2 pi) / 2 = -0.0811 just above y = 1 (torch, TF).
    torch_like = poisson({"full": True}, targets, rates, semantics=variant("torch_poisson_stirling")).value
    assert torch_like[0] == 1.0 and torch_like[1] == 1.0
    close(torch_like[3], 1.0 - 1.0 + 0.5 * math.log(2 * math.pi), ulps=64)


def test_poisson_zero_rates_and_log_rate_limits():
    # 0 log 0 = 0: rate 0 with target 0 costs 0 (gradient 1), with target 2 +inf (gradient -inf).
    result = poisson({}, [0, 2], [0, 0])
    assert result.value.tolist() == [0.0, math.inf] and result.grad.tolist() == [1.0, -math.inf]
    logs = poisson({"log_input": True}, [0, 2], [-math.inf, -math.inf])
    assert logs.value.tolist() == [0.0, math.inf] and logs.grad.tolist() == [0.0, -2.0]
    # exp(709.8) exceeds float64's range: the loss rounds to +inf; exp(-709.8) + 709.8 rounds to 709.8.
    high = poisson({"log_input": True}, [1, 1], [709.8, -709.8])
    assert high.value.tolist() == [math.inf, 709.8]
    # torch's eps: 1e-8 is 0 in float16, so the zero rate keeps its +inf there.
    eps = variant("torch_poisson_eps")
    close(poisson({}, [2], [0], semantics=eps).value, [-2 * math.log(1e-8)])
    assert poisson({}, [2], [0], "float16", eps).value.tolist() == [math.inf]


# -- Gaussian NLL -------------------------------------------------------------------------------


def gaussian(op, params, var, mean=(0, 0), target=(0, 0), semantics=None):
    args = (op, {"reduction": "none", **params}, {"y_true": list(target), "y_pred": list(mean), "var": var}, "float64")
    return evaluate(*args, semantics) if semantics else evaluate(*args)


def test_gaussian_nll_pr_190058_figures():
    # pytorch/pytorch PR #190058, input = target = 0, eps = 1: 0.5 log(max(4, 1)) = 0.693147 and
    # 0.5 log(max(0.25, 1)) = 0; had eps been added, 0.5 log(5) = 0.804719 and 0.5 log(1.25) = 0.111572.
    clamped = gaussian("gaussian_nll", {"eps": 1}, [4, 0.25])
    close(clamped.value, [math.log(2), 0.0])
    close(round(float(clamped.value[0]), 6), 0.693147)
    added = gaussian("gaussian_nll", {}, [5, 1.25])
    close(added.value, [0.5 * math.log(5), 0.5 * math.log(1.25)])
    assert round(float(added.value[0]), 6) == 0.804719 and round(float(added.value[1]), 6) == 0.111572
    # The variance's gradient (v - d^2) / (2 v^2): 1/8 at v = 4; 0 where the floor holds v at 1, but
    # torch's documented clamp is ignored by autograd: 1/2 there.
    var_grad = gaussian("gaussian_nll_var", {"eps": 1}, [4, 0.25])
    assert var_grad.grad.tolist() == [0.125, 0.0]
    torch_like = gaussian("gaussian_nll_var", {"eps": 1}, [4, 0.25], semantics=variant("torch_gaussian_nll_clamp"))
    assert torch_like.grad.tolist() == [0.125, 0.5]


def test_gaussian_nll_full_term_and_mean_gradient():
    # full adds log(2 pi) / 2 = 0.9189385332046727; d = 0.5, v = 0.25: 0.5 (log 0.25 + 1) and d / v = 2.
    result = gaussian("gaussian_nll", {"full": True}, [0.25], mean=(0.5,), target=(0,))
    close(result.value, [0.5 * (math.log(0.25) + 1) + 0.5 * math.log(2 * math.pi)])
    assert result.grad.tolist() == [2.0]
    # Variances whose logs cancel exactly sum to exactly 0: (log 4 + log 0.25) / 2.
    assert (
        evaluate(
            "gaussian_nll", {"reduction": "sum"}, {"y_true": [0, 0], "y_pred": [0, 0], "var": [4, 0.25]}, "float32"
        ).value.tolist()
        == 0.0
    )


# -- KL divergence -------------------------------------------------------------------------------


def kl(params, p, q, dtype="float64", semantics=None):
    args = ("kl_divergence", {"reduction": "none", **params}, {"y_true": p, "y_pred": q}, dtype)
    return evaluate(*args, semantics) if semantics else evaluate(*args)


def test_kl_closed_forms_and_gradients():
    # 0.25 log(0.25 / 0.5) + 0.75 log(0.75 / 0.5); gradient -p / q = [-0.5, -1.5].
    result = kl({}, [[0.25, 0.75]], [[0.5, 0.5]])
    close(result.value, [0.25 * math.log(0.5) + 0.75 * math.log(1.5)])
    assert result.grad.tolist() == [[-0.5, -1.5]]
    # In log space the gradient is -p; a zero target contributes nothing even against log q = -inf
    # (pytorch/pytorch#89558, google-deepmind/optax PR #1786).
    zero = kl({"log_input": True}, [[0, 1, 0]], [[-math.inf, 0, -math.inf]])
    assert zero.value.tolist() == [0.0] and zero.grad.tolist() == [[0.0, -1.0, 0.0]]
    log_target = kl({"log_input": True, "log_target": True}, [[-math.inf, 0]], [[-1.5, -0.5]])
    assert log_target.value.tolist() == [0.5] and log_target.grad.tolist() == [[0.0, -1.0]]


def test_kl_reductions_and_torch_documented_means():
    p, q = [0.125, 0.375, 0.5], [math.log(1 / 3)] * 3
    one = sum(w * (math.log(w) - math.log(1 / 3)) for w in p)
    close(kl({"log_input": True, "reduction": "mean"}, p, q).value, one)
    # torch's 'batchmean' divides by input.size(0) = 3 here, its 'mean' by the 3 elements.
    close(kl({"log_input": True, "reduction": "mean"}, p, q, semantics=variant("torch_batchmean")).value, one / 3)
    close(kl({"log_input": True, "reduction": "mean"}, p, q, semantics=variant("torch_kl_mean")).value, one / 3)


def test_kl_generalized_and_exact_zeros():
    # sum p log p - p lq - p + e^lq over p = [0.5, 1.5], lq = [-1, 0.25]: the terms cancel to 0.0385,
    # so the reference is summed with mpmath at 40 digits.
    with mpmath.workdps(40):
        terms = [w * mpmath.log(w) - w * lq - w + mpmath.exp(lq) for w, lq in zip([0.5, 1.5], [-1, 0.25])]
        expected = float(mpmath.fsum(terms))
    close(kl({"log_input": True, "generalized": True}, [[0.5, 1.5]], [[-1, 0.25]]).value, [expected], ulps=1)
    # 0.5 log 2 + 0.5 log(1/2) = 0 exactly: decided, not undecided.
    assert kl({}, [[0.5, 0.5]], [[0.25, 1.0]], "float32").value.tolist() == [0.0]
    assert kl({}, [[0.5, 0.5]], [[0.25, 0.75]], "float32").value.tolist() != [0.0]


def test_keras_kl_clip_counts_zero_targets_at_1e_7():
    # Keras clips p and q to [1e-7, 1]: a zero target costs eps log(eps / q) with eps = 1e-7 in float64.
    eps = 1e-7
    clipped = kl({}, [[0.0, 1.0]], [[0.25, 0.75]], semantics=variant("keras_kl_clip"))
    close(clipped.value, [eps * math.log(eps / 0.25) + math.log(1 / 0.75)])


# -- Huber / smooth L1 ---------------------------------------------------------------------------


def huber(params, y, p, dtype="float64", semantics=None):
    args = ("huber", {"reduction": "none", **params}, {"y_true": y, "y_pred": p}, dtype)
    return evaluate(*args, semantics) if semantics else evaluate(*args)


def test_huber_at_delta_and_beyond():
    # At |d| = delta both branches give delta^2 / 2 and the gradient is delta sign(d).
    result = huber({"delta": 0.5}, [0, 0, 0], [0.5, -0.5, 3])
    assert result.value.tolist() == [0.125, 0.125, 0.5 * (3 - 0.25)]
    assert result.grad.tolist() == [0.5, -0.5, 0.5]
    # float16: delta 0.001 is 0.0010004043579101562; |d| = 2 x 65504 overflows the dtype, the loss
    # delta (131008 - delta / 2) = 131.06 rounds to 131.0.
    big = huber({"delta": 0.001}, [-65504], [65504], "float16")
    assert big.value.tolist() == [131.0] and big.grad.tolist() == [0.0010004043579101562]


def test_smooth_l1_is_huber_over_beta():
    # beta = 2, d = 3: |d| - beta / 2 = 2 (Huber: 2 (3 - 1) = 4); inside, d = 1: d^2 / (2 beta) = 0.25.
    smooth = huber({"delta": 2}, [0, 0], [3, 1], semantics=variant("torch_smooth_l1"))
    assert smooth.value.tolist() == [2.0, 0.25] and smooth.grad.tolist() == [1.0, 0.5]
    assert huber({"delta": 2}, [0, 0], [3, 1]).value.tolist() == [4.0, 0.5]


# -- NLL, pos_weight ------------------------------------------------------------------------------


def test_nll_weights_ignore_index_and_empty_mean():
    # Samples 0 and 2 count (weights 2 and 0.5): (2 x 0.5 + 0.5 x 7) / 2.5 = 1.8.
    params = {"reduction": "mean", "class_weight": [2, 0.5, 3], "ignore_index": -100}
    x = [[-0.5, -1.25, -2], [-3, -0.125, -0.75], [-1e-3, -7, -20]]
    result = evaluate("nll", params, {"y_true": [0, -100, 1], "y_pred": x}, "float64")
    close(result.value, 1.8)
    assert result.grad.tolist() == [[-0.8, 0, 0], [0, 0, 0], [0, -0.2, 0]]
    empty = evaluate("nll", {"reduction": "mean", "ignore_index": 1}, {"y_true": [1], "y_pred": [[-1, -2]]}, "float64")
    assert math.isnan(float(empty.value))
    weightless = evaluate(
        "nll",
        {"reduction": "sum", "class_weight": [1, 0]},
        {"y_true": [0, 1], "y_pred": [[-0.5, -math.inf]] * 2},
        "float64",
    )
    assert weightless.value.tolist() == 0.5


def test_pos_weight_issue_13773():
    # pytorch/pytorch#13773: logits [0, -120], targets [0, 1], pos_weight 1: (log 2 + 120) / 2, and the
    # gradient [sigmoid(0) / 2, -sigmoid(120) / 2] = [0.25, -0.5] in float32.
    inputs = {"y_true": [0, 1], "y_pred": [0, -120]}
    result = evaluate("bce_pos_weight", {"reduction": "mean", "pos_weight": [1, 1]}, inputs, "float32")
    assert result.value.tolist() == f32((math.log(2) + 120) / 2)
    assert result.grad.tolist() == [0.25, -0.5]
    # pos_weight 3 on a positive label: 3 softplus(-x); at x = 0, 3 log 2.
    close(
        evaluate(
            "bce_pos_weight", {"pos_weight": 3.0, "reduction": "none"}, {"y_true": [1], "y_pred": [0]}, "float64"
        ).value,
        [3 * math.log(2)],
    )


# -- focal ----------------------------------------------------------------------------------------


def focal(params, y, x, dtype="float64", op="binary_focal_crossentropy"):
    return evaluate(op, {"reduction": "none", **params}, {"y_true": y, "y_pred": x}, dtype)


def test_focal_issue_figures():
    # optax#1267: logit 1000, label 1, gamma 0: the loss e^-1000 and its gradient -e^-1000 are 0 and -0.
    result = focal({"from_logits": True, "gamma": 0}, [1], [1000])
    assert result.value.tolist() == [0.0] and result.grad.tolist() == [-0.0]
    # kornia#918: logits [-100, -100, 100, 100], labels [0, 1, 0, 1], gamma 0.5: finite gradients
    # [~e^-150, -1, 1, ~-e^-150], and losses [~e^-150, 100, 100, ~e^-150].
    kornia = focal({"from_logits": True, "gamma": 0.5}, [0, 1, 0, 1], [-100, -100, 100, 100])
    assert kornia.grad.tolist()[1:3] == [-1.0, 1.0] and kornia.value.tolist()[1:3] == [100.0, 100.0]
    assert 0 < kornia.grad[0] < 1e-60 and -1e-60 < kornia.grad[3] < 0


def test_focal_closed_forms():
    # x = 0, y = 1, gamma 2: (1/2)^2 log 2; gradient -(1/4)(log 2 + 1/2) (d/dx of sigmoid(-x)^2 softplus(-x)).
    result = focal({"from_logits": True}, [1], [0])
    close(result.value, [0.25 * math.log(2)])
    close(result.grad, [-0.25 * (math.log(2) + 0.5)])
    # Keras' documented example: y [[0, 1], [0, 0]], p [[0.6, 0.4], [0.4, 0.6]], gamma 2: per-row means
    # 0.330 and 0.206 (p^2 (-log(1 - p)) for y = 0, (1 - p)^2 (-log p) for y = 1).
    rows = focal({"from_logits": False}, [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
    means = rows.value.mean(axis=-1)
    close(means, [0.36 * -math.log(0.4), (0.16 * -math.log(0.6) + 0.36 * -math.log(0.4)) / 2], ulps=8)
    assert [round(float(m), 3) for m in means] == [0.330, 0.206]
    # Class balancing: alpha 0.25 weighs the positive label by 0.25.
    close(focal({"from_logits": False, "alpha": 0.25}, [1], [0.4]).value, [0.25 * 0.36 * -math.log(0.4)])


def test_categorical_focal_keras_docstring_figures():
    # Keras' docstring: alpha 0.25, gamma 2 give [2.634e-04, 6.759e-01]:
    # 0.25 (0.1)^2 (-log 0.9) and 0.25 (0.95)^2 (-log 0.05).
    y = [[0, 1, 0], [0, 0, 1]]
    p = [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]]
    result = focal({"from_logits": False, "alpha": 0.25}, y, p, op="categorical_focal_crossentropy")
    close(result.value, [0.25 * 0.01 * -math.log(0.9), 0.25 * 0.9025 * -math.log(0.05)], ulps=8)
    # Uniform logits and uniform labels: the gradient is exactly 0.
    uniform = focal({"from_logits": True}, [[1 / 3] * 3], [[0, 0, 0]], "float32", op="categorical_focal_crossentropy")
    assert uniform.grad.tolist() == [[0.0, 0.0, 0.0]]


def test_keras_focal_clip_keeps_the_focal_factor_unclipped():
    # A hard wrong p = 0, y = 1: the focal factor (1 - 0)^2 = 1, the cross-entropy -log(1e-7) (clipped).
    clipped = evaluate(
        "binary_focal_crossentropy",
        {"reduction": "none"},
        {"y_true": [1], "y_pred": [0]},
        "float64",
        variant("keras_focal_clip"),
    )
    close(clipped.value, [-math.log(1e-7)])
    assert clipped.grad.tolist() == [-2 * -math.log(1e-7)]  # only the focal factor's slope, -2 u bce


@pytest.mark.parametrize("setting", [{"variance_floor": 1e-6, "floor_keeps_gradient": True}])
def test_variant_settings_read_by_the_gaussian_module(setting):
    semantics = Semantics("custom", tuple(sorted(setting.items())))
    result = gaussian("gaussian_nll", {}, [1e-8], mean=(0.001,), target=(0,), semantics=semantics)
    # Clamped to 1e-6: 0.5 (log 1e-6 + 1e-6 / 1e-6).
    close(result.value, [0.5 * (math.log(1e-6) + (0.001**2) / 1e-6)], ulps=8)


# -- the gate takes the new ops from their definitions -----------------------------------------


def test_the_gate_judges_hand_written_torch_huber_losses():
    import torch

    from conformance import check_loss

    def naive_huber(y_true, y_pred):
        d = y_pred - y_true
        return torch.where(d.abs() <= 1.0, 0.5 * d * d, d.abs() - 0.5).mean()

    def clamped_huber(y_true, y_pred):  # optax's arrangement: no branch differentiates through inf
        a = (y_pred - y_true).abs()
        q = torch.clamp(a, max=1.0)
        return (0.5 * q * q + (a - q)).mean()

    naive = check_loss(naive_huber, op="huber", framework="torch", delta=1.0, reduction="mean")
    # The corpus's Huber inputs, each under the user's params (delta 1, a plain mean): a case that
    # holds sample weights lends its inputs, not its weights.
    assert {"huber/basic/mean", "huber/huge", "huber/non-finite"} <= {r["case"] for r in naive.records}
    assert all("sample_weight" not in r["params"] and r["params"]["delta"] == 1.0 for r in naive.records)
    # An infinite difference: the unselected d * d branch's gradient is 0 x inf = NaN, where the exact
    # gradient of the mean is delta / 4 = 0.25.
    (failure, *_) = [r for r in naive.failures if r["case"] == "huber/non-finite" and r["quantity"] == "grad"]
    assert failure["expected"][0] == 0.25 and failure["actual"][0] == "nan"
    assert failure["diagnosis"].startswith("NaN gradient where the gradient is finite")
    clamped = check_loss(clamped_huber, op="huber", framework="torch", delta=1.0, reduction="mean")
    # Right at the infinite differences; still wrong where d is NaN: torch's abs has gradient 0 there.
    (grad, *_) = [r for r in clamped.failures if r["case"] == "huber/non-finite" and r["quantity"] == "grad"]
    assert grad["actual"][:2] == [0.25, -0.25] and grad["actual"][3] == 0.0 and grad["expected"][3] == "nan"
    assert {r["case"] for r in clamped.failures} == {"huber/non-finite"}
