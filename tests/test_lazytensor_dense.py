"""LazyTensor.dense(): the (*batch, M, N, D) values by the reference interpreter, checked
against numpy written by hand and against keir's compiled reductions of the same LazyTensor."""

from __future__ import annotations

import numpy as np
import pytest

import keir
from keir import LazyTensor
from keir.lazy import dense as dense_module

from conftest import assert_close


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_matches_numpy_and_the_compiled_sum(dtype):
    rng = np.random.default_rng(0)
    x, y = rng.random((2, 5, 3)).astype(dtype), rng.random((1, 4, 3)).astype(dtype)
    x_i, y_j = LazyTensor(x[:, :, None]), LazyTensor(y[:, None])
    K = (-x_i.sqdist(y_j) * 2.0).exp() * (x_i - y_j)  # (2, 5, 4, 3): batch 2, y broadcast
    got = K.dense()
    d = x[:, :, None] - y[:, None]
    want = np.exp(-2 * (d**2).sum(-1))[..., None] * d
    assert got.shape == K.shape == (2, 5, 4, 3) and got.dtype == dtype
    assert_close(got, want, dtype)
    assert_close(got.sum(2), K.sum(2), dtype)  # the kernel keir compiles for the same formula
    assert_close(got.min(1), K.min(1), dtype)


def test_dense_of_a_scalar_formula_drops_the_last_axis_and_complex_stays_complex():
    rng = np.random.default_rng(1)
    x, y = rng.random((6, 1, 2)), rng.random((1, 3, 2))
    K = LazyTensor(x).sqdist(LazyTensor(y))
    np.testing.assert_allclose(K.dense(), ((x - y) ** 2).sum(-1), rtol=1e-12)
    z = rng.random((6, 1, 1)) + 1j * rng.random((6, 1, 1))
    C = LazyTensor(z) * LazyTensor(y[..., :1])
    got = C.dense()
    assert np.iscomplexobj(got) and got.shape == C.shape
    np.testing.assert_allclose(got, (z * y[..., :1])[..., 0], rtol=1e-12)


def test_dense_refuses_big_and_symbolic_lazytensors(monkeypatch):
    x = np.zeros((30, 1, 3))
    K = LazyTensor(x).sqdist(LazyTensor(np.zeros((1, 40, 3))))
    monkeypatch.setattr(dense_module, "DENSE_LIMIT", 1000)
    with pytest.raises(keir.ArgumentError, match="dense\\(\\): .* 1,200 elements, more than 1,000"):
        K.dense()
    monkeypatch.undo()
    S = LazyTensor((0, 3, 0)).sqdist(LazyTensor((1, 3, 1)))
    with pytest.raises(keir.ArgumentError, match="symbolic variables"):
        S.dense()


def test_torch_dense_is_a_tensor_like_its_inputs():
    torch = pytest.importorskip("torch")
    import keir.torch as kt

    g = torch.Generator().manual_seed(2)
    x = torch.rand(7, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(5, 3, generator=g, dtype=torch.float64)
    K = (-kt.LazyTensor(x[:, None]).sqdist(kt.LazyTensor(y[None]))).exp()
    got = K.dense()
    assert isinstance(got, torch.Tensor) and got.dtype == x.dtype and not got.requires_grad
    torch.testing.assert_close(got, torch.exp(-((x[:, None] - y[None]) ** 2).sum(-1)).detach())
    torch.testing.assert_close(got.sum(1, keepdim=True), K.sum(1).detach())
