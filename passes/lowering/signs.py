"""Which float values are provably <= 0 (or NaN): a small sign analysis on arith/math ops.

keir-expand's exp asks it about its argument: exp(x) for x <= 0 cannot overflow, so it needs no
upper clamp and scales its result with one multiply (vecmath_exp). The kernels that matter
have such arguments: -SqDist, -Sqrt(..), -Abs(..), and LogSumExp's shift `small - big`, where
small and big are the min and max of one comparison (dialect/reductions/shiftexp.py).

The rules hold in IEEE arithmetic, not only on the reals: squares, absolute values, square
roots and sums of non-negative floats are >= 0 or NaN (rounding never changes a sign, sqrt(-0)
= -0 counts as 0), and NaN may appear anywhere, since exp passes it through either way.
Unknown ops (loads, block arguments, calls) are unknown. The walk stops at DEPTH ops.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith

DEPTH = 24
_P = arith.CmpFPredicate
# cmpf(pred, a, b) true means a > b (or a >= b, or unordered: a NaN anyway)
_GREATER = {int(p) for p in (_P.OGT, _P.OGE, _P.UGT, _P.UGE)}
_LESS = {int(p) for p in (_P.OLT, _P.OLE, _P.ULT, _P.ULE)}


def nonpositive(v: ir.Value) -> bool:
    """v <= 0 or NaN in every lane, whatever the kernel's inputs."""
    return _sign(v, "-", DEPTH)


def _sign(v, s: str, depth: int) -> bool:
    """s = "+": v >= 0 or NaN; s = "-": v <= 0 or NaN."""
    op = _op(v)
    if op is None or depth == 0:
        return False
    name, args, d = op.name, list(op.operands), depth - 1
    flip = "-" if s == "+" else "+"
    if name == "arith.constant":
        return _constant_sign(op, s)
    if name in ("math.absf", "math.sqrt", "math.exp"):
        return s == "+"
    if name == "arith.negf":
        return _sign(args[0], flip, d)
    if name in ("arith.extf", "arith.truncf", "vector.broadcast"):
        return _sign(args[0], s, d)
    if name in ("arith.mulf", "arith.divf"):
        return _product(args[0], args[1], s, d)
    if name == "math.fma":
        return _product(args[0], args[1], s, d) and _sign(args[2], s, d)
    if name == "arith.addf":
        return _sign(args[0], s, d) and _sign(args[1], s, d)
    if name == "arith.subf":
        if s == "-" and _at_most(args[0], args[1], d):
            return True
        return _sign(args[0], s, d) and _sign(args[1], flip, d)
    if name == "arith.select":
        return _sign(args[1], s, d) and _sign(args[2], s, d)
    if name in ("arith.maximumf", "arith.minimumf"):  # NaN-propagating: one side may do
        one = (name == "arith.maximumf") == (s == "+")
        return (any if one else all)(_sign(a, s, d) for a in args)
    if name in ("arith.maxnumf", "arith.minnumf"):  # maxnum(NaN, -1) = -1: both sides must
        return all(_sign(a, s, d) for a in args)
    return False


def _product(a, b, s: str, d: int) -> bool:
    """a * b (or a / b) has sign s: a square, or factors of the right signs."""
    if s == "+" and a == b:
        return True
    other = "-" if s == "+" else "+"
    return (_sign(a, "+", d) and _sign(b, s, d)) or (_sign(a, "-", d) and _sign(b, other, d))


def _at_most(a, b, d: int) -> bool:
    """a <= b (or NaN): equal values, or b the larger and a one of (or the smaller of) the two
    values a comparison picks between: select(x > y, x, y) and select(x > y, y, x)."""
    if a == b:
        return True
    big = _max_of(b)
    if big is None:
        return False
    small = _max_of(a, smaller=True)
    return a in big or small == big


def _max_of(v, smaller: bool = False):
    """(x, y) if v is select(x > y, x, y) (with smaller: select(x > y, y, x)), else None."""
    op = _op(v)
    if op is None or op.name != "arith.select":
        return None
    cond, then, other = op.operands
    cmp = _op(cond)
    if cmp is None or cmp.name != "arith.cmpf":
        return None
    pred = ir.IntegerAttr(cmp.attributes["predicate"]).value
    x, y = cmp.operands
    if pred in _LESS:
        x, y = y, x
    elif pred not in _GREATER:
        return None
    pair = (then, other) if not smaller else (other, then)
    return (x, y) if pair == (x, y) else None


def _op(v):
    owner = v.owner
    return None if isinstance(owner, ir.Block) else owner


def _constant_sign(op, s: str) -> bool:
    attr = op.attributes["value"]  # (the bindings give the concrete attribute class)
    if isinstance(attr, ir.DenseFPElementsAttr):
        values = list(attr)
    elif isinstance(attr, ir.FloatAttr):
        values = [attr.value]
    else:
        return False
    return all(x >= 0 if s == "+" else x <= 0 for x in values)
