"""Batch dimensions and pykeops' own numpy LazyTensor tests, run with keir's LazyTensor.

keir kernels are 2-D; LazyTensor reductions loop over the broadcast batch index. The three
pykeops tests below (test_numpy.py::test_LazyTensor_sum, test_contiguous_numpy.py,
test_lazytensor_gaussian_numpy_inplace.py) keep their logic, with smaller sizes where noted.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from keir import ArgumentError
from keir.lazytensor import LazyTensor, Vi, Vj


def test_pykeops_test_numpy_lazytensor_sum():
    """pykeops/test/test_numpy.py::test_LazyTensor_sum: two batch dims, broadcast both ways."""
    A, B, M, N, D = 4, 6, 10, 6, 3
    rng = np.random.default_rng(0)
    X, L = rng.random((A, 1, M, D)), rng.random((1, B, M, 1))
    Y, S = rng.random((1, B, N, D)), rng.random((A, B, 1)) + 1
    full_results = []
    for use_keops in [True, False]:
        results = []
        for t in ["float32", "float64"]:
            x, lab, y, s = X.astype(t), L.astype(t), Y.astype(t), S.astype(t)
            x_i, l_i = x[:, :, :, None, :], lab[:, :, :, None, :]
            y_j, s_p = y[:, :, None, :, :], s[:, :, None, None, :]
            if use_keops:
                x_i, l_i, y_j, s_p = (LazyTensor(v) for v in (x_i, l_i, y_j, s_p))
            D_ij = ((l_i + x_i * y_j) ** 2 + s_p).sum(-1)
            K_ij = 1 / (1 + D_ij).exp() if use_keops else 1 / np.exp(1 + D_ij)
            a_i = K_ij.sum(2 + 1)
            if use_keops:
                assert a_i.dtype == t
                a_i = a_i.squeeze(-1)
            results.append(a_i)
        full_results.append(results)
    for res_keops, res_numpy in zip(*full_results):
        assert res_keops.shape == res_numpy.shape == (A, B, M)
        assert np.allclose(res_keops, res_numpy, atol=1e-3)


def test_pykeops_test_contiguous_numpy():
    """pykeops/test/test_contiguous_numpy.py (1000 -> 300 points)."""
    rng = np.random.default_rng(0)
    a1 = rng.random((2, 300, 5))
    a2 = np.ascontiguousarray(a1.transpose(2, 0, 1)).transpose(1, 2, 0)
    b, c = rng.random((2, 300, 5)), rng.random((2, 300, 5))
    b_j = LazyTensor(b[:, None])
    d1 = LazyTensor(a1[:, :, None]).sqdist(b_j).exp() @ c
    d2 = LazyTensor(a2[:, :, None]).sqdist(b_j).exp() @ c
    assert np.allclose(d2, d1)
    ref = np.exp(((a1[:, :, None] - b[:, None]) ** 2).sum(-1)) @ c
    np.testing.assert_allclose(d1, ref, rtol=1e-12)


def test_pykeops_test_lazytensor_gaussian_numpy_inplace():
    """pykeops/test/test_lazytensor_gaussian_numpy_inplace.py (3000 x 2000 -> 600 x 400)."""
    M, N, D, DV = 600, 400, 3, 1
    dtype = np.float32
    rng = np.random.default_rng(0)
    x = rng.random((M, 1, D)).astype(dtype) / math.sqrt(D)
    y = rng.random((1, N, D)).astype(dtype) / math.sqrt(D)
    b = rng.standard_normal((N, DV)).astype(dtype)
    a = np.empty((M, DV), dtype=dtype)

    def fun(x, y, b, backend, out=None):
        if "keops" in backend:
            x, y = LazyTensor(x), LazyTensor(y)
        Dxy = (x - y).sum(axis=2)
        if backend == "keops":
            Kxy = (-Dxy).exp()
            out = Kxy.__matmul__(b, out=out)
        else:
            Kxy = np.exp(-Dxy)
            out = Kxy @ b
        return out

    out = [fun(x, y, b, backend, out=a).squeeze() for backend in ["keops", "numpy"]]
    assert np.allclose(out[0], out[1])
    assert np.shares_memory(out[0], a)  # computed in place


def test_batch_broadcasting_and_shapes():
    rng = np.random.default_rng(1)
    x = rng.random((3, 1, 7, 2))  # batch (3, 1)
    y = rng.random((4, 5, 2))  # batch (4,)
    x_i, y_j = LazyTensor(x[..., None, :]), LazyTensor(y[:, None, :, :])
    K = (-((x_i - y_j) ** 2).sum(-1)).exp()
    assert K.batchdims == (3, 4) and K.shape == (3, 4, 7, 5) and K.nbatchdims == 2
    dense = np.exp(-((x[:, :, :, None, :] - y[None, :, None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(K.sum(axis=3)[..., 0], dense.sum(-1), rtol=1e-12)
    np.testing.assert_allclose(K.sum(axis=2)[..., 0], dense.sum(-2), rtol=1e-12)
    idx = K.argKmin(2, axis=3)
    assert idx.shape == (3, 4, 7, 2) and idx.dtype == np.int64
    assert np.array_equal(idx, np.argsort(dense, axis=-1, kind="stable")[..., :2])
    values, indices = K.max_argmax(axis=3)
    np.testing.assert_allclose(values[..., 0], dense.max(-1), rtol=1e-12)
    v = rng.random((4, 5, 3))  # batched dense operand of K @ v
    np.testing.assert_allclose(K @ v, dense @ v[None], rtol=1e-12)
    with pytest.raises(ArgumentError, match="axis"):
        K.sum(axis=1)


def test_batch_parameters_and_rkeops_variables_mix():
    rng = np.random.default_rng(2)
    x, y = rng.random((6, 2)), rng.random((5, 2))
    s = rng.random((3, 1)) + 0.5  # one scale per batch: (3, 1, 1, 1) parameter
    K = (-Vi(x).sqdist(Vj(y)) * LazyTensor(s[:, None, None, :])).exp()
    assert K.batchdims == (3,)
    d = ((x[:, None] - y[None]) ** 2).sum(-1)
    np.testing.assert_allclose(
        K.sum(axis=2)[..., 0], np.exp(-d[None] * s[:, :, None]).sum(-1), rtol=1e-12
    )


def test_incompatible_batches_are_refused():
    a = LazyTensor(np.ones((2, 4, 1, 3)))
    b = LazyTensor(np.ones((3, 1, 5, 3)))
    with pytest.raises(ArgumentError, match="batch"):
        a - b
