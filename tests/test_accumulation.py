"""pykeops' accumulation options (dtype_acc, use_double_acc, sum_scheme): compiled, accurate,
and refused exactly where pykeops 2.3 refuses them (its get_optional_flags is the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import Genred
from keir.dialect.interpreter import evaluate

from conftest import AXES, DTYPES, assert_close

SCHEMES = (
    dict(sum_scheme="direct_sum"),
    dict(sum_scheme="block_sum"),
    dict(sum_scheme="kahan_scheme"),
    dict(dtype_acc="float64"),
    dict(use_double_acc=True, sum_scheme="direct_sum"),
)


def _terms(data: str) -> np.ndarray:
    """10^6 float32 terms whose direct float32 sum loses digits: a constant 0.1 (rounding
    errors all of one sign) or uniform values in [0, 1)."""
    if data == "constant":
        return np.full((10**6, 1), 0.1, np.float32)
    return np.random.default_rng(7).random((10**6, 1)).astype(np.float32)


def _long_sum(b, axis: int, **options) -> float:
    """keir's float32 sum of the terms b, relative to the float64 sum of the same terms."""
    other = np.zeros((2, 1), np.float32)
    red, arg = ("b = Vj(1)", "x = Vi(1)") if axis == 1 else ("b = Vi(1)", "x = Vj(1)")
    out = Genred("b", [arg, red], "Sum", axis=axis, **options)(other, b)
    assert out.dtype == np.float32
    exact = b.astype(np.float64).sum()
    return abs(float(out[0, 0]) - exact) / exact


@pytest.mark.parametrize("data", ["constant", "uniform"])
@pytest.mark.parametrize("axis", AXES)
def test_a_long_float32_sum_gets_more_accurate(data, axis):
    """Constant terms: the direct sum's rounding errors all have one sign, every other scheme
    is orders of magnitude better. Uniform terms: the errors partly cancel (the direct sum's
    error shrinks with the vector width: over 30 ulp with 8 float32 lanes, 10 with 16), so the gain
    is smaller; the compensated schemes are correctly rounded on both."""
    b = _terms(data)
    ulp = float(np.spacing(np.float32(b.astype(np.float64).sum())) / b.sum(dtype=np.float64))
    direct = _long_sum(b, axis, sum_scheme="direct_sum")
    gain = 100 if data == "constant" else 4
    assert direct > (1000 if data == "constant" else 5) * ulp  # float32 loses digits here
    for options in SCHEMES[1:]:
        error = _long_sum(b, axis, **options)
        assert error * gain < direct, options
        if "sum_scheme" not in options or options["sum_scheme"] == "kahan_scheme":
            assert error <= ulp, options  # correctly rounded


def test_block_sum_also_blocks_a_long_range():
    """The block-sparse loop cuts each reduced range into blocks of BLOCK_TERMS terms per
    lane (passes/lowering/ranged.py): two ranges of 500,000 constant terms, unaligned to the
    vector width, get block_sum's accuracy, not direct_sum's."""
    b = _terms("constant")
    x = np.zeros((2, 1), np.float32)
    ranges_i = np.array([[0, 2]], np.int32)
    slices = np.array([2], np.int32)
    red_j = np.array([[3, 500_003], [500_003, 10**6]], np.int32)
    ranges = (ranges_i, slices, red_j, red_j, np.array([1, 2], np.int32), ranges_i)
    exact = b[3:].astype(np.float64).sum()
    errors = {}
    for scheme in ("direct_sum", "block_sum"):
        g = Genred("b", ["x = Vi(1)", "b = Vj(1)"], "Sum", axis=1, sum_scheme=scheme)
        errors[scheme] = abs(float(g(x, b, ranges=ranges)[0, 0]) - exact) / exact
    assert errors["block_sum"] * 100 < errors["direct_sum"], errors


@pytest.mark.parametrize("kind", ["LogSumExp", "SumSoftMaxWeight"])
@pytest.mark.parametrize("axis", AXES)
def test_kahan_makes_a_long_float32_shifted_exp_sum_correctly_rounded(kind, axis):
    """f in {0, -1} (the max moves once, each term is rescaled), constant weights: the direct
    float32 sums of exp(f - max) g lose digits all in one direction, the compensated ones (the
    compensation rescaled with the sums) do not. LogSumExp's weight makes log(sum) about 0.6,
    so the output shows the sum's relative error. The interpreter's rule for the Kahan variant
    sums in float64: correctly rounded too."""
    rng = np.random.default_rng(3)
    f = -rng.integers(0, 2, (10**6, 1)).astype(np.float32)
    b = np.full_like(f, np.e / len(f) if kind == "LogSumExp" else 0.1)
    e, w = np.exp(f.astype(np.float64)), b.astype(np.float64)
    exact = np.log((e * w).sum()) if kind == "LogSumExp" else (e * w).sum() / e.sum()
    cats = ("Vi", "Vj") if axis == 1 else ("Vj", "Vi")
    aliases = [f"x = {cats[0]}(1)", f"f = {cats[1]}(1)", f"b = {cats[1]}(1)"]
    sizes = (2, len(f)) if axis == 1 else (len(f), 2)  # (M, N)
    ranges = _halves(*sizes) + _halves(*sizes[::-1])  # every pair, in two reduced ranges
    errors = {}
    for case, scheme, rngs in (
        ("direct", "direct_sum", None),
        ("kahan", "kahan_scheme", None),
        ("kahan ranged", "kahan_scheme", ranges),
    ):
        g = Genred("f", aliases, kind, axis=axis, formula2="b", sum_scheme=scheme)
        out = g(np.zeros((2, 1), np.float32), f, b, ranges=rngs)
        assert out.dtype == np.float32
        errors[case] = abs(float(out[0, 0]) - exact) / abs(exact)
    interpreted = evaluate(g.spec.build("float32")[0], [np.zeros((2, 1), np.float32), f, b])
    errors["interpreter"] = abs(float(interpreted[0, 0]) - exact) / abs(exact)
    ulp = float(np.spacing(np.float32(exact))) / abs(exact)
    assert errors["direct"] > 1000 * ulp
    assert max(errors[c] for c in ("kahan", "kahan ranged", "interpreter")) <= ulp, errors


def test_an_infinite_term_keeps_a_kahan_sum_infinite():
    """inf - inf in the compensation would turn the rest of the sum into NaN."""
    b = np.ones((1000, 1))
    b[10] = np.inf
    args = (np.zeros((2, 1)), np.zeros_like(b), b)
    for kind, formula in (("Sum", "b"), ("LogSumExp", "f"), ("SumSoftMaxWeight", "f")):
        formula2 = None if kind == "Sum" else "b"
        g = Genred(formula, ["x = Vi(1)", "f = Vj(1)", "b = Vj(1)"], kind, axis=1,
                   formula2=formula2, sum_scheme="kahan_scheme")  # fmt: skip
        np.testing.assert_array_equal(g(*args), [[np.inf]] * 2)
        np.testing.assert_array_equal(evaluate(g.spec.build("float64")[0], list(args)), g(*args))


def _halves(rows: int, reduced: int) -> tuple:
    """(ranges, slices, redranges): one range of all rows over both halves of the reduced index."""
    half = reduced // 2
    return np.array([[0, rows]]), np.array([2]), np.array([[0, half], [half, reduced]])


# kind -> (formula, formula2): every reduction pykeops applies the schemes to
SUM_LIKE = {
    "Sum": ("Exp(-SqDist(x, y)) * b", None),
    "LogSumExp": ("-SqDist(x, y)", None),
    "Max_SumShiftExp": ("-SqDist(x, y)", None),
    "SumSoftMaxWeight": ("-SqDist(x, y)", "b"),
    "Max_SumShiftExpWeight": ("-SqDist(x, y)", "b"),
}
ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"]


def _dense(kind, x, y, b, axis):
    """The reduction over the full (M, N) matrix in float64 numpy."""
    x, y, b = (a.astype(np.float64) for a in (x, y, b))
    f = -((x[:, None] - y[None]) ** 2).sum(-1)  # (M, N)
    w = b[None].repeat(len(x), 0)  # (M, N, 2): b is a j variable
    if axis == 0:
        f, w = f.T, np.swapaxes(w, 0, 1)
    if kind == "Sum":
        return (np.exp(f)[..., None] * w).sum(1)
    m = f.max(1, keepdims=True)
    s = np.exp(f - m)
    if kind == "LogSumExp":
        return m + np.log(s.sum(1, keepdims=True))
    if kind == "Max_SumShiftExp":
        return np.concatenate([m, s.sum(1, keepdims=True)], 1)
    ws = (s[..., None] * w).sum(1)
    if kind == "SumSoftMaxWeight":
        return ws / s.sum(1, keepdims=True)
    return np.concatenate([m, ws], 1)


@pytest.mark.parametrize("kind", SUM_LIKE)
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_like_reductions_under_each_scheme(kind, dtype, rng):
    """Each kind x scheme x dtype once, the axis alternating (every scheme sees both axes over
    the kinds): the schemes change the reduction, not the axis handling."""
    formula, formula2 = SUM_LIKE[kind]
    x, y, b = (rng.random((n, d)).astype(dtype) for n, d in ((37, 3), (301, 3), (301, 2)))
    for n, options in enumerate(SCHEMES):
        axis = (n + list(SUM_LIKE).index(kind) + DTYPES.index(dtype)) % 2
        g = Genred(formula, ALIASES, kind, axis=axis, formula2=formula2, **options)
        out = g(x, y, b)
        assert out.dtype == dtype
        assert_close(out, _dense(kind, x, y, b, axis), dtype)
        if g.spec.options.wider(dtype):
            continue  # the float64 kernel ran: its interpreter run is the float64 one
        module, _ = g.spec.build(dtype)
        assert_close(out, evaluate(module, [x, y, b]), dtype)


def test_the_scheme_is_in_the_kernel_ir_and_so_in_its_cache_key():
    texts = {
        scheme: str(
            Genred("x * y", ["x = Vi(1)", "y = Vj(1)"], axis=1, sum_scheme=scheme).spec.build(
                "float32"
            )[0]
        )
        for scheme in ("direct_sum", "block_sum", "kahan_scheme")
    }
    assert "keir.block_sum" in texts["block_sum"] and "Sum_Kahan" in texts["kahan_scheme"]
    assert "keir.block_sum" not in texts["direct_sum"] + texts["kahan_scheme"]
    assert len(set(texts.values())) == 3
    auto = Genred("x * y", ["x = Vi(1)", "y = Vj(1)"], axis=1).spec.build("float32")[0]
    assert str(auto) == texts["block_sum"]  # pykeops' "auto" for Sum


OPTION_CASES = [
    (kind, dict(dtype_acc=acc, use_double_acc=double, sum_scheme=scheme))
    for kind in ("Sum", "LogSumExp", "SumSoftMaxWeight", "Min", "ArgMax", "KMin")
    for acc in ("auto", "float32", "float64")
    for double in (False, True)
    for scheme in ("auto", "direct_sum", "block_sum", "kahan_scheme", "pairwise")
]
# pykeops' internal names for the reductions keir names as pykeops' Python layer does
INTERNAL = {"LogSumExp": "Max_SumShiftExp", "SumSoftMaxWeight": "Max_SumShiftExpWeight"}


@pytest.mark.parametrize("kind, options", OPTION_CASES)
def test_options_are_refused_exactly_where_pykeops_refuses_them(kind, options):
    from pykeops.common.parse_type import get_optional_flags

    try:
        get_optional_flags(
            INTERNAL.get(kind, kind), **options, enable_chunks=True, use_fast_math=True
        )
        pykeops_error = False
    except ValueError:
        pykeops_error = True
    weight = "b" if kind == "SumSoftMaxWeight" else None
    k = 2 if kind == "KMin" else None
    build = lambda: Genred(  # noqa: E731
        "SqDist(x, y)", ALIASES, kind, axis=1, opt_arg=k, formula2=weight, **options
    )
    if pykeops_error:
        with pytest.raises(keir.ArgumentError):
            build()
    else:
        build()


def test_dtype_acc_narrower_than_the_data_is_refused(rng):
    x = rng.random((5, 1))
    g = Genred("x", ["x = Vj(1)", "z = Vi(1)"], axis=1, dtype_acc="float32")
    with pytest.raises(keir.ArgumentError, match="not allowed for float64"):
        g(x, x)


def test_out_receives_the_result_of_a_wider_accumulation(rng):
    x, y = rng.random((6, 2)).astype("float32"), rng.random((9, 2)).astype("float32")
    g = Genred("SqDist(x, y)", ["x = Vi(2)", "y = Vj(2)"], axis=1, use_double_acc=True)
    out = np.empty((6, 1), np.float32)
    assert g(x, y, out=out) is out
    assert_close(out, ((x[:, None] - y[None]) ** 2).sum((1, 2))[:, None], "float32")
    with pytest.raises(keir.ArgumentError, match="dtype float32"):
        g(x, y, out=np.empty((6, 1)))


def test_torch_and_lazytensor_use_the_same_options():
    torch = pytest.importorskip("torch")
    import keir.torch as kt
    from keir.numpy import LazyTensor

    b = torch.rand(10**6, 1) + 1
    exact = b.double().sum().item()
    x = torch.zeros(2, 1)
    for options in ({"sum_scheme": "kahan_scheme"}, {"use_double_acc": True}):
        f = kt.Genred("b", ["x = Vi(1)", "b = Vj(1)"], axis=1, **options)
        out = torch.empty(2, 1)
        assert f(x, b, out=out) is out and out.dtype == torch.float32
        assert abs(out[0, 0].item() - exact) <= np.spacing(np.float32(exact))
        lazy = LazyTensor(b.numpy()[None, :, :]).sum(axis=1, **options)
        assert abs(float(lazy[0, 0]) - exact) <= np.spacing(np.float32(exact))
    with pytest.raises(keir.ArgumentError, match="use_double_acc and dtype_acc"):
        kt.Genred("b", ["x = Vi(1)", "b = Vj(1)"], axis=1, use_double_acc=True, dtype_acc="float64")


def test_dask_partial_states_of_a_kahan_sum(rng):
    da = pytest.importorskip("dask.array")
    import keir.dask as kd

    b = rng.random((4000, 2)).astype("float32")
    x = rng.random((5, 1)).astype("float32")
    g = kd.Genred("b * x", ["x = Vi(1)", "b = Vj(2)"], axis=1, sum_scheme="kahan_scheme")
    out = g(da.from_array(x, chunks=(5, 1)), da.from_array(b, chunks=(1000, 2))).compute()
    assert_close(out, x.astype(np.float64) * b.astype(np.float64).sum(0), "float32")
    with pytest.raises(keir.NotSupportedError, match="keir.dask"):
        kd.Genred("b * x", ["x = Vi(1)", "b = Vj(2)"], axis=1, use_double_acc=True)(
            da.from_array(x), da.from_array(b)
        )


@pytest.mark.parametrize(
    "kind, scheme",
    [
        ("LogSumExp", "kahan_scheme"),
        ("SumSoftMaxWeight", "block_sum"),
        ("SumSoftMaxWeight", "kahan_scheme"),
    ],
)
def test_ranged_kernels_take_the_schemes(kind, scheme):
    """The block-sparse loop (passes/lowering/ranged.py) folds and merges compensated states,
    and block_sum's fresh states per reduced range, like the dense loop."""
    from test_ranges import masked_reference, random_ranges

    rng = np.random.default_rng(11)
    M, N = 83, 2000
    x, y, b = rng.random((M, 3)), rng.random((N, 3)), rng.random((N, 2))
    x, y, b = (a.astype(np.float32) for a in (x, y, b))
    ranges = random_ranges(rng, M, N)
    formula, formula2 = SUM_LIKE[kind]
    g = Genred(formula, ALIASES, kind, axis=1, formula2=formula2, sum_scheme=scheme)
    want = masked_reference(g.spec, "float32", [x, y, b], ranges)[0]
    np.testing.assert_allclose(g(x, y, b, ranges=ranges), want, rtol=3e-6, atol=3e-6)


@pytest.mark.parametrize("kind", ["LogSumExp", "SumSoftMaxWeight"])
def test_gradients_keep_the_scheme(kind, rng):
    """keir.grad's Sum (and the LogSumExp that SumSoftMaxWeight's rule saves) compiles with
    the forward's sum_scheme, as pykeops.torch's backward passes its optional flags on."""
    formula, formula2 = SUM_LIKE[kind]
    x, y, b = rng.random((7, 3)), rng.random((300, 3)), rng.random((300, 2))
    e = rng.random((7, 1 if kind == "LogSumExp" else 2))
    grads = {}
    for scheme in ("direct_sum", "kahan_scheme"):
        f = Genred(formula, ALIASES, kind, axis=1, formula2=formula2, sum_scheme=scheme)
        g = keir.grad(f, "x")
        assert g.spec.options.sum_scheme == scheme
        grads[scheme] = g(x, y, b, gradin=e)
    assert "Sum_Kahan" in str(g.spec.build("float64")[0])
    np.testing.assert_allclose(grads["kahan_scheme"], grads["direct_sum"], rtol=1e-12, atol=1e-14)


def test_the_gpu_backend_refuses_an_explicit_scheme(monkeypatch):
    """keir-tile-gpu sums in its own order: an explicit scheme is refused before anything is
    compiled for the device, for every sum-like reduction."""
    monkeypatch.setattr(keir.runtime.cuda, "select", lambda backend, device_id=-1: object())
    x = np.zeros((3, 3), np.float32)
    for kind, (formula, formula2) in SUM_LIKE.items():
        g = Genred(formula, ALIASES, kind, axis=1, formula2=formula2, sum_scheme="kahan_scheme")
        with pytest.raises(keir.NotSupportedError, match="sum_scheme='kahan_scheme' is not"):
            g(x, x, x[:, :2], backend="GPU")
