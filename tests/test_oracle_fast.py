"""The certified fast path gives the exact path's bits: a property test over >= 1,000,000 elements.

Three checks, from cheap and wide to slow and exact:

* the vectorised rounding (``round_to``) against the integer rounding of :mod:`oracle.formats`
  on midpoints, their neighbours, subnormals and the overflow threshold of every format;
* every kernel's error ball against an independent 80-bit reference (numpy ``longdouble``,
  glibc's ``expl`` / ``log1pl``: 11 more bits than float64, other code) on 1,000,000+ elements
  sampled by magnitude plus adversarial ones: the reference lies well inside each ball, and
  wherever the ball decides a value, the rounded reference is that value;
* float64 targets' double-double balls (:mod:`oracle.fast64`) against the same 80-bit
  reference on 1,050,000+ elements (its error allowed for), and against mpmath at 200 bits on
  every adversarial element and a sample: ball, rounding and every shown decimal digit;
* the fast path against the exact path (``fast=False``), bit for bit and digit for digit, on a
  sample of the same elements that keeps every adversarial one, float64 included.
"""

import math
from decimal import Decimal

import mpmath
import numpy as np
import pytest

from oracle import evaluate, fast64
from oracle.fast import UNKNOWN, Balls, bce_logits, bce_probabilities, decide, round_to, sigmoid_family
from oracle.formats import FORMATS, next_toward, round_float

TARGETS = ("float32", "float16", "bfloat16")
PER_TARGET = 340_000  # x 3 targets: 1,020,000 elements per kernel


def _by_magnitude(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.choice([-1.0, 1.0], size) * 10.0 ** rng.uniform(-30, 3.5, size)


def _adversarial(dtype: str) -> np.ndarray:
    """Logits where outputs sit at rounding boundaries, subnormals and thresholds of ``dtype``."""
    fmt = FORMATS[dtype]
    tiny, big = fmt.min_subnormal, fmt.max
    points = [0.0, -0.0, tiny, -tiny, fmt.min_normal, -fmt.min_normal, big, -big, math.inf, -math.inf, math.nan]
    # sigmoid(x) ~ half the smallest subnormal, and 1 - sigmoid(x) ~ half an ulp of 1.
    for centre in (math.log(tiny) - math.log(2), -math.log(fmt.eps / 4), math.log(big), 709.0, -745.0):
        points += np.linspace(centre - 2, centre + 2, 401).tolist()
    return round_to(np.array(points) * np.array([1.0, -1.0])[:, None], fmt).ravel()


def _inputs(dtype: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, labels, probabilities, cotangent), all values of ``dtype``; adversarial ones first.

    Labels 2**-k at x = 0 make sigmoid(0) - y = 1/2 - 2**-k an exact midpoint for some k.
    """
    fmt = FORMATS[dtype]
    adversarial = _adversarial(dtype)
    powers = 2.0 ** -np.arange(1, 40)
    x = np.concatenate([adversarial, np.zeros(powers.size), _by_magnitude(rng, PER_TARGET)])
    y = np.concatenate([np.full(adversarial.size, 0.25), powers, rng.choice([0.0, 1.0, 0.25, 0.1, 0.9], PER_TARGET)])
    p = np.concatenate([np.full(adversarial.size + powers.size, 0.75), rng.uniform(0, 1, PER_TARGET)])
    # Cotangents: NaN, infinities and zeros of both signs at the adversarial logits, then uniform.
    special = np.resize([math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0], adversarial.size)
    c = np.concatenate([special, np.ones(powers.size), rng.uniform(-2, 2, PER_TARGET)])
    return round_to(x, fmt), round_to(y, fmt), round_to(p, fmt), round_to(c, fmt)


def _reference(kernel: str, x: np.ndarray, y: np.ndarray, p: np.ndarray, c: np.ndarray) -> tuple:
    """The same functions in 80-bit long double: (value, gradient)."""
    x, y, p, c = (np.asarray(a, dtype=np.longdouble) for a in (x, y, p, c))
    one = np.longdouble(1)
    with np.errstate(all="ignore"):
        t = np.exp(-np.abs(x))
        s = np.where(x >= 0, one / (one + t), t / (one + t))
        complement = np.where(x >= 0, t / (one + t), one / (one + t))
        softplus = np.maximum(x, 0) + np.log1p(t)
        if kernel == "softplus":
            return softplus, s * c
        if kernel == "log_sigmoid":
            return -(np.maximum(-x, 0) + np.log1p(t)), complement * c
        if kernel == "sigmoid":
            return s, s * complement * c
        if kernel == "bce_logits":
            # sigmoid(x) - 1 = -sigmoid(-x): the second form keeps the reference's own digits at y = 1.
            return np.where(x >= 0, x * (one - y), -x * y) + np.log1p(t), np.where(x > 0, (one - y) - complement, s - y)
        return -(y * np.log(p) + (one - y) * np.log1p(-p)), (p - y) / (p * (one - p))


def _fast(kernel: str, x: np.ndarray, y: np.ndarray, p: np.ndarray, c: np.ndarray) -> Balls:
    if kernel == "bce_logits":
        return bce_logits(y, x)
    if kernel == "bce_probabilities":
        return bce_probabilities(y, p)
    return sigmoid_family(kernel, x, c)


KERNELS = ("softplus", "log_sigmoid", "sigmoid", "bce_logits", "bce_probabilities")


@pytest.mark.parametrize("dtype", TARGETS)
def test_vectorised_rounding_is_the_integer_rounding_at_every_boundary(dtype):
    fmt = FORMATS[dtype]
    rng = np.random.default_rng(1)
    values = round_to(_by_magnitude(rng, 4000), fmt)
    values = np.concatenate([values, [fmt.max, fmt.min_normal, fmt.min_subnormal, 1.0]])
    neighbours = np.array([next_toward(v, fmt, 1) for v in values.tolist()])
    midpoints = (values + neighbours) / 2  # exact in float64: both are values of a narrower format
    probes = np.concatenate([midpoints, np.nextafter(midpoints, np.inf), np.nextafter(midpoints, -np.inf), values])
    probes = np.concatenate([probes, -probes, [fmt.min_subnormal / 2, fmt.min_subnormal / 4, 1e-320, 0.0, -0.0]])
    expected = np.array([round_float(v, fmt) for v in probes.tolist()])
    got = round_to(probes, fmt)
    assert np.array_equal(got.view(np.int64), expected.view(np.int64)), probes[got != expected][:5]


@pytest.mark.parametrize("kernel", KERNELS)
def test_each_ball_holds_the_long_double_reference_on_a_million_elements(kernel):
    rng = np.random.default_rng(7)
    checked = decided_total = 0
    for dtype in TARGETS:
        fmt = FORMATS[dtype]
        x, y, p, c = _inputs(dtype, rng)
        balls = _fast(kernel, x, y, p, c)
        ref_value, ref_grad = _reference(kernel, x, y, p, c)
        for centre, radius, sign, ref, tilt in (
            (balls.value, balls.value_radius, balls.value_sign, ref_value, balls.value_tilt),
            (balls.grad, balls.grad_radius, balls.grad_sign, ref_grad, None),
        ):
            finite = np.isfinite(centre) & np.isfinite(radius)
            with np.errstate(all="ignore"):  # inf - inf where the input is infinite: not checked
                error = np.abs(centre.astype(np.longdouble) - ref)
            # The reference is within ~2**-62 of the truth: half the ball is room enough for it.
            assert np.all(error[finite] <= radius[finite] / 2), (
                kernel,
                dtype,
                x[finite][error[finite] > radius[finite] / 2][:5],
            )
            known = sign != UNKNOWN
            assert np.all(np.sign(ref[known & finite & (ref != 0)]) == sign[known & finite & (ref != 0)])
            rounded, decided = decide(centre, radius, sign, fmt, tilt)
            expected = round_to(ref.astype(np.float64), fmt)  # ref to float64 then fmt: double rounding only
            # matters at a float64 midpoint, which a ball of 2**-44 relative never decides near.
            # An exact 0 (a zero cotangent) is +0 in the oracle, whatever IEEE's s * -0.0 says.
            expected = np.where(sign == 0, 0.0, expected)
            # A centre on a midpoint of fmt is decided by its tilt only: there the reference is
            # mpmath with the bits to see a tail of e**-1000 beside the exact term.
            on_midpoint = decided & (tilt is not None) & (round_to(centre, fmt) != centre)
            on_midpoint &= round_to(centre * (1 + 2.0**-52), fmt) != round_to(centre * (1 - 2.0**-52), fmt)
            for index in np.flatnonzero(on_midpoint).tolist():
                expected[index] = _rounded_far_tail(x[index], y[index], fmt)
            same = rounded.view(np.int64) == expected.view(np.int64)
            assert np.all(same[decided]), (kernel, dtype, x[decided & ~same][:5])
            checked += centre.size
            decided_total += int(decided.sum())
    assert checked >= 2_000_000  # values and gradients of >= 1,000,000 elements
    assert decided_total / checked > 0.99


def _rounded_far_tail(x: float, y: float, fmt) -> float:
    """BCE on a logit, x (1 - y) + log1p(e**-x) (or the mirror), in mpmath at 2000 bits, rounded
    by mpmath to fmt's precision (nearest, ties to even; normal range)."""
    with mpmath.workprec(2000):
        x_, y_ = mpmath.mpf(x), mpmath.mpf(y)
        value = (x_ * (1 - y_) if x_ >= 0 else -x_ * y_) + mpmath.log1p(mpmath.exp(-abs(x_)))
    with mpmath.workprec(fmt.precision):
        return float(+value)


@pytest.mark.parametrize("dtype", (*TARGETS, "float64"))
def test_the_fast_path_gives_the_exact_paths_bits(dtype):
    rng = np.random.default_rng(3)
    if dtype == "float64":  # the double-double kernels' own adversarial inputs too
        x, y, p, c, adversarial = _inputs64(rng)
    else:
        x, y, p, c = _inputs(dtype, rng)
        adversarial = _adversarial(dtype).size + 39
    keep = adversarial + 600  # every adversarial element and 600 sampled ones
    x, y, p, c = x[:keep], y[:keep], p[:keep], c[:keep]
    jobs = [
        ("softplus", {}, {"x": x}),
        ("log_sigmoid", {}, {"x": x}),
        ("sigmoid", {}, {"x": x, "cotangent": c}),
        ("binary_crossentropy", {"from_logits": True, "reduction": "none"}, {"y_true": y, "y_pred": x}),
        ("binary_crossentropy", {"reduction": "none"}, {"y_true": y, "y_pred": p}),
    ]
    for op, params, inputs in jobs:
        fast = evaluate(op, params, inputs, dtype)
        exact = evaluate(op, params, inputs, dtype, fast=False)
        for got, want in ((fast.value, exact.value), (fast.grad, exact.grad)):
            differ = got.view(np.int64) != want.view(np.int64)
            nan_both = np.isnan(got) & np.isnan(want)
            assert not np.any(differ & ~nan_both), (op, dtype, inputs["x" if "x" in inputs else "y_pred"][differ][:5])
        for fast_text, exact_text in zip(fast.value_exact + fast.grad_exact, exact.value_exact + exact.grad_exact):
            _agree(fast_text, exact_text)


def _agree(fast_text: str, exact_text: str) -> None:
    """Both strings show proven digits of one value, each a correct rounding of it: they differ by
    at most half a unit in the last place of each, so by at most the coarser one's unit."""
    if fast_text == exact_text or exact_text in ("nan", "inf", "-inf") or "e" not in fast_text:
        return  # the same string (an element the exact path answered), or nothing to compare
    if len(fast_text.partition("e")[0].strip("-").replace(".", "").lstrip("0")) <= 1:
        return  # one digit may be a bound (a ball with an end at 0), not a rounding
    fast, exact = Decimal(fast_text), Decimal(exact_text)
    unit = Decimal(10) ** max(fast.as_tuple().exponent, exact.as_tuple().exponent)
    assert abs(fast - exact) <= unit, (fast_text, exact_text)


# float64 targets: the double-double kernels of oracle.fast64, 24-digit strings.


def _inputs64(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """(x, labels, probabilities, cotangent, adversarial count): 210,000+ float64 elements per
    kernel, 1,050,000+ over the five (double-double costs about 25 times float64's time).

    Beyond :func:`_inputs`' adversarial logits: tiny logits with y = fl(0.1), where sigmoid(x) - y
    is a float64 midpoint plus x / 4; probabilities at 2**-k and 1 - 2**-k; logits at the
    kernels' +-600 limit."""
    tiny = np.ldexp(1.0, -np.arange(20, 120))
    extra_x = np.concatenate([tiny, -tiny, [600.0, -600.0, np.nextafter(600.0, 0), 601.0, -601.0]])
    extra_p = np.concatenate([np.ldexp(1.0, -np.arange(1, 1000, 10)), 1 - np.ldexp(1.0, -np.arange(1, 54))])
    count = extra_x.size
    extra_p = np.resize(extra_p, count)
    parts = [_inputs("float64", rng)]
    adversarial = _adversarial("float64").size + 39
    head = [np.concatenate([extra_x, parts[0][0][:adversarial]]), np.full(count + adversarial, 0.1)]
    head += [
        np.concatenate([extra_p, parts[0][2][:adversarial]]),
        np.concatenate([np.ones(count), parts[0][3][:adversarial]]),
    ]
    head[1][count:] = parts[0][1][:adversarial]
    tails = [parts[0][i][adversarial : adversarial + 210_000] for i in range(4)]
    x, y, p, c = (np.concatenate([h, t]) for h, t in zip(head, tails))
    return x, y, p, c, count + adversarial


def _fast64(kernel: str, x: np.ndarray, y: np.ndarray, p: np.ndarray, c: np.ndarray) -> Balls:
    if kernel == "bce_logits":
        return fast64.bce_logits(y, x)
    if kernel == "bce_probabilities":
        return fast64.bce_probabilities(y, p)
    return fast64.sigmoid_family(kernel, x, c)


def _mp_reference(kernel: str, x: float, y: float, p: float, c: float) -> tuple:
    """(value, gradient) in mpmath at 200 bits, by formulas that never cancel for labels in [0, 1]."""
    x, y, p, c = (mpmath.mpf(v) for v in (x, y, p, c))
    t = mpmath.exp(-abs(x))
    s = 1 / (1 + t) if x >= 0 else t / (1 + t)
    complement = t / (1 + t) if x >= 0 else 1 / (1 + t)
    tail = mpmath.log1p(t)
    if kernel == "softplus":
        return max(x, 0) + tail, s * c
    if kernel == "log_sigmoid":
        return -(max(-x, 0) + tail), complement * c
    if kernel == "sigmoid":
        return s, s * complement * c
    if kernel == "bce_logits":
        value = (x * (1 - y) if x >= 0 else -x * y) + tail
        return value, ((1 - y) - complement if x > 0 else s - y)
    return -(y * mpmath.log(p) + (1 - y) * mpmath.log1p(-p)), (p - y) / (p * (1 - p))


@pytest.mark.parametrize("kernel", KERNELS)
def test_double_double_balls_hold_the_references_on_a_million_elements(kernel):
    """1,050,000+ elements over the five kernels against 80-bit long double (its own error,
    2**-56 relative, allowed for); every adversarial element (about 4,300) and 1,000 sampled ones
    per kernel against mpmath at 200 bits: the reference lies within half the ball, a decided
    value is the reference's float64 rounding, and each shown string is a correct rounding of
    the reference."""
    rng = np.random.default_rng(11)
    x, y, p, c, adversarial = _inputs64(rng)
    balls = _fast64(kernel, x, y, p, c)
    ref_value, ref_grad = _reference(kernel, x, y, p, c)
    decided_total = checked = 0
    for high, low, radius, sign, ref in (
        (balls.value, balls.value_low, balls.value_radius, balls.value_sign, ref_value),
        (balls.grad, balls.grad_low, balls.grad_radius, balls.grad_sign, ref_grad),
    ):
        rounded, decided = fast64.decide(high, low, radius, sign)
        # The reference's own error: 2**-56 of its value, and of the label where sigmoid(x) - y cancels.
        slack = (np.abs(ref) + (np.abs(y) if kernel == "bce_logits" else 0)) * 2.0**-56
        with np.errstate(all="ignore"):
            error = np.abs(high.astype(np.longdouble) + low - ref)
            ends_agree = (ref - slack).astype(np.float64) == (ref + slack).astype(np.float64)
        finite = np.isfinite(radius)
        assert np.all(error[finite] <= radius[finite] + slack[finite]), (
            kernel,
            x[finite][error[finite] > radius[finite] + slack[finite]][:5],
        )
        expected = np.where(sign == 0, 0.0, ref.astype(np.float64))
        same = rounded.view(np.int64) == expected.view(np.int64)
        assert np.all(same[decided & (ends_agree | (sign == 0))]), (kernel, x[decided & ends_agree & ~same][:5])
        checked += high.size
        decided_total += int(decided.sum())
    # Undecided: the logits beyond +-600 (2% of the sample, most adversarial ones), a few near-midpoints.
    assert checked >= 420_000 and decided_total / checked > 0.95
    sample = np.concatenate([np.arange(adversarial), rng.choice(np.arange(adversarial, x.size), 1000, replace=False)])
    _against_mpmath(kernel, balls, x, y, p, c, sample)


def _against_mpmath(kernel: str, balls: Balls, x, y, p, c, sample: np.ndarray) -> None:
    """The sampled balls against mpmath at 200 bits: each holds the reference within half its
    radius, a decided value is the reference's float64 rounding (mpmath's, nearest even), and a
    shown string is within half a unit in its last place of the reference (a tie: exactly half)."""
    with mpmath.workprec(200):
        for quantity in ("value", "grad"):
            high, low = getattr(balls, quantity)[sample], getattr(balls, f"{quantity}_low")[sample]
            radius, sign = getattr(balls, f"{quantity}_radius")[sample], getattr(balls, f"{quantity}_sign")[sample]
            rounded, decided = fast64.decide(high, low, radius, sign)
            texts = fast64.proven_digits(high, low, radius, sign, decided)
            for i, index in enumerate(sample.tolist()):
                ref = _mp_reference(kernel, x[index], y[index], p[index], c[index])[quantity == "grad"]
                if not mpmath.isfinite(ref) or not np.isfinite(radius[i]):
                    continue
                error = abs(mpmath.mpf(high[i]) + mpmath.mpf(low[i]) - ref)
                assert error <= radius[i] / 2, (kernel, quantity, x[index])
                if not decided[i]:
                    continue
                assert rounded[i] == (0.0 if sign[i] == 0 else float(ref)), (kernel, quantity, x[index])
                if texts[i] not in ("0", ""):
                    unit = mpmath.mpf(10) ** Decimal(texts[i]).as_tuple().exponent
                    assert abs(mpmath.mpf(texts[i]) - ref) <= unit / 2 * (1 + 2.0**-40), (texts[i], ref)


def test_float64_strings_show_the_exact_paths_24_digits():
    """Most decided float64 strings carry the 24 significant digits the exact path prints."""
    x = np.random.default_rng(5).choice([-1.0, 1.0], 2000) * 10.0 ** np.random.default_rng(6).uniform(-5, 2.5, 2000)
    result = evaluate("softplus", {}, {"x": x}, "float64")
    lengths = [len(t.split("e")[0].replace("-", "").replace(".", "")) for t in result.value_exact + result.grad_exact]
    assert np.mean(np.array(lengths) >= 23) > 0.99


def test_an_underflowed_element_gets_the_exact_paths_digits_not_a_bound():
    # BCE on logits at x = -808, y = 0: the gradient sigmoid(-808) = e^-808 / (1 + e^-808) is
    # about 1.7e-351, below every float64; its float64 ball reaches 0, which decides the float32
    # rounding (0) but proves no digit. The string must be the value's, not the ball's bound.
    import mpmath

    result = evaluate(
        "binary_crossentropy",
        {"from_logits": True, "reduction": "none"},
        {"y_true": [0.0], "y_pred": [-808.0]},
        "float32",
    )
    assert result.grad.tolist() == [0.0]
    with mpmath.workdps(40):
        truth = mpmath.exp(-808) / (1 + mpmath.exp(-808))
        assert abs(mpmath.mpf(result.grad_exact[0]) / truth - 1) < mpmath.mpf(10) ** -15
