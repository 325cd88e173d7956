"""Arithmetic, constants and comparisons."""

from __future__ import annotations

import numpy as np

from .base import OpDef, elementwise, register, require, set_properties, zero_vjp


def _ipow(e, a, n: int):
    """a**n by binary exponentiation; a negative n inverts the result (KeOps Pow)."""
    result, base, k = None, a, abs(n)
    while k:
        if k & 1:
            result = base if result is None else e.mul(result, base)
        k >>= 1
        if k:
            base = e.mul(base, base)
    if result is None:
        result = e.const(1.0)
    return e.div(e.const(1.0), result) if n < 0 else result


def _ref_ipow(x, n):
    return np.power(x, float(n))


def _pow_vjp(b, g, out, x, n):
    return [None] if n == 0 else [g * (n * b("Pow", x, n=n - 1))]


def _powf_vjp(b, g, out, x, y):
    return [g * (y * b("Powf", x, y - 1)), g * (out * b("Log", x))]


def _truth(e, cond):
    return e.select(cond, e.const(1.0), e.const(0.0))


def _constant(name: str, value, dim, doc: str, example: str, params: tuple[str, ...]) -> OpDef:
    """A constant: no operands, its value and dim given by integer parameters."""

    def dim_rule(**p):
        require(dim(**p) >= 1, f"{name}: dimension must be at least 1")
        require(value(**p) == value(**p), f"{name}: division by zero")
        return dim(**p)

    return OpDef(
        name,
        0,
        dim_rule,
        lambda **p: np.full((1, 1, dim(**p)), value(**p)),
        lambda e, **p: [e.const(value(**p))] * dim(**p),
        doc,
        example,
        params,
        dim_rule="given by the parameters",
        vjp=lambda b, g, out, **p: [],
    )


def _ratio(p, q):
    return p / q if q else float("nan")


register(
    elementwise(
        "Add",
        2,
        np.add,
        lambda e, a, b: e.add(a, b),
        "x + y",
        "x + y",
        vjp=lambda b, g, out, x, y: [g, g],
    ),
    elementwise(
        "Subtract",
        2,
        np.subtract,
        lambda e, a, b: e.sub(a, b),
        "x - y",
        "x - b",
        vjp=lambda b, g, out, x, y: [g, -g],
    ),
    elementwise(
        "Mult",
        2,
        np.multiply,
        lambda e, a, b: e.mul(a, b),
        "x * y",
        "s * x * y",
        vjp=lambda b, g, out, x, y: [g * y, g * x],
    ),
    elementwise(
        "Divide",
        2,
        np.divide,
        lambda e, a, b: e.div(a, b),
        "x / y",
        "x / (y + 1)",
        vjp=lambda b, g, out, x, y: [g / y, -(g * out) / y],
    ),
    elementwise(
        "Minus",
        1,
        np.negative,
        lambda e, a: e.neg(a),
        "-x",
        "-x + y",
        vjp=lambda b, g, out, x: [-g],
    ),
    elementwise(
        "Square",
        1,
        np.square,
        lambda e, a: e.mul(a, a),
        "x * x",
        "Square(x - y)",
        vjp=lambda b, g, out, x: [2 * (g * x)],
    ),
    elementwise(
        "Inv",
        1,
        lambda x: 1 / x,
        lambda e, a: e.div(e.const(1.0), a),
        "1 / x",
        "Inv(x + y)",
        vjp=lambda b, g, out, x: [-(g * b("Square", out))],
    ),
    elementwise(
        "Pow",
        1,
        _ref_ipow,
        lambda e, a, n: _ipow(e, a, n),
        "x ** n for an integer n (also x ^ n, x ** n)",
        "Pow(x + y, -3)",
        ("n",),
        vjp=_pow_vjp,
    ),
    elementwise(
        "Powf",
        2,
        np.power,
        lambda e, a, b: e.powf(a, b),
        "x ** y for a formula y (also x ^ y with y not an integer)",
        "Powf(x, y)",
        vjp=_powf_vjp,
    ),
    # comparisons give 1.0 or 0.0; x > y and x >= y are LessThan(y, x), LessOrEqual(y, x)
    elementwise(
        "Equal",
        2,
        lambda a, b: (a == b) * 1.0,
        lambda e, a, b: _truth(e, e.eq(a, b)),
        "1 if x == y else 0",
        "Equal(Floor(2 * x), Floor(2 * y))",
        vjp=zero_vjp,
    ),
    elementwise(
        "NotEqual",
        2,
        lambda a, b: (a != b) * 1.0,
        lambda e, a, b: _truth(e, e.ne(a, b)),
        "1 if x != y else 0",
        "NotEqual(Floor(2 * x), Floor(2 * y))",
        vjp=zero_vjp,
    ),
    elementwise(
        "LessThan",
        2,
        lambda a, b: (a < b) * 1.0,
        lambda e, a, b: _truth(e, e.lt(a, b)),
        "1 if x < y else 0 (also x < y, y > x)",
        "x < y",
        vjp=zero_vjp,
    ),
    elementwise(
        "LessOrEqual",
        2,
        lambda a, b: (a <= b) * 1.0,
        lambda e, a, b: _truth(e, e.le(a, b)),
        "1 if x <= y else 0 (also x <= y, y >= x)",
        "x >= Square(y)",
        vjp=zero_vjp,
    ),
    _constant(
        "RatCst", _ratio, lambda p, q: 1, "the rational p / q", "RatCst(3, 4) * x", ("p", "q")
    ),
    _constant("IntInv", lambda n: _ratio(1, n), lambda n: 1, "1 / n", "IntInv(3) * x", ("n",)),
    _constant(
        "Zero", lambda n: 0.0, lambda n: n, "the zero vector of dimension n", "Zero(3) + x", ("n",)
    ),
)

set_properties(
    "Add Subtract Mult Divide Minus Square Inv Equal NotEqual LessThan LessOrEqual", foldable=True
)
set_properties("Square Equal NotEqual LessThan LessOrEqual", never_minus_zero=True)
set_properties("Minus", complex="safe")
