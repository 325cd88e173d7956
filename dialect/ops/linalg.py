"""Matrix and tensor products, and B-spline bases.

MatVecMult, VecMatMult, TensorProd and Kron are all special cases of TensorDot, as in KeOps, so
they share one plan: the einsum subscripts of the contraction (the numpy reference) and, for the
lowering, the list of (a index, b index) products summed into each output component. Matrices
are row-major. Each output is summed from 0 in KeOps' order: contracted indices row-major, in the
order of contfa. TensorDot's `permute` sends tensordot axis k to output axis permute[k] (KeOps'
convention, i.e. np.transpose(T, np.argsort(permute))); its default () is the identity.

BSpline follows keopscore's in-place Cox-de Boor recursion: order-0 splines are indicators of
half-open intervals t[j] <= x < t[j+1], and a ratio (x - t[i]) / (t[i+k] - t[i]) is 0 unless
t[i] < t[i+k]. Only the first knots.dim - order - 1 basis functions are returned.
"""

from __future__ import annotations

import functools
import math
import string

import numpy as np

from .base import OpDef, attach_vjps, register, require, sum_lanes


# ---------------------------------------------------------------- tensor dot
def _check_axes(name: str, axes: tuple, ndim: int) -> None:
    require(
        len(set(axes)) == len(axes) and all(0 <= k < ndim for k in axes),
        f"{name} = {axes} must list distinct axes in 0..{ndim - 1}",
    )


def _check_shape(name: str, dims: tuple, dim: int) -> None:
    size = math.prod(dims)
    require(size == dim, f"{name} = {dims} holds {size} entries but the operand has dim {dim}")


def _tensordot_dim(da, db, dimsfa, dimsfb, contfa, contfb, permute=(), **_):
    require(all(d >= 1 for d in dimsfa + dimsfb), "tensor dimensions must be at least 1")
    _check_shape("dimsfa", dimsfa, da)
    _check_shape("dimsfb", dimsfb, db)
    require(len(contfa) == len(contfb), f"contfa = {contfa} and contfb = {contfb} differ in length")
    _check_axes("contfa", contfa, len(dimsfa))
    _check_axes("contfb", contfb, len(dimsfb))
    sizes_a = tuple(dimsfa[k] for k in contfa)
    sizes_b = tuple(dimsfb[k] for k in contfb)
    require(sizes_a == sizes_b, f"contracted sizes differ: {sizes_a} and {sizes_b}")
    kept = len(dimsfa) + len(dimsfb) - 2 * len(contfa)
    require(
        permute == () or sorted(permute) == list(range(kept)),
        f"permute = {permute} is not a permutation of 0..{kept - 1}",
    )
    return da * db // math.prod(sizes_a) ** 2


@functools.cache
def _plan(dimsfa, dimsfb, contfa, contfb, permute):
    """(einsum subscripts, per output the (a index, b index) pairs to sum)."""
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in dimsfa]
    sb = [next(letters) for _ in dimsfb]
    for i, j in zip(contfa, contfb):
        sb[j] = sa[i]
    summed = [sa[i] for i in contfa]
    kept = [c for c in sa + sb if c not in summed]
    out = [kept[k] for k in np.argsort(permute)] if permute else kept
    size = dict(zip(sa, dimsfa)) | dict(zip(sb, dimsfb))
    table = []
    for o in np.ndindex(*(size[c] for c in out)):
        terms = []
        for s in np.ndindex(*(size[c] for c in summed)):
            at = dict(zip(out, o)) | dict(zip(summed, s))
            terms.append((_flat(at, sa, dimsfa), _flat(at, sb, dimsfb)))
        table.append(terms)
    return f"...{''.join(sa)},...{''.join(sb)}->...{''.join(out)}", table


def _flat(at: dict, letters: list, dims: tuple) -> int:
    """Row-major flat index of the multi-index `at` (by letter) in a tensor of shape dims."""
    index = 0
    for c, d in zip(letters, dims):
        index = index * d + at[c]
    return index


def _tensordot_ref(fa, fb, dimsfa, dimsfb, contfa, contfb, permute=()):
    subscripts, _ = _plan(dimsfa, dimsfb, contfa, contfb, permute)
    a = fa.reshape(fa.shape[:-1] + dimsfa)
    b = fb.reshape(fb.shape[:-1] + dimsfb)
    lead = np.broadcast_shapes(fa.shape[:-1], fb.shape[:-1])
    return np.einsum(subscripts, a, b).reshape(lead + (-1,))


def _tensordot_lower(e, a, b, dimsfa, dimsfb, contfa, contfb, permute=()):
    _, table = _plan(dimsfa, dimsfb, contfa, contfb, permute)
    return [sum_lanes(e, [e.mul(a[i], b[j]) for i, j in terms]) for terms in table]


def _as_tensordot(params):
    """An op whose operands are contracted by TensorDot with params(dim a, dim b, **params)."""

    def ref(fa, fb, **p):
        return _tensordot_ref(fa, fb, *params(fa.shape[-1], fb.shape[-1], **p))

    def lower(e, a, b, **p):
        return _tensordot_lower(e, a, b, *params(len(a), len(b), **p))

    return ref, lower


# ---------------------------------------------------------------- special cases
def _matvec(da, dv):
    return (da // dv, dv), (dv,), (1,), (0,), ()


def _vecmat(dv, da):
    return (dv,), (dv, da // dv), (0,), (0,), ()


def _kron(da, db, dimsfa, dimsfb):
    n = len(dimsfa)
    return dimsfa, dimsfb, (), (), tuple(range(0, 2 * n, 2)) + tuple(range(1, 2 * n, 2))


def _matvec_dim(da, dv, **_):
    require(da % dv == 0, f"matrix of dim {da} is not a multiple of the vector's dim {dv}")
    return da // dv


def _vecmat_dim(dv, da, **_):
    return _matvec_dim(da, dv)


def _kron_dim(da, db, dimsfa, dimsfb):
    require(
        len(dimsfa) == len(dimsfb),
        f"dimsfa = {dimsfa} and dimsfb = {dimsfb} differ in number of axes",
    )
    return _tensordot_dim(da, db, *_kron(da, db, dimsfa, dimsfb))


# ---------------------------------------------------------------- B-splines
def _ratio(e, t, x, i, k):
    """(x - t[i]) / (t[i+k] - t[i]), or 0 unless t[i] < t[i+k]."""
    w = e.div(e.sub(x, t[i]), e.sub(t[i + k], t[i]))
    return e.select(e.lt(t[i], t[i + k]), w, e.const(0.0))


def _bspline_lower(e, t, x, order):
    (x,) = x
    one, zero = e.const(1.0), e.const(0.0)
    basis = [
        e.select(e.le(t[j], x), e.select(e.lt(x, t[j + 1]), one, zero), zero)
        for j in range(len(t) - 1)
    ]
    for k in range(1, order + 1):
        w = [_ratio(e, t, x, i, k) for i in range(len(basis))]
        basis = [
            e.add(e.mul(w[i], basis[i]), e.mul(e.sub(one, w[i + 1]), basis[i + 1]))
            for i in range(len(basis) - 1)
        ]
    return basis


def _bspline_ref(t, x, order):
    lead = np.broadcast_shapes(t.shape[:-1], x.shape[:-1])
    t = np.broadcast_to(t, lead + t.shape[-1:])
    x = np.broadcast_to(x, lead + (1,))
    basis = ((t[..., :-1] <= x) & (x < t[..., 1:])).astype(t.dtype)
    for k in range(1, order + 1):
        left, right = t[..., :-k], t[..., k:]
        with np.errstate(all="ignore"):
            w = np.where(left < right, (x - left) / (right - left), 0.0)
        basis = w[..., :-1] * basis[..., :-1] + (1 - w[..., 1:]) * basis[..., 1:]
    return basis


def _bspline_dim(dk, dx, order):
    require(dx == 1, f"x must have dim 1, got {dx}")
    require(order >= 0, f"order must be >= 0, got {order}")
    require(dk >= order + 2, f"order {order} needs at least {order + 2} knots, got {dk}")
    return dk - order - 1


_TENSORDOT_PARAMS = ("dimsfa", "dimsfb", "contfa", "contfb", "permute")

register(
    OpDef(
        "MatVecMult",
        2,
        _matvec_dim,
        *_as_tensordot(_matvec),
        "A @ v, A a row-major (dim A / dim v, dim v) matrix",
        "MatVecMult(u, y)",
        dim_rule="A: n*p; v: p; result: n",
    ),
    OpDef(
        "VecMatMult",
        2,
        _vecmat_dim,
        *_as_tensordot(_vecmat),
        "v @ A, A a row-major (dim v, dim A / dim v) matrix",
        "VecMatMult(x, v)",
        dim_rule="v: n; A: n*p; result: p",
    ),
    OpDef(
        "TensorProd",
        2,
        lambda da, db, **_: da * db,
        *_as_tensordot(lambda da, db: ((da,), (db,), (), (), ())),
        "outer product f g^T, row-major",
        "TensorProd(x, w)",
        dim_rule="result: dim(f) * dim(g)",
    ),
    OpDef(
        "TensorDot",
        2,
        _tensordot_dim,
        _tensordot_ref,
        _tensordot_lower,
        "np.tensordot of row-major tensors fa, fb over axes contfa, contfb; axis k -> permute[k]",
        "TensorDot(u, v, (2, 3), (3, 2), (1,), (0,), (1, 0))",
        _TENSORDOT_PARAMS,
        tuple_params=frozenset(_TENSORDOT_PARAMS),
        defaults={"permute": ()},
        dim_rule="fa: prod(dimsfa); fb: prod(dimsfb); equal contracted sizes; "
        "result: dim(fa) * dim(fb) / prod(contracted sizes)**2",
    ),
    OpDef(
        "Kron",
        2,
        _kron_dim,
        *_as_tensordot(_kron),
        "Kronecker product np.kron(A.reshape(dimsfa), B.reshape(dimsfb)), row-major",
        "Kron(z, v, (2, 2), (2, 3))",
        ("dimsfa", "dimsfb"),
        tuple_params=frozenset({"dimsfa", "dimsfb"}),
        dim_rule="A: prod(dimsfa); B: prod(dimsfb); len(dimsfa) == len(dimsfb); "
        "result: dim(A) * dim(B)",
    ),
    OpDef(
        "BSpline",
        2,
        _bspline_dim,
        _bspline_ref,
        _bspline_lower,
        "the B-spline basis of an order on a knot vector, at x (Cox-de Boor)",
        "BSpline(Concat(Concat(a - 2, SumT(a - 1, 2)), Concat(Concat(a, 2 * a), a + 2)), b, 2)",
        ("order",),
        dim_rule="knots: K >= order + 2; x: 1; result: K - order - 1",
    ),
)


# ---------------------------------------------------------------- derivatives
def _tensordot_adjoint_a(b, g, fb, dimsfa, dimsfb, contfa, contfb, permute):
    """The adjoint of fa in TensorDot(fa, fb, ...) (`permute` explicit), for output adjoint g.

    It is TensorDot(g, fb): the axes of g that came from fb are contracted with fb's kept axes,
    and the result's axes (g's remaining axes, then fb's contracted ones) are permuted to fa's."""
    kept_a = [i for i in range(len(dimsfa)) if i not in contfa]
    kept_b = [j for j in range(len(dimsfb)) if j not in contfb]
    sizes = [dimsfa[i] for i in kept_a] + [dimsfb[j] for j in kept_b]  # tensordot axes
    dims_g = [0] * len(sizes)
    for k, size in enumerate(sizes):
        dims_g[permute[k]] = size
    n = len(kept_a)
    left = [kept_a[m] for m in sorted(range(n), key=lambda m: permute[m])]
    right = [contfa[r] for r in sorted(range(len(contfa)), key=lambda r: contfb[r])]
    return b(
        "TensorDot",
        g,
        fb,
        dimsfa=tuple(dims_g),
        dimsfb=dimsfb,
        contfa=tuple(permute[n + m] for m in range(len(kept_b))),
        contfb=tuple(kept_b),
        permute=tuple(left + right),
    )


def _tensordot_vjp(b, g, out, fa, fb, dimsfa, dimsfb, contfa, contfb, permute=()):
    n = len(dimsfa) + len(dimsfb) - 2 * len(contfa)
    permute = permute or tuple(range(n))
    na = len(dimsfa) - len(contfa)
    # TensorDot(fb, fa, ...) is the same tensor once its two blocks of kept axes are swapped
    swapped = permute[na:] + permute[:na]
    return [
        _tensordot_adjoint_a(b, g, fb, dimsfa, dimsfb, contfa, contfb, permute),
        _tensordot_adjoint_a(b, g, fa, dimsfb, dimsfa, contfb, contfa, swapped),
    ]


attach_vjps(
    {
        "MatVecMult": lambda b, g, out, m, v: [b("TensorProd", g, v), b("VecMatMult", g, m)],
        "VecMatMult": lambda b, g, out, v, m: [b("MatVecMult", m, g), b("TensorProd", v, g)],
        "TensorProd": lambda b, g, out, f, h: [b("MatVecMult", g, h), b("VecMatMult", f, g)],
        "TensorDot": _tensordot_vjp,
        "Kron": lambda b, g, out, fa, fb, dimsfa, dimsfb: _tensordot_vjp(
            b, g, out, fa, fb, *_kron(fa.dim, fb.dim, dimsfa, dimsfb)
        ),
    }
)
