"""A framework's formula and its reverse-mode gradient, every step rounded as the framework rounds.

Models of the likelihood losses (issue 16) write an implementation's forward formula once, with
the operations of :class:`Tape`; the value is computed in :class:`~.arithmetic.Arith` (each op
rounded to the storage dtype, halves computed in float32, subnormals flushed where the platform
does) and the gradient by the same reverse-mode rules the frameworks' autodiff applies, each of
its steps rounded the same way. Where frameworks differ in a rule (the gradient of max at a tie,
of a clip at its bounds), :class:`Rules` says which.

Each value carries a running first-order error bound, ``scale``: the magnitude whose unit in the
last place is the error a one-ulp slip anywhere on the way (a libm that differs from NumPy's, a
fused kernel that skips a rounding) can cause there. It is |x| for an input or a correctly rounded
step, and grows through cancellations (1 - p with p ~ 1 has scale ~1). A model's prediction is
judged in ULPs at that scale, as :class:`~conformance.judge.mechanisms.Prediction` describes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from oracle.formats import FORMATS

from . import Prediction
from .arithmetic import Arith

Backward = Callable[["Var"], list["Var | None"]]
F = TypeVar("F", bound=Callable[..., Any])


def _quiet(method: F) -> F:
    """Overflow and 0 x inf in the error bounds are expected (an infinite result has no bound)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return method(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class Rules:
    """Where the frameworks' autodiff rules differ. ``tie``: the gradient of max/min where both
    arguments are equal ("split": half each, JAX and torch; "first": all to the first, TF).
    ``clip``: at a clip bound ("inclusive": passes, TF and torch; "split": half, JAX's min/max)."""

    tie: str = "split"
    clip: str = "inclusive"
    #: The gradient of x ** 0: 0 (torch's pow_backward special-cases it), or 0 x x^-1 = NaN at x = 0.
    pow_zero_is_zero: bool = False
    #: The gradient of x / y in y, in the order each framework rounds it: torch -g ((x / y) / y),
    #: TensorFlow g ((-x / y) / y), JAX -((g y^-2) x) (its JVP transposed).
    divisor: str = "torch"
    #: The gradient of log x: g / x (torch, JAX) or g x reciprocal(x) (TensorFlow: 1/x rounded first).
    log_reciprocal: bool = False


TORCH = Rules("split", "inclusive", pow_zero_is_zero=True)
JAX = Rules("split", "split", divisor="jax")
TENSORFLOW = Rules("first", "inclusive", divisor="tensorflow", log_reciprocal=True)


@dataclass(eq=False)
class Var:
    value: np.ndarray
    scale: np.ndarray
    parents: tuple[Var, ...] = ()
    backward: Backward | None = field(default=None, repr=False)


class Tape:
    def __init__(self, arith: Arith, rules: Rules = TORCH) -> None:
        self.a, self.rules = arith, rules
        self.eps = FORMATS[arith.storage].eps

    # -- leaves ---------------------------------------------------------------------------
    @_quiet
    def leaf(self, value: Any) -> Var:
        """An input or a constant, held in the storage dtype: exact, so its error bound is 0."""
        held = self.a.wide(self.a.cast(value))
        return Var(held, np.zeros_like(held))

    @_quiet
    def const(self, value: float) -> Var:
        return self.leaf(np.float64(value))

    @_quiet
    def scalar(self, value: float) -> Var:
        """A Python number in an op with a tensor: held at the compute precision (a float32 opmath
        scalar for halves in torch), not rounded to the storage dtype first."""
        held = Arith(self.a.compute).wide(Arith(self.a.compute).const(value))
        return Var(held, np.zeros_like(held))

    # -- helpers ----------------------------------------------------------------------------
    @_quiet
    def _out(self, raw: np.ndarray, scale: np.ndarray, parents: Sequence[Var], backward: Backward | None) -> Var:
        value = self.a.wide(raw)
        with np.errstate(all="ignore"):
            total = np.nan_to_num(np.asarray(scale, dtype=np.float64), nan=0.0) + np.abs(np.nan_to_num(value))
        return Var(value, total, tuple(parents), backward)

    @staticmethod
    def _mag(v: Var) -> np.ndarray:
        magnitude: np.ndarray = np.abs(np.nan_to_num(v.value, posinf=0.0, neginf=0.0))
        return magnitude

    # -- elementwise --------------------------------------------------------------------------
    @_quiet
    def add(self, x: Var, y: Var) -> Var:
        return self._out(self.a.add(x.value, y.value), x.scale + y.scale, (x, y), lambda g: [g, g])

    @_quiet
    def sub(self, x: Var, y: Var) -> Var:
        return self._out(self.a.sub(x.value, y.value), x.scale + y.scale, (x, y), lambda g: [g, self.neg(g)])

    @_quiet
    def neg(self, x: Var) -> Var:
        return self._out(self.a.neg(x.value), x.scale, (x,), lambda g: [self.neg(g)])

    @_quiet
    def mul(self, x: Var, y: Var) -> Var:
        scale = x.scale * self._mag(y) + self._mag(x) * y.scale
        return self._out(self.a.mul(x.value, y.value), scale, (x, y), lambda g: [self.mul(g, y), self.mul(g, x)])

    @_quiet
    def div(self, x: Var, y: Var) -> Var:
        out = self.a.div(x.value, y.value)
        with np.errstate(all="ignore"):
            scale = (x.scale + np.abs(self.a.wide(out)) * y.scale) / np.abs(y.value)

        def backward(g: Var) -> list[Var | None]:
            if self.rules.divisor == "jax":
                return [self.div(g, y), self.neg(self.mul(self.mul(g, self.power(y, -2.0)), x))]
            if self.rules.divisor == "tensorflow":
                return [self.div(g, y), self.mul(g, self.div(self.div(self.neg(x), y), y))]
            return [self.div(g, y), self.mul(self.neg(g), self.div(self.div(x, y), y))]

        return self._out(out, scale, (x, y), backward)

    @_quiet
    def square(self, x: Var) -> Var:
        return self._out(
            self.a.mul(x.value, x.value),
            2 * x.scale * self._mag(x),
            (x,),
            lambda g: [self.mul(g, self.mul(self.const(2.0), x))],
        )

    @_quiet
    def abs(self, x: Var) -> Var:
        sign = self.leaf(np.sign(x.value))
        return self._out(self.a.abs(x.value), x.scale, (x,), lambda g: [self.mul(g, sign)])

    @_quiet
    def exp(self, x: Var) -> Var:
        out_raw = self.a.exp(x.value)
        out = Var(self.a.wide(out_raw), np.abs(self.a.wide(out_raw)))
        with np.errstate(all="ignore"):
            scale = np.abs(out.value) * x.scale
        return self._out(out_raw, scale, (x,), lambda g: [self.mul(g, out)])

    @_quiet
    def log(self, x: Var) -> Var:
        with np.errstate(all="ignore"):
            scale = x.scale / np.abs(x.value)
        if self.rules.log_reciprocal:
            return self._out(self.a.log(x.value), scale, (x,), lambda g: [self.mul(g, self.div(self.const(1.0), x))])
        return self._out(self.a.log(x.value), scale, (x,), lambda g: [self.div(g, x)])

    @_quiet
    def log1p(self, x: Var) -> Var:
        one_plus = self.add(self.const(1.0), x)
        with np.errstate(all="ignore"):
            scale = x.scale / np.abs(one_plus.value)
        return self._out(self.a.log1p(x.value), scale, (x,), lambda g: [self.div(g, one_plus)])

    @_quiet
    def power(self, x: Var, exponent: float) -> Var:
        """x ** c for a constant c: gradient c x^(c-1) g (0 where c = 0)."""
        out = self.a.wide(self.a._apply(np.power, x.value, np.float64(exponent)))
        with np.errstate(all="ignore"):
            scale = np.abs(exponent * out / x.value) * x.scale
        scale = np.where(np.isfinite(scale), scale, 0.0)

        def backward(g: Var) -> list[Var | None]:
            if exponent == 0 and self.rules.pow_zero_is_zero:
                return [self.mul(g, self.const(0.0))]
            return [self.mul(g, self.mul(self.const(exponent), self.power(x, exponent - 1)))]

        return self._out(out, scale, (x,), backward)

    @_quiet
    def where(self, condition: np.ndarray, x: Var, y: Var) -> Var:
        zero = self.const(0.0)
        mask = np.asarray(condition, dtype=bool)
        return self._out(
            self.a.where(mask, x.value, y.value),
            np.where(mask, x.scale, y.scale),
            (x, y),
            lambda g: [self.where(mask, g, zero), self.where(mask, zero, g)],
        )

    @_quiet
    def maximum(self, x: Var, y: Var) -> Var:
        return self._extremum(x, y, x.value > y.value)

    @_quiet
    def minimum(self, x: Var, y: Var) -> Var:
        return self._extremum(x, y, x.value < y.value)

    @_quiet
    def _extremum(self, x: Var, y: Var, first: np.ndarray) -> Var:
        x_value, y_value = np.broadcast_arrays(x.value, y.value)
        tie = x_value == y_value
        share_x = np.where(first, 1.0, 0.0) + np.where(tie, 0.5 if self.rules.tie == "split" else 1.0, 0.0)
        share_y = 1.0 - share_x
        wx, wy = self.leaf(share_x), self.leaf(share_y)
        chosen = np.where(first | tie, x_value, y_value)
        return self._out(
            self.a.cast(chosen),
            np.where(first | tie, x.scale, y.scale),
            (x, y),
            lambda g: [self.mul(g, wx), self.mul(g, wy)],
        )

    @_quiet
    def expand(self, x: Var, axis: int) -> Var:
        """np.expand_dims, so that a reduced value broadcasts back (and its gradient flows back)."""
        shape = x.value.shape

        def backward(g: Var) -> list[Var | None]:
            return [Var(g.value.reshape(shape), g.scale.reshape(shape))]

        return Var(np.expand_dims(x.value, axis), np.expand_dims(x.scale, axis), (x,), backward)

    @_quiet
    def clip(self, x: Var, low: float, high: float, exact_bounds: bool = False) -> Var:
        """clip(x, low, high), the bounds converted to the dtype (or, with ``exact_bounds``, held as
        given: Keras' torch backend makes them float32 tensors)."""
        if exact_bounds:
            lo, hi = low, high
        else:
            lo, hi = float(self.a.wide(self.a.const(low))), float(self.a.wide(self.a.const(high)))
        if self.rules.clip == "split":
            return self.minimum(self.maximum(x, self.scalar(lo)), self.scalar(hi))
        inside = (x.value >= lo) & (x.value <= hi)
        clipped = np.clip(x.value, lo, hi)
        zero = self.const(0.0)
        # A select, not a product: an infinite gradient outside the bounds is dropped, not 0 x inf.
        return self._out(
            self.a.cast(clipped), np.where(inside, x.scale, 0.0), (x,), lambda g: [self.where(inside, g, zero)]
        )

    @_quiet
    def sigmoid(self, x: Var, form: str = "kernel") -> Var:
        """sigmoid(x); gradient g s (1 - s). ``form`` is how the framework computes it: "kernel", one
        kernel (1 / (1 + exp(-x)) in float32 for halves: torch, TF's float32 and float64); "reciprocal",
        1 / (1 + exp(-x)) op by op in the dtype (XLA's logistic: sigmoid(7.68) is 1.0 in float16,
        sigmoid(17) 1.0 in float32); "ratio", e / (1 + e) with e = exp(x) op by op, 1 where e is inf
        (Eigen's generic logistic, TensorFlow's halves)."""
        a = self.a
        if form == "reciprocal":
            raw = a.div(1.0, a.add(1.0, a.exp(a.neg(x.value))))
        elif form == "ratio":
            e = a.exp(x.value)
            raw = np.where(np.isinf(a.wide(e)), a.const(1.0), a.div(e, a.add(1.0, e)))
        else:
            raw = a.sigmoid(x.value)
        s = Var(self.a.wide(raw), np.abs(self.a.wide(raw)))
        scale = np.abs(s.value * (1 - s.value)) * x.scale
        one = self.const(1.0)
        return self._out(raw, scale, (x,), lambda g: [self.mul(self.mul(g, s), self.sub(one, s))])

    @_quiet
    def cast(self, x: Var, dtype: str) -> Var:
        """Held in another dtype for a while (Keras' float32 mean): rounded there; the gradient too."""
        if dtype == self.a.storage:
            return x
        narrow = Arith(dtype, flush=self.a.flush).wide(Arith(dtype, flush=self.a.flush).cast(x.value))
        extra = np.abs(np.nan_to_num(narrow, posinf=0.0, neginf=0.0)) * (FORMATS[dtype].eps / self.eps)
        return self._out(self.a.cast(narrow), x.scale + extra, (x,), lambda g: [self.cast(g, dtype)])

    @_quiet
    def relu(self, x: Var) -> Var:
        """max(x, 0) with the gradient where x > 0 only (TF's and torch's relu)."""
        mask = self.leaf(np.where(x.value > 0, 1.0, 0.0))
        return self._out(self.a.maximum(x.value, 0.0), x.scale, (x,), lambda g: [self.mul(g, mask)])

    @_quiet
    def custom(self, value: Var, parents: tuple[Var, ...], derivatives: tuple[Var, ...]) -> Var:
        """A value with a custom derivative rule (JAX's custom_jvp): g times each derivative."""
        return Var(value.value, value.scale, parents, lambda g: [self.mul(g, d) for d in derivatives])

    @_quiet
    def custom_vjp(self, value: Var, parent: Var, vjp: Callable[[Var], Var]) -> Var:
        """A value whose gradient rule is given whole (a softmax along an axis)."""
        return Var(value.value, value.scale, (parent,), lambda g: [vjp(g)])

    @staticmethod
    def stop(x: Var) -> Var:
        """lax.stop_gradient: the value, with no way back."""
        return Var(x.value, x.scale)

    # -- reductions ---------------------------------------------------------------------------
    @_quiet
    def sum(self, x: Var, axis: int | None = None, accumulate: str | None = None) -> Var:
        out = self.a.sum(x.value, axis=axis, accumulate=accumulate)
        scale = np.sum(x.scale, axis=axis) + np.sum(self._mag(x), axis=axis)
        shape = x.value.shape

        def backward(g: Var) -> list[Var | None]:
            expanded = g.value if axis is None else np.expand_dims(g.value, axis)
            spread = np.broadcast_to(expanded, shape)
            scale_g = g.scale if axis is None else np.expand_dims(g.scale, axis)
            return [Var(np.array(spread), np.broadcast_to(scale_g, shape).copy())]

        return self._out(out, scale, (x,), backward)

    # -- reverse pass -------------------------------------------------------------------------
    @_quiet
    def grad(self, out: Var, wrt: Var, seed: np.ndarray | None = None) -> Var:
        """d(sum(seed * out))/d(wrt), accumulated in the order the tape recorded."""
        order: list[Var] = []
        seen: set[int] = set()

        def visit(node: Var) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for parent in node.parents:
                visit(parent)
            order.append(node)

        visit(out)
        start = np.ones_like(out.value) if seed is None else np.broadcast_to(seed, out.value.shape)
        adjoint: dict[int, Var] = {id(out): self.leaf(start)}
        for node in reversed(order):
            g = adjoint.get(id(node))
            if g is None or node.backward is None:
                continue
            for parent, contribution in zip(node.parents, node.backward(g)):
                if contribution is None:
                    continue
                contribution = _unbroadcast(self, contribution, parent.value.shape)
                previous = adjoint.get(id(parent))
                adjoint[id(parent)] = contribution if previous is None else self.add(previous, contribution)
        found = adjoint.get(id(wrt))
        return found if found is not None else self.leaf(np.zeros_like(wrt.value))

    @_quiet
    def prediction(self, v: Var) -> Prediction:
        return Prediction(np.asarray(v.value, dtype=np.float64), scale=np.asarray(v.scale, dtype=np.float64))

    @_quiet
    def answer(self, quantity: str, out: Var, wrt: Var, seed: np.ndarray | None = None) -> Prediction:
        """The model's prediction of the value, or of the gradient with respect to ``wrt``."""
        return self.prediction(out if quantity == "value" else self.grad(out, wrt, seed))


def _sum_axes(tape: Tape, g: Var, axes: tuple[int, ...]) -> Var:
    for axis in sorted(axes, reverse=True):
        g = tape.sum(g, axis=axis)
    return g


def _unbroadcast(tape: Tape, g: Var, shape: tuple[int, ...]) -> Var:
    """Sum a contribution over the axes a parent was broadcast along (a scalar constant, a weight)."""
    if g.value.shape == shape:
        return g
    extra = g.value.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and g.value.shape[i + extra] != 1
    )
    summed = _sum_axes(tape, g, axes) if axes else g
    return Var(summed.value.reshape(shape), summed.scale.reshape(shape))
