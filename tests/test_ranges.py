"""Block-sparse reductions (ranges=): the compiled kernels against the dense masked reference.

The oracle is independent of the ranged kernel: for each output range, the reference
interpreter (keir.dialect.interpreter) evaluates the formula densely on the rows of the range
and the union of its reduced ranges, indices mapped back to global numbers; rows in no range
get the reduction's neutral result (pykeops: InitializeReduction then FinalizeOutput). The
random patterns have gaps, empty ranges, ranges inside one vector tile, unaligned ends and
ranges over many tiles, so every branch of passes/lowering/ranged.py runs.
"""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import Genred
from keir.dialect.interpreter import evaluate
from keir.dialect.reductions import REDUCTIONS, RedShape
from keir.errors import ArgumentError, NotSupportedError
from keir.frontend.spec import KernelSpec
from keir.runtime.results import postprocess
from keir.runtime.states import NumpyLanes

from_matrix = pytest.importorskip("pykeops.numpy.cluster").from_matrix  # pure numpy


def random_half(rng, rows: int, reduced: int, min_cols: int = 0):
    """(ranges, slices, redranges) for `rows` output rows over `reduced` indices."""
    cuts = np.sort(rng.choice(np.arange(1, rows), size=min(rows - 1, 9), replace=False))
    bounds = np.concatenate([[0], cuts, [rows]])
    out, slices, red = [], [], []
    for k, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        if k % 4 == 3:  # a gap: rows in no range
            continue
        n = rng.integers(0, 4)
        ends = np.sort(rng.choice(np.arange(reduced + 1), size=2 * n, replace=False))
        pieces = [(int(a), int(b)) for a, b in ends.reshape(-1, 2)]
        if k % 4 == 1:
            pieces.append((reduced, reduced))  # an empty range
        if sum(b - a for a, b in pieces) < min_cols:
            pieces = [(0, reduced)]
        red += sorted(pieces)
        out.append((lo, hi))
        slices.append(len(red))
    return (
        np.array(out, dtype=np.int32).reshape(-1, 2),
        np.array(slices, dtype=np.int32),
        np.array(red, dtype=np.int32).reshape(-1, 2),
    )


def random_ranges(rng, M: int, N: int, min_cols: int = 0):
    return (*random_half(rng, M, N, min_cols), *random_half(rng, N, M, min_cols))


def neutral(kind: str, shape: RedShape, dtype, rows: int, k: int):
    """What a row with nothing to reduce holds: finalize(init), in pykeops' form."""
    red, e = REDUCTIONS[kind], NumpyLanes(dtype)
    lanes = red.finalize(e, red.init(e, shape), shape)
    raw = np.stack([np.broadcast_to(np.asarray(v, dtype), (rows,)) for v in lanes], 1)
    return red.output(raw, k)


def masked_reference(spec: KernelSpec, dtype, args, ranges):
    """The dense reference of the block-sparse reduction described in the module docstring."""
    axis, kind, k = spec.reduction.axis, spec.reduction.kind, spec.reduction.k
    out_cat = 0 if axis == 1 else 1
    half = ranges[:3] if axis == 1 else ranges[3:]
    cats = [a.cat for a in spec.aliases]
    rows = next(len(a) for a, c in zip(args, cats) if c == out_cat)
    pieces = []  # (row slice, result)
    starts = np.concatenate([[0], half[1][:-1]])
    for (lo, hi), s0, s1 in zip(half[0], starts, half[1]):
        cols = np.concatenate([np.arange(a, b) for a, b in half[2][s0:s1]] + [np.arange(0)])
        if hi == lo:
            continue
        if len(cols) == 0:
            pieces.append(((lo, hi), None))
            continue
        sliced = [
            a[lo:hi] if c == out_cat else a[cols] if c == 1 - out_cat else a
            for a, c in zip(args, cats)
        ]
        res = postprocess(kind, evaluate(spec.build(dtype)[0], sliced), k)
        res = list(res) if isinstance(res, tuple) else [res]
        for n, r in enumerate(res):
            if r.dtype == np.int64:  # indices into cols: make them global
                res[n] = cols[r]
        pieces.append(((lo, hi), res))
    o = Genred.from_spec(spec, dtype)._compiled.signature.outputs[0]
    shape = RedShape(o.formula_dim, o.weight_dim, o.k)
    full = neutral(kind, shape, dtype, rows, k)
    full = [np.array(f) for f in (full if isinstance(full, tuple) else (full,))]
    for (lo, hi), res in pieces:
        if res is None:
            continue
        for f, r in zip(full, res):
            f[lo:hi] = r
    return full


ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)", "s = Pm(1)"]
CASES = [
    ("Sum", "Exp(-s * SqDist(x, y)) * b", {}),
    ("LogSumExp", "-s * SqDist(x, y)", {}),
    ("Min_ArgMin", "SqDist(x, y) - b", {}),
    ("ArgKMin", "SqDist(x, y)", {"opt_arg": 3}),
    ("KMin", "SqDist(x, y) + s", {"opt_arg": 20}),  # a big K: the scalar ranged loop
    ("SumSoftMaxWeight", "-SqDist(x, y)", {"formula2": "b"}),
    ("Max", "(x | y) * b", {}),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("kind, formula, opts", CASES, ids=[c[0] for c in CASES])
def test_ranged_reduction_matches_masked_dense(kind, formula, opts, axis, dtype):
    rng = np.random.default_rng(abs(hash((kind, axis, dtype))) % 2**32)
    M, N = 83, 101
    x, y = rng.random((M, 3)).astype(dtype), rng.random((N, 3)).astype(dtype)
    b, s = rng.random((N, 2)).astype(dtype), np.array([2.0], dtype)
    aliases = ALIASES
    if axis == 0:  # reduce over i: b indexed like the output
        aliases = ["x = Vi(3)", "y = Vj(3)", "b = Vi(2)", "s = Pm(1)"]
        b = rng.random((M, 2)).astype(dtype)
    k = opts.get("opt_arg", 0)
    ranges = random_ranges(rng, M, N, min_cols=k)
    g = Genred(formula, aliases, kind, axis, dtype=dtype, **opts)
    got = g(x, y, b, s, ranges=ranges)
    want = masked_reference(g.spec, dtype, [x, y, b, s], ranges)
    got = list(got) if isinstance(got, tuple) else [got]
    tol = 3e-5 if dtype == "float32" else 1e-12
    for gv, wv in zip(got, want):
        assert gv.dtype == wv.dtype and gv.shape == wv.shape
        if gv.dtype == np.int64:
            np.testing.assert_array_equal(gv, wv)
        else:
            np.testing.assert_allclose(gv, wv, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_wide_rows_blocked(dtype):
    """D = 20: the register-blocked micro-kernel (4 rows per block, clamped at the range end)."""
    rng = np.random.default_rng(5)
    M, N, D = 70, 90, 20
    x, y = rng.random((M, D)).astype(dtype), rng.random((N, D)).astype(dtype)
    aliases = [f"x = Vi({D})", f"y = Vj({D})"]
    ranges = random_ranges(rng, M, N)
    for axis in (0, 1):
        g = Genred("Exp(-SqDist(x, y))", aliases, "Sum", axis, dtype=dtype)
        want = masked_reference(g.spec, dtype, [x, y], ranges)[0]
        np.testing.assert_allclose(g(x, y, ranges=ranges), want, rtol=1e-5, atol=1e-5)


def test_full_ranges_equal_dense_call():
    rng = np.random.default_rng(1)
    x, y = rng.random((500, 3)), rng.random((700, 3))
    g = Genred("Exp(-SqDist(x, y))", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)
    one = (
        np.array([[0, 500]]),
        np.array([2]),
        np.array([[0, 333], [333, 700]]),
        np.array([[0, 700]]),
        np.array([1]),
        np.array([[0, 500]]),
    )
    np.testing.assert_allclose(g(x, y, ranges=one), g(x, y), rtol=1e-12)


def test_gradient_with_ranges_uses_the_transposed_half():
    """d/dy of a ranged sum over j is a sum over i: it reads (ranges_j, slices_j, redranges_i),
    compared with finite differences of the ranged forward."""
    rng = np.random.default_rng(3)
    M, N = 40, 50
    x, y, b = rng.random((M, 3)), rng.random((N, 3)), rng.random((N, 1))
    # one block pattern, given in both halves (as from_matrix makes them)
    keep = rng.random((4, 5)) < 0.5
    xr = np.array([[0, 10], [10, 20], [20, 30], [30, 40]])
    yr = np.array([[0, 10], [10, 20], [20, 30], [30, 40], [40, 50]])
    ranges = from_matrix(xr, yr, keep)
    f = Genred("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", 1)
    e = rng.random((M, 1))
    dy = keir.grad(f, "y")(x, y, b, gradin=e, ranges=ranges)
    eps, fd = 1e-6, np.zeros_like(y)
    for j in range(N):
        for d in range(3):
            yp, ym = y.copy(), y.copy()
            yp[j, d] += eps
            ym[j, d] -= eps
            fd[j, d] = (e * (f(x, yp, b, ranges=ranges) - f(x, ym, b, ranges=ranges))).sum() / (
                2 * eps
            )
    np.testing.assert_allclose(dy, fd, rtol=1e-6, atol=1e-8)
    dx = keir.grad(f, "x")(x, y, b, gradin=e, ranges=ranges)
    mask = np.repeat(np.repeat(keep, 10, 0), 10, 1)
    K = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) * mask
    want = (-2 * (K * (e @ b.T))[:, :, None] * (x[:, None] - y[None])).sum(1)
    np.testing.assert_allclose(dx, want, rtol=1e-10, atol=1e-12)


def test_skipped_blocks_cost_no_time():
    """A pattern keeping 1 % of the pairs runs far faster than the dense call."""
    import time

    rng = np.random.default_rng(0)
    n = 40_000
    x, y = rng.random((n, 3)).astype(np.float32), rng.random((n, 3)).astype(np.float32)
    g = Genred("Exp(-SqDist(x, y))", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)
    blocks = np.arange(0, n + 1, 400)
    r = np.stack([blocks[:-1], blocks[1:]], 1)
    ranges = (r, np.arange(1, len(r) + 1), r, r, np.arange(1, len(r) + 1), r)  # the diagonal
    g(x, y), g(x, y, ranges=ranges)  # compiled and warm

    def best(f):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return min(times)

    dense, sparse = best(lambda: g(x, y)), best(lambda: g(x, y, ranges=ranges))
    assert sparse < dense / 10, (dense, sparse)


BAD = [
    (lambda r: r[:5], "6-tuple"),
    (lambda r: (r[0].astype(np.float32), *r[1:]), "integer array"),
    (lambda r: (r[0][:, :1], *r[1:]), "shape"),
    (lambda r: (np.array([[0, 10], [5, 20]]), np.array([1, 2]), *r[2:]), "non-overlapping"),
    (lambda r: (np.array([[10, 20], [0, 5]]), np.array([1, 2]), *r[2:]), "sorted"),
    (lambda r: (np.array([[0, 31]]), np.array([1]), *r[2:]), "0 <= start <= end <= 30"),
    (lambda r: (np.array([[5, 2]]), np.array([1]), *r[2:]), "is not an interval"),
    (lambda r: (r[0], np.array([9]), *r[2:]), "points past the end"),
    (lambda r: (r[0], np.array([2]), np.array([[0, 10], [5, 40]]), *r[3:]), "overlaps"),
    (lambda r: (r[0], r[1], np.array([[0, -1]]), *r[3:]), "is not an interval"),
    (lambda r: (np.array([[0, 10], [10, 20]]), np.array([1]), *r[2:]), "one per range"),
    (lambda r: (np.array([[0, 10], [10, 20]]), np.array([1, 0]), *r[2:]), "non-decreasing"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m for _, m in BAD])
def test_bad_ranges_are_refused(change, message):
    x, y = np.random.rand(30, 3), np.random.rand(40, 3)
    g = Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)
    good = (np.array([[0, 30]]), np.array([1]), np.array([[0, 40]]))
    good = (*good, np.array([[0, 40]]), np.array([1]), np.array([[0, 30]]))
    g(x, y, ranges=good)
    with pytest.raises(ArgumentError, match=message):
        g(x, y, ranges=change(good))


def test_ranges_on_the_gpu_backend_are_refused():
    g = Genred("SqDist(x, y)", ["x = Vi(3)", "y = Vj(3)"], "Sum", 1)
    r = (np.array([[0, 3]]), np.array([1]), np.array([[0, 4]]))
    with pytest.raises((NotSupportedError, keir.KeirError)):
        g(np.ones((3, 3)), np.ones((4, 3)), ranges=(*r, *r), backend="GPU")


# ---------------------------------------------------------------- LazyTensor and batches
def test_lazytensor_ranges_follow_operations_and_transpose():
    from keir import LazyTensor

    rng = np.random.default_rng(7)
    M, N = 60, 80
    x, y, b = rng.random((M, 3)), rng.random((N, 3)), rng.random((N, 2))
    ranges = random_ranges(rng, M, N)
    K = (-((LazyTensor(x[:, None, :]) - LazyTensor(y[None, :, :])) ** 2).sum(2)).exp()
    K.ranges = ranges
    got = (K * 2.0) @ b  # the pattern survives an operation
    g = Genred("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], "Sum", 1)
    want = 2.0 * masked_reference(g.spec, "float64", [x, y, b], ranges)[0]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    Kt = K.t()  # (N, M): its reduction over M uses the other half
    a = rng.random((M, 2))
    gt = Genred("Exp(-SqDist(x, y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vi(2)"], "Sum", 0)
    want_t = masked_reference(gt.spec, "float64", [x, y, a], ranges)[0]
    np.testing.assert_allclose(Kt @ a, want_t, rtol=1e-12)


def test_batches_run_as_one_kernel_call(monkeypatch):
    """(A, B) batches with broadcasting and a per-batch parameter: one Genred call, the same
    numbers as numpy; argmin indices count within each batch."""
    from keir import LazyTensor
    from keir.api import Genred as G

    calls = []
    original = G.__call__
    monkeypatch.setattr(
        G, "__call__", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    rng = np.random.default_rng(2)
    A, B, M, N = 3, 4, 20, 30
    x, y = rng.random((A, 1, M, 3)), rng.random((1, B, N, 3))
    s = rng.random((A, B, 1)) + 0.5
    x_i, y_j = LazyTensor(x[:, :, :, None, :]), LazyTensor(y[:, :, None, :, :])
    s_p = LazyTensor(s[:, :, None, None, :])
    D = ((x_i - y_j) ** 2).sum(-1) * s_p
    got = D.exp().sum(3)
    dense = ((x[:, :, :, None, :] - y[:, :, None, :, :]) ** 2).sum(-1) * s[:, :, None]
    np.testing.assert_allclose(got[..., 0], np.exp(dense).sum(3), rtol=1e-12)
    np.testing.assert_array_equal(D.argmin(3)[..., 0], dense.argmin(3))
    np.testing.assert_array_equal(D.argmin(2)[..., 0], dense.argmin(2))
    assert len(calls) == 3  # one per reduction, not one per batch


def test_ranges_with_batches_apply_to_every_batch():
    from keir import LazyTensor

    rng = np.random.default_rng(4)
    Bt, M, N = 3, 40, 50
    x, y, b = rng.random((Bt, M, 3)), rng.random((Bt, N, 3)), rng.random((Bt, N, 1))
    ranges = random_ranges(rng, M, N)
    K = (-((LazyTensor(x[:, :, None]) - LazyTensor(y[:, None])) ** 2).sum(-1)).exp()
    got = (K * LazyTensor(b[:, None])).sum(2, ranges=ranges)
    g = Genred("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], "Sum", 1)
    for k in range(Bt):
        want = masked_reference(g.spec, "float64", [x[k], y[k], b[k]], ranges)[0]
        np.testing.assert_allclose(got[k], want, rtol=1e-12)
