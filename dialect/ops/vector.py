"""Operations on whole vectors: sums, norms, extremes, slicing and weighted norms.

Max/Min/ArgMax/ArgMin of a vector scan its components in order with a strict comparison, as
KeOps does: the first component wins ties, and only a NaN in component 0 can be the result.
Weighted norms take the weights first: WeightedSqNorm(A, x) with A of dim 1 (isotropic), dim(x)
(diagonal) or dim(x)**2 (a full, row-major symmetric matrix).

Long (~450 lines) because it is a table: each op's dim rule, reference, lowering and vjp
stay next to each other, as everywhere in dialect/ops/.
"""

from __future__ import annotations

import numpy as np

from .base import (
    OpDef,
    attach_vjps,
    broadcast_dims,
    broadcast_lanes,
    equal_dims_to_scalar,
    ref_sum,
    register,
    require,
    set_properties,
    sum_lanes,
    to_scalar,
    zero_vjp,
)


def _dot(e, x, y):
    """(x|y): products summed by sum_lanes (multiply-adds that LLVM contracts to FMAs)."""
    return sum_lanes(e, list(zip(x, y)), lambda ab: e.mul(*ab))


def _sqnorm(e, x):
    return sum_lanes(e, [e.mul(a, a) for a in x])


def _rsqrt0(e, a):
    return e.select(e.eq(a, e.const(0.0)), e.const(0.0), e.rsqrt(a))


# ---------------------------------------------------------------- extremes of a vector
def _scan(kind: str, want_index: bool):
    def lower(e, x):
        better = e.gt if kind == "max" else e.lt
        best, idx = x[0], e.const(0.0)
        for k, a in enumerate(x[1:], start=1):
            c = better(a, best)
            best = e.select(c, a, best)
            idx = e.select(c, e.const(float(k)), idx)
        return [idx if want_index else best]

    def ref(x):
        best = x[..., 0]
        idx = np.zeros_like(best)
        for k in range(1, x.shape[-1]):
            c = x[..., k] > best if kind == "max" else x[..., k] < best
            best = np.where(c, x[..., k], best)
            idx = np.where(c, float(k), idx)
        return (idx if want_index else best)[..., None]

    return lower, ref


def _extreme(name, kind, want_index, doc):
    lower, ref = _scan(kind, want_index)
    return OpDef(name, 1, to_scalar, ref, lower, doc, f"{name}(x - y)", dim_rule="1")


# ---------------------------------------------------------------- weighted norms
def _iso(e, a, x):
    return [e.mul(a[0], _sqnorm(e, x))]


def _diag(e, a, x):
    return [sum_lanes(e, [e.mul(w, e.mul(v, v)) for w, v in zip(a, x)])]


def _sym(e, a, x):
    d = len(x)
    return [
        sum_lanes(e, [e.mul(a[i * d + j], e.mul(x[i], x[j])) for i in range(d) for j in range(d)])
    ]


def _ref_iso(a, x):
    return a * ref_sum(x * x)


def _ref_diag(a, x):
    return ref_sum(a * x * x)


def _ref_sym(a, x):
    d = x.shape[-1]
    outer = x[..., :, None] * x[..., None, :]
    return (a.reshape(a.shape[:-1] + (d, d)) * outer).sum((-1, -2))[..., None]


def _weighted_kind(da: int, dx: int) -> str:
    if da == 1:
        return "iso"
    if da == dx:
        return "diag"
    require(da == dx * dx, f"weights of dim {da} fit neither 1, {dx} nor {dx}**2 = {dx * dx}")
    return "sym"


_WEIGHTED = {"iso": (_iso, _ref_iso), "diag": (_diag, _ref_diag), "sym": (_sym, _ref_sym)}


def _weighted_lower(e, a, x):
    return _WEIGHTED[_weighted_kind(len(a), len(x))][0](e, a, x)


def _weighted_ref(a, x):
    return _WEIGHTED[_weighted_kind(a.shape[-1], x.shape[-1])][1](a, x)


def _weighted_dim(da, dx, **_):
    _weighted_kind(da, dx)
    return 1


def _fixed_weights(kind: str, rule):
    lower, ref = _WEIGHTED[kind]

    def dim(da, dx, **_):
        require(rule(da, dx), f"{kind} weights: got weights of dim {da} for a vector of dim {dx}")
        return 1

    return dim, ref, lower


def _weighted_dist_lower(e, a, x, y):
    x, y = broadcast_lanes(x, y)
    return _weighted_lower(e, a, [e.sub(p, q) for p, q in zip(x, y)])


def _weighted_dist_dim(da, dx, dy, **_):
    return _weighted_dim(da, broadcast_dims(dx, dy))


# ---------------------------------------------------------------- slicing
def _elem_dim(d, m, **_):
    require(0 <= m < d, f"index m = {m} outside 0..{d - 1}")
    return 1


def _elemt_dim(d, n, m, **_):
    require(d == 1, f"expected a formula of dim 1, got {d}")
    require(0 <= m < n, f"index m = {m} outside 0..{n - 1}")
    return n


def _extract_dim(d, start, dim, **_):
    require(
        dim >= 1 and start >= 0 and start + dim <= d,
        f"slice [{start}, {start + dim}) does not fit in dim {d}",
    )
    return dim


def _extractt_dim(d, start, dim, **_):
    require(start >= 0 and start + d <= dim, f"dim {d} at offset {start} does not fit in {dim}")
    return dim


def _zeros_around(e, x, start, dim):
    zero = e.const(0.0)
    return [zero] * start + list(x) + [zero] * (dim - start - len(x))


def _ref_extractt(x, start, dim):
    out = np.zeros(x.shape[:-1] + (dim,), dtype=x.dtype)
    out[..., start : start + x.shape[-1]] = x
    return out


def _scalar_to(dim_name: str):
    def dim(d, **p):
        require(d == 1, f"expected a formula of dim 1, got {d}")
        require(p[dim_name] >= 1, f"{dim_name} must be at least 1")
        return p[dim_name]

    return dim


def _onehot_lower(e, x, dim):
    t = e.trunc(e.add(x[0], e.const(0.5)))
    return [e.select(e.eq(t, e.const(float(k))), e.const(1.0), e.const(0.0)) for k in range(dim)]


def _onehot_ref(x, dim):
    t = np.trunc(x + 0.5)
    return (t == np.arange(dim)).astype(x.dtype)


def _concat(x, y):
    shape = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    return [np.broadcast_to(x, shape + x.shape[-1:]), np.broadcast_to(y, shape + y.shape[-1:])]


register(
    OpDef(
        "Sum",
        1,
        to_scalar,
        ref_sum,
        lambda e, x: [sum_lanes(e, x)],
        "sum of the components",
        "Sum(x * y)",
        dim_rule="1",
    ),
    OpDef(
        "SumT",
        1,
        _scalar_to("dim"),
        lambda x, dim: np.repeat(x, dim, -1),
        lambda e, x, dim: x * dim,
        "a scalar repeated dim times (adjoint of Sum)",
        "SumT(SqDist(x, y), 4)",
        ("dim",),
        dim_rule="f of dim 1; result: dim",
    ),
    _extreme("Max", "max", False, "largest component"),
    _extreme("Min", "min", False, "smallest component"),
    _extreme("ArgMax", "max", True, "index of the largest component (first on ties)"),
    _extreme("ArgMin", "min", True, "index of the smallest component (first on ties)"),
    OpDef(
        "SqNorm2",
        1,
        to_scalar,
        lambda x: ref_sum(x * x),
        lambda e, x: [_sqnorm(e, x)],
        "squared Euclidean norm",
        "SqNorm2(x - y)",
        dim_rule="1",
    ),
    OpDef(
        "Norm2",
        1,
        to_scalar,
        lambda x: np.sqrt(ref_sum(x * x)),
        lambda e, x: [e.sqrt(_sqnorm(e, x))],
        "Euclidean norm",
        "Norm2(x - y)",
        dim_rule="1",
    ),
    OpDef(
        "Normalize",
        1,
        lambda d, **_: d,
        lambda x: (
            x * np.where((n := ref_sum(x * x)) == 0, 0.0, 1 / np.sqrt(np.where(n == 0, 1, n)))
        ),
        lambda e, x: [e.mul(r, a) for r in [_rsqrt0(e, _sqnorm(e, x))] for a in x],
        "x / |x|, and 0 at 0",
        "Normalize(x - y)",
        dim_rule="same dim",
    ),
    OpDef(
        "SqDist",
        2,
        lambda a, b, **_: (broadcast_dims(a, b), 1)[1],
        lambda x, y: ref_sum((x - y) ** 2),
        lambda e, x, y: [_sqnorm(e, [e.sub(a, b) for a, b in zip(*broadcast_lanes(x, y))])],
        "squared distance SqNorm2(x - y)",
        "SqDist(x, y)",
        dim_rule="equal dims or 1; result: 1",
    ),
    OpDef(
        "Scalprod",
        2,
        equal_dims_to_scalar,
        lambda x, y: ref_sum(x * y),
        lambda e, x, y: [_dot(e, x, y)],
        "scalar product (also (x | y))",
        "(x | y)",
        dim_rule="equal dims; result: 1",
    ),
    OpDef(
        "WeightedSqNorm",
        2,
        _weighted_dim,
        _weighted_ref,
        _weighted_lower,
        "weighted squared norm: A of dim 1, dim(x) or dim(x)**2 (row-major symmetric)",
        "WeightedSqNorm(A, x - y)",
        dim_rule="A: 1, d or d*d; x: d; result: 1",
    ),
    OpDef(
        "WeightedSqDist",
        3,
        _weighted_dist_dim,
        lambda a, x, y: _weighted_ref(
            a, np.broadcast_to(x - y, np.broadcast_shapes(x.shape, y.shape))
        ),
        _weighted_dist_lower,
        "WeightedSqNorm(A, x - y)",
        "WeightedSqDist(s, x, y)",
        dim_rule="A: 1, d or d*d; x, y: d; result: 1",
    ),
    OpDef(
        "SqNormIso",
        2,
        *_fixed_weights("iso", lambda da, dx: da == 1),
        "A * SqNorm2(x), A a scalar",
        "SqNormIso(s, x - y)",
        dim_rule="A: 1; result: 1",
    ),
    OpDef(
        "SqNormDiag",
        2,
        *_fixed_weights("diag", lambda da, dx: da == dx),
        "Sum(A * x * x)",
        "SqNormDiag(y, x - y)",
        dim_rule="A: d; x: d; result: 1",
    ),
    OpDef(
        "SymSqNorm",
        2,
        *_fixed_weights("sym", lambda da, dx: da == dx * dx),
        "sum_ij A[i*d+j] x_i x_j",
        "SymSqNorm(A, x - y)",
        dim_rule="A: d*d; x: d; result: 1",
    ),
    OpDef(
        "Elem",
        1,
        _elem_dim,
        lambda x, m: x[..., m : m + 1],
        lambda e, x, m: [x[m]],
        "component m",
        "Elem(x - y, 2)",
        ("m",),
        dim_rule="f: d > m; result: 1",
    ),
    OpDef(
        "ElemT",
        1,
        _elemt_dim,
        lambda x, n, m: _ref_extractt(x, m, n),
        lambda e, x, n, m: _zeros_around(e, x, m, n),
        "x at component m of a zero n-vector",
        "ElemT(SqDist(x, y), 4, 1)",
        ("n", "m"),
        dim_rule="f: 1; result: n",
    ),
    OpDef(
        "Extract",
        1,
        _extract_dim,
        lambda x, start, dim: x[..., start : start + dim],
        lambda e, x, start, dim: x[start : start + dim],
        "components start .. start+dim-1",
        "Extract(x - y, 1, 2)",
        ("start", "dim"),
        dim_rule="f: d >= start + dim; result: dim",
    ),
    OpDef(
        "ExtractT",
        1,
        _extractt_dim,
        _ref_extractt,
        _zeros_around,
        "x placed at offset start of a zero dim-vector",
        "ExtractT(x - y, 1, 5)",
        ("start", "dim"),
        dim_rule="f: d <= dim - start; result: dim",
    ),
    OpDef(
        "Concat",
        2,
        lambda a, b, **_: a + b,
        lambda x, y: np.concatenate(_concat(x, y), -1),
        lambda e, x, y: list(x) + list(y),
        "the components of x then y",
        "Concat(x, b)",
        dim_rule="result: dim(x) + dim(y)",
    ),
    OpDef(
        "OneHot",
        1,
        _scalar_to("dim"),
        _onehot_ref,
        _onehot_lower,
        "the unit vector e_k of dimension dim, k = (int)(x + 0.5); 0 if k is out of range",
        "OneHot(Sum(x) - 1, 4)",
        ("dim",),
        dim_rule="f: 1; result: dim",
    ),
)


# ---------------------------------------------------------------- derivatives (as keopscore)
def _weighted_vjp(b, g, a, x):
    """(adjoint of the weights, adjoint of x) for WeightedSqNorm(a, x) and its special cases."""
    kind = _weighted_kind(a.dim, x.dim)
    if kind == "iso":
        return g * b("SqNorm2", x), 2 * (g * (a * x))
    if kind == "diag":
        return g * b("Square", x), 2 * (g * (a * x))
    sym = b("MatVecMult", a, x) + b("VecMatMult", x, a)
    return g * b("TensorProd", x, x), g * sym


def _weighted_dist_vjp(b, g, out, a, x, y):
    da, dd = _weighted_vjp(b, g, a, x - y)
    return [da, dd, -dd]


def _normalize_vjp(b, g, out, x):
    r = b("Rsqrt", b("SqNorm2", x))
    return [r * g - (b("Pow", r, n=3) * b("Scalprod", x, g)) * x]


def _extreme_vjp(arg: str):
    return lambda b, g, out, x: [b("OneHot", b(arg, x), dim=x.dim) * g]


attach_vjps(
    {
        "Sum": lambda b, g, out, x: [b("SumT", g, dim=x.dim)],
        "SumT": lambda b, g, out, x, dim: [b("Sum", g)],
        "Max": _extreme_vjp("ArgMax"),
        "Min": _extreme_vjp("ArgMin"),
        "ArgMax": zero_vjp,
        "ArgMin": zero_vjp,
        "SqNorm2": lambda b, g, out, x: [2 * (g * x)],
        "Norm2": lambda b, g, out, x: [(g * b("Rsqrt", b("SqNorm2", x))) * x],
        "Normalize": _normalize_vjp,
        "SqDist": lambda b, g, out, x, y: [2 * (g * (x - y)), -2 * (g * (x - y))],
        "Scalprod": lambda b, g, out, x, y: [g * y, g * x],
        "WeightedSqNorm": lambda b, g, out, a, x: list(_weighted_vjp(b, g, a, x)),
        "SqNormIso": lambda b, g, out, a, x: list(_weighted_vjp(b, g, a, x)),
        "SqNormDiag": lambda b, g, out, a, x: list(_weighted_vjp(b, g, a, x)),
        "SymSqNorm": lambda b, g, out, a, x: list(_weighted_vjp(b, g, a, x)),
        "WeightedSqDist": _weighted_dist_vjp,
        "Elem": lambda b, g, out, x, m: [b("ElemT", g, n=x.dim, m=m)],
        "ElemT": lambda b, g, out, x, n, m: [b("Elem", g, m=m)],
        "Extract": lambda b, g, out, x, start, dim: [b("ExtractT", g, start=start, dim=x.dim)],
        "ExtractT": lambda b, g, out, x, start, dim: [b("Extract", g, start=start, dim=x.dim)],
        "Concat": lambda b, g, out, x, y: [
            b("Extract", g, start=0, dim=x.dim),
            b("Extract", g, start=x.dim, dim=y.dim),
        ],
        "OneHot": zero_vjp,
    }
)

set_properties("SqNorm2 SqDist", never_minus_zero=True)
set_properties("Concat", complex="safe")
set_properties("SqNorm2 Norm2", complex="to_real")  # sum |z_k|^2 and its square root: reals
