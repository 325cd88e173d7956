"""Complex numbers as interleaved (re, im) pairs: a value of dim 2n holds n complex numbers.

KeOps 2.3 (keopscore/formulas/complex) has no complex type, only these ops on real vectors, so
keir follows its code rather than its docs:
- Conj, ComplexExp, ComplexAdd, ComplexSubtract, ComplexMult and ComplexDivide need even dims,
  equal or 2: one complex number (dim 2) broadcasts against n of them; a real dim-1 operand is
  refused (scale by a real with ComplexRealScal, which takes it first or second).
- Real2Complex, Imag2Complex and ComplexExp1j take real vectors of any dim and double it.
- ComplexAbs = Sqrt(ComplexSquareAbs), ComplexAngle = Atan2(Imag, Real) and
  ComplexDivide(f, g) = Real2Complex(Inv(ComplexSquareAbs(g))) * (f * Conj(g)) are KeOps
  compositions; the lowerings compose the same lane rules so results round as KeOps rounds.

Long (~400 lines) because it is one family's table: definitions and vjps stay together.
"""

from __future__ import annotations

import numpy as np

from .base import OPS, OpDef, attach_vjps, register, require, set_properties


# ---------------------------------------------------------------- dimension rules
def _require_even(d: int) -> None:
    require(d % 2 == 0, f"expected an even dim (interleaved re, im pairs), got {d}")


def _complex_dims(*dims: int, **_) -> int:
    """Even dims, equal or 2 (a single complex number broadcasts); result: the larger."""
    for d in dims:
        _require_even(d)
    big = max(dims)
    shown = " and ".join(str(d) for d in dims)
    require(all(d in (2, big) for d in dims), f"dims {shown} differ and neither is 2")
    return big


def _halve(d: int, **_) -> int:
    _require_even(d)
    return d // 2


def _to_one_complex(d: int, **_) -> int:
    _require_even(d)
    return 2


def _double(d: int, **_) -> int:
    return 2 * d


def _sumt_dim(d: int, dim: int) -> int:
    require(d == 2, f"expected a single complex number (dim 2), got dim {d}")
    require(dim >= 2 and dim % 2 == 0, f"dim must be even and at least 2, got {dim}")
    return dim


def _realscal_dim(a: int, b: int, **_) -> int:
    real, cplx = (a, b) if a == 1 else (b, a)
    require(real == 1, f"one operand must be a real of dim 1, got dims {a} and {b}")
    _require_even(cplx)
    return cplx


# ---------------------------------------------------------------- lane rules
def _pairs(x: list) -> list[tuple]:
    return list(zip(x[0::2], x[1::2]))


def _flat(pairs) -> list:
    return [lane for pair in pairs for lane in pair]


def _complexwise(scalar):
    """Applies scalar(e, *pairs) -> pair per complex number; dim-2 operands broadcast."""

    def lower(e, *xs):
        n = max(len(x) for x in xs) // 2
        operands = [_pairs(x) * (n if len(x) == 2 else 1) for x in xs]
        return _flat(scalar(e, *ps) for ps in zip(*operands))

    return lower


def _per_number(scalar):
    """One real lane per complex number."""
    return lambda e, x: [scalar(e, p) for p in _pairs(x)]


def _per_real(scalar):
    """One complex number (a pair of lanes) per real lane."""
    return lambda e, x: _flat(scalar(e, a) for a in x)


def _mult(e, f, g):
    return (
        e.sub(e.mul(f[0], g[0]), e.mul(f[1], g[1])),
        e.add(e.mul(f[0], g[1]), e.mul(f[1], g[0])),
    )


def _exp(e, f):
    r = e.exp(f[0])
    return e.mul(r, e.cos(f[1])), e.mul(r, e.sin(f[1]))


def _square_abs(e, p):
    return e.add(e.mul(p[0], p[0]), e.mul(p[1], p[1]))


_conj_lanes = _complexwise(lambda e, f: (f[0], e.neg(f[1])))
_mult_lanes = _complexwise(_mult)
_square_abs_lanes = _per_number(_square_abs)
_real2complex_lanes = _per_real(lambda e, a: (a, e.const(0.0)))


def _divide_lanes(e, f, g):
    inverse = [e.div(e.const(1.0), s) for s in _square_abs_lanes(e, g)]
    return _mult_lanes(e, _real2complex_lanes(e, inverse), _mult_lanes(e, f, _conj_lanes(e, g)))


def _sum_lanes(e, x):
    """KeOps' ComplexSum: accumulators start at 0 and add the numbers in order."""
    re, im = e.const(0.0), e.const(0.0)
    for p in _pairs(x):
        re, im = e.add(re, p[0]), e.add(im, p[1])
    return [re, im]


def _realscal_lanes(e, f, g):
    real, cplx = (f, g) if len(f) == 1 else (g, f)
    return [e.mul(real[0], c) for c in cplx]


# ---------------------------------------------------------------- numpy references
def _cx(x: np.ndarray) -> np.ndarray:
    return x[..., 0::2] + 1j * x[..., 1::2]


def _interleave(re: np.ndarray, im: np.ndarray) -> np.ndarray:
    re, im = np.broadcast_arrays(re, im)
    out = np.empty(re.shape[:-1] + (2 * re.shape[-1],), dtype=re.dtype)
    out[..., 0::2], out[..., 1::2] = re, im
    return out


def _complex_ref(fn):
    """A reference computed on numpy complex numbers, interleaved back."""

    def ref(*xs):
        c = fn(*(_cx(x) for x in xs))
        return _interleave(c.real, c.imag)

    return ref


def _ref_square_abs(x):
    return x[..., 0::2] ** 2 + x[..., 1::2] ** 2


def _ref_divide(f, g):
    return f * np.conj(g) * (1 / (g.real**2 + g.imag**2))


# ---------------------------------------------------------------- the operations
def _op(name, arity, dim, ref, lower, doc, example, rule, params=()):
    return OpDef(name, arity, dim, ref, lower, doc, example, params, dim_rule=rule)


_BINARY_RULE = "even dims, equal or 2 (one complex number broadcasts); result: the larger"
_HALF_RULE = "f: even; result: dim(f) / 2"
_DOUBLE_RULE = "any dim; result: 2 * dim(f)"

register(
    _op(
        "ComplexReal",
        1,
        _halve,
        lambda x: x[..., 0::2],
        _per_number(lambda e, p: p[0]),
        "real parts",
        "ComplexReal(z * w)",
        _HALF_RULE,
    ),
    _op(
        "ComplexImag",
        1,
        _halve,
        lambda x: x[..., 1::2],
        _per_number(lambda e, p: p[1]),
        "imaginary parts",
        "ComplexImag(z + w)",
        _HALF_RULE,
    ),
    _op(
        "Real2Complex",
        1,
        _double,
        lambda x: _interleave(x, np.zeros_like(x)),
        _real2complex_lanes,
        "each real x as the complex x + 0i",
        "Real2Complex(x * y)",
        _DOUBLE_RULE,
    ),
    _op(
        "Imag2Complex",
        1,
        _double,
        lambda x: _interleave(np.zeros_like(x), x),
        _per_real(lambda e, a: (e.const(0.0), a)),
        "each real x as the complex 0 + xi",
        "Imag2Complex(a * y)",
        _DOUBLE_RULE,
    ),
    _op(
        "Conj",
        1,
        _complex_dims,
        _complex_ref(np.conj),
        _conj_lanes,
        "complex conjugates",
        "Conj(z + w)",
        "even dim; result: same dim",
    ),
    _op(
        "ComplexSquareAbs",
        1,
        _halve,
        _ref_square_abs,
        _square_abs_lanes,
        "squared moduli re**2 + im**2",
        "ComplexSquareAbs(z - w)",
        _HALF_RULE,
    ),
    _op(
        "ComplexAbs",
        1,
        _halve,
        lambda x: np.sqrt(_ref_square_abs(x)),
        _per_number(lambda e, p: e.sqrt(_square_abs(e, p))),
        "moduli Sqrt(ComplexSquareAbs(f))",
        "ComplexAbs(z - w)",
        _HALF_RULE,
    ),
    _op(
        "ComplexAngle",
        1,
        _halve,
        lambda x: np.arctan2(x[..., 1::2], x[..., 0::2]),
        _per_number(lambda e, p: e.atan2(p[1], p[0])),
        "arguments Atan2(im, re), in [-pi, pi]",
        "ComplexAngle(ComplexMult(z, w))",
        _HALF_RULE,
    ),
    _op(
        "ComplexSum",
        1,
        _to_one_complex,
        _complex_ref(lambda c: c.sum(-1, keepdims=True)),
        _sum_lanes,
        "sum of the complex numbers",
        "ComplexSum(u * v)",
        "f: even; result: 2",
    ),
    _op(
        "ComplexSumT",
        1,
        _sumt_dim,
        lambda x, dim: np.tile(x, dim // 2),
        lambda e, x, dim: list(x) * (dim // 2),
        "one complex number repeated dim / 2 times (adjoint of ComplexSum)",
        "ComplexSumT(ComplexSum(z * w), 6)",
        "f: 2; dim: even; result: dim",
        ("dim",),
    ),
    _op(
        "ComplexAdd",
        2,
        _complex_dims,
        _complex_ref(np.add),
        _complexwise(lambda e, f, g: (e.add(f[0], g[0]), e.add(f[1], g[1]))),
        "complex sum",
        "ComplexAdd(ComplexSum(z), v)",
        _BINARY_RULE,
    ),
    _op(
        "ComplexSubtract",
        2,
        _complex_dims,
        _complex_ref(np.subtract),
        _complexwise(lambda e, f, g: (e.sub(f[0], g[0]), e.sub(f[1], g[1]))),
        "complex difference",
        "ComplexSubtract(u, ComplexSum(w))",
        _BINARY_RULE,
    ),
    _op(
        "ComplexMult",
        2,
        _complex_dims,
        _complex_ref(np.multiply),
        _mult_lanes,
        "complex product",
        "ComplexMult(z, w)",
        _BINARY_RULE,
    ),
    _op(
        "ComplexRealScal",
        2,
        _realscal_dim,
        np.multiply,
        _realscal_lanes,
        "a complex vector scaled by a real (dim 1, first or second)",
        "ComplexRealScal(b, z)",
        "one operand 1, the other even; result: the even dim",
    ),
    _op(
        "ComplexDivide",
        2,
        _complex_dims,
        _complex_ref(_ref_divide),
        _divide_lanes,
        "complex quotient, computed as f * Conj(g) * (1 / ComplexSquareAbs(g))",
        "ComplexDivide(ComplexSum(z), v)",
        _BINARY_RULE,
    ),
    _op(
        "ComplexExp",
        1,
        _complex_dims,
        _complex_ref(np.exp),
        _complexwise(_exp),
        "complex exponential exp(re) * (cos(im), sin(im))",
        "ComplexExp(z - w)",
        "even dim; result: same dim",
    ),
    _op(
        "ComplexExp1j",
        1,
        _double,
        lambda x: _interleave(np.cos(x), np.sin(x)),
        _per_real(lambda e, a: (e.cos(a), e.sin(a))),
        "exp(i x) = (cos x, sin x) for each real x",
        "ComplexExp1j(x - y)",
        _DOUBLE_RULE,
    ),
)


# ---------------------------------------------------------------- derivative rules
# Adjoints are taken with respect to the real components (re, im): for out = F(f) holomorphic,
# the adjoint of f is g * Conj(F'(f)); a real projection's adjoint re-embeds g as complex.
def _fit(b, adj, x):
    """Sums an adjoint back to one complex number where x (dim 2) was broadcast."""
    return b("ComplexSum", adj) if adj.dim != x.dim else adj


def _times_conj(b, g, h):
    return b("ComplexMult", g, b("Conj", h))


def _realscal_vjp(b, g, out, f, h):
    def adjoint(x, other):  # the real operand gets a dot product, the complex one a scaling
        return b("Scalprod", g, other) if x.dim == 1 else g * other

    return [adjoint(f, h), adjoint(h, f)]


def _divide_vjp(b, g, out, f, h):
    df = b("ComplexDivide", g, b("Conj", h))  # g * Conj(1 / h)
    return [_fit(b, df, f), _fit(b, -_times_conj(b, df, out), h)]  # d(f / h)/dh = -out / h


attach_vjps(
    {
        "ComplexReal": lambda b, g, out, f: [b("Real2Complex", g)],
        "ComplexImag": lambda b, g, out, f: [b("Imag2Complex", g)],
        "Real2Complex": lambda b, g, out, x: [b("ComplexReal", g)],
        "Imag2Complex": lambda b, g, out, x: [b("ComplexImag", g)],
        "Conj": lambda b, g, out, f: [b("Conj", g)],
        "ComplexSquareAbs": lambda b, g, out, f: [b("ComplexMult", b("Real2Complex", 2 * g), f)],
        "ComplexAbs": lambda b, g, out, f: [b("ComplexMult", b("Real2Complex", g / out), f)],
        # d angle = (-im, re) / |f|**2: i f scaled by g / |f|**2
        "ComplexAngle": lambda b, g, out, f: [
            b("ComplexMult", b("Imag2Complex", g / b("ComplexSquareAbs", f)), f)
        ],
        "ComplexSum": lambda b, g, out, f: [b("ComplexSumT", g, dim=f.dim)],
        "ComplexSumT": lambda b, g, out, f, dim: [b("ComplexSum", g)],
        "ComplexAdd": lambda b, g, out, f, h: [_fit(b, g, f), _fit(b, g, h)],
        "ComplexSubtract": lambda b, g, out, f, h: [_fit(b, g, f), _fit(b, -g, h)],
        "ComplexMult": lambda b, g, out, f, h: [
            _fit(b, _times_conj(b, g, h), f),
            _fit(b, _times_conj(b, g, f), h),
        ],
        "ComplexRealScal": _realscal_vjp,
        "ComplexDivide": _divide_vjp,
        "ComplexExp": lambda b, g, out, f: [_times_conj(b, g, out)],
        # d out/dx = i out: the adjoint is Im(g * Conj(out))
        "ComplexExp1j": lambda b, g, out, x: [b("ComplexImag", _times_conj(b, g, out))],
    }
)

set_properties(" ".join(n for n in OPS if n.startswith("Complex")), complex="complex")
set_properties(
    "ComplexReal ComplexImag ComplexAbs ComplexAngle ComplexSquareAbs", complex="to_real"
)
set_properties("Real2Complex Imag2Complex ComplexExp1j", complex="to_complex")
set_properties("Conj", complex="safe")
