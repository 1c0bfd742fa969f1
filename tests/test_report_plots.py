"""The sweep figures: series found from sweeps and from readable ids, log axes where values span
decades, the swept parameter's name on the axis, one colour per implementation, legend outside."""

import math
from pathlib import Path

from conformance.corpus.cases import load_file
from conformance.report import plots
from conformance.report.plot_svg import render

from report_fixture import result

ROOT = Path(__file__).resolve().parent.parent
KERAS = "keras[tensorflow].losses.BinaryCrossentropy[probabilities]"
TORCH = "torch.nn.functional.binary_cross_entropy"
#: Seed 001: Keras' loss stops decreasing at 1.09e-7 from a = 16 on (the seed's own figure).
SEED_FLOOR = 1.09e-7


def seed001_records():
    """One record per seed 001 case and dtype, for two implementations: the exact loss is the seed's
    closed form log(1 + e^-a); Keras returns it floored at the seed's 1.09e-7, torch returns it."""
    cases, errors = load_file(ROOT / "cases" / "seed001_probabilities.yaml")
    assert not errors
    records = []
    for case in cases:
        a = float(case.id.rsplit("=", 1)[1])
        exact = math.log1p(math.exp(-a))
        for dtype in case.dtypes:
            for implementation, actual, ulps in [(KERAS, max(exact, SEED_FLOOR), 1e6), (TORCH, exact, 0.5)]:
                records.append(
                    result(
                        case.id,
                        implementation,
                        "xfail" if implementation == KERAS else "pass",
                        dtype=dtype,
                        op="binary_crossentropy",
                        actual=actual,
                        exact=repr(exact),
                        max_ulp_error=ulps if a > 16 else 0.25,
                    )
                )
    return records


def test_seed001s_two_point_cases_form_one_series_over_a():
    found = plots.series(seed001_records())
    assert [(s.key, s.parameter, s.dtype) for s in found] == [
        ("seed001/bce/probs/two-point/a={a}", "a", "float64"),
        ("seed001/bce/probs/two-point/a={a}", "a", "float32"),
    ]
    assert sorted({x for x, _ in found[0].points}) == [10, 14, 16, 16.1, 16.2, 17, 20, 30]


def test_the_seed001_figure_shows_keras_floor_on_a_log_axis_against_a():
    records = seed001_records()
    colours = plots.palette(r["implementation"] for r in records)
    fig = plots.draw(plots.series(records), colours)
    value, error = fig.panels[0], fig.panels[1]
    assert value.x_label == "a" and value.y.kind == "log"
    # log(1 + e^-30) = 9.36e-14 and the floor 1.09e-7 are both inside the value axis.
    low, high = value.y.limits
    assert low <= math.log1p(math.exp(-30)) and high >= SEED_FLOOR
    # ULP errors from 0.25 to 1e6 span decades: a log axis (symlog, as 0 must show too).
    assert error.y.kind in ("log", "symlog")
    keras_lines = [line for panel in fig.panels for line in panel.lines if line.colour == colours[KERAS]]
    assert len(keras_lines) == 4  # value and error, float32 and float64: one colour throughout


def test_the_legend_is_below_every_panel_and_its_labels():
    fig = plots.draw(plots.series(seed001_records()), plots.palette([KERAS, TORCH]))
    # A panel's tick labels and axis label take 3.5 + 22 points below it (plot_svg's layout).
    assert all(fig.legend_top >= panel.box[3] + 25.5 for panel in fig.panels)
    assert fig.legend_top < fig.height
    assert [name for name, _ in fig.legend] == [plots.EXACT, KERAS, TORCH]


def test_each_implementation_keeps_its_colour_in_every_figure_given_the_same_palette():
    colours = plots.palette(["b.loss", "a.loss", "c.loss"])
    assert colours == plots.palette(["c.loss", "a.loss", "b.loss"])
    assert len({colours["a.loss"], colours["b.loss"], colours["c.loss"], colours[plots.EXACT]}) == 4


def test_a_sweep_over_tokens_or_with_two_points_is_not_plotted():
    tokens = [result(f"s/x={t}", "torch.softplus", "pass", sweep={"x": t}, sweep_group="s/x={x}") for t in "abc"]
    assert plots.series(tokens) == []
    two = [result(f"s/x={n}", "torch.softplus", "pass") for n in (1, 2)]
    assert plots.series(two) == []


def test_values_within_two_decades_keep_a_linear_axis():
    rows = [
        result(f"s/x={x}", "torch.softplus", "pass", sweep={"x": str(x)}, sweep_group="s/x={x}", actual=[x / 2])
        for x in (1, 2, 3, 4)
    ]
    fig = plots.draw(plots.series(rows), plots.palette(["torch.softplus"]))
    assert fig.panels[0].x.kind == "linear" and fig.panels[0].y.kind == "linear"
    assert fig.panels[0].x_label == "x"


def test_the_svg_is_inline_ready_and_keeps_text_as_text():
    text = plots.figure(plots.series(seed001_records()), plots.palette([KERAS, TORCH]))
    assert text.startswith("<svg") and "<?xml" not in text
    assert ">a</text>" in text or "a</text>" in text


def test_values_from_zero_through_subnormals_to_one_draw_without_overflow():
    """sigmoid(x) for x from -745 to 0 is 0, then 5e-324 (the least subnormal), ..., 0.5: a symlog
    axis down to the least subnormal would span 323 decades and overflow; it stops 200 below the top."""
    values = [0.0, 5e-324, 4.2e-322, 1e-200, 0.5]
    rows = [
        result(f"s/x={x}", "torch.sigmoid", "pass", sweep={"x": str(x)}, sweep_group="s/x={x}", actual=[v])
        for x, v in zip((-745, -744, -740, -460, 0), values, strict=True)
    ]
    fig = plots.draw(plots.series(rows), plots.palette(["torch.sigmoid"]))
    assert fig.panels[0].y.kind == "symlog"
    assert plots.linear_threshold(values) == 0.5 * 1e-200
    low, high = fig.panels[0].y.limits
    assert low < 0 < 0.5 < high and math.isfinite(low) and math.isfinite(high)
    assert fig.panels[0].y.ticks[0].label == "0"  # no negative value: no negative decade
    render(fig)


def test_the_svg_draws_every_line_and_every_finite_point_and_names_nothing():
    records = seed001_records()
    fig = plots.draw(plots.series(records), plots.palette([KERAS, TORCH]))
    text = render(fig)
    lines = [line for panel in fig.panels for line in panel.lines]
    assert text.count("<polyline") == len(lines)
    assert text.count('stroke-dasharray="') == sum(line.exact for line in lines) + 1  # and the legend's
    markers = sum(len(line.points) for line in lines if not line.exact)
    assert text.count("<circle") == markers + 2  # the two implementations' legend entries
    assert " id=" not in text  # several figures share one page
    for panel in fig.panels:
        assert all(f">{tick.label}</text>" in text for tick in panel.y.ticks)
