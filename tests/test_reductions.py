"""Every reduction on both axes and dtypes, against numpy and the reference interpreter."""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred, keops_kernel
from keir.api import postprocess
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel

from conftest import AXES, DTYPES, assert_close

M, N = 41, 29
ALIASES = ["x = Vi(3)", "y = Vj(3)"]


def numpy_reduce(kind, F, axis):
    """pykeops.numpy's results: int64 indices, (values, indices) pairs for Min_ArgMin."""
    if kind == "Sum":
        return F.sum(axis)
    if kind == "Max":
        return F.max(axis)
    if kind == "Min":
        return F.min(axis)
    if kind == "ArgMax":
        return F.argmax(axis)
    if kind == "ArgMin":
        return F.argmin(axis)
    if kind == "Max_ArgMax":
        return F.max(axis), F.argmax(axis)
    if kind == "Min_ArgMin":
        return F.min(axis), F.argmin(axis)
    if kind == "LogSumExp":
        m = F.max(axis, keepdims=True)
        return np.squeeze(m + np.log(np.exp(F - m).sum(axis, keepdims=True)), axis)
    raise AssertionError(kind)


# (formula, dense numpy of it): vector-valued where the reduction allows it.
FORMULAS = {
    "Sum": ("x - y", lambda x, y: x - y),
    "Max": ("x - y", lambda x, y: x - y),
    "Min": ("x * y", lambda x, y: x * y),
    "ArgMax": ("x - y", lambda x, y: x - y),
    "ArgMin": ("SqDist(x, y)", lambda x, y: ((x - y) ** 2).sum(-1, keepdims=True)),
    "Max_ArgMax": ("x * y - y", lambda x, y: x * y - y),
    "Min_ArgMin": ("x + y", lambda x, y: x + y),
    "LogSumExp": ("-SqDist(x, y) * 4", lambda x, y: -((x - y) ** 2).sum(-1, keepdims=True) * 4),
}


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", list(FORMULAS))
def test_reduction(kind, dtype, axis, rng):
    formula, dense = FORMULAS[kind]
    x = rng.standard_normal((M, 3)).astype(dtype)
    y = rng.standard_normal((N, 3)).astype(dtype)
    out = Genred(formula, ALIASES, reduction_op=kind, axis=axis)(x, y)
    F = dense(x[:, None].astype(np.float64), y[None].astype(np.float64))
    F = np.broadcast_to(F, (M, N, F.shape[-1]))
    expected = numpy_reduce(kind, F, axis)
    module, _ = build_kernel(formula, ALIASES, dtype, ReductionSpec(kind, axis))
    interpreted = postprocess(kind, evaluate(module, [x, y]))
    if not isinstance(out, tuple):
        out, expected, interpreted = (out,), (expected,), (interpreted,)
    for got, want, oracle in zip(out, expected, interpreted):
        assert got.shape == want.shape and got.shape[0] == (N, M)[axis]
        assert got.dtype == (
            np.int64 if "Arg" in kind and want is expected[-1] else np.dtype(dtype)
        )
        if got.dtype == np.int64:
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(got, oracle)
        else:
            assert_close(got, want, dtype, scale_rtol=10)
            assert_close(got, oracle, dtype, scale_rtol=1)  # FMA contraction: scale-relative


@pytest.mark.parametrize("kind", ["ArgMin", "ArgMax", "Min_ArgMin"])
def test_ties_pick_the_first_index(kind):
    """Equal values: the smallest index wins, as np.argmin and KeOps' strict comparison."""
    x = np.zeros((3, 1))
    y = np.array([[2.0], [1.0], [1.0], [5.0], [5.0], [1.0]])
    out = Genred("y - x", ["x = Vi(1)", "y = Vj(1)"], reduction_op=kind, axis=1)(x, y)
    idx = {"ArgMin": 1.0, "ArgMax": 3.0, "Min_ArgMin": 1.0}[kind]
    index = out[1] if isinstance(out, tuple) else out
    np.testing.assert_array_equal(index, [[idx]] * 3)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("K", [7, 17, 40])
def test_kmin_ties_keep_index_order_across_lanes_tiles_and_tail(dtype, axis, K):
    """Values from a set of 4, so every K-best list is full of ties, inside a vector (its
    lanes enter one by one), across vectors and column tiles, and in the scalar tail (N is
    no multiple of any vector width): the K smallest in stable order, as a stable argsort
    (KeOps' strict comparison keeps the first index of equal values). K from below one
    vector's lanes to several vectors of them (the packed list's slots cross vectors)."""
    rng = np.random.default_rng(11)
    M, N = 13, 203
    x = rng.integers(0, 2, (M, 1)).astype(dtype)
    y = rng.integers(0, 4, (N, 1)).astype(dtype)
    F = np.abs(x - y.T)  # (M, N): reduced over y's N rows, a j- or an i-variable
    aliases = ["x = Vi(1)", "y = Vj(1)"] if axis == 1 else ["x = Vj(1)", "y = Vi(1)"]
    order = np.argsort(F, axis=1, kind="stable")[:, :K]
    values = np.take_along_axis(F, order, axis=1)
    g = Genred("Abs(x - y)", aliases, "KMin_ArgKMin", axis=axis, opt_arg=K)
    got_values, got_indices = g(x, y)
    np.testing.assert_array_equal(got_indices.reshape(order.shape), order)
    np.testing.assert_array_equal(got_values.reshape(values.shape), values)


@pytest.mark.parametrize(
    "kind, formula, D, K, axis, dtype",
    [
        ("KMin_ArgKMin", "SqDist(x, y)", 3, 33, 0, "float32"),
        ("ArgKMin", "SqDist(x, y)", 2, 100, 1, "float64"),
        ("KMin", "x - y", 3, 16, 1, "float32"),
        ("KMin_ArgKMin", "x - y", 2, 9, 0, "float64"),
    ],
)
def test_kmin_packed_lists_match_the_interpreter_on_ties(kind, formula, D, K, axis, dtype):
    """Integer coordinates: exact distances, every list full of ties; K at, below and across
    several vectors of lanes, vector formulas (one list per component), both axes: the kernel
    equals the reference interpreter exactly (values and indices)."""
    rng = np.random.default_rng(K)
    x, y = rng.integers(0, 6, (45, D)).astype(dtype), rng.integers(0, 6, (307, D)).astype(dtype)
    aliases = [f"x = Vi({D})", f"y = Vj({D})"] if axis == 1 else [f"x = Vj({D})", f"y = Vi({D})"]
    got = Genred(formula, aliases, kind, axis=axis, opt_arg=K)(x, y)
    module, _ = build_kernel(formula, aliases, dtype, ReductionSpec(kind, axis, K))
    want = postprocess(kind, evaluate(module, [x, y]), K)
    for g, w in zip(
        got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
    ):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("K", [3, 17])
def test_kmin_never_selects_nan_or_inf_values(dtype, K):
    """KeOps' slots start at (+inf, 0) and take a value only if strictly smaller: a NaN or
    +inf formula value never enters, so with fewer than K finite values the last slots stay
    (+inf, 0), in the kernel (vector lanes, scalar tail) and in the reference interpreter;
    -inf is a value like any other (checked against pykeops 2.3 once)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 2)).astype(dtype)
    y = rng.standard_normal((37, 2)).astype(dtype)
    y[rng.random(37) < 0.8, 0] = np.nan  # fewer than K finite values: slots stay empty
    y[rng.random(37) < 0.2, 1] = np.inf  # x - inf = -inf
    y[rng.random(37) < 0.7, 1] = -np.inf  # x + inf = +inf: never selected
    aliases = ["x = Vi(2)", "y = Vj(2)"]
    vals, idx = Genred("x - y", aliases, "KMin_ArgKMin", axis=1, opt_arg=K)(x, y)
    F = x[:, None, :] - y[None, :, :]  # (M, N, 2)
    for d in range(2):
        for i in range(len(x)):
            finite = [j for j in np.argsort(F[i, :, d], kind="stable") if F[i, j, d] < np.inf]
            want = (finite + [0] * K)[:K]
            np.testing.assert_array_equal(idx[i, :, d], want)
            want_vals = [F[i, j, d] for j in finite[:K]] + [np.inf] * (K - len(finite[:K]))
            np.testing.assert_array_equal(vals[i, :, d], want_vals)
    module, _ = build_kernel("x - y", aliases, dtype, ReductionSpec("KMin_ArgKMin", 1, K))
    ref_vals, ref_idx = postprocess("KMin_ArgKMin", evaluate(module, [x, y]), K)
    np.testing.assert_array_equal(ref_idx, idx)
    np.testing.assert_array_equal(ref_vals, vals)


def test_logsumexp_is_stable_for_large_values():
    x = np.array([[1000.0], [-1000.0]])
    y = np.array([[0.0], [1.0]])
    out = Genred("x + y", ["x = Vi(1)", "y = Vj(1)"], reduction_op="LogSumExp", axis=1)(x, y)
    expected = np.array([[1000.0], [-1000.0]]) + np.log1p(np.e)
    np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_logsumexp_rejects_vector_formulas():
    from keir import DimensionError

    with pytest.raises(DimensionError, match="LogSumExp"):
        Genred("x - y", ALIASES, reduction_op="LogSumExp", axis=1)


NAN_CASES = {
    # KeOps compares strictly: a NaN is never selected; an all-NaN row keeps the initial value.
    "Min": [[-1.0], [np.inf]],
    "Max": [[3.0], [-np.inf]],
    "ArgMin": [[2], [0]],
    "ArgMax": [[0], [0]],
}


@pytest.mark.parametrize("kind", list(NAN_CASES))
def test_nan_is_never_selected(kind):
    y = np.array(
        [[3.0, np.nan], [np.nan, np.nan], [-1.0, np.nan], [np.nan, np.nan], [-1.0, np.nan]]
    )
    x = np.zeros((1, 1))
    aliases = ["x = Vi(1)", "y = Vj(2)"]
    out = Genred("y + x", aliases, reduction_op=kind, axis=1)(x, y)
    np.testing.assert_array_equal(out.reshape(2, 1), NAN_CASES[kind])
    module, _ = build_kernel("y + x", aliases, "float64", ReductionSpec(kind, 1))
    np.testing.assert_array_equal(postprocess(kind, evaluate(module, [x, y])), out)


EMPTY = {"Sum": 0.0, "Min": np.inf, "Max": -np.inf, "ArgMin": 0, "ArgMax": 0, "LogSumExp": -np.inf}


@pytest.mark.parametrize("kind", list(EMPTY))
@pytest.mark.parametrize("axis", AXES)
def test_empty_reduction_gives_the_initial_value(kind, axis):
    full, empty = np.ones((3, 1)), np.ones((0, 1))
    x, y = (full, empty) if axis == 1 else (empty, full)
    aliases = ["x = Vi(1)", "y = Vj(1)"]
    out = Genred("x - y", aliases, reduction_op=kind, axis=axis)(x, y)
    np.testing.assert_array_equal(out, np.full((3, 1), EMPTY[kind]))
    module, _ = build_kernel("x - y", aliases, "float64", ReductionSpec(kind, axis))
    np.testing.assert_array_equal(postprocess(kind, evaluate(module, [x, y])), out)


# ---------------------------------------------------------------- K-min and weighted reductions
def numpy_kmin(F, axis, K):
    """(values, indices) of pykeops: (rows, K, D), squeezed to (rows, K) when D == 1."""
    F = F if axis == 1 else F.swapaxes(0, 1)
    order = np.argsort(F, axis=1, kind="stable")[:, :K]
    vals = np.take_along_axis(F, order, 1)
    if F.shape[-1] == 1:
        return vals[..., 0], order[..., 0]
    return vals, order


def numpy_shift_exp(kind, F, G, axis):
    F = F if axis == 1 else F.swapaxes(0, 1)
    G = G if axis == 1 else G.swapaxes(0, 1)
    m = F.max(1)
    s = (np.exp(F - m[:, None]) * G).sum(1)
    if kind == "LogSumExp":
        return m + np.log(s)
    if kind == "SumSoftMaxWeight":
        return s / np.exp(F - m[:, None]).sum(1)
    return np.concatenate([m, s], -1)  # Max_SumShiftExpWeight


K_CASES = [
    ("KMin", "SqDist(x, y)", 5),
    ("ArgKMin", "x - y", 4),
    ("KMin_ArgKMin", "SqDist(x, y)", 3),
    ("KMin", "x * y", 1),
    ("ArgKMin", "SqDist(x, y)", 64),
]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind, formula, K", K_CASES)
def test_k_reductions(kind, formula, K, dtype, axis, rng):
    x = rng.standard_normal((M, 3)).astype(dtype)
    y = rng.standard_normal((N, 3)).astype(dtype)
    out = Genred(formula, ALIASES, reduction_op=kind, axis=axis, opt_arg=K)(x, y)
    F = np.broadcast_to(
        FORMULAS_NP[formula](x[:, None].astype(float), y[None].astype(float)),
        (M, N, 1 if "SqDist" in formula else 3),
    )
    n = (N, M)[1 - axis]
    vals, idx = numpy_kmin(F, axis, min(K, n))
    if K > n:  # missing slots: (+inf, 0), as KeOps
        pad = [(0, 0), (0, K - n)] + [(0, 0)] * (vals.ndim - 2)
        vals = np.pad(vals, pad, constant_values=np.inf)
        idx = np.pad(idx, pad, constant_values=0)
    expected = {"KMin": (vals,), "ArgKMin": (idx,), "KMin_ArgKMin": (vals, idx)}[kind]
    got = out if isinstance(out, tuple) else (out,)
    module, _ = build_kernel(formula, ALIASES, dtype, ReductionSpec(kind, axis, K))
    raw = postprocess(kind, evaluate(module, [x, y]), K)
    oracle = raw if isinstance(raw, tuple) else (raw,)
    for g_, e_, o_ in zip(got, expected, oracle):
        assert g_.shape == e_.shape == o_.shape
        if np.issubdtype(e_.dtype, np.integer):
            assert g_.dtype == np.int64
            np.testing.assert_array_equal(g_, e_)
            np.testing.assert_array_equal(g_, o_)
        else:
            assert g_.dtype == np.dtype(dtype)
            assert_close(g_, e_, dtype, scale_rtol=10)


FORMULAS_NP = {
    "SqDist(x, y)": lambda x, y: ((x - y) ** 2).sum(-1, keepdims=True),
    "x - y": lambda x, y: x - y,
    "x * y": lambda x, y: x * y,
}

W_CASES = ["LogSumExp", "SumSoftMaxWeight", "Max_SumShiftExpWeight"]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", W_CASES)
def test_weighted_reductions(kind, dtype, axis, rng):
    x = rng.standard_normal((M, 3)).astype(dtype)
    y = rng.standard_normal((N, 3)).astype(dtype)
    aliases = ALIASES + ["g = Vj(2)"]
    g = rng.uniform(0.5, 1.5, (N, 2)).astype(dtype)
    f = Genred(
        "-SqDist(x, y)", aliases, reduction_op=kind, axis=axis, formula2="g * Exp(Extract(x, 0, 2))"
    )
    out = f(x, y, g)
    X, Y, G = (a.astype(np.float64) for a in (x[:, None], y[None], g[None]))
    F = np.broadcast_to(-((X - Y) ** 2).sum(-1, keepdims=True), (M, N, 1))
    W = np.broadcast_to(G * np.exp(X[..., :2]), (M, N, 2))  # positive weights: a finite log
    expected = numpy_shift_exp(kind, F, W, axis)
    assert np.isfinite(expected).all()
    assert_close(out, expected, dtype, scale_rtol=10)


def test_logsumexp_reduction_inside_a_formula_with_a_weight():
    rng = np.random.default_rng(5)
    x, y, g = rng.random((6, 2)), rng.random((8, 2)), rng.random((8, 1)) + 0.5
    op = keops_kernel("LogSumExp_Reduction(-SqDist(x, y), 0, g)", ["x=Vi(2)", "y=Vj(2)", "g=Vj(1)"])
    F = -((x[:, None] - y[None]) ** 2).sum(-1)
    np.testing.assert_allclose(
        op([x, y, g])[:, 0], np.log((np.exp(F) * g[:, 0]).sum(1)), rtol=1e-12
    )


def test_kmin_reduction_inside_a_formula():
    rng = np.random.default_rng(6)
    x, y = rng.random((6, 2)), rng.random((8, 2))
    op = keops_kernel("ArgKMin_Reduction(SqDist(x, y), 3, 1)", ["x=Vi(2)", "y=Vj(2)"])
    D = ((x[:, None] - y[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(op([x, y]), np.argsort(D, 0, kind="stable")[:3].T)


@pytest.mark.parametrize("opt_arg", [None, 0, -2, 2.5, True])
def test_kmin_needs_a_positive_k(opt_arg):
    from keir import ArgumentError

    with pytest.raises(ArgumentError, match="opt_arg"):
        Genred("SqDist(x, y)", ALIASES, reduction_op="KMin", axis=1, opt_arg=opt_arg)


def test_weighted_reduction_needs_its_weight():
    from keir import DimensionError

    with pytest.raises(DimensionError, match="SumSoftMaxWeight reduction: .*weight"):
        Genred("-SqDist(x, y)", ALIASES, reduction_op="SumSoftMaxWeight", axis=1)
