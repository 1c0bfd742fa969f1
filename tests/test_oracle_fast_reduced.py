"""The reduced-loss fast path (oracle.fast_reduced) and the canonical semantics (oracle.canonical).

The fast path must give the exact path's bits: every check compares with ``fast=False`` or with
``_ziv`` itself, and the balls are checked against sums computed independently with mpmath.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from mpmath import mp, mpf

import oracle
from conformance.corpus.cases import Case
from conformance.judge.answers import OracleAnswers
from oracle import evaluation, fast_reduced
from oracle.canonical import UNIT_SAMPLES, effective
from oracle.formats import FORMATS

NARROW = ("float32", "float16", "bfloat16")
SIZE = 1200  # above fast_reduced.MIN_SIZE


def batches() -> dict[str, tuple[dict, dict]]:
    rng = np.random.default_rng(12)
    x = np.linspace(-30, 30, SIZE)
    soft = rng.uniform(0, 1, SIZE)
    p = rng.uniform(0.01, 0.99, SIZE)  # inside (0, 1) in bfloat16 too: the limits are the exact path's
    hard = (rng.uniform(0, 1, SIZE) > 0.5).astype(np.float64)
    with_zero = x.copy()
    with_zero[::97] = 0.0  # sigmoid(0) - y is exact: scaled by 1/n it is a rational
    return {
        "logits, label 1": ({"from_logits": True}, {"y_true": np.ones(SIZE), "y_pred": x}),
        "logits, soft labels": ({"from_logits": True}, {"y_true": soft, "y_pred": with_zero}),
        "logits, hard labels": ({"from_logits": True}, {"y_true": hard, "y_pred": x * 3}),
        "probabilities": ({"from_logits": False}, {"y_true": soft, "y_pred": p}),
    }


def rounded(params: dict, inputs: dict, dtype: str) -> tuple[dict, dict]:
    return evaluation.round_inputs("binary_crossentropy", params, inputs, FORMATS[dtype])


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", NARROW)
@pytest.mark.parametrize("name", list(batches()))
def test_reduced_bce_gives_the_exact_paths_bits(name: str, dtype: str, reduction: str) -> None:
    params, inputs = batches()[name]
    params = {**params, "reduction": reduction}
    full, arrays = rounded(params, inputs, dtype)
    assert fast_reduced.covers("binary_crossentropy", full, arrays, FORMATS[dtype], oracle.IDEAL)
    assert fast_reduced.reduced_balls("binary_crossentropy", full, arrays) is not None
    fast = oracle.evaluate("binary_crossentropy", params, inputs, dtype)
    exact = oracle.evaluate("binary_crossentropy", params, inputs, dtype, fast=False)
    assert same_bits(fast.value, exact.value)
    assert same_bits(fast.grad, exact.grad)
    assert len(fast.grad_exact) == len(exact.grad_exact) == SIZE


def independent(y: float, x: float, logits: bool) -> tuple[mpf, mpf]:
    """(loss, d loss / d prediction) in mpmath at 60 digits, from the textbook formulas."""
    y, x = mpf(y), mpf(x)
    if logits:
        return mp.log(1 + mp.exp(x)) - x * y, 1 / (1 + mp.exp(-x)) - y
    return -(y * mp.log(x) + (1 - y) * mp.log(1 - x)), (x - y) / (x * (1 - x))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", list(batches()))
def test_the_balls_hold_the_true_values(name: str, reduction: str) -> None:
    params, inputs = batches()[name]
    full, arrays = rounded({**params, "reduction": reduction}, inputs, "float32")
    balls = fast_reduced.reduced_balls("binary_crossentropy", full, arrays)
    assert balls is not None
    value_ball, grad_ball = balls
    n = SIZE
    with mp.workdps(60):
        pairs = [
            independent(y, x, bool(params["from_logits"]))
            for y, x in zip(arrays["y_true"].tolist(), arrays["y_pred"].tolist())
        ]
        total = mp.fsum(loss for loss, _ in pairs)
        divisor = n if reduction == "mean" else 1
        assert abs(total / divisor - mpf(float(value_ball.value[0]))) <= mpf(float(value_ball.value_radius[0]))
        for (_, grad), centre, radius in zip(pairs, grad_ball.grad.tolist(), grad_ball.grad_radius.tolist()):
            assert abs(grad / divisor - mpf(centre)) <= mpf(radius)


def test_undecided_gradients_take_the_exact_path_element_by_element(monkeypatch: pytest.MonkeyPatch) -> None:
    """Elements whose ball is opened up get the exact path's bits and decimal strings."""
    original = fast_reduced.reduced_balls

    def wider(*args: object) -> object:
        balls = original(*args)  # type: ignore[arg-type]
        assert balls is not None
        value_ball, grad_ball = balls
        radius = grad_ball.grad_radius.copy()
        radius[::50] = np.inf
        return value_ball, dataclasses.replace(grad_ball, grad_radius=radius)

    monkeypatch.setattr(fast_reduced, "reduced_balls", wider)
    params, inputs = batches()["logits, soft labels"]
    for reduction in ("mean", "sum"):
        for dtype in ("float32", "bfloat16"):
            call = ("binary_crossentropy", {**params, "reduction": reduction}, inputs, dtype)
            fast, exact = oracle.evaluate(*call), oracle.evaluate(*call, fast=False)
            assert same_bits(fast.grad, exact.grad) and same_bits(fast.value, exact.value)
            opened = range(0, SIZE, 50)
            assert [fast.grad_exact[i] for i in opened] == [exact.grad_exact[i] for i in opened]


def test_an_undecided_value_takes_the_whole_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    original = fast_reduced.reduced_balls

    def open_value(*args: object) -> object:
        balls = original(*args)  # type: ignore[arg-type]
        assert balls is not None
        value_ball, grad_ball = balls
        return dataclasses.replace(value_ball, value_radius=np.array([np.inf])), grad_ball

    monkeypatch.setattr(fast_reduced, "reduced_balls", open_value)
    params, inputs = batches()["logits, label 1"]
    call = ("binary_crossentropy", {**params, "reduction": "mean"}, inputs, "float16")
    fast, exact = oracle.evaluate(*call), oracle.evaluate(*call, fast=False)
    assert same_bits(fast.value, exact.value) and same_bits(fast.grad, exact.grad)
    assert fast.value_exact == exact.value_exact and fast.grad_exact == exact.grad_exact


def test_not_covered_the_exact_path_answers() -> None:
    params, inputs = batches()["logits, soft labels"]
    fmt = FORMATS["float32"]
    small = {name: array[:10] for name, array in inputs.items()}
    full, arrays = rounded({**params, "reduction": "mean"}, small, "float32")
    assert not fast_reduced.covers("binary_crossentropy", full, arrays, fmt, oracle.IDEAL)  # small
    full, arrays = rounded({**params, "reduction": "mean", "label_smoothing": 0.1}, inputs, "float32")
    assert not fast_reduced.covers("binary_crossentropy", full, arrays, fmt, oracle.IDEAL)
    full, arrays = rounded({**params, "reduction": "none"}, inputs, "float32")
    assert not fast_reduced.covers("binary_crossentropy", full, arrays, fmt, oracle.IDEAL)
    full, arrays = rounded({**params, "reduction": "mean"}, inputs, "float64")
    assert not fast_reduced.covers("binary_crossentropy", full, arrays, FORMATS["float64"], oracle.IDEAL)
    full, arrays = rounded({**params, "reduction": "mean"}, inputs, "float32")
    assert not fast_reduced.covers("binary_crossentropy", full, arrays, fmt, oracle.combine(["mean_over_count"]))


# -- canonical semantics ---------------------------------------------------------------------


@pytest.mark.parametrize("op", sorted(UNIT_SAMPLES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mean_over_count_changes_nothing_where_it_is_dropped(op: str, reduction: str) -> None:
    """The exact path itself (``_ziv``, which never canonicalizes) under the variant and without."""
    definition = oracle.definition(op)
    fmt = FORMATS["float32"]
    params, inputs = evaluation.round_inputs(op, {"reduction": reduction}, definition.example, fmt)
    variant = oracle.combine(["mean_over_count"])
    assert effective(op, params, variant) == oracle.IDEAL
    under, ideal = (evaluation._ziv(op, params, inputs, fmt, s) for s in (variant, oracle.IDEAL))
    assert same_bits(under.value, ideal.value) and same_bits(under.grad, ideal.grad)
    assert under.value_exact == ideal.value_exact and under.grad_exact == ideal.grad_exact


def test_mean_over_count_is_kept_where_class_weights_make_it_count() -> None:
    op = "categorical_crossentropy"
    fmt = FORMATS["float32"]
    inputs = {"y_true": [[0.0, 1.0], [1.0, 0.0]], "y_pred": [[0.25, 0.75], [0.5, 0.5]]}
    params, arrays = evaluation.round_inputs(op, {"reduction": "mean", "class_weight": [1.0, 3.0]}, inputs, fmt)
    variant = oracle.combine(["mean_over_count"])
    assert effective(op, params, variant) == variant
    under, ideal = (evaluation._ziv(op, params, arrays, fmt, s) for s in (variant, oracle.IDEAL))
    assert not same_bits(under.value, ideal.value)  # the rule above is not vacuous


def test_the_judge_computes_a_no_op_variant_once() -> None:
    case = Case(
        "bce/mean",
        "a mean",
        "test",
        "binary_crossentropy",
        {"from_logits": True, "reduction": "mean"},
        {"y_true": [0.0, 1.0, 0.25], "y_pred": [0.5, -2.0, 3.0]},
        ("float32",),
    )
    answers = OracleAnswers(None)
    ideal = answers(case, "float32", ())
    assert answers(case, "float32", ("mean_over_count",)) is ideal
    assert len(answers.computed) == 1


# -- interval products and quotients from the signs ------------------------------------------


def test_signed_corners_give_what_all_four_corners_give() -> None:
    """Property: ``_extremes`` (two corners where the signs say which) equals the general
    computation over all four corners, bit for bit, over exact and strict intervals of every
    sign, zero ends included, at several precisions."""
    from mpmath import libmp

    from oracle import interval

    rng = np.random.default_rng(7)
    ends = [0.0, 1.0, -1.0, 0.1, -0.1, 3.0, -7.5, 1e-300, -1e-300, 1e300, -1e300, 2.0**-1074]
    ends += rng.normal(size=40).tolist() + (rng.normal(size=20) * 1e20).tolist()
    mpfs = sorted({libmp.from_float(v) for v in ends}, key=interval._ORDER)
    pool = [interval.Interval(m) for m in mpfs]  # exact
    for _ in range(300):
        lo, hi = sorted(rng.choice(len(mpfs), 2, replace=False).tolist())
        pool.append(interval.Interval(mpfs[lo], mpfs[hi]))  # strict, any signs
    checked = 0
    for bits in (64, 113, 300):
        with interval.working_precision(bits):
            for _ in range(3000):
                a, b = (pool[i] for i in rng.choice(len(pool), 2).tolist())
                for operation in (libmp.mpf_mul, libmp.mpf_div):
                    try:
                        general = interval._all_corners(operation, a, b)
                    except ZeroDivisionError:
                        continue
                    fast = interval._extremes(operation, a, b)
                    assert (fast.lo, fast.hi) == (general.lo, general.hi)
                    checked += interval._signed_corners(operation, a, b) is not None
    assert checked > 5000  # the shortcut was taken, not only the general path


# -- the exact path's per-element memo of binary cross-entropy --------------------------------


def test_the_element_memo_gives_what_a_fresh_evaluation_gives() -> None:
    """mean after sum (a memo hit), and evaluations whose settings, format or smoothing differ
    (memo misses), each equal to the same evaluation with the memo emptied first."""
    from oracle.ops import binary_crossentropy

    _, inputs = batches()["probabilities"]
    logits = batches()["logits, soft labels"][1]
    calls = [
        ("float64", {"from_logits": True, "reduction": "sum"}, logits, ()),
        ("float64", {"from_logits": True, "reduction": "mean"}, logits, ()),
        ("float64", {"from_logits": True, "reduction": "mean", "label_smoothing": 0.1}, logits, ()),
        ("float64", {"from_logits": False, "reduction": "sum"}, inputs, ()),
        ("float64", {"from_logits": False, "reduction": "sum"}, inputs, ("keras_clip",)),
        ("float32", {"from_logits": False, "reduction": "mean"}, inputs, ("keras_clip",)),
    ]
    binary_crossentropy._ELEMENTS.clear()
    remembered = [
        oracle.evaluate("binary_crossentropy", p, i, dtype, oracle.combine(v), fast=False) for dtype, p, i, v in calls
    ]
    assert binary_crossentropy._ELEMENTS  # the memo was used
    for (dtype, params, arrays, variants), answer in zip(calls, remembered):
        binary_crossentropy._ELEMENTS.clear()
        fresh = oracle.evaluate("binary_crossentropy", params, arrays, dtype, oracle.combine(variants), fast=False)
        assert same_bits(answer.value, fresh.value) and same_bits(answer.grad, fresh.grad)
        assert answer.value_exact == fresh.value_exact and answer.grad_exact == fresh.grad_exact
