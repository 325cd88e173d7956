"""Lane arithmetic for lowering rules: one object that emits arith/math ops of one float type.

Op and reduction rules in keir.dialect call only these methods, so the same rule lowers to
scalar lanes (one (i, j) pair per lane) or, later, to vector lanes (many j per lane) by
changing the lane type here.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, math

_PRED = arith.CmpFPredicate


class LaneEmitter:
    """Emits at the current insertion point; `lane_type` is f32, f64 or a vector of them."""

    def __init__(self, lane_type: ir.Type):
        self.type = lane_type

    # ------------------------------------------------------------ constants and conversions
    def const(self, x: float) -> ir.Value:
        elem = self.type.element_type if isinstance(self.type, ir.VectorType) else self.type
        attr = ir.FloatAttr.get(elem, float(x))
        if isinstance(self.type, ir.VectorType):
            attr = ir.DenseElementsAttr.get_splat(self.type, attr)
        return arith.constant(self.type, attr)

    def index_to_lane(self, index: ir.Value) -> ir.Value:
        i64 = arith.index_cast(ir.IntegerType.get_signless(64), index)
        return arith.sitofp(self.type, i64)

    # ------------------------------------------------------------ arithmetic
    # "contract" lets LLVM fuse a multiply and an add into one FMA (one rounding instead of
    # two); no other fast-math freedom is taken, so inf, NaN and signed zeros keep IEEE rules.
    def _fm(self):
        return ir.Attribute.parse("#arith.fastmath<contract>")

    def add(self, a, b):
        return arith.addf(a, b, fastmath=self._fm())

    def sub(self, a, b):
        return arith.subf(a, b, fastmath=self._fm())

    def mul(self, a, b):
        return arith.mulf(a, b, fastmath=self._fm())

    def div(self, a, b):
        return arith.divf(a, b)

    def neg(self, a):
        return arith.negf(a)

    # ------------------------------------------------------------ elementary functions
    def powf(self, a, b):
        return math.powf(a, b)

    def exp(self, a):
        return math.exp(a)

    def log(self, a):
        return math.log(a)

    def sqrt(self, a):
        return math.sqrt(a)

    def rsqrt(self, a):
        return math.rsqrt(a)

    def abs(self, a):
        return math.absf(a)

    def cos(self, a):
        return math.cos(a)

    def sin(self, a):
        return math.sin(a)

    def acos(self, a):
        return math.acos(a)

    def asin(self, a):
        return math.asin(a)

    def atan(self, a):
        return math.atan(a)

    def atan2(self, y, x):
        return math.atan2(y, x)

    def floor(self, a):
        return math.floor(a)

    def trunc(self, a):
        return math.trunc(a)

    def round(self, a):
        """Rounds half away from zero, like C's round."""
        return math.round(a)

    def fma(self, a, b, c):
        return math.fma(a, b, c)

    # ------------------------------------------------------------ comparisons and selection
    def _cmp(self, pred, a, b):
        return arith.cmpf(pred, a, b)

    def gt(self, a, b):
        return self._cmp(_PRED.OGT, a, b)

    def lt(self, a, b):
        return self._cmp(_PRED.OLT, a, b)

    def ge(self, a, b):
        return self._cmp(_PRED.OGE, a, b)

    def le(self, a, b):
        return self._cmp(_PRED.OLE, a, b)

    def eq(self, a, b):
        return self._cmp(_PRED.OEQ, a, b)

    def ne(self, a, b):
        """True when a != b, or either is NaN (C's !=)."""
        return self._cmp(_PRED.UNE, a, b)

    def select(self, cond, a, b):
        return arith.select(cond, a, b)

    def and_(self, a, b):
        return arith.andi(a, b)

    def or_(self, a, b):
        return arith.ori(a, b)
