"""The sweep figures' axes: which scale, which view, which labelled ticks (see plot_scales)."""

import math

import pytest

from conformance.report import plot_scales


def labels(axis):
    return [tick.label for tick in axis.ticks]


def test_a_linear_axis_is_labelled_at_round_steps():
    # 1..4.5 with a 5 % margin is [0.825, 4.675]; a fifth of that, 0.77, rounds up to a step of 1.
    axis = plot_scales.scale([1, 2, 3, 4.5], linear_below=1.0)
    assert axis.kind == "linear"
    assert axis.limits == pytest.approx((0.825, 4.675))
    assert labels(axis) == ["1", "2", "3", "4"]


def test_a_log_axis_labels_at_most_six_decades_every_other_one_when_there_are_seven():
    # log10 of the values: -5, -3, 1; with the margin the view is [-5.3, 1.3]: decades -5 .. 1 are
    # seven, over the six allowed, so every second one is labelled.
    axis = plot_scales.scale([1e-5, 1e-3, 10.0], linear_below=1.0)
    assert axis.kind == "log"
    assert labels(axis) == ["1e-05", "1e-03", "1e-01", "10"]
    assert axis.limits == pytest.approx((10**-5.3, 10**1.3))


def test_a_symlog_axis_keeps_zero_among_its_labels():
    # Coordinates -5, 0, 1, 5 (1 + log10(1e4 / 1)); view [-5.5, 5.5]: decades 1 .. 1e4 on each side and
    # zero are eleven, every second one is kept (zero is not among them) and zero is put back.
    axis = plot_scales.scale([-1e4, 0.0, 1.0, 1e4], linear_below=1.0)
    assert axis.kind == "symlog"
    assert labels(axis) == ["-10000", "-100", "-1", "0", "1", "100", "10000"]


def test_symlog_is_linear_within_its_threshold_and_logarithmic_beyond():
    axis = plot_scales.Scale("symlog", linear_below=1e-3)
    # At the threshold the coordinate is 1; each decade past it adds 1; within it, v / 1e-3.
    cases = {1e-3: 1.0, 0.1: 3.0, -0.1: -3.0, 5e-4: 0.5, 0.0: 0.0}
    for value, coordinate in cases.items():
        assert axis.forward(value) == pytest.approx(coordinate)
        assert axis.inverse(coordinate) == pytest.approx(value)


def test_a_side_without_data_gets_no_labels():
    # Values 0 and 1e-200 .. 1e-2 only: the margin below zero reaches into negative decades,
    # which no value lies in.
    values = [0.0, 1e-200, 1e-100, 1e-2]
    axis = plot_scales.scale(values, plot_scales.linear_threshold(values))
    assert axis.kind == "symlog" and axis.limits[0] < 0
    assert all(tick.value >= 0 for tick in axis.ticks) and labels(axis)[0] == "0"


def test_the_least_subnormal_and_the_largest_float_keep_a_finite_drawable_axis():
    tiny = plot_scales.scale([5e-324, 1e-300, 1.0], linear_below=1.0)
    assert tiny.kind == "log" and labels(tiny)[0] == "1e-323"  # the view's low end underflows to 0
    assert all(0.0 <= tiny.fraction(tick.value) <= 1.0 for tick in tiny.ticks)
    huge = plot_scales.scale([0.0, 1e-10, 1e308], plot_scales.linear_threshold([1e-10, 1e308]))
    assert huge.kind == "symlog" and all(math.isfinite(limit) for limit in huge.limits)
    assert all(0.0 <= huge.fraction(tick.value) <= 1.0 for tick in huge.ticks)
