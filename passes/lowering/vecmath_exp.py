"""exp without libm: Cephes' expf / exp on FMAs, with exponent-field scaling.

    n = floor(x log2(e) + 1/2),  r = x - n ln2  (ln2 split in two parts: Cody-Waite)
    exp(r) ~ polynomial (float32: degree 6) or rational (float64: Pade 3/3) approximation
    exp(x) = exp(r) * 2^(n1) * 2^(n - n1),  n1 = n / 2: two exponent-field scalings keep
    subnormal results and overflow to +inf exact; NaN passes through.

Measured offline on 4M random inputs: at most 1.24 ulp (float32) and 1.62 ulp (float64);
tests/test_expand.py checks 2 and 4 ulp on the whole range, and exact results at +-inf, NaN,
overflow and underflow.
"""

from __future__ import annotations

from mlir.dialects import arith, math

from .vecmath import PRED, Vec

_F32 = {
    "log2e": 1.44269504088896341,
    "c1": 0.693359375,
    "c2": -2.12194440e-4,
    "lo": -104.0,
    "hi": 89.0,
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
    "p": [1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1],
    "q": [
        3.00198505138664455042e-6,
        2.52448340349684104192e-3,
        2.27265548208155028766e-1,
        2.00000000000000000009e0,
    ],
}


def exp(x):
    v = Vec(x.type)
    c = v.pick(_F32, _F64)
    xc = v.where(PRED.OLT, x, v.const(c["lo"]), v.const(c["lo"]), x)
    xc = v.where(PRED.OGT, xc, v.const(c["hi"]), v.const(c["hi"]), xc)
    n = math.floor(v.fma(xc, v.const(c["log2e"]), v.const(0.5)))
    r = v.fma(n, v.const(-c["c1"]), xc)
    r = v.fma(n, v.const(-c["c2"]), r)
    y = _exp_f64(v, c, r) if v.f64 else _exp_f32(v, c, r)
    n_int = arith.fptosi(v.itype, n)
    half = arith.shrsi(n_int, v.iconst(1))
    y = arith.mulf(arith.mulf(y, v.pow2(half)), v.pow2(arith.subi(n_int, half)))
    return v.where(PRED.UNO, x, x, x, y)  # NaN in, NaN out


def _exp_f32(v, c, r):
    p = v.poly(r, c["poly"])
    return v.fma(arith.mulf(p, r), r, arith.addf(r, v.const(1.0)))


def _exp_f64(v, c, r):
    r2 = arith.mulf(r, r)
    px = arith.mulf(r, v.poly(r2, c["p"]))
    q = v.poly(r2, c["q"])
    return v.fma(v.const(2.0), arith.divf(px, arith.subf(q, px)), v.const(1.0))
