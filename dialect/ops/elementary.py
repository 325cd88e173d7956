"""Elementary functions, with KeOps' conventions at their special points.

Conventions (keopscore 2.3, utils/math_functions.py): Rsqrt(0) = 0, Sign(0) = 0, Step(0) = 1,
SinXDivX(0) = 1, XLogX(0) = 0, IfElse(f, a, b) = a where f >= 0, Round halves away from zero,
Mod(x, n, d) = x - n * floor((x - d) / n), Clamp(x, lo, hi) lets NaN through.
"""

from __future__ import annotations

import numpy as np

from .base import elementwise, register, set_properties, zero_vjp


def _nan_safe(fn):
    def ref(*args, **kw):
        with np.errstate(all="ignore"):
            return fn(*args, **kw)

    return ref


def _ref_rsqrt(x):
    return np.where(x == 0, 0.0, 1 / np.sqrt(np.where(x == 0, 1, x)))


def _ref_round(x, d):
    if d == 0:
        return _round_half_away(x)
    scale = 10.0**d
    return _round_half_away(x * scale) / scale


def _round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _lower_round(e, a, d):
    if d == 0:
        return e.round(a)
    scale = e.const(10.0**d)
    return e.div(e.round(e.mul(a, scale)), scale)


def _lower_sign(e, a):
    zero = e.const(0.0)
    neg = e.select(e.lt(a, zero), e.const(-1.0), zero)
    return e.select(e.gt(a, zero), e.const(1.0), neg)


def _lower_clamp(e, x, lo, hi):
    return e.select(e.lt(x, lo), lo, e.select(e.gt(x, hi), hi, x))


def _ref_clamp(x, lo, hi):
    return np.where(x < lo, lo, np.where(x > hi, hi, x))


def _lower_mod(e, x, n, d):
    return e.sub(x, e.mul(n, e.floor(e.div(e.sub(x, d), n))))


def _unary(name, ref, lower, doc, example, params=(), vjp=None):
    return elementwise(name, 1, _nan_safe(ref), lower, doc, example, params, vjp)


def _chain(derivative):
    """vjp of an element-wise function from its derivative f'(x) (KeOps' `Derivative`)."""
    return lambda b, g, out, x, **p: [g * derivative(b, x, out, **p)]


# ---------------------------------------------------------------- derivatives (as keopscore)
def _clamp_vjp(b, g, out, x, lo, hi):
    # Clamp(x, lo, hi) = ClampInt((x - lo) / (hi - lo), 0, 1) * (hi - lo) + lo, as in KeOps
    width = hi - lo
    t = (x - lo) / width
    inside = b("DiffClampInt", t, lo=0, hi=1)
    clamped = b("ClampInt", t, lo=0, hi=1)
    dt = g * inside  # d/dt of the rescaled clamp, times the output adjoint
    return [dt, dt * t - dt - g * clamped + g, g * clamped - dt * t]


def _atan2_vjp(b, g, out, y, x):
    r2 = b("Square", y) + b("Square", x)
    return [g * (x / r2), -(g * (y / r2))]


def _mod_vjp(b, g, out, x, n, d):
    # Mod(x, n, d) = x - n * Floor((x - d) / n): Floor is piecewise constant
    return [g, -(g * b("Floor", (x - d) / n)), None]


def _ifelse_vjp(b, g, out, f, a, c):
    zero = b.zero(g.dim)
    return [None, b("IfElse", f, g, zero), b("IfElse", f, zero, g)]


register(
    _unary(
        "Exp",
        np.exp,
        lambda e, a: e.exp(a),
        "exponential",
        "Exp(x - y)",
        vjp=_chain(lambda b, x, out: out),
    ),
    _unary(
        "Log",
        np.log,
        lambda e, a: e.log(a),
        "natural logarithm",
        "Log(x + y)",
        vjp=_chain(lambda b, x, out: b("Inv", x)),
    ),
    _unary(
        "Sqrt",
        np.sqrt,
        lambda e, a: e.sqrt(a),
        "square root",
        "Sqrt(x * y)",
        vjp=_chain(lambda b, x, out: b("IntInv", n=2) * b("Rsqrt", x)),
    ),
    _unary(
        "Rsqrt",
        _ref_rsqrt,
        lambda e, a: e.select(e.eq(a, e.const(0.0)), e.const(0.0), e.rsqrt(a)),
        "1 / sqrt(x), 0 at 0",
        "Rsqrt(x + y)",
        vjp=_chain(lambda b, x, out: b("IntInv", n=-2) * b("Pow", out, n=3)),
    ),
    _unary(
        "Abs",
        np.abs,
        lambda e, a: e.abs(a),
        "absolute value",
        "Abs(x - y)",
        vjp=_chain(lambda b, x, out: b("Sign", x)),
    ),
    _unary(
        "XLogX",
        lambda x: np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1, x))),
        lambda e, a: e.select(e.eq(a, e.const(0.0)), e.const(0.0), e.mul(a, e.log(a))),
        "x * log(x), 0 at 0",
        "XLogX(x * y)",
        vjp=_chain(lambda b, x, out: b("Log", x) + 1),
    ),
    _unary(
        "Cos",
        np.cos,
        lambda e, a: e.cos(a),
        "cosine",
        "Cos(x - 2 * y)",
        vjp=_chain(lambda b, x, out: -b("Sin", x)),
    ),
    _unary(
        "Sin",
        np.sin,
        lambda e, a: e.sin(a),
        "sine",
        "Sin(x - 2 * y)",
        vjp=_chain(lambda b, x, out: b("Cos", x)),
    ),
    _unary(
        "SinXDivX",
        lambda x: np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1, x)),
        lambda e, a: e.select(e.eq(a, e.const(0.0)), e.const(1.0), e.div(e.sin(a), a)),
        "sin(x) / x, 1 at 0",
        "SinXDivX(3 * (x - y))",
        vjp=_chain(lambda b, x, out: b("Cos", x) / x - b("Sin", x) / b("Square", x)),
    ),
    _unary(
        "Acos",
        np.arccos,
        lambda e, a: e.acos(a),
        "arc cosine",
        "Acos(x - y)",
        vjp=_chain(lambda b, x, out: -b("Rsqrt", 1 - b("Square", x))),
    ),
    _unary(
        "Asin",
        np.arcsin,
        lambda e, a: e.asin(a),
        "arc sine",
        "Asin(x - y)",
        vjp=_chain(lambda b, x, out: b("Rsqrt", 1 - b("Square", x))),
    ),
    _unary(
        "Atan",
        np.arctan,
        lambda e, a: e.atan(a),
        "arc tangent",
        "Atan(4 * (x - y))",
        vjp=_chain(lambda b, x, out: b("Inv", 1 + b("Square", x))),
    ),
    elementwise(
        "Atan2",
        2,
        _nan_safe(np.arctan2),
        lambda e, y, x: e.atan2(y, x),
        "atan2(y, x), the angle of the point (x, y)",
        "Atan2(x - y, y - 1)",
        vjp=_atan2_vjp,
    ),
    _unary(
        "Sign",
        lambda x: np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),
        _lower_sign,
        "-1, 0 or 1 by the sign of x (0 at 0)",
        "Sign(x - y)",
        vjp=zero_vjp,
    ),
    _unary(
        "Step",
        lambda x: np.where(x < 0, 0.0, 1.0),
        lambda e, a: e.select(e.lt(a, e.const(0.0)), e.const(0.0), e.const(1.0)),
        "0 if x < 0 else 1",
        "Step(x - y)",
        vjp=zero_vjp,
    ),
    _unary(
        "ReLU",
        lambda x: np.where(x < 0, 0.0, x),
        lambda e, a: e.select(e.lt(a, e.const(0.0)), e.const(0.0), a),
        "0 if x < 0 else x",
        "ReLU(x - y)",
        vjp=_chain(lambda b, x, out: b("Step", x)),
    ),
    _unary(
        "Floor",
        np.floor,
        lambda e, a: e.floor(a),
        "largest integer <= x",
        "Floor(3 * x - y)",
        vjp=zero_vjp,
    ),
    _unary(
        "Round",
        _ref_round,
        _lower_round,
        "x rounded to d decimals, halves away from zero",
        "Round(3 * x - y, 1)",
        ("d",),
        vjp=zero_vjp,
    ),
    elementwise(
        "Clamp",
        3,
        _ref_clamp,
        _lower_clamp,
        "lo if x < lo, hi if x > hi, else x",
        "Clamp(x, y - IntInv(2), y + b - IntInv(4))",
        vjp=_clamp_vjp,
    ),
    _unary(
        "ClampInt",
        lambda x, lo, hi: _ref_clamp(x, lo, hi),
        lambda e, x, lo, hi: _lower_clamp(e, x, e.const(lo), e.const(hi)),
        "Clamp with integer bounds lo, hi",
        "ClampInt(3 * (x - y), -1, 1)",
        ("lo", "hi"),
        vjp=_chain(lambda b, x, out, lo, hi: b("DiffClampInt", x, lo=lo, hi=hi)),
    ),
    _unary(
        "DiffClampInt",
        lambda x, lo, hi: np.where((x < lo) | (x > hi), 0.0, 1.0),
        lambda e, x, lo, hi: e.select(
            e.lt(x, e.const(lo)),
            e.const(0.0),
            e.select(e.gt(x, e.const(hi)), e.const(0.0), e.const(1.0)),
        ),
        "derivative of ClampInt: 1 on [lo, hi], else 0",
        "DiffClampInt(3 * (x - y), -1, 1)",
        ("lo", "hi"),
        vjp=zero_vjp,
    ),
    elementwise(
        "IfElse",
        3,
        lambda f, a, b: np.where(f >= 0, a, b),
        lambda e, f, a, b: e.select(e.ge(f, e.const(0.0)), a, b),
        "a where f >= 0, else b",
        "IfElse(x - y, x, b)",
        vjp=_ifelse_vjp,
    ),
    elementwise(
        "Mod",
        3,
        _nan_safe(lambda x, n, d: x - n * np.floor((x - d) / n)),
        _lower_mod,
        "x - n * floor((x - d) / n): x wrapped into [d, d + n)",
        "Mod(3 * x, y, b - 1)",
        vjp=_mod_vjp,
    ),
)

set_properties("Sqrt Abs", foldable=True)
set_properties("Exp", never_minus_zero=True)
