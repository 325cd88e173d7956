"""The RKeOps LazyTensor vignette (seeds/004), in Python with keir.lazytensor's R-style
functions: sum(K_ij, index = "i"), exp(x), sqdist(x, y), Re(z), ..."""

from __future__ import annotations

import numpy as np
import pytest

import keir.lazytensor as lt
from keir import ArgumentError
from keir.lazytensor import ComplexLazyTensor, LazyTensor, Pm, Vi, Vj

RNG = np.random.default_rng(4)


def test_vignette_first_example():
    """a_j = sum_i exp(-|x_i - y_j|^2 / s^2) (vignette sizes 10000 x 15000 -> 1000 x 1500)."""
    M, N = 1000, 1500
    x, y, s = RNG.random((M, 3)), RNG.random((N, 3)), 0.1
    x_i = LazyTensor(x, "i")
    y_j = LazyTensor(y, "j")
    D_ij = lt.sum((x_i - y_j) ** 2)
    K_ij = lt.exp(-D_ij / s**2)
    a_j = lt.sum(K_ij, index="i")
    assert isinstance(D_ij, LazyTensor) and D_ij.dimres == 1
    ref = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / s**2).sum(0)
    assert a_j.shape == (N, 1)
    np.testing.assert_allclose(a_j[:, 0], ref, rtol=1e-11)


def test_vignette_dimres():
    N = 100
    w, x, y = (RNG.random((N, 3)) for _ in range(3))
    w_i, x_i, y_j = LazyTensor(w, "i"), LazyTensor(x, "i"), LazyTensor(y, "j")
    assert x_i.dimres == 3 and y_j.dimres == 3
    sum_xy = x_i + y_j
    assert sum_xy.dimres == 3
    assert lt.sqdist(sum_xy, w_i).dimres == 1


def test_vignette_aliases_vi_vj_pm():
    N = 100
    x, v, s = RNG.random((N, 3)), RNG.uniform(0, 1, 3), 0.1
    assert LazyTensor(x, "i").args == Vi(x).args == ["a0 = Vi(3)"]
    assert LazyTensor(x, "j").args == Vj(x).args == ["a0 = Vj(3)"]
    assert LazyTensor(v).args == Pm(v).args == ["a0 = Pm(3)"]
    assert LazyTensor(s).args == Pm(s).args == ["a0 = Pm(1)"]
    assert LazyTensor(x, "i").data[0] is x and Pm(v).data[0] is v


def test_vignette_type_checking():
    x_i = LazyTensor(RNG.random((100, 3)), index="i")
    p = LazyTensor(RNG.uniform(0, 1, 3))
    l_ = LazyTensor(314.0)  # R's 314 is a double: a parameter (314L would be an IntCst)
    z_i = LazyTensor(np.exp(1j * np.arange(12.0)).reshape(4, 3), index="i", is_complex=True)
    scal_LT, cplx_LT = LazyTensor(3.14), LazyTensor(2 + 3j)
    assert not x_i.is_complex and x_i.args == ["a0 = Vi(3)"]
    assert p.args == ["a0 = Pm(3)"] and l_.args == scal_LT.args == ["a0 = Pm(1)"]
    assert isinstance(z_i, ComplexLazyTensor) and z_i.args == ["a0 = Vi(6)"]
    assert isinstance(cplx_LT, ComplexLazyTensor) and cplx_LT.args == ["a0 = Pm(2)"]


def test_vignette_intcst_and_duplicates():
    n = LazyTensor(7)
    assert n.formula == "IntCst(7)" and n.args == [] and n.data == []
    x_i = Vi(RNG.random((10, 3)))
    y_j = Vj(RNG.random((8, 3)))
    f = lt.sqdist(x_i, y_j) * lt.sqnorm2(x_i) + lt.exp(-lt.sum(x_i * y_j)) + n
    assert f.formula.count("a0") == 3 and f.args == ["a0 = Vi(3)", "a1 = Vj(3)"]
    assert len(f.data) == 2


X = RNG.uniform(0.1, 0.9, (6, 3))
Y = RNG.uniform(0.1, 0.9, (5, 3))
x, y = Vi(X), Vj(Y)
S = Pm(np.array([0.5]))
Z = Vi(X[:, :2] + 1j * X[:, 1:])
# R-style call, the pykeops method it stands for
EQUIVALENT = [
    (lt.square(x), x.square()),
    (lt.sqrt(x), x.sqrt()),
    (lt.rsqrt(x), x.rsqrt()),
    (lt.exp(x), x.exp()),
    (lt.log(x), x.log()),
    (lt.xlogx(x), x.xlogx()),
    (lt.inv(x), 1 / x),
    (lt.cos(x), x.cos()),
    (lt.sin(x), x.sin()),
    (lt.sinxdivx(x), x.sinxdivx()),
    (lt.acos(x), x.acos()),
    (lt.asin(x), x.asin()),
    (lt.atan(x), x.atan()),
    (lt.atan2(x, y), x.atan2(y)),
    (lt.abs(x - y), abs(x - y)),
    (lt.sign(x), x.sign()),
    (lt.step(x), x.step()),
    (lt.relu(x), x.relu()),
    (lt.clamp(x, y, 1), x.clamp(y, 1)),
    (lt.clampint(x, 0, 1), x.clamp(0, 1)),
    (lt.ifelse(x, y, 2), x.ifelse(y, 2)),
    (lt.mod(x, y, 1), x.mod(y, 1)),
    (lt.round(x, 2), x.round(2)),
    (lt.Re(Z), Z.real),
    (lt.Im(Z), Z.imag),
    (lt.Arg(Z), Z.angle()),
    (lt.Mod(Z), abs(Z)),
    (lt.Conj(Z), Z.conj()),
    (lt.real2complex(x), x.real2complex()),
    (lt.imag2complex(x), x.imag2complex()),
    (lt.norm2(x), x.norm2()),
    (lt.sqnorm2(x), x.sqnorm2()),
    (lt.normalize(x), x.normalize()),
    (lt.sqdist(x, y), x.sqdist(y)),
    (lt.weightedsqnorm(x, S), x.weightedsqnorm(S)),
    (lt.weightedsqdist(x, y, S), x.weightedsqdist(y, S)),
    (lt.matvecmult(Vi(np.ones((6, 6))), y), Vi(np.ones((6, 6))).matvecmult(y)),
    (lt.vecmatmult(y, Vi(np.ones((6, 6)))), y.vecmatmult(Vi(np.ones((6, 6))))),
    (lt.tensorprod(x, y), x.tensorprod(y)),
    (lt.sum(x), x.sum(-1)),
    (lt.max(x), x.max(-1)),
    (lt.min(x), x.min(-1)),
    (lt.argmax(x), x.argmax(-1)),
    (lt.argmin(x), x.argmin(-1)),
    (lt.elem(x, 1), x.elem(1)),
    (lt.elemT(lt.sum(x), 1, 4), x.sum(-1).elemT(1, 4)),
    (lt.extract(x, 1, 2), x.extract(1, 2)),
    (lt.extractT(x, 1, 5), x.extractT(1, 5)),
    (lt.concat(x, y), x.concat(y)),
    (lt.one_hot(lt.sum(x), 4), x.sum(-1).one_hot(4)),
]


@pytest.mark.parametrize("r_style, method", EQUIVALENT, ids=[m.formula for _, m in EQUIVALENT])
def test_r_style_functions_build_the_method_formulas(r_style, method):
    assert r_style.formula == method.formula and r_style.args == method.args


def test_vignette_reduction_table():
    d = lt.sqdist(x, y)
    dense = ((X[:, None] - Y[None]) ** 2).sum(-1)
    w = Vj(RNG.random((5, 2)))
    k = np.exp(-dense)
    np.testing.assert_allclose(lt.sum(d, "j")[:, 0], dense.sum(1))
    np.testing.assert_allclose(lt.sum_reduction(d, "i")[:, 0], dense.sum(0))
    np.testing.assert_allclose(lt.min(d, "j")[:, 0], dense.min(1))
    np.testing.assert_allclose(lt.min_reduction(d, "i")[:, 0], dense.min(0))
    assert np.array_equal(lt.argmin(d, "j")[:, 0], dense.argmin(1))
    assert np.array_equal(lt.argmin_reduction(d, "j")[:, 0], dense.argmin(1))
    values, indices = lt.min_argmin(d, "j")
    assert np.array_equal(indices[:, 0], dense.argmin(1))
    assert np.array_equal(lt.min_argmin_reduction(d, "i")[1][:, 0], dense.argmin(0))
    np.testing.assert_allclose(lt.max(d, "j")[:, 0], dense.max(1))
    np.testing.assert_allclose(lt.max_reduction(d, "j")[:, 0], dense.max(1))
    assert np.array_equal(lt.argmax(d, "i")[:, 0], dense.argmax(0))
    assert np.array_equal(lt.argmax_reduction(d, "i")[:, 0], dense.argmax(0))
    assert np.array_equal(lt.max_argmax(d, "j")[1][:, 0], dense.argmax(1))
    assert np.array_equal(lt.max_argmax_reduction(d, "j")[1][:, 0], dense.argmax(1))
    np.testing.assert_allclose(lt.logsumexp(-d, "j")[:, 0], np.log(k.sum(1)))
    np.testing.assert_allclose(lt.logsumexp_reduction(-d, "j", w), np.log(k @ w.data[0]))
    soft = (k @ w.data[0]) / k.sum(1, keepdims=True)
    np.testing.assert_allclose(lt.sumsoftmaxweight(-d, "j", w), soft)
    np.testing.assert_allclose(lt.sumsoftmaxweight_reduction(-d, "j", w), soft)
    assert np.array_equal(lt.argKmin(d, 2, "j"), np.argsort(dense, 1)[:, :2])
    np.testing.assert_allclose(lt.Kmin_reduction(d, 2, "i"), np.sort(dense, 0)[:2].T)
    np.testing.assert_allclose(x @ y, X * Y.sum(0))  # x %*% y: sum over j of x_i * y_j


def test_vignette_grad():
    """grad(x, gradin, "Sum", var, "j"): the Sum over j of Grad(x, var, gradin)."""
    e = Vi(RNG.random((6, 1)))
    g = lt.grad(lt.exp(-lt.sqdist(x, y)), e, "Sum", x, "j")
    dense = np.exp(-((X[:, None] - Y[None]) ** 2).sum(-1))
    ref = (e.data[0][:, :, None] * dense[:, :, None] * -2 * (X[:, None] - Y[None])).sum(1)
    np.testing.assert_allclose(g, ref, rtol=1e-12)


def test_functions_fall_back_to_numpy_without_lazytensors():
    a = np.array([0.5, 1.5])
    np.testing.assert_allclose(lt.exp(a), np.exp(a))
    assert lt.sum(a) == 2.0 and lt.max(a) == 1.5 and lt.round(1.26, 1) == 1.3
    with pytest.raises(ArgumentError, match="expected a LazyTensor"):
        lt.sqdist(a, a)
    with pytest.raises(ArgumentError, match="index"):
        lt.sum(x, "k")
