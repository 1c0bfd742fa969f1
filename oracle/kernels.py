"""Transcendental functions on enclosures: exp, expm1, log, log1p.

Two interchangeable backends evaluate them at a point:

* ``mpmath`` (default): mpmath's libmp at the working precision plus 16 guard bits,
  then widened by 2**-w relative. mpmath's transcendentals are correct "with high
  probability" to about an ulp of the guarded precision; the widening leaves a factor
  of 2**15 of room over that.
* ``arb``: python-flint's ball arithmetic, with certified radii. Used by the tests as
  an independent cross-check of the mpmath backend, and selectable for big sweeps.

Both keep :class:`~oracle.interval.Interval`'s invariant: exact results at the only
algebraic points (exp(0) = 1, log(1) = 0, ...), strict enclosures everywhere else.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from mpmath import libmp

from .interval import CEILING, FLOOR, INF, NAN, NEG_INF, ONE, ZERO, Interval, Mpf, precision

GUARD_BITS = 16
Point = Callable[[str, Mpf, int], tuple[Mpf, Mpf]]

_backend: contextvars.ContextVar[str] = contextvars.ContextVar("oracle_backend", default="mpmath")


@contextlib.contextmanager
def using_backend(name: str) -> Iterator[None]:
    if name not in _BACKENDS:
        raise ValueError(f"unknown oracle backend {name!r}; known: {sorted(_BACKENDS)}")
    token = _backend.set(name)
    try:
        yield
    finally:
        _backend.reset(token)


def current_backend() -> str:
    """The backend in force (:func:`using_backend`): part of any memo of kernel results."""
    return _backend.get()


def available_backends() -> list[str]:
    names = ["mpmath"]
    try:
        import flint  # noqa: F401
    except ImportError:
        return names
    return [*names, "arb"]


def _magnitude(x: Mpf) -> int:
    """Exponent just above the leading bit: 2**(m-1) <= |x| < 2**m."""
    return int(x[2] + x[3])


def _widen(value: Mpf, w: int) -> tuple[Mpf, Mpf]:
    slack = libmp.mpf_shift(libmp.mpf_abs(value), -w)
    return libmp.mpf_sub(value, slack, w, FLOOR), libmp.mpf_add(value, slack, w, CEILING)


def _mpmath_point(name: str, x: Mpf, w: int) -> tuple[Mpf, Mpf]:
    wp = w + GUARD_BITS
    if name == "exp":
        return _widen(libmp.mpf_exp(x, wp), w)
    if name == "log":
        # log loses relative accuracy next to 1: pay for the cancellation in bits.
        extra = 0
        if 0 <= _magnitude(x) <= 1:
            near_one = libmp.mpf_sub(x, libmp.fone)
            extra = max(0, -_magnitude(near_one)) if near_one != libmp.fzero else 0
        return _widen(libmp.mpf_log(x, wp + extra), w)
    if name == "log1p":
        if _magnitude(x) < -(w + 4):
            # x - x**2 < log1p(x) < x for 0 < |x| < 1/2; no 1 + x with a huge mantissa.
            square = libmp.mpf_mul(x, x, w, CEILING)
            return libmp.mpf_sub(x, square, w, FLOOR), x
        one_plus = libmp.mpf_add(libmp.fone, x)  # exact: x has at most ~2w bits here
        return _widen(libmp.mpf_log(one_plus, wp + max(0, -_magnitude(x))), w)
    if name == "expm1":
        if _magnitude(x) < -(w + 4):
            # x < expm1(x) < x + x**2 for 0 < |x| < 1/2.
            square = libmp.mpf_mul(x, x, w, CEILING)
            return x, libmp.mpf_add(x, square, w, CEILING)
        extra = max(0, -_magnitude(x))
        return _widen(libmp.mpf_sub(libmp.mpf_exp(x, wp + extra), libmp.fone, wp + extra), w)
    raise ValueError(name)


def _arb_point(name: str, x: Mpf, w: int) -> tuple[Mpf, Mpf]:
    import flint

    sign, man, exp, _ = x
    saved = flint.ctx.prec
    flint.ctx.prec = w + GUARD_BITS
    try:
        ball = getattr(flint.arb((-man if sign else man, exp)), name)()
        lo, hi = (libmp.from_man_exp(*map(int, end.man_exp())) for end in (ball.lower(), ball.upper()))
    finally:
        flint.ctx.prec = saved
    return libmp.mpf_add(lo, libmp.fzero, w, FLOOR), libmp.mpf_add(hi, libmp.fzero, w, CEILING)


_BACKENDS: dict[str, Point] = {"mpmath": _mpmath_point, "arb": _arb_point}

# Values at the points where the result is exact or the function is undefined.
_SPECIAL: dict[str, dict[Mpf, Interval]] = {
    "exp": {libmp.fzero: ONE, libmp.fninf: ZERO, libmp.finf: INF},
    "expm1": {libmp.fzero: ZERO, libmp.fninf: -ONE, libmp.finf: INF},
    "log": {libmp.fzero: NEG_INF, libmp.fone: ZERO, libmp.finf: INF},
    "log1p": {libmp.fzero: ZERO, libmp.mpf_neg(libmp.fone): NEG_INF, libmp.finf: INF},
}
_DOMAIN_MIN: dict[str, Mpf] = {"log": libmp.fzero, "log1p": libmp.mpf_neg(libmp.fone)}


def _endpoint(name: str, x: Mpf, w: int) -> tuple[Mpf, Mpf]:
    special = _SPECIAL[name].get(x)
    if special is not None:
        return special.lo, special.hi
    if x == libmp.fnan or (name in _DOMAIN_MIN and libmp.mpf_lt(x, _DOMAIN_MIN[name])):
        return libmp.fnan, libmp.fnan
    return _BACKENDS[_backend.get()](name, x, w)


def _monotone(name: str, x: Interval) -> Interval:
    w = precision()
    if x.exact:
        lo, hi = _endpoint(name, x.lo, w)
    else:
        lo, hi = _endpoint(name, x.lo, w)[0], _endpoint(name, x.hi, w)[1]
    if libmp.fnan in (lo, hi):
        return NAN
    return Interval(lo, hi)


def exp(x: Interval) -> Interval:
    return _monotone("exp", x)


def expm1(x: Interval) -> Interval:
    return _monotone("expm1", x)


def log(x: Interval) -> Interval:
    return _monotone("log", x)


def log1p(x: Interval) -> Interval:
    return _monotone("log1p", x)
