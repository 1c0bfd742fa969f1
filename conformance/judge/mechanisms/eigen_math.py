"""Eigen's packet math functions, operation by operation, and the C library's scalar ones.

Eigen evaluates exp, log, log1p and the logistic function on packets with its own
polynomials (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h, the version TensorFlow
2.21 pins), and on the scalar tail of a buffer with std::exp and friends (glibc). Without FMA
``pmadd(a, b, c)`` is ``a * b`` then ``+ c``, each rounded, so NumPy reproduces the packet
functions bit for bit: checked against tf.math.exp, log, log1p and sigmoid on 200,000 inputs
per dtype (tools/tf_check.py). Inputs are float64 arrays of float32 (or float64) values.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

F32 = np.float32


def _madd(p: Any, q: Any, r: Any, kind: Any = F32) -> np.ndarray:
    """pmadd without FMA: the product rounded, then the sum rounded."""
    return np.asarray(np.asarray(p, kind) * np.asarray(q, kind) + np.asarray(r, kind), dtype=kind)


def exp_float(values: np.ndarray) -> np.ndarray:
    """pexp_float: 2^m exp(r), r = x - m ln 2 in two parts, a degree-6 polynomial; 0 below -104."""
    with np.errstate(all="ignore"):
        x0 = np.asarray(values, dtype=F32)
        x = np.minimum(x0, F32(88.723))
        m = np.floor(_madd(x, 1.44269504088896341, 0.5))
        r = _madd(m, -0.693359375, x)
        r = _madd(m, 2.12194440e-4, r)
        r2 = r * r
        even = _madd(r2, 1.37449637986719608306884765625e-3, 4.166965186595916748046875e-2)
        odd = _madd(r2, 8.36894474923610687255859375e-3, 0.16666518151760101318359375)
        even = _madd(r2, even, 0.49999988079071044921875)
        y = _madd(r, odd, even)
        y = _madd(r2, y, r + F32(1.0))
        scaled = np.maximum(np.ldexp(y.astype(np.float64), m.astype(np.int64)).astype(F32), x0)
        return np.where(x0 < F32(-104.0), 0.0, scaled.astype(np.float64))


def log_float(values: np.ndarray) -> np.ndarray:
    """plog_float: frexp, shift to [sqrt(1/2), sqrt(2)), a rational (3,3) approximant, + e ln 2."""
    with np.errstate(all="ignore"):
        x0 = np.asarray(values, dtype=F32)
        mantissa, exponent = np.frexp(x0)
        small = mantissa < F32(0.707106781186547524)
        x = (mantissa - F32(1.0)) + np.where(small, mantissa, F32(0.0))
        e = exponent.astype(F32) - np.where(small, F32(1.0), F32(0.0))
        p = _madd(x, 0.18256296349849254, 1.0000000190281063)
        p = x * _madd(x, p, 1.0000000190281136)
        q = _madd(x, 0.049616247954120038, 0.59923249590823520)
        q = _madd(x, _madd(x, q, 1.4999999999999927), 1.0)
        x = _madd(e, 0.6931471805599453, p / q)
        return _log_edges(x0.astype(np.float64), x.astype(np.float64))


def log1p_float(values: np.ndarray) -> np.ndarray:
    return _log1p(np.asarray(values, dtype=F32), log_float, F32)


def exp_double(values: np.ndarray) -> np.ndarray:
    """pexp_double: Cephes' rational approximant of exp(g), g = x - n ln 2 in two parts."""
    with np.errstate(all="ignore"):
        x0 = np.asarray(values, dtype=np.float64)
        x = np.minimum(x0, 709.784)
        n = np.floor(1.4426950408889634073599 * x + 0.5)
        x = (x - n * 0.693145751953125) - n * 1.42860682030941723212e-6
        x2 = x * x
        px = x * ((1.26177193074810590878e-4 * x2 + 3.02994407707441961300e-2) * x2 + 9.99999999999999999910e-1)
        qx = ((3.00198505138664455042e-6 * x2 + 2.52448340349684104192e-3) * x2 + 2.27265548208155028766e-1) * x2
        qx = qx + 2.00000000000000000009e0
        y = 2.0 * (px / (qx - px)) + 1.0
        scaled = np.maximum(np.ldexp(y, n.astype(np.int64)), x0)
        return np.where(x0 < -709.784, 0.0, scaled)


def log_double(values: np.ndarray) -> np.ndarray:
    """plog_double: Cephes' log(1 + x) = x - x^2 / 2 + x^3 P(x) / Q(x) after frexp, + e ln 2."""
    with np.errstate(all="ignore"):
        x0 = np.asarray(values, dtype=np.float64)
        mantissa, exponent = np.frexp(x0)
        small = mantissa < 0.70710678118654752440
        x = (mantissa - 1.0) + np.where(small, mantissa, 0.0)
        e = exponent.astype(np.float64) - np.where(small, 1.0, 0.0)
        x2 = x * x
        x3 = x2 * x
        y = (1.01875663804580931796e-4 * x + 4.97494994976747001425e-1) * x + 4.70579119878881725854e0
        y1 = (1.44989225341610930846e1 * x + 1.79368678507819816313e1) * x + 7.70838733755885391666e0
        numerator = (y * x3 + y1) * x3
        y = (1.0 * x + 1.12873587189167450590e1) * x + 4.52279145837532221105e1
        y1 = (8.29875266912776603211e1 * x + 7.11544750618563894466e1) * x + 2.31251620126765340583e1
        y = -0.5 * x2 + numerator / (y * x3 + y1)
        return _log_edges(x0, e * 0.6931471805599453 + (x + y))


def log1p_double(values: np.ndarray) -> np.ndarray:
    return _log1p(np.asarray(values, dtype=np.float64), log_double, np.float64)


def _log_edges(x0: np.ndarray, result: np.ndarray) -> np.ndarray:
    """log(0) = -inf, log(inf) = inf, log of a negative number or NaN = NaN."""
    out = np.where(x0 == 0, -np.inf, np.where(x0 == np.inf, np.inf, result))
    return np.where((x0 < 0) | np.isnan(x0), np.nan, out)


def _log1p(x: np.ndarray, log: Callable[[np.ndarray], np.ndarray], kind: Any) -> np.ndarray:
    """generic_plog1p (Kahan): x log(u) / (u - 1), u = 1 + x; x itself where u = 1 or u = inf."""
    with np.errstate(all="ignore"):
        u = x + kind(1.0)
        logu = log(u.astype(np.float64)).astype(kind)
        large = x * (logu / (u - kind(1.0)))
        return np.where((u == kind(1.0)) | (u == logu), x, large).astype(np.float64)


def logistic_float(values: np.ndarray) -> np.ndarray:
    """Eigen's float32 packet logistic: e / (1 + e), e = exp(min(x, 16.6355324) / 2)^2 by its own
    polynomial (up to 6 ULPs off for x < -20); 0 below -104."""
    with np.errstate(all="ignore"):
        x0 = np.asarray(values, dtype=F32)
        t = np.minimum(x0, F32(16.6355324)) * F32(0.5)
        m = np.floor(_madd(t, 1.44269504088896341, 0.5))
        r = _madd(m, -0.693359375, t)
        r = _madd(m, 2.12194440e-4, r)
        r2 = r * r
        even = _madd(r2, 4.1898667812347412109375e-2, 0.49999141693115234375)
        odd = _madd(r2, 8.33471305668354034423828125e-3, 0.16666877269744873046875)
        p = _madd(r2, _madd(r, odd, even), r + F32(1.0))
        e = np.ldexp(p, m.astype(np.int32)).astype(F32)
        e = e * e
        return np.where(x0 < F32(-104.0), 0.0, (e / (F32(1.0) + e)).astype(np.float64))


PACKET_FLOAT = {"exp": exp_float, "log": log_float, "log1p": log1p_float}
PACKET_DOUBLE = {"exp": exp_double, "log": log_double, "log1p": log1p_double}


def _libm(name: str) -> Callable[[float], float]:
    """The C library's double function (glibc: what std::exp calls), with C's answers where
    Python raises."""
    function = getattr(math, name)

    def call(v: float) -> float:
        if math.isnan(v):
            return v
        try:
            return float(function(v))
        except OverflowError:
            return math.inf
        except ValueError:  # log(0), log(-1), log1p(-1) and below
            floor = -1.0 if name == "log1p" else 0.0
            return -math.inf if v == floor else math.nan

    return call


def _libm_single() -> dict[str, Callable[[float], float]] | None:
    """expf, logf, log1pf from the C library (std::exp(float) and friends), where it has them."""
    path = ctypes.util.find_library("m")
    if path is None:
        return None
    try:
        library = ctypes.CDLL(path)
    except OSError:
        return None
    functions = {}
    for name in ("exp", "log", "log1p"):
        function = getattr(library, name + "f", None)
        if function is None:
            return None
        function.restype, function.argtypes = ctypes.c_float, [ctypes.c_float]
        functions[name] = function
    return functions


@functools.cache
def _table(single: bool) -> dict[str, Any]:
    """The scalar functions as NumPy ufuncs, looked up once, on first use."""
    functions = _libm_single() if single else None
    if functions is None:
        return {name: np.frompyfunc(_libm(name), 1, 1) for name in ("exp", "log", "log1p")}
    return {name: np.frompyfunc(f, 1, 1) for name, f in functions.items()}


def scalar(name: str, values: np.ndarray, single: bool) -> np.ndarray:
    """The scalar path: the C library's function, in float (expf) or double."""
    wide = np.asarray(values, dtype=np.float64)
    if not wide.size:
        return wide
    with np.errstate(all="ignore"):  # the C functions raise the flags C does (overflow, log(0))
        return np.asarray(_table(single)[name](wide), dtype=np.float64).reshape(wide.shape)
