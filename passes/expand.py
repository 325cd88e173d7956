"""keir-expand: math.exp on vectors becomes a polynomial on FMAs, so the hot loop has no libm.

LLVM turns `math.exp` on `vector<16xf32>` into 16 scalar `expf` calls. This pass rewrites it
(Cephes' algorithms, the same as the C libraries that vectorise exp):

    n = floor(x log2(e) + 1/2),  r = x - n ln2  (ln2 split in two parts: Cody-Waite)
    exp(r) ~ polynomial (float32: degree 6) or rational (float64: Pade 3/3) approximation
    exp(x) = exp(r) * 2^(n1) * 2^(n - n1),  n1 = n / 2: two exponent-field scalings keep
    subnormal results and overflow to +inf exact; NaN passes through.

Accuracy (measured by tests/test_expand.py against numpy on 10^6 points per dtype): within
2 ulp in float32 and 4 ulp in float64 on the whole range, exact at +-inf, NaN and underflow.
Scalar exps (the scalar tails) are expanded too: a kernel must give the same value for the
same input whatever lane computes it (argmax ties depend on it).
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, math

NAME = "keir-expand"
DESCRIPTION = "expand math.exp into polynomial code without libm calls"

_F32 = {
    "log2e": 1.44269504088896341,
    "c1": 0.693359375,
    "c2": -2.12194440e-4,
    "lo": -104.0,
    "hi": 89.0,
    "bias": 127,
    "mantissa": 23,
    "int_bits": 32,
    "poly": [
        1.9875691500e-4,
        1.3981999507e-3,
        8.3334519073e-3,
        4.1665795894e-2,
        1.6666665459e-1,
        5.0000001201e-1,
    ],
}
_F64 = {
    "log2e": 1.4426950408889634073599,
    "c1": 6.93145751953125e-1,
    "c2": 1.42860682030941723212e-6,
    "lo": -746.0,
    "hi": 710.0,
    "bias": 1023,
    "mantissa": 52,
    "int_bits": 64,
    "p": [1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1],
    "q": [
        3.00198505138664455042e-6,
        2.52448340349684104192e-3,
        2.27265548208155028766e-1,
        2.00000000000000000009e0,
    ],
}


def run_on(module_op) -> None:
    exps = []
    module_op.walk(lambda op: _collect(op, exps))
    for op in exps:
        with ir.InsertionPoint(op), op.location:
            op.result.replace_all_uses_with(_exp(op.operands[0]))
        op.erase()


def _collect(op, found):
    if op.name == "math.exp":
        found.append(op.operation)
    return ir.WalkResult.ADVANCE


class _Vec:
    """Constants and FMA-friendly arithmetic on one float type, vector or scalar."""

    def __init__(self, t):
        self.t, self.vec = t, isinstance(t, ir.VectorType)
        self.elem = t.element_type if self.vec else t
        self.f64 = isinstance(self.elem, ir.F64Type)
        self.c = _F64 if self.f64 else _F32
        self.ielem = ir.IntegerType.get_signless(self.c["int_bits"])
        self.itype = ir.VectorType.get(t.shape, self.ielem) if self.vec else self.ielem

    def _constant(self, t, attr):
        return arith.constant(t, ir.DenseElementsAttr.get_splat(t, attr) if self.vec else attr)

    def const(self, x: float):
        return self._constant(self.t, ir.FloatAttr.get(self.elem, x))

    def iconst(self, n: int):
        return self._constant(self.itype, ir.IntegerAttr.get(self.ielem, n))

    def fma(self, a, b, c):
        return math.fma(a, b, c)

    def poly(self, x, coeffs):
        acc = self.const(coeffs[0])
        for k in coeffs[1:]:
            acc = self.fma(acc, x, self.const(k))
        return acc

    def pow2(self, n_int):
        """2^n for integer lanes n in the normal exponent range, from the exponent field."""
        biased = arith.addi(n_int, self.iconst(self.c["bias"]))
        return arith.bitcast(self.t, arith.shli(biased, self.iconst(self.c["mantissa"])))


def _exp(x):
    v = _Vec(x.type)
    c = v.c
    pred = arith.CmpFPredicate
    xc = arith.select(arith.cmpf(pred.OLT, x, v.const(c["lo"])), v.const(c["lo"]), x)
    xc = arith.select(arith.cmpf(pred.OGT, xc, v.const(c["hi"])), v.const(c["hi"]), xc)
    n = math.floor(v.fma(xc, v.const(c["log2e"]), v.const(0.5)))
    r = v.fma(n, v.const(-c["c1"]), xc)
    r = v.fma(n, v.const(-c["c2"]), r)
    if v.f64:
        r2 = arith.mulf(r, r)
        px = arith.mulf(r, v.poly(r2, c["p"]))
        q = v.poly(r2, c["q"])
        y = v.fma(v.const(2.0), arith.divf(px, arith.subf(q, px)), v.const(1.0))
    else:
        p = v.poly(r, c["poly"])
        y = v.fma(arith.mulf(p, r), r, arith.addf(r, v.const(1.0)))
    n_int = arith.fptosi(v.itype, n)
    half = arith.shrsi(n_int, v.iconst(1))
    y = arith.mulf(arith.mulf(y, v.pow2(half)), v.pow2(arith.subi(n_int, half)))
    return arith.select(arith.cmpf(pred.UNO, x, x), x, y)  # NaN in, NaN out
