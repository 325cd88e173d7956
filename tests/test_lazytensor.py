"""keir.lazytensor.LazyTensor: construction conventions, operators, every formula method and
every reduction, each checked against a dense numpy computation of the same (M, N) array."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import ArgumentError, DimensionError, NotSupportedError
from keir.lazy import reduce as lazy_reduce
from keir.lazy.methods import METHOD_NAMES, UNSUPPORTED
from keir.lazytensor import LazyTensor, Pm, Vi, Vj

M, N = 13, 11
RNG = np.random.default_rng(42)
x = RNG.uniform(0.1, 0.9, (M, 3))
y = RNG.uniform(0.1, 0.9, (N, 3))
u = RNG.uniform(-1, 1, (M, 6))  # a 2x3 matrix per row
w = RNG.uniform(-1, 1, (N, 2))
X, Y = x[:, None, :], y[None, :, :]  # dense (M, 1, 3) and (1, N, 3)
U, W = u[:, None, :], w[None, :, :]


def dense(shape_last):
    return lambda a: np.broadcast_to(a, (M, N, shape_last))


def _sinxdivx(z):
    return np.sin(z) / z


def _hat(t, v, h=0.25):
    """Order-1 B-splines on uniform knots 0, h, 2h, ...: hat functions around t[1:-1]."""
    return np.maximum(0, 1 - np.abs(v - t[1:-1]) / h)


def _one_hot(v, dim):
    k = np.trunc(v + 0.5).astype(int)[..., 0]  # (int)(x + 0.5), as KeOps
    return (k[..., None] == np.arange(dim)).astype(float)


xi, yj, ui, wj = Vi(x), Vj(y), Vi(u), Vj(w)
s = 0.7
A = np.array([2.0, 0.3, 0.1, 0.3, 1.0, 0.2, 0.1, 0.2, 1.5])  # symmetric 3x3, row-major
knots = [0.0, 0.25, 0.5, 0.75, 1.0]
SQ = ((X - Y) ** 2).sum(-1, keepdims=True)
UM = dense(6)(U).reshape(M, N, 2, 3)  # u_i as 2x3 row-major matrices
OUTER = np.einsum("mni,mnj->mnij", dense(3)(X), dense(2)(W)).reshape(M, N, 6)

# (name, LazyTensor expression, numpy expression of the same (M, N, D) array)
CASES = [
    ("exp", (xi - yj).exp(), np.exp(X - Y)),
    ("log", (xi + yj).log(), np.log(X + Y)),
    ("xlogx", (xi * yj).xlogx(), X * Y * np.log(X * Y)),
    ("cos", (xi - 2 * yj).cos(), np.cos(X - 2 * Y)),
    ("sin", (xi - 2 * yj).sin(), np.sin(X - 2 * Y)),
    ("sinxdivx", (3 * (xi - yj)).sinxdivx(), _sinxdivx(3 * (X - Y))),
    ("sinc", (xi - yj).sinc(), np.sinc(X - Y)),
    ("asin", (xi - yj).asin(), np.arcsin(X - Y)),
    ("acos", (xi - yj).acos(), np.arccos(X - Y)),
    ("atan", (4 * (xi - yj)).atan(), np.arctan(4 * (X - Y))),
    ("atan2", (xi - yj).atan2(yj - 0.5), np.arctan2(X - Y, Y - 0.5)),
    ("sqrt", (xi * yj).sqrt(), np.sqrt(X * Y)),
    ("rsqrt", (xi + yj).rsqrt(), 1 / np.sqrt(X + Y)),
    ("square", (xi - yj).square(), (X - Y) ** 2),
    ("inv", (xi + yj).inv(), 1 / (X + Y)),
    ("sign", (xi - yj).sign(), np.sign(X - Y)),
    ("step", (xi - yj).step(), (X - Y >= 0) * 1.0),
    ("relu", (xi - yj).relu(), np.maximum(X - Y, 0)),
    ("floor", (3 * xi - yj).floor(), np.floor(3 * X - Y)),
    ("abs", abs(xi - yj), np.abs(X - Y)),
    ("abs()", (xi - yj).abs(), np.abs(X - Y)),
    ("ifelse", (xi - yj).ifelse(xi, yj), np.where(X - Y >= 0, X, Y)),
    ("mod", (3 * xi).mod(yj), 3 * X - Y * np.floor(3 * X / Y)),
    ("mod offset", (3 * xi).mod(yj, 0.5), 3 * X - Y * np.floor((3 * X - 0.5) / Y)),
    ("round", (3 * xi - yj).round(1), np.round(3 * X - Y, 1)),
    ("round()", (3 * xi - yj).round(), np.round(3 * X - Y)),
    ("clamp int", (3 * (xi - yj)).clamp(-1, 1), np.clip(3 * (X - Y), -1, 1)),
    ("clamp", xi.clamp(yj - 0.2, yj + 0.1), np.clip(X, Y - 0.2, Y + 0.1)),
    ("clampint", (3 * (xi - yj)).clampint(-1, 1), np.clip(3 * (X - Y), -1, 1)),
    ("sqnorm2", (xi - yj).sqnorm2(), ((X - Y) ** 2).sum(-1, keepdims=True)),
    ("norm2", (xi - yj).norm2(), np.sqrt(((X - Y) ** 2).sum(-1, keepdims=True))),
    ("norm", (xi - yj).norm(-1), np.sqrt(((X - Y) ** 2).sum(-1, keepdims=True))),
    ("normalize", (xi - yj).normalize(), (X - Y) / np.linalg.norm(X - Y, axis=-1, keepdims=True)),
    ("sqdist", xi.sqdist(yj), ((X - Y) ** 2).sum(-1, keepdims=True)),
    ("weightedsqnorm iso", (xi - yj).weightedsqnorm(s), s * SQ),
    ("weightedsqnorm diag", (xi - yj).weightedsqnorm(yj), (Y * (X - Y) ** 2).sum(-1)[..., None]),
    (
        "wsqnorm full",
        (xi - yj).weightedsqnorm(A),
        np.einsum("mnk,kl,mnl->mn", X - Y, A.reshape(3, 3), X - Y + 0 * X)[..., None],
    ),
    ("weightedsqdist", xi.weightedsqdist(yj, s), s * ((X - Y) ** 2).sum(-1, keepdims=True)),
    ("elem", (xi - yj).elem(2), (X - Y)[..., 2:3]),
    ("getitem", (xi - yj)[1], (X - Y)[..., 1:2]),
    ("getitem slice", (xi - yj)[1:], (X - Y)[..., 1:]),
    ("getitem tuple", (xi - yj)[:, :, :2], (X - Y)[..., :2]),
    ("extract", (xi - yj).extract(1, 2), (X - Y)[..., 1:3]),
    ("elemT", (xi | yj).elemT(1, 4), np.eye(4)[1] * (X * Y).sum(-1, keepdims=True)),
    ("extractT", (xi - yj).extractT(1, 5), np.pad(X - Y, ((0, 0), (0, 0), (1, 1)))),
    ("one_hot", (4 * (xi - yj).elem(0) + 1.7).one_hot(4), _one_hot(4 * (X - Y)[..., :1] + 1.7, 4)),
    ("bspline", LazyTensor(knots).bspline(xi.elem(0), 1), _hat(np.array(knots), X[..., :1])),
    ("concat", xi.concat(yj), np.concatenate([X + 0 * Y, Y + 0 * X], -1)),
    (
        "concatenate",
        LazyTensor.concatenate((xi, yj, wj)),
        np.concatenate([X + 0 * Y, Y + 0 * X, W + 0 * X[..., :2]], -1),
    ),
    ("cat", LazyTensor.cat((xi, yj), -1), np.concatenate([X + 0 * Y, Y + 0 * X], -1)),
    ("matvecmult", ui.matvecmult(yj), np.einsum("mnij,mnj->mni", UM, dense(3)(Y))),
    ("vecmatmult", wj.vecmatmult(ui), np.einsum("mni,mnij->mnj", dense(2)(W), UM)),
    ("tensorprod", xi.tensorprod(wj), OUTER),
    (
        "keops_kron",
        xi.keops_kron(wj, [3], [2]),
        OUTER,
    ),
    (
        "keops_tensordot",
        ui.keops_tensordot(yj, (2, 3), (3,), (1,), (0,)),
        np.einsum("mnij,mnj->mni", dense(6)(U).reshape(M, N, 2, 3), dense(3)(Y)),
    ),
    ("unary", (xi | yj).unary("SumT", opt_arg=4), np.repeat((X * Y).sum(-1, keepdims=True), 4, -1)),
    ("binary", xi.binary(yj, "Atan2"), np.arctan2(X, Y + 0 * X)),
    ("binary infix", xi.binary(yj, "-", is_operator=True), X - Y),
]  # fmt: skip

OPERATORS = [
    ("+", xi + yj, X + Y),
    ("radd float", 0.5 + xi, 0.5 + X + 0 * Y),
    ("radd array", np.array([1.0, 2.0, 3.0]) + yj, np.array([1.0, 2.0, 3.0]) + Y + 0 * X),
    ("-", xi - yj, X - Y),
    ("rsub", 1 - yj, 1 - Y + 0 * X),
    ("*", xi * yj, X * Y),
    ("rmul", 2.5 * yj, 2.5 * Y + 0 * X),
    ("/", xi / yj, X / Y),
    ("rdiv", 2 / yj, 2 / Y + 0 * X),
    ("1 / x", 1 / yj, 1 / Y + 0 * X),
    ("neg", -xi + yj, -X + Y),
    ("** 2", (xi - yj) ** 2, (X - Y) ** 2),
    ("** 3", (xi - yj) ** 3, (X - Y) ** 3),
    ("** -2", (xi + yj) ** -2, (X + Y) ** -2.0),
    ("** 0.5", (xi * yj) ** 0.5, np.sqrt(X * Y)),
    ("** -0.5", (xi * yj) ** -0.5, 1 / np.sqrt(X * Y)),
    ("** 1.5", (xi * yj) ** 1.5, (X * Y) ** 1.5),
    ("** lazy", xi**yj, X**Y),
    ("power", xi.power(yj.elem(0)), X ** Y[..., :1]),
    ("|", (xi | yj), (X * Y).sum(-1, keepdims=True)),
    ("ror", (x[0] | yj), (x[0] * Y).sum(-1, keepdims=True) + 0 * X[..., :1]),
    ("==", (3 * xi).floor() == (3 * yj).floor(), (np.floor(3 * X) == np.floor(3 * Y)) * 1.0),
    ("!=", (3 * xi).floor() != (3 * yj).floor(), (np.floor(3 * X) != np.floor(3 * Y)) * 1.0),
    ("<", xi < yj, (X < Y) * 1.0),
    (">", xi > yj, (X > Y) * 1.0),
    ("<=", xi <= (3 * yj).floor(), (X <= np.floor(3 * Y)) * 1.0),
    (">=", xi >= (3 * yj).floor() / 3, (X >= np.floor(3 * Y) / 3) * 1.0),
    ("int", xi * 2 + 3, X * 2 + 3 + 0 * Y),
]


@pytest.mark.parametrize("group", [CASES, OPERATORS], ids=["methods", "operators"])
def test_expressions_match_numpy(group):
    """All expressions of a group concatenated into one formula: one compile per group."""
    total = LazyTensor.concatenate(tuple(lazy for _, lazy, _ in group))
    got = total.sum(axis=1)
    start = 0
    for name, lazy, ref in group:
        ref = np.broadcast_to(ref, (M, N, lazy.ndim)).sum(1)
        np.testing.assert_allclose(
            got[:, start : start + lazy.ndim], ref, rtol=1e-10, atol=1e-10, err_msg=name
        )
        start += lazy.ndim
    assert start == got.shape[1]


def test_every_generated_method_is_exercised():
    used = {name.split(" ")[0].rstrip("()") for name, _, _ in CASES}
    reductions = {n for n in METHOD_NAMES if n in ("logsumexp", "sumsoftmaxweight")}
    table = {n for n in METHOD_NAMES if not n.endswith("_reduction")} - set(UNSUPPORTED)
    table -= {"sum", "min", "max", "argmin", "argmax", "min_argmin", "max_argmax"}
    table -= {"Kmin", "argKmin", "Kmin_argKmin", "grad", "diff", "grad_matrix"}
    table -= {"divergence", "laplacian", "real2complex", "imag2complex", "exp1j"} | reductions
    assert table <= used, table - used


def test_pykeops_method_names_all_exist():
    """Every public method of pykeops' numpy LazyTensor exists here (pure Python: no compile)."""
    pykeops_lt = pytest.importorskip("pykeops.numpy").LazyTensor
    internal = {"binary", "unary", "ternary", "init", "join", "promote", "fixvariables"}
    internal |= {"get_tools", "lt_constructor", "separate_kwargs", "new_variable_index"}
    names = {n for n in dir(pykeops_lt) if callable(getattr(pykeops_lt, n, None))}
    names = {n for n in names if not n.startswith("_") or n in ("__matmul__", "__getitem__")}
    internal |= {"Genred", "KernelSolve"}
    assert not {n for n in names - internal if not hasattr(LazyTensor, n)}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_pykeops_methods_raise(name):
    with pytest.raises(NotSupportedError, match=UNSUPPORTED[name]):
        getattr(xi, name)(yj)


# ---------------------------------------------------------------- construction
def test_pykeops_shape_conventions():
    a = LazyTensor(x[:, None, :])
    b = LazyTensor(y[None, :, :])
    p = LazyTensor(np.array([1.0, 2.0]))
    q = LazyTensor(np.ones((1, 1, 4)))
    assert (a.ni, a.nj, a.ndim, a.shape) == (M, None, 3, (M, 1, 3))
    assert (b.ni, b.nj, b.ndim, b.shape) == (None, N, 3, (1, N, 3))
    assert p.args == ["a0 = Pm(2)"] and q.args == ["a0 = Pm(4)"]
    K = (a - b).sqnorm2()
    assert K.shape == (M, N) and K._shape == (M, N, 1) and K.dim() == 3
    assert K.ndim == K.dimres == 1
    assert (a - b).shape == (M, N, 3) and (a - b).dimres == 3
    assert a.dtype == "float64" and LazyTensor(x.astype(np.float32)[:, None]).dtype == "float32"


def test_rkeops_and_alias_conventions():
    for lt, alias in [
        (LazyTensor(x, "i"), "Vi(3)"),
        (LazyTensor(x, index="j"), "Vj(3)"),
        (LazyTensor(x, axis=0), "Vi(3)"),
        (Vi(x), "Vi(3)"),
        (Vj(y), "Vj(3)"),
        (Pm(2.0), "Pm(1)"),
        (Pm(np.arange(3.0)), "Pm(3)"),
        (LazyTensor(0.5), "Pm(1)"),
        (LazyTensor([1.0, 2.0]), "Pm(2)"),
        (Vi(np.arange(5.0)), "Vi(1)"),  # RKeOps: a vector indexed by i is one column
    ]:
        assert lt.args == [f"a0 = {alias}"]
    assert Vi(x).ni == M and Vj(y).nj == N


def test_integers_are_constants_and_floats_parameters():
    c = LazyTensor(3)
    assert c.formula == "IntCst(3)" and c.args == [] and c.data == []
    e = xi * 2 - 0.5
    assert e.formula == "((a0 * IntCst(2)) - a1)"
    assert e.args == ["a0 = Vi(3)", "a1 = Pm(1)"]


def test_repeated_variables_appear_once():
    e = (xi - yj).sqnorm2() + xi.sqnorm2() + LazyTensor(x[:, None, :]).sqnorm2()
    assert e.args == ["a0 = Vi(3)", "a1 = Vj(3)"]
    assert len(e.data) == 2 and e.data[0] is x
    same_array_both_axes = Vi(x) - Vj(x)
    assert same_array_both_axes.args == ["a0 = Vi(3)", "a1 = Vj(3)"]


def test_repr_shows_the_formula():
    text = repr((-(xi - yj).sqnorm2()).exp())
    assert "formula: Exp(Minus(SqNorm2((a0 - a1))))" in text
    assert "args: a0 = Vi(3), a1 = Vj(3)" in text and f"shape: ({M}, {N})" in text
    assert "reduction: Sum (axis=1)" in repr((xi - yj).sum(axis=1, call=False))


def test_scalar_shortcuts_follow_pykeops():
    assert xi + 0 is xi and 0 + xi is xi and xi - 0 is xi and xi * 1 is xi and xi / 1 is xi
    assert xi * 0 == 0 and 0 * xi == 0 and 0 / xi == 0
    assert (0 - xi).formula == "Minus(a0)" and (-1 * xi).formula == "Minus(a0)"
    assert (1 / xi).formula == "Inv(a0)"


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: LazyTensor(x), ArgumentError, "2-D array needs axis"),
        (lambda: LazyTensor(np.ones((3, 4, 5))), ArgumentError, "must have shape"),
        (lambda: LazyTensor(x[:, None], axis=0), ArgumentError, "axis must not be given"),
        (lambda: LazyTensor("x"), ArgumentError, "LazyTensors are built from"),
        (lambda: LazyTensor(x, "k"), ArgumentError, "axis must be"),
        (lambda: LazyTensor(True), ArgumentError, "boolean"),
        (lambda: LazyTensor((0, 3)), ArgumentError, "ind, dim, cat"),
        (lambda: LazyTensor(x.astype(np.float16), "i"), NotSupportedError, "float16"),
        (lambda: xi + Vi(np.ones((M + 1, 3))), ArgumentError, "ni"),
        (lambda: xi + Vj(y.astype(np.float32)), ArgumentError, "dtype"),
        (lambda: xi + ui, DimensionError, "Add"),
        (lambda: xi.sqdist(wj), DimensionError, "SqDist"),
        (lambda: xi.elem(3), DimensionError, "Elem"),
        (lambda: xi.elem(1.5), ArgumentError, "integer"),
        (lambda: xi ** "a", ArgumentError, "exponent"),
        (lambda: xi**wj, DimensionError, "Powf"),
        (lambda: xi[1::2], NotSupportedError, "step"),
        (lambda: xi[0, 1], NotSupportedError, "last axis"),
        (lambda: xi.norm(0), NotSupportedError, "last dimension"),
        (lambda: xi @ y, DimensionError, "inner dim 1"),
        (lambda: (xi - yj).sum(axis=2, dim=None, call=False).foo, AttributeError, "foo"),
        (lambda: (xi - yj).sum(axis=3), ArgumentError, "axis"),
        (lambda: (xi - yj).sum_reduction(), ArgumentError, "axis"),
        (lambda: xi.grad(xi + 1, Vi(x)), ArgumentError, "variable"),
        (lambda: xi.grad(xi, Vi(np.ones((M, 1)))), DimensionError, "gradin"),
    ],
)
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


# ---------------------------------------------------------------- reductions
D = xi.sqdist(yj)
DN = ((X - Y) ** 2).sum(-1)


@pytest.mark.parametrize("axis", [0, 1])
def test_all_reductions(axis):
    ref = DN if axis == 1 else DN.T  # reduce along axis 1 of ref
    order = np.argsort(ref, axis=1, kind="stable")
    np.testing.assert_allclose(D.sum(axis=axis)[:, 0], ref.sum(1), rtol=1e-12)
    np.testing.assert_allclose(D.sum(dim=axis)[:, 0], ref.sum(1), rtol=1e-12)
    np.testing.assert_allclose(D.sum_reduction(axis=axis)[:, 0], ref.sum(1), rtol=1e-12)
    np.testing.assert_allclose(D.min(axis=axis)[:, 0], ref.min(1))
    np.testing.assert_allclose(D.max_reduction(axis=axis)[:, 0], ref.max(1))
    assert np.array_equal(D.argmin(axis=axis)[:, 0], ref.argmin(1))
    assert D.argmin(axis=axis).dtype == np.int64
    assert np.array_equal(D.argmax_reduction(axis=axis)[:, 0], ref.argmax(1))
    values, indices = D.min_argmin(axis=axis)
    np.testing.assert_allclose(values[:, 0], ref.min(1))
    assert np.array_equal(indices[:, 0], ref.argmin(1))
    values, indices = D.max_argmax_reduction(axis=axis)
    assert np.array_equal(indices[:, 0], ref.argmax(1))
    np.testing.assert_allclose(D.Kmin(3, axis=axis), np.sort(ref, 1)[:, :3])
    assert np.array_equal(D.argKmin(K=3, axis=axis), order[:, :3])
    values, indices = D.Kmin_argKmin_reduction(K=2, axis=axis)
    assert np.array_equal(indices, order[:, :2])
    lse = np.log(np.exp(-ref).sum(1))
    np.testing.assert_allclose((-D).logsumexp(axis=axis)[:, 0], lse, rtol=1e-12)
    np.testing.assert_allclose((-D).logsumexp_reduction(axis=axis)[:, 0], lse, rtol=1e-12)


def test_weighted_reductions():
    K = np.exp(-DN)
    g = RNG.uniform(0.5, 1.5, (N, 2))
    lse = (-D).logsumexp(axis=1, weight=Vj(g))
    np.testing.assert_allclose(lse, np.log(K @ g), rtol=1e-12)
    soft = (-D).sumsoftmaxweight(Vj(g), axis=1)
    np.testing.assert_allclose(soft, (K @ g) / K.sum(1, keepdims=True), rtol=1e-12)
    soft = (-D).sumsoftmaxweight_reduction(weight=Vj(g), axis=1)
    np.testing.assert_allclose(soft, (K @ g) / K.sum(1, keepdims=True), rtol=1e-12)


def test_vector_reductions_over_the_inner_axis_stay_symbolic():
    e = xi - yj
    for name in ("sum", "min", "max"):
        for axis in (-1, 2):
            lazy = getattr(e, name)(axis)
            assert isinstance(lazy, LazyTensor) and lazy.ndim == 1
    assert e.argmin(-1).formula == "ArgMin((a0 - a1))"
    assert e.sum(dim=2).formula == "Sum((a0 - a1))"
    assert e.__min__().formula == "Min((a0 - a1))"


def test_matmul_with_dense_arrays_and_transpose():
    K = (-D).exp()
    KN = np.exp(-DN)
    v1, v2 = RNG.random(N), RNG.random((N, 2))
    np.testing.assert_allclose(K @ v1, KN @ v1, rtol=1e-12)
    assert (K @ v1).shape == (N,) or (K @ v1).shape == (M,)
    np.testing.assert_allclose(K @ v2, KN @ v2, rtol=1e-12)
    np.testing.assert_allclose(K.matvec(v2), KN @ v2, rtol=1e-12)
    wt = RNG.random((M, 2))
    np.testing.assert_allclose(K.T @ wt, KN.T @ wt, rtol=1e-12)
    np.testing.assert_allclose(K.rmatvec(wt), KN.T @ wt, rtol=1e-12)
    assert K.t().shape == (N, M)
    out = np.empty((M, 2))
    assert K.__matmul__(v2, out=out) is out
    np.testing.assert_allclose(out, KN @ v2, rtol=1e-12)


def test_matmul_of_two_lazytensors_is_rkeops_percent_star_percent():
    np.testing.assert_allclose(xi @ yj, x * y.sum(0), rtol=1e-12)


def test_float32_results():
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    K = (-Vi(x32).sqdist(Vj(y32)) * 0.5).exp()
    out = K.sum(axis=1)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], np.exp(-0.5 * DN).sum(1), rtol=2e-6)


def test_symbolic_variables_are_given_at_call_time():
    f = (Vi(0, 3) - Vj(1, 3)).sqnorm2().sum(axis=1)
    assert isinstance(f, lazy_reduce.ReducedLazyTensor)
    np.testing.assert_allclose(f(x, y)[:, 0], DN.sum(1), rtol=1e-12)
    g = ((Vi(0, 3) - yj).sqnorm2() * Pm(1, 1)).sum(axis=0)  # data arguments come after
    assert g.program.aliases == ["a0 = Vi(3)", "a1 = Pm(1)", "a2 = Vj(3)"]
    np.testing.assert_allclose(g(x, np.array([2.0]))[:, 0], 2 * DN.sum(0), rtol=1e-12)
    with pytest.raises(ArgumentError, match="takes 2 arrays"):
        g(x)
    with pytest.raises(ArgumentError, match="positions"):
        (Vi(1, 3) - yj).sum(axis=1)


def test_call_false_returns_a_reusable_reduction():
    r = D.sum(axis=1, call=False)
    np.testing.assert_allclose(r()[:, 0], DN.sum(1), rtol=1e-12)


def test_kernel_is_compiled_once_per_structure():
    def kernel_sum(a, b, sigma):
        a_i, b_j = LazyTensor(a[:, None, :]), LazyTensor(b[None, :, :])
        return (-((a_i - b_j) ** 2).sum(-1) / sigma**2).exp().sum(axis=1)

    kernel_sum(x, y, 0.5)
    before = dict(lazy_reduce._GENREDS)
    x2, y2 = RNG.random((7, 3)), RNG.random((9, 3))
    np.testing.assert_allclose(
        kernel_sum(x2, y2, 0.3)[:, 0],
        np.exp(-((x2[:, None] - y2[None]) ** 2).sum(-1) / 0.09).sum(1),
        rtol=1e-12,
    )
    assert lazy_reduce._GENREDS == before  # same formula text: the cached Genred ran


def test_unsupported_options_are_refused():
    with pytest.raises(ArgumentError, match="ranges_i must have shape"):  # a bad pattern
        D.sum(axis=1, ranges=(1, 2, 3, 4, 5, 6))
    with pytest.raises(NotSupportedError, match="backend"):
        D.sum(axis=1, backend="TPU")
    with pytest.raises(NotSupportedError, match="optional_flags"):
        D.sum(axis=1, optional_flags=["-O3"])
    lazy = (-D).exp()
    lazy.ranges = (1, 2, 3, 4, 5, 6)
    with pytest.raises(ArgumentError, match="ranges_i must have shape"):
        lazy.sum(axis=1)


# ---------------------------------------------------------------- derivatives
def test_grad_builds_a_grad_formula():
    e = Vi(RNG.random((M, 1)))
    K = (-D).exp()
    g = K.grad(xi, e)
    assert g.formula == "Grad(Exp(Minus(SqDist(a0, a1))), a0, a2)" and g.ndim == 3
    ref = (e.data[0][:, :, None] * np.exp(-DN)[:, :, None] * -2 * (X - Y)).sum(1)
    np.testing.assert_allclose(g.sum(axis=1), ref, rtol=1e-10)
    # the same as keir.grad of the equivalent Genred
    f = keir.Genred("Exp(-SqDist(x, y))", ["x = Vi(3)", "y = Vj(3)"], axis=1)
    np.testing.assert_allclose(keir.grad(f, "x")(x, y, gradin=e.data[0]), ref, rtol=1e-10)


def test_diff_and_second_order_operators():
    v = Vi(RNG.random((M, 3)))
    f = (xi - yj).sqnorm2()  # |x - y|^2: gradient 2 (x - y), Hessian 2 Id, Laplacian 6
    np.testing.assert_allclose(
        f.diff(xi, v).sum(axis=1)[:, 0], (2 * (X - Y) * v.data[0][:, None]).sum((1, 2))
    )
    np.testing.assert_allclose(f.laplacian(xi).sum(axis=1)[:, 0], 6 * N)
    np.testing.assert_allclose((xi - yj).divergence(xi).sum(axis=1)[:, 0], 3 * N)
    gm = (xi - yj).grad_matrix(xi)
    assert gm.ndim == 9
    np.testing.assert_allclose(gm.sum(axis=1), np.tile(np.eye(3).ravel(), (M, 1)) * N)


# ---------------------------------------------------------------- odds and ends
def test_integer_data_and_numpy_integer_scalars():
    xi_int = Vi(np.arange(6).reshape(3, 2))  # integer arrays are converted to the kernel dtype
    assert xi_int.dtype is None
    out = (xi_int * np.int64(2)).sum(axis=1)
    assert out.dtype == np.float64 and out.tolist() == [[0, 2], [4, 6], [8, 10]]
    assert (xi_int * np.int64(2)).formula == "(a0 * IntCst(2))"


def test_the_package_exports_lazytensors():
    assert keir.LazyTensor is LazyTensor and keir.Vi is Vi and keir.Pm is Pm
    assert keir.ComplexLazyTensor is keir.lazytensor.ComplexLazyTensor
    assert {"LazyTensor", "Vi", "Vj", "Pm", "ComplexLazyTensor"} <= set(keir.__all__)


def test_the_guide_lists_every_method():
    from pathlib import Path

    guide = (Path(__file__).resolve().parent.parent / "docs" / "lazytensor.md").read_text()
    for name in METHOD_NAMES:
        base = name.removesuffix("_reduction")
        assert f".{base}(" in guide or f"`{base}`" in guide, name
