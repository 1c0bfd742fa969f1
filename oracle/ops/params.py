"""The params and settings that several ops share, each defined once.

An op module lists the ones it takes; its own params and settings it defines beside its
formulas. Ranges and defaults here are the suite's rules for every case file, the planner
and the gate.
"""

from __future__ import annotations

from .spec import Param, ParamKind, Setting

REDUCTIONS = ("none", "sum", "mean")

FROM_LOGITS = Param(
    "from_logits",
    ParamKind.FLAG,
    False,
    "y_pred holds logits (true) or probabilities (false); implementations of the other input do not apply",
    mode=True,
)
REDUCTION = Param(
    "reduction",
    ParamKind.CHOICE,
    "mean",
    "none: one loss per sample; sum; mean: divided by the samples that count (or by the class weights that apply)",
    choices=REDUCTIONS,
)
LABEL_SMOOTHING = Param(
    "label_smoothing",
    ParamKind.VALUE,
    0,
    "y (1 - ls) + ls / K with K classes (K = 2 for binary), computed exactly",
    minimum=0.0,
    maximum=1.0,
)
SAMPLE_WEIGHT = Param(
    "sample_weight",
    ParamKind.WEIGHTS,
    None,
    "a weight per sample, broadcast to the shape of the per-sample losses",
)
CLASS_WEIGHT = Param(
    "class_weight",
    ParamKind.WEIGHTS,
    None,
    "a weight per class (K entries); the weight that applies to a sample is sum_k w_k y_k",
)
IGNORE_INDEX = Param(
    "ignore_index",
    ParamKind.INTEGER,
    None,
    "samples with this label count for nothing, in the sum and in the mean's denominator",
)
AXIS = Param("axis", ParamKind.INTEGER, -1, "the class axis of the prediction", axis=True)

LOSS_PARAMS = (FROM_LOGITS, LABEL_SMOOTHING, REDUCTION, SAMPLE_WEIGHT)

MEAN_OVER_COUNT = Setting(
    "mean_over_count", bool, "a class-weighted 'mean' divides by the sample count, not the class weights that apply"
)
CLIP_EPSILON = Setting(
    "clip_epsilon",
    float,
    "probabilities are clipped to [eps, 1 - eps], both bounds converted to the dtype from the doubles eps and 1 - eps",
)
