"""keir.lazytensor against pykeops.numpy.LazyTensor itself, on the same expressions.

pykeops compiles C++ for each new formula (about 6 s), so this file keeps to five formulas;
shape attributes are compared without compiling anything."""

from __future__ import annotations

import numpy as np
import pytest

pykeops_numpy = pytest.importorskip("pykeops.numpy")

import keir.lazytensor as klt  # noqa: E402

pytestmark = pytest.mark.pykeops
RNG = np.random.default_rng(5)


def both(build):
    """build(LazyTensor) evaluated with pykeops' LazyTensor and with keir's."""
    return build(pykeops_numpy.LazyTensor), build(klt.LazyTensor)


def test_shapes_and_dimensions_agree():
    x, y = RNG.random((7, 3)), RNG.random((5, 3))
    X = RNG.random((2, 7, 1, 3))
    for build in [
        lambda L: L(x[:, None]),
        lambda L: L(y[None]),
        lambda L: (L(x[:, None]) - L(y[None])).sqnorm2(),
        lambda L: L(x[:, None]).concat(L(y[None])),
        lambda L: L(X) * L(y[None]),
        lambda L: L(np.array([1.0, 2.0])),
        lambda L: L(x[:, None]).t(),
        lambda L: L(x[:, None]).tensorprod(L(y[None])),
    ]:
        theirs, ours = both(build)
        assert (ours.shape, ours._shape, ours.ndim, ours.dim()) == (
            theirs.shape,
            theirs._shape,
            theirs.ndim,
            theirs.dim(),
        )
        assert ours.nbatchdims == theirs.nbatchdims


def test_gaussian_kernel_product_float32():
    x = RNG.random((300, 3), dtype=np.float32)
    y = RNG.random((200, 3), dtype=np.float32)
    b = RNG.random((200, 2), dtype=np.float32)

    def build(L):
        K = (-((L(x[:, None, :]) - L(y[None, :, :])) ** 2).sum(-1) * 2.5).exp()
        return K @ b

    theirs, ours = both(build)
    assert ours.dtype == theirs.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_knn_indices():
    x, y = RNG.random((120, 2)), RNG.random((90, 2))
    theirs, ours = both(lambda L: L(x[:, None]).sqdist(L(y[None])).argKmin(4, axis=1))
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_batched_reduction_over_i():
    X, Y = RNG.random((3, 40, 1, 2)), RNG.random((1, 1, 30, 2))

    def build(L):
        return (-(L(X) - L(Y)).abs().sum(-1)).exp().sum(axis=1)

    theirs, ours = both(build)
    assert ours.shape == theirs.shape == (3, 30, 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_complex_product_exponential():
    z = RNG.standard_normal((50, 2)) + 1j * RNG.standard_normal((50, 2))
    w = RNG.standard_normal((40, 2)) + 1j * RNG.standard_normal((40, 2))
    # pykeops multiplies a ComplexLazyTensor by LazyTensors only (not by a bare float)
    theirs, ours = both(lambda L: (L(z[:, None]) * L(w[None]) * L(0.3)).exp().sum(axis=1))
    assert ours.dtype == theirs.dtype == np.complex128
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_weighted_logsumexp_over_i():
    x, y = RNG.random((60, 3)), RNG.random((70, 3))
    g = RNG.random((60, 2)) + 0.5

    def build(L):
        return (-L(x[:, None]).sqdist(L(y[None]))).logsumexp(axis=0, weight=L(g[:, None]))

    theirs, ours = both(build)
    assert ours.shape == theirs.shape == (70, 2)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
