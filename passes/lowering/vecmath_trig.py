"""sin and cos without libm: Cephes' polynomials after an exact Cody-Waite reduction by pi/2.

    q = nearest integer to |x| 2/pi,  r = |x| - q pi/2 in [-pi/4, pi/4], kept as r + r_lo
    sin(r), cos(r): Cephes' polynomials in z = r^2 (float32: degree 3, float64: degree 6),
        corrected to first order by r_lo
    quadrant q mod 4 picks sin(r) or cos(r) and the sign; sin(-x) = -sin(x) sets the sign bit

The reduction splits pi/2 = C1 + C2 + C3 in three parts of full precision. r1 = |x| - q C1 is
exact in one FMA (the product is exact inside it, and r1 is small and on the grid of |x| and
ulp(C1)); -q C2 = t + t_lo exactly (FMA); r1 + t = r + e exactly (two_sum); r_lo = e + t_lo - q C3
rounds only the low part, so r + r_lo is far more accurate than one float (with a plain
subtraction for r, dropping e, the worst float32 error grows from 0.97 to 1.56 ulp). What limits
|x| is q = fl(|x| 2/pi): once its rounding error nears 1/2, r leaves [-pi/4, pi/4], where the
polynomials are accurate.

BOUND is where that starts (float32 2^21, float64 2^45). Within it the error measured offline
is at most 0.97 ulp for every float32 in [2^-13, 2^21] and 0.83 ulp for float64 (random samples
per binade, and the floats closest to multiples of pi/2); tests/test_expand.py checks 2 and
4 ulp on samples and those hardest cases. sin(+-0) = +-0; NaN and +-inf give NaN. Beyond
BOUND, like Cephes' sinf/cosf beyond 2^24, sin returns +-0 (the sign of x) and cos returns 0:
a total loss of precision, but a finite value in [-1, 1] rather than a polynomial evaluated far
outside its range.
"""

from __future__ import annotations

from mlir.dialects import arith, math

from .vecmath import PRED, Vec

BOUND = {"float32": 2.0**21, "float64": 2.0**45}

# pi/2 in three parts, each the float nearest to what the previous ones leave.
_HALF_PI32 = (1.5707963705062866, -4.371138828673793e-08, -1.7151245100058819e-15)
_HALF_PI64 = (1.5707963267948966, 6.123233995736766e-17, -1.4973849048591698e-33)
_TWO_OVER_PI = 0.63661977236758134308

_SIN32 = [-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1]
_COS32 = [2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2]
_SIN64 = [
    1.58962301576546568060e-10,
    -2.50507477628578072866e-8,
    2.75573136213857245213e-6,
    -1.98412698295895385996e-4,
    8.33333333332211858878e-3,
    -1.66666666666666307295e-1,
]
_COS64 = [
    -1.13585365213876817300e-11,
    2.08757008419747316778e-9,
    -2.75573141792967388112e-7,
    2.48015872888517045348e-5,
    -1.38888888888730564116e-3,
    4.16666666666665929218e-2,
]


def sin(x):
    return _sin_cos(x, cosine=False)


def cos(x):
    return _sin_cos(x, cosine=True)


def _sin_cos(x, cosine: bool):
    v = Vec(x.type)
    size = math.absf(x)
    inside = v.cmp(PRED.OLE, size, v.const(v.pick(BOUND["float32"], BOUND["float64"])))
    ax = arith.select(inside, size, v.const(0.0))  # keeps q small: fptosi cannot overflow
    q = math.floor(v.fma(ax, v.const(_TWO_OVER_PI), v.const(0.5)))
    r, r_lo = _reduce(v, ax, q)
    z = arith.mulf(r, r)
    s, c = _sin_poly(v, r, r_lo, z), _cos_poly(v, r, r_lo, z)
    quadrant = arith.fptosi(v.itype, q)
    if cosine:  # cos(r + q pi/2) = sin(r + (q + 1) pi/2)
        quadrant = arith.addi(quadrant, v.iconst(1))
    # sin(r + q pi/2), q = 0, 1, 2, 3: sin(r), cos(r), -sin(r), -cos(r)
    odd = arith.cmpi(arith.CmpIPredicate.ne, arith.andi(quadrant, v.iconst(1)), v.iconst(0))
    y = arith.select(odd, c, s)
    sign = arith.shli(arith.andi(quadrant, v.iconst(2)), v.iconst(v.bits - 2))
    if not cosine:  # sin(-x) = -sin(x)
        sign = arith.xori(sign, v.sign_bit(x))
    beyond = arith.mulf(size if cosine else x, v.const(0.0))  # NaN for +-inf and NaN
    return arith.select(inside, v.flip_sign(y, sign), beyond)


def _reduce(v, ax, q):
    """(r, r_lo): r + r_lo = |x| - q pi/2 to about q 2^-72 (float32) / q 2^-160 (float64)."""
    c1, c2, c3 = v.pick(_HALF_PI32, _HALF_PI64)
    r1 = v.fma(q, v.const(-c1), ax)  # exact
    t = arith.mulf(q, v.const(-c2))
    t_lo = v.fma(q, v.const(-c2), arith.negf(t))  # exact: -q C2 = t + t_lo
    r, e = v.two_sum(r1, t)
    return r, v.fma(q, v.const(-c3), arith.addf(e, t_lo))


def _sin_poly(v, r, r_lo, z):
    """sin(r + r_lo) = r + r^3 P(r^2) + r_lo (1 - r^2/2)."""
    lo = v.fma(r_lo, arith.mulf(z, v.const(-0.5)), r_lo)
    return arith.addf(r, v.fma(arith.mulf(r, z), v.poly(z, v.pick(_SIN32, _SIN64)), lo))


def _cos_poly(v, r, r_lo, z):
    """cos(r + r_lo) = 1 - r^2/2 + r^4 Q(r^2) - r_lo r (r^2/2 from one FMA on -r/2, exact)."""
    poly = v.poly(z, v.pick(_COS32, _COS64))
    small = v.fma(arith.mulf(z, z), poly, arith.negf(arith.mulf(r_lo, r)))
    small = v.fma(r, arith.mulf(r, v.const(-0.5)), small)
    return arith.addf(v.const(1.0), small)
