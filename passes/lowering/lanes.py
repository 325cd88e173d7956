"""Lane arithmetic for lowering rules: one object that emits arith/math ops of one float type.

Op and reduction rules in keir.dialect call only these methods, so the same rule lowers to
scalar lanes (one (i, j) pair per lane) or, later, to vector lanes (many j per lane) by
changing the lane type here.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, math, scf, vector

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

    def lanes_min(self, a):
        """The smallest lane of a, in every lane (a scalar is its own minimum)."""
        if not isinstance(self.type, ir.VectorType):
            return a
        low = vector.reduction(self.type.element_type, vector.CombiningKind.MINIMUMF, a)
        return vector.broadcast(self.type, low)

    # ------------------------------------------------------------ single lanes of a vector
    @property
    def is_vector(self) -> bool:
        return isinstance(self.type, ir.VectorType)

    def lane(self, v, k: int):
        """Lane k of the vector v, a scalar."""
        return vector.extract(v, [], [k])

    def lane_everywhere(self, v, k: int):
        """Lane k of v in every lane (one permute)."""
        return vector.shuffle(v, v, [k] * self.type.shape[0])

    def shifted_up(self, v, before):
        """Lane k holds lane k - 1 of v; lane 0 the last lane of the vector `before`, or
        `before` itself if it is a number (one two-source permute)."""
        n = self.type.shape[0]
        if isinstance(before, (int, float)):
            return vector.shuffle(v, self.const(before), [n] + list(range(n - 1)))
        return vector.shuffle(v, before, [2 * n - 1] + list(range(n - 1)))

    def splat(self, s):
        """The scalar s in every lane."""
        return vector.broadcast(self.type, s) if self.is_vector else s

    def each_set_lane(self, mask, lanes: list, carried: list, body) -> list:
        """Folds body(scalars of lane l, carried) -> carried over the lanes l where `mask` (an
        i1 vector) holds, in lane order: a loop over the set bits of the mask as an integer
        (count trailing zeros, clear the lowest), so a vector where one lane of 16 matters
        costs one step, not 16."""
        n = self.type.shape[0]
        iw = ir.IntegerType.get_signless(32 if n <= 32 else 64)  # the loop's word
        bits = vector.bitcast(ir.VectorType.get([1], ir.IntegerType.get_signless(n)), mask)
        word = vector.extract(bits, [], [0])
        word = arith.extui(iw, word) if n < iw.width else word
        loop = scf.WhileOp([iw] + [v.type for v in carried], [word, *carried])
        before = loop.before.blocks.append(iw, *[v.type for v in carried])
        with ir.InsertionPoint(before):
            zero = arith.constant(iw, 0)
            left = arith.cmpi(arith.CmpIPredicate.ne, before.arguments[0], zero)
            scf.ConditionOp(left, list(before.arguments))
        after = loop.after.blocks.append(iw, *[v.type for v in carried])
        with ir.InsertionPoint(after):
            m = after.arguments[0]
            lane = arith.index_cast(ir.IndexType.get(), math.cttz(m))
            dyn = ir.ShapedType.get_dynamic_size()
            element = [vector.extract(v, [lane], [dyn]) for v in lanes]
            rest = arith.andi(m, arith.subi(m, arith.constant(iw, 1)))  # lowest set bit off
            scf.YieldOp([rest, *body(element, list(after.arguments[1:]))])
        return list(loop.results[1:])

    def fold_items(self, items: list[list], carried: list, body) -> list:
        """Folds body(items[k], carried) -> carried over k = 0 .. len(items) - 1, in order.

        On scalar lanes the items go into vectors and a loop extracts item k, so the body's
        code appears once, not once per item (a K-min merge unrolled K*K insertions: its
        compile time). Vector lanes unroll: a vector of vectors cannot be indexed in a loop."""
        if self.is_vector or len(items) < 2:
            for item in items:
                carried = body(list(item), carried)
            return carried
        n = len(items)
        packed = [
            vector.from_elements(ir.VectorType.get([n], column[0].type), list(column))
            for column in zip(*items)
        ]
        return _fold_elements(packed, n, carried, body)

    # ------------------------------------------------------------ control flow
    def when_any(self, cond, state: list, update) -> list:
        """update() if cond holds in some lane, else `state` unchanged: a branch that skips
        work no lane needs (e.g. a K-min insertion once the K best are good)."""
        flag = cond
        if isinstance(self.type, ir.VectorType):
            flag = vector.reduction(ir.IntegerType.get_signless(1), vector.CombiningKind.OR, cond)
        branch = scf.IfOp(flag, [v.type for v in state], has_else=True)
        with ir.InsertionPoint(branch.then_block):
            scf.YieldOp(update())
        with ir.InsertionPoint(branch.else_block):
            scf.YieldOp(state)
        return list(branch.results)


def _fold_elements(vectors: list, n: int, carried: list, body) -> list:
    """A loop over k < n folding body([element k of each vector], carried) -> carried."""
    from .formula import index_const

    loop = scf.ForOp(index_const(0), index_const(n), index_const(1), carried)
    with ir.InsertionPoint(loop.body):
        dyn = ir.ShapedType.get_dynamic_size()
        element = [vector.extract(v, [loop.induction_variable], [dyn]) for v in vectors]
        scf.YieldOp(body(element, list(loop.inner_iter_args)))
    return list(loop.results)
