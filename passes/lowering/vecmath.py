"""Float arithmetic shared by keir-expand's math routines (vecmath_exp, _log, _trig).

One `Vec` per float type, scalar (`f32`) or vector (`vector<16xf32>`): the routines build the
same op sequence for both, so a kernel's scalar tail computes bit for bit what its vector
lanes compute. Every op is an explicit `math.fma` or a plain arith op without fast-math flags,
so LLVM neither contracts nor reassociates them: the error-free transformations below (the
exact low part of an FMA, `two_sum`) depend on it.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, math

PRED = arith.CmpFPredicate


class Vec:
    """Constants, FMA-friendly arithmetic and bit access for one float type."""

    def __init__(self, t: ir.Type):
        self.t, self.vec = t, isinstance(t, ir.VectorType)
        self.elem = t.element_type if self.vec else t
        self.f64 = isinstance(self.elem, ir.F64Type)
        self.bits, self.mantissa, self.bias = (64, 52, 1023) if self.f64 else (32, 23, 127)
        self.ielem = ir.IntegerType.get_signless(self.bits)
        self.itype = ir.VectorType.get(t.shape, self.ielem) if self.vec else self.ielem

    def pick(self, f32, f64):
        """The float32 or the float64 variant of a constant table."""
        return f64 if self.f64 else f32

    # ------------------------------------------------------------ constants
    def _constant(self, t, attr):
        return arith.constant(t, ir.DenseElementsAttr.get_splat(t, attr) if self.vec else attr)

    def const(self, x: float):
        return self._constant(self.t, ir.FloatAttr.get(self.elem, x))

    def iconst(self, n: int):
        return self._constant(self.itype, ir.IntegerAttr.get(self.ielem, n))

    # ------------------------------------------------------------ arithmetic
    def fma(self, a, b, c):
        return math.fma(a, b, c)

    def poly(self, x, coeffs):
        """Horner's scheme on FMAs, highest degree first."""
        acc = self.const(coeffs[0])
        for k in coeffs[1:]:
            acc = self.fma(acc, x, self.const(k))
        return acc

    def two_sum(self, a, b):
        """(s, e) with s = fl(a + b) and a + b = s + e exactly (Knuth; no ordering needed)."""
        s = arith.addf(a, b)
        bb = arith.subf(s, a)
        e = arith.addf(arith.subf(a, arith.subf(s, bb)), arith.subf(b, bb))
        return s, e

    # ------------------------------------------------------------ comparisons and selection
    def cmp(self, pred, a, b):
        return arith.cmpf(pred, a, b)

    def where(self, pred, a, b, then, otherwise):
        """`then` in the lanes where `a pred b` holds, else `otherwise`."""
        return arith.select(arith.cmpf(pred, a, b), then, otherwise)

    # ------------------------------------------------------------ bits of the IEEE format
    def to_bits(self, x):
        return arith.bitcast(self.itype, x)

    def from_bits(self, n):
        return arith.bitcast(self.t, n)

    def pow2(self, n_int):
        """2^n for integer lanes n in the normal exponent range, from the exponent field."""
        biased = arith.addi(n_int, self.iconst(self.bias))
        return self.from_bits(arith.shli(biased, self.iconst(self.mantissa)))

    def sign_bit(self, x):
        """The sign bit of x, in place (the other bits zero), as integer lanes."""
        return arith.andi(self.to_bits(x), self.iconst(-(1 << (self.bits - 1))))

    def flip_sign(self, x, sign):
        """x with its sign bit xor-ed with `sign` (integer lanes holding only a sign bit)."""
        return self.from_bits(arith.xori(self.to_bits(x), sign))
