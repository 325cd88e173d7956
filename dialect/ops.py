"""The formula operations of the keir dialect, each defined once.

An `OpDef` holds everything keir knows about one KeOps operation: its spelling, arity, integer
parameters, dimension rule, numpy reference semantics (the test oracle) and its lowering to
lane arithmetic. The lowering only calls methods of an *emitter* (see keir.passes.emitter), so
this module does not import the passes: the same rule serves scalar lanes and vector lanes.

Values are vectors of `dim` components; an operand of dimension 1 broadcasts against any other
dimension in element-wise operations, as in KeOps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class DimRuleError(ValueError):
    """Raised by a dimension rule; the builder adds the op name and formula position."""


@dataclass(frozen=True)
class OpDef:
    name: str  # KeOps spelling, e.g. "SqDist"
    arity: int  # number of formula operands
    dim: Callable[..., int]  # (operand dims..., **params) -> result dim
    ref: Callable[..., np.ndarray]  # numpy arrays with components on the last axis
    lower: Callable[..., list]  # (emitter, operand lane lists..., **params) -> lane list
    doc: str
    params: tuple[str, ...] = field(default=())  # integer attributes, in call order

    @property
    def mnemonic(self) -> str:
        return self.name.lower()


# ---------------------------------------------------------------- dimension rules
def same_dim(d: int, **_: int) -> int:
    return d


def broadcast_dims(a: int, b: int, **_: int) -> int:
    if a == b or b == 1:
        return a
    if a == 1:
        return b
    raise DimRuleError(f"dimensions {a} and {b} differ and neither is 1")


def equal_dims_to_scalar(a: int, b: int, **_: int) -> int:
    if a != b:
        raise DimRuleError(f"expected operands of equal dimension, got {a} and {b}")
    return 1


def to_scalar(d: int, **_: int) -> int:
    return 1


def broadcast_to_scalar(a: int, b: int, **_: int) -> int:
    broadcast_dims(a, b)
    return 1


def broadcast_lanes(x: list, y: list) -> tuple[list, list]:
    """Repeats a one-component operand to the other operand's length (KeOps broadcasting)."""
    if len(x) == 1 and len(y) > 1:
        x = x * len(y)
    if len(y) == 1 and len(x) > 1:
        y = y * len(x)
    return x, y


# ---------------------------------------------------------------- element-wise families
def unary(name: str, ref: Callable, scalar: Callable, doc: str, params=()) -> OpDef:
    def lower(e, x, **p):
        return [scalar(e, a, **p) for a in x]

    return OpDef(name, 1, same_dim, ref, lower, doc, tuple(params))


def binary(name: str, ref: Callable, scalar: Callable, doc: str) -> OpDef:
    def lower(e, x, y):
        x, y = broadcast_lanes(x, y)
        return [scalar(e, a, b) for a, b in zip(x, y)]

    return OpDef(name, 2, broadcast_dims, ref, lower, doc)


def _sum_lanes(e, lanes: list):
    total = lanes[0]
    for lane in lanes[1:]:
        total = e.add(total, lane)
    return total


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
    return np.power(x, float(n)) if n < 0 else np.power(x, n)


def _keep(a):
    return np.asarray(a)[..., None] if np.ndim(a) == 0 else a


OPS: dict[str, OpDef] = {}


def _register(*defs: OpDef) -> None:
    for d in defs:
        OPS[d.name] = d


# ---------------------------------------------------------------- arithmetic
_register(
    binary("Add", np.add, lambda e, a, b: e.add(a, b), "x + y, element-wise"),
    binary("Subtract", np.subtract, lambda e, a, b: e.sub(a, b), "x - y, element-wise"),
    binary("Mult", np.multiply, lambda e, a, b: e.mul(a, b), "x * y, element-wise"),
    binary("Divide", np.divide, lambda e, a, b: e.div(a, b), "x / y, element-wise"),
    unary("Minus", np.negative, lambda e, a: e.neg(a), "-x"),
    unary("Square", np.square, lambda e, a: e.mul(a, a), "x * x"),
    unary("Inv", lambda x: 1 / x, lambda e, a: e.div(e.const(1.0), a), "1 / x"),
    unary("Pow", _ref_ipow, lambda e, a, n: _ipow(e, a, n), "x ** n, n an integer", ("n",)),
    binary(
        "Powf",
        lambda x, y: np.exp(y * np.log(x)),
        lambda e, a, b: e.exp(e.mul(b, e.log(a))),
        "x ** y = Exp(y * Log(x)), element-wise",
    ),
)

# ---------------------------------------------------------------- elementary functions
_register(
    unary("Exp", np.exp, lambda e, a: e.exp(a), "exponential"),
    unary("Log", np.log, lambda e, a: e.log(a), "natural logarithm"),
    unary("Sqrt", np.sqrt, lambda e, a: e.sqrt(a), "square root"),
    unary(
        "Rsqrt",
        lambda x: np.where(x == 0, 0.0, 1 / np.sqrt(np.where(x == 0, 1, x))).astype(x.dtype),
        lambda e, a: e.select(e.eq(a, e.const(0.0)), e.const(0.0), e.rsqrt(a)),
        "1 / sqrt(x), and 0 at 0 (KeOps convention)",
    ),
    unary("Abs", np.abs, lambda e, a: e.abs(a), "absolute value"),
)

# ---------------------------------------------------------------- vector operations
_register(
    OpDef(
        "Sum",
        1,
        to_scalar,
        lambda x: x.sum(-1, keepdims=True),
        lambda e, x: [_sum_lanes(e, x)],
        "sum of the components",
    ),
    OpDef(
        "SqNorm2",
        1,
        to_scalar,
        lambda x: (x * x).sum(-1, keepdims=True),
        lambda e, x: [_sum_lanes(e, [e.mul(a, a) for a in x])],
        "squared Euclidean norm (x|x)",
    ),
    OpDef(
        "Norm2",
        1,
        to_scalar,
        lambda x: np.sqrt((x * x).sum(-1, keepdims=True)),
        lambda e, x: [e.sqrt(_sum_lanes(e, [e.mul(a, a) for a in x]))],
        "Euclidean norm",
    ),
    OpDef(
        "SqDist",
        2,
        broadcast_to_scalar,
        lambda x, y: ((x - y) ** 2).sum(-1, keepdims=True),
        lambda e, x, y: [
            _sum_lanes(
                e, [e.mul(d, d) for d in (e.sub(a, b) for a, b in zip(*broadcast_lanes(x, y)))]
            )
        ],
        "squared distance SqNorm2(x - y)",
    ),
    OpDef(
        "Scalprod",
        2,
        equal_dims_to_scalar,
        lambda x, y: (x * y).sum(-1, keepdims=True),
        lambda e, x, y: [_sum_lanes(e, [e.mul(a, b) for a, b in zip(x, y)])],
        "scalar product (x|y)",
    ),
)

# ---------------------------------------------------------------- leaves
# Leaves carry their value in attributes; the frontend builds them with dedicated builders.
LEAF_OPS = {
    "var": "a variable: cat (0 = i, 1 = j, 2 = parameter), pos (argument index), dim",
    "intcst": "IntCst(n): the integer n as a one-component value",
    "cst": "a floating-point literal of the formula as a one-component value",
}
