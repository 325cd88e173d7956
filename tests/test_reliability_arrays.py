"""Bad or unusual arrays at call time: refused with an ArgumentError, or handled exactly.

docs/reliability.md states each rule checked here: conversions, layouts, NaN/inf, empty and
huge sizes (more than 2**31 pairs).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from keir import ArgumentError, Genred

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
FORMULA = "SqDist(x, y) * s + b"
SCALARS = ["x = Vi(1)", "y = Vj(1)"]


@functools.cache
def genred(formula=FORMULA, aliases=tuple(ALIASES), kind="Sum", axis=1, dtype=None, **kw):
    return Genred(formula, list(aliases), reduction_op=kind, axis=axis, dtype=dtype, **kw)


def scalar_red(kind, axis=1, dtype="float64", **kw):
    """Reduction `kind` of x*y over scalars (formula2 y for the weighted reductions)."""
    if kind == "SumSoftMaxWeight":
        kw = {"formula2": "y"}
    return genred("x * y", tuple(SCALARS), kind, axis, dtype, **kw)


def data(dtype=np.float64, M=6, N=9, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(0.5, 1.5, s).astype(dtype) for s in ((M, 3), (N, 3), (N, 1), (1,))]


def dense(x, y, b, s):
    x, y, b, s = (np.asarray(a, np.float64) for a in (x, y, b, s))
    return (((x[:, None] - y[None]) ** 2).sum(-1) * s + b[:, 0]).sum(1, keepdims=True)


# ---------------------------------------------------------------- refused
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a[:3], "expected 4 arrays, got 3"),
        (lambda a: a + [a[0]], "expected 4 arrays, got 5"),
        (lambda a: [a[0][:, :2]] + a[1:], "x: expected inner dimension 3"),
        (lambda a: [a[0], a[1], a[2][:5]] + a[3:], "b: has 5 rows but y has 9"),
        (lambda a: [a[0][None]] + a[1:], "x: expected a 2-D array"),
        (lambda a: a[:3] + [np.ones(2)], "s: expected inner dimension 1"),
        (lambda a: [a[0].astype(complex)] + a[1:], "x: .*interleaved real, imaginary"),
        (lambda a: [a[0].astype(str)] + a[1:], "x: expected a real numeric array"),
        (lambda a: a[:3] + [None], "s: expected a real numeric array, got dtype object"),
        (lambda a: [[[1.0, 2, 3], [1.0, 2]]] + a[1:], "x: cannot be read as an array"),
        (lambda a: [np.ma.masked_array(a[0])] + a[1:], "x: a masked array"),
    ],
)
def test_bad_arrays_are_refused_by_name(change, message):
    with pytest.raises(ArgumentError, match=message):
        genred()(*change(data()))


# ---------------------------------------------------------------- converted
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_, np.float16])
def test_integer_bool_and_half_arrays_are_converted(dtype):
    """Non-float32/64 real arrays are converted to the kernel dtype (float64 if none given)."""
    args = [a.astype(dtype) for a in data(M=4, N=5)]
    out = genred()(*args)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, dense(*args), rtol=1e-12)


def test_dtype_comes_from_the_first_float_array_and_others_are_converted():
    x, y, b, s = data()
    x = (x * 4).astype(np.int64)
    out = genred()(x, y.astype(np.float32), b, s)  # x: int -> float32; b, s: float64 -> float32
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, dense(x, y.astype(np.float32), b, s), rtol=2e-5)
    out = genred(dtype="float32")(x, y, b, s)  # an explicit dtype converts every argument
    assert out.dtype == np.float32


def test_parameters_accept_python_scalars_and_small_arrays():
    x, y, b, _ = data()
    want = dense(x, y, b, 0.5)
    for s in (0.5, np.float32(0.5), np.array(0.5), [0.5], np.array([[0.5]])):
        np.testing.assert_allclose(genred()(x, y, b, s), want, rtol=1e-12)


def _unaligned(a):
    raw = bytearray(a.nbytes + 1)
    u = np.frombuffer(raw, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    return u


LAYOUTS = {
    "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
    "reversed": lambda a: a[::-1].copy()[::-1],
    "fortran": np.asfortranarray,
    "read-only": lambda a: _read_only(a.copy()),
    "broadcast (zero strides)": lambda a: np.broadcast_to(a[:1], a.shape),
    "unaligned": _unaligned,
}


def _read_only(a):
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_any_layout_gives_the_contiguous_result(layout):
    args = data()
    odd = [LAYOUTS[layout](a) for a in args[:3]] + [args[3]]
    expected = genred()(*[np.ascontiguousarray(a) for a in odd])
    before = [a.copy() for a in odd]
    out = genred()(*odd)
    np.testing.assert_array_equal(out, expected)  # same kernel, same values: bitwise equal
    for a, b in zip(odd, before):
        np.testing.assert_array_equal(a, b)  # inputs untouched


def test_outputs_are_fresh_arrays():
    args = data()
    out1, out2 = genred()(*args), genred()(*args)
    assert out1 is not out2 and not np.shares_memory(out1, out2)
    assert not any(np.shares_memory(out1, a) for a in args)
    assert out1.flags.c_contiguous and out1.flags.writeable and out1.flags.owndata


# ---------------------------------------------------------------- NaN and inf
N_LANES = 40  # more than two vector widths: the special value lands in every loop phase
POSITIONS = (0, 5, 15, 16, 17, 39)


def _with(value, pos, n=N_LANES):
    y = np.linspace(1.0, 2.0, n)[:, None]
    y[pos] = value
    return np.ones((3, 1)), y


@pytest.mark.parametrize("pos", POSITIONS)
def test_sum_propagates_nan_and_inf(pos):
    f = scalar_red("Sum")
    assert np.isnan(f(*_with(np.nan, pos))).all()
    assert (f(*_with(np.inf, pos)) == np.inf).all()
    x, y = _with(np.inf, pos)
    y[(pos + 1) % N_LANES] = -np.inf
    assert np.isnan(f(x, y)).all()  # inf - inf


@pytest.mark.parametrize("pos", POSITIONS)
def test_min_max_kinds_skip_nan_wherever_it_is(pos):
    """NaN never compares smaller or larger, so it is skipped (as KeOps does)."""
    x, y = _with(np.nan, pos)
    rest = np.delete(y[:, 0], pos)
    assert scalar_red("Min")(x, y)[0, 0] == rest.min()
    assert scalar_red("Max")(x, y)[0, 0] == rest.max()
    arg = scalar_red("ArgMin")(x, y)[0, 0]
    assert y[arg, 0] == rest.min()
    vals, idx = scalar_red("KMin_ArgKMin", opt_arg=2)(x, y)
    np.testing.assert_array_equal(vals[0], np.sort(rest)[:2])
    np.testing.assert_array_equal(y[idx[0], 0], np.sort(rest)[:2])


@pytest.mark.parametrize("pos", POSITIONS)
def test_min_max_kinds_take_infinities_as_values(pos):
    x, y = _with(-np.inf, pos)
    assert scalar_red("Min")(x, y)[0, 0] == -np.inf
    assert scalar_red("ArgMin")(x, y)[0, 0] == pos
    x, y = _with(np.inf, pos)
    assert scalar_red("Max")(x, y)[0, 0] == np.inf
    assert scalar_red("ArgMax")(x, y)[0, 0] == pos


def test_all_nan_rows_give_the_empty_result():
    x, y = np.ones((2, 1)), np.full((20, 1), np.nan)
    assert (scalar_red("Min")(x, y) == np.inf).all()
    assert (scalar_red("ArgMin")(x, y) == 0).all()


@pytest.mark.parametrize("pos", POSITIONS)
def test_logsumexp_propagates_nan(pos):
    assert np.isnan(scalar_red("LogSumExp")(*_with(np.nan, pos))).all()


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_logsumexp_handles_infinities(value):
    """log sum exp with a +inf term is +inf; a -inf term adds exp(-inf) = 0."""
    f = scalar_red("LogSumExp")
    for pos in POSITIONS:
        x, y = _with(value, pos)
        with np.errstate(over="ignore"):
            want = np.log(np.exp(y[:, 0]).sum())
        assert f(x, y)[0, 0] == pytest.approx(want, rel=1e-12), pos


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kmin_ties_go_to_the_smallest_indices(dtype):
    """6 rows: the scalar tail loop only (the vector loop's lane merge compares (value, index)
    and gets it right)."""
    y = np.array([0, 1, -2, 0, -2, -4], dtype)[:, None]
    _, idx = scalar_red("KMin_ArgKMin", dtype=dtype, opt_arg=2)(np.ones((1, 1), dtype), y)
    np.testing.assert_array_equal(idx[0], [5, 2])  # -4 at 5, then the first -2


# ---------------------------------------------------------------- empty sizes
EMPTY = {  # reduction over no rows: the reduction's identity (documented)
    "Sum": [0.0],
    "Min": [np.inf],
    "Max": [-np.inf],
    "ArgMin": [0],
    "ArgMax": [0],
    "Min_ArgMin": ([np.inf], [0]),
    "Max_ArgMax": ([-np.inf], [0]),
    "KMin": [np.inf, np.inf],
    "ArgKMin": [0, 0],
    "KMin_ArgKMin": ([np.inf, np.inf], [0, 0]),
    "LogSumExp": [-np.inf],
    "Max_SumShiftExp": [-np.inf, 0.0],
    "SumSoftMaxWeight": [np.nan],  # 0 / 0
}


@pytest.mark.parametrize("kind", list(EMPTY))
def test_empty_sizes(kind):
    f = scalar_red(kind, opt_arg=2) if "KMin" in kind else scalar_red(kind)
    out = f(np.ones((3, 1)), np.ones((0, 1)))  # N = 0: nothing to reduce
    for got, want in zip(*(((o,) if not isinstance(o, tuple) else o) for o in (out, EMPTY[kind]))):
        assert got.shape[0] == 3
        np.testing.assert_array_equal(got, np.broadcast_to(want, got.shape))
    out = f(np.ones((0, 1)), np.ones((4, 1)))  # M = 0: no output rows
    for got in out if isinstance(out, tuple) else (out,):
        assert got.shape[0] == 0


def test_fewer_rows_than_k_pad_with_inf_and_index_zero():
    vals, idx = scalar_red("KMin_ArgKMin", opt_arg=3)(np.ones((1, 1)), np.array([[2.0], [1.0]]))
    np.testing.assert_array_equal(vals[0], [1.0, 2.0, np.inf])
    np.testing.assert_array_equal(idx[0], [1, 0, 0])


# ---------------------------------------------------------------- huge sizes
@pytest.mark.parametrize("axis", [1, 0])
def test_more_than_2_to_the_31_pairs(axis):
    """M = 2**16, N = 2**16 + 1: 4.3e9 pairs, indices past int32; exact in float64."""
    M, N = 2**16, 2**16 + 1
    rng = np.random.default_rng(5)
    x, y = rng.integers(-3, 4, (M, 1)).astype(float), rng.integers(-3, 4, (N, 1)).astype(float)
    out = scalar_red("Sum", axis=axis)(x, y)
    np.testing.assert_array_equal(out, x * y.sum() if axis == 1 else y * x.sum())


# ---------------------------------------------------------------- out=
def test_out_must_be_a_writeable_array_of_the_result_dtype():
    """issue 21: an int64 out= truncated silently, a list raised AttributeError."""
    x, y, b, s = data()
    f = genred(dtype="float64")
    expected = dense(x, y, b, s)
    out = np.full((6, 1), np.nan)
    assert f(x, y, b, s, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    readonly = np.empty((6, 1))
    readonly.flags.writeable = False
    for bad, message in [
        (np.zeros((6, 1), np.int64), "dtype float64, got shape .* dtype int64"),
        (np.zeros((6, 1), np.float32), "dtype float32"),
        (np.zeros((6, 2)), r"shape \(6, 1\)"),
        ([[0.0]] * 6, "expected a numpy array, got list"),
        (readonly, "read-only"),
    ]:
        with pytest.raises(ArgumentError, match=message):
            f(x, y, b, s, out=bad)
    argmin = genred(kind="ArgMin", dtype="float64")
    index = np.zeros((6, 1), np.int64)
    argmin(x, y, b, s, out=index)
    np.testing.assert_array_equal(index, argmin(x, y, b, s))
