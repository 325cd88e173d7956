"""exp without libm: Cephes' reduction on FMAs, a polynomial, scaling through the exponent bits.

    t = x log2(e) + M   (one FMA; M = 1.5 2^23, 1.5 2^52 in float64, plus an integer offset):
        the FMA rounds to an integer, n = t - M exactly, and the low bits of t hold n + offset
    r = x - n ln2       (ln2 split in two parts: Cody-Waite; |r| <= ln2 / 2)
    exp(r) ~ polynomial (degree 6 in float32, 11 in float64: no divide)
    exp(x) = exp(r) 2^n, 2^n from the bits of t shifted into the exponent field

No floor and no float-to-int conversion: AVX2 has none from float64 to int64, and LLVM
scalarised them. NaN passes through the arithmetic by itself (NaN * anything is NaN); x is
clamped below (exp(-inf) = 0, and n stays in range) and, unless known <= 0, above. 2^n alone
cannot be one float over n's whole range (subnormal results need n < -126), so:
  - x provably <= 0 (lowering/signs.py: -SqDist, -Sqrt(..), LogSumExp's shifts): the
    polynomial's coefficients carry a factor 2^-64 (every step scales exactly: its results stay
    normal), the exponent field 2^(n + 64), so one multiply rounds once into the subnormals;
  - otherwise two factors 2^floor(n/2) 2^ceil(n/2) (both normal; overflow to +inf is exact),
    or on an AVX-512 target's 512-bit vectors one vscalefps/pd (`scalef`), masked off where
    the result rounds to 0.
All give the same bits where they apply: the same exp(r) times 2^n, rounded once.

Measured on 1M random inputs per range (the whole range, [-3, 3], subnormal results, near
overflow, both scalings): at most 0.92 ulp (float32) and 0.93 ulp (float64);
tests/test_expand.py checks 2 and 4 ulp on the whole range, and exact results at +-inf, NaN,
overflow and underflow.
"""

from __future__ import annotations

import struct

from mlir import ir
from mlir.dialects import arith, vector

from .vecmath import PRED, Vec

_F32 = {
    "log2e": 1.44269504088896341,
    "c1": 0.693359375,
    "c2": -2.12194440e-4,
    "hi": 89.0,
    # exp(r) = 1 + r + r^2 P(r), P of degree 4: a Chebyshev fit of (exp(r) - 1 - r) / r^2 on
    # |r| <= ln2 / 2 + 1e-4 (mpmath.chebyfit, 5 terms: 0.13 ulp), one FMA fewer than Cephes'
    "poly": [
        0.001392619766942992,
        0.008363190325615149,
        0.041666554532615786,
        0.166665769219854,
        0.5,
    ],
}
_F64 = {
    "log2e": 1.4426950408889634073599,
    "c1": 6.93145751953125e-1,
    "c2": 1.42860682030941723212e-6,
    "hi": 710.0,
    # as float32's, P of degree 9 (mpmath.chebyfit, 10 terms, |r| <= ln2 / 2 + 1e-6: 1e-16
    # relative in P, 1.3e-17 in exp(r)). Cephes' Pade 3/3 has one op fewer but a divide: on
    # the divider beside the square root, a Laplacian or Matern kernel in float64 waited on it
    # (Sapphire Rapids: vdivpd zmm 16.7 cycles, vsqrtpd zmm 20)
    "poly": [
        2.510037611136142e-08,
        2.7620076242527254e-07,
        2.7557268479724004e-06,
        2.4801521321606647e-05,
        0.00019841269863040922,
        0.0013888888917197209,
        0.008333333333330065,
        0.041666666666624164,
        0.16666666666666669,
        0.5000000000000001,
    ],
}
SHIFT = 64  # the exponent offset of the one-multiply scaling (x <= 0)


def exp(x, nonpositive: bool = False, scalef: bool = False):
    """exp(x); `nonpositive`: x <= 0 or NaN in every lane (exp(x) <= 1), as signs.py proves;
    `scalef`: the target has AVX-512's vscalefps/pd (keir-expand{scalef}), used on 512-bit
    vectors of an argument that may be positive: exp(r) 2^n in one instruction, rounded once,
    whatever n (no split scaling). (Where x <= 0 the one multiply is as short, and faster
    where results underflow.)"""
    v = Vec(x.type)
    c = v.pick(_F32, _F64)
    scalef = scalef and not nonpositive and str(x.type) in _SCALEF
    offset = v.bias + SHIFT if nonpositive else 2 * v.bias
    z, sign = _operand(v, x, c, nonpositive, _floor(offset))
    magic = 1.5 * 2.0**v.mantissa + offset
    t = v.fma(z, v.const(sign * c["log2e"]), v.const(magic))
    n = arith.subf(t, v.const(magic))
    w = v.fma(n, v.const(-sign * c["c1"]), z)  # w = sign r
    w = v.fma(n, v.const(-sign * c["c2"]), w)
    scale = 2.0**-SHIFT if nonpositive else 1.0
    y = _exp_reduced(v, c, w, sign, scale)
    if scalef:  # t = z sign log2(e) + M = x log2(e) + M, either sign
        return _scalef(v, y, n)
    bits = v.to_bits(t)
    if nonpositive:  # the low bits of t: n + bias + SHIFT, shifted out of the mantissa field
        return arith.mulf(y, v.from_bits(arith.shli(bits, v.iconst(v.mantissa))))
    # n + 2 bias (>= 0), halved: floor(n / 2) + bias and ceil(n / 2) + bias
    a = arith.subi(bits, v.iconst(_bits_of(1.5 * 2.0**v.mantissa, v)))
    half = arith.shrui(a, v.iconst(1))
    y = arith.mulf(y, v.from_bits(arith.shli(half, v.iconst(v.mantissa))))
    return arith.mulf(y, v.from_bits(arith.shli(arith.subi(a, half), v.iconst(v.mantissa))))


# AVX-512's scalef on 512-bit vectors: y 2^floor(n) (n integral here), with IEEE overflow and
# underflow, as LLVM's x86 intrinsic (mask all ones, rounding: the current mode)
_SCALEF = {
    "vector<16xf32>": ("llvm.x86.avx512.mask.scalef.ps.512", 16),
    "vector<8xf64>": ("llvm.x86.avx512.mask.scalef.pd.512", 8),
}


def _scalef(v, y, n):
    """y 2^n by vscalef, in the lanes where the result is not below half the smallest
    subnormal (or NaN); the others are 0, exactly their rounded value, without computing
    them: a scalef that underflows takes a microcode assist (far points of a Gaussian with
    a parameter: 0.20 against 2.83 G pairs/s per thread), a masked-off lane does not."""
    name, lanes = _SCALEF[str(y.type)]
    live = arith.cmpf(PRED.UGE, n, v.const(-float(v.bias + v.mantissa + 2)))
    word = ir.VectorType.get([1], ir.IntegerType.get_signless(lanes))
    mask = vector.extract(vector.bitcast(word, live), [], [0])
    rounding = arith.constant(ir.IntegerType.get_signless(32), 4)  # _MM_FROUND_CUR_DIRECTION
    op = ir.Operation.create(
        "llvm.call_intrinsic",
        results=[y.type],
        operands=[y, n, v.const(0.0), mask, rounding],
        attributes={
            "intrin": ir.StringAttr.get(name),
            "fastmathFlags": ir.Attribute.parse("#llvm.fastmath<none>"),
            "op_bundle_sizes": ir.DenseI32ArrayAttr.get([]),
            "operandSegmentSizes": ir.DenseI32ArrayAttr.get([5, 0]),
        },
    )
    return op.result


def _floor(offset: int) -> float:
    """The lower clamp: where n = -offset, so that the exponent field of the scaling is 0 and
    the scale factor is exactly 0.0. Below exp's underflow (-103.97 in float32, -745.13 in
    float64) every result is 0 anyway, but a clamp at the underflow itself (as Cephes) leaves
    the lanes of very negative arguments (a small sigma, far points) multiplying into the
    subnormals: microcode assists that made the Gaussian 2.5x slower at sigma = 0.1 on Zen 3.
    A factor of 0.0 multiplies at full speed. (offset - 0.25) ln 2: n rounds to -offset."""
    return -(offset - 0.25) * 0.6931471805599453


def _operand(v, x, c, nonpositive, floor):
    """(z, sign) with z = sign x clamped to [floor, hi]: x = -m (m >= 0) is used as m, sign
    -1, so neither the clamp (min(m, -floor): one vminps) nor the FMAs need a negation.
    Rounding is symmetric, so every later step computes exactly the negation of what x would
    give."""
    op = x.owner
    if nonpositive and getattr(op, "name", None) == "arith.negf":
        m, lo = op.operands[0], v.const(-floor)
        return v.where(PRED.OGT, m, lo, lo, m), -1.0
    lo, hi = v.const(floor), v.const(c["hi"])
    x = v.where(PRED.OLT, x, lo, lo, x)  # exp(-inf) = 0; n stays in range
    return (x if nonpositive else v.where(PRED.OGT, x, hi, hi, x)), 1.0


def _bits_of(value: float, v) -> int:
    fmt = "<d" if v.f64 else "<f"
    return int.from_bytes(struct.pack(fmt, value), "little", signed=True)


def _signed(coeffs, sign, scale):
    """Coefficients (highest degree first, the last of degree 0) of s P(r) as a polynomial in
    w = sign r: the odd-degree ones change sign with w."""
    last = len(coeffs) - 1
    return [k * scale * sign ** (last - i) for i, k in enumerate(coeffs)]


def _exp_reduced(v, c, w, sign, s):
    """s exp(r) = s (1 + r + r^2 P(r)), w = sign r: Horner on FMAs down to the constant term
    (adding 1 + r last, as Cephes: 1.24 ulp and one op more; Estrin's shorter chain needed
    one more register than AVX2's 16, and LLVM shuffled constants between them: slower)."""
    return v.poly(w, _signed(c["poly"] + [1.0, 1.0], sign, s))
