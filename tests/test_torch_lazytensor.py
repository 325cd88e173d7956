"""keir.torch.LazyTensor: keir's LazyTensor on torch tensors, autograd through reductions."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keir  # noqa: E402
import keir.torch as kt  # noqa: E402
from keir.torch import LazyTensor, Pm, Vi, Vj  # noqa: E402

F64 = torch.float64


def _points(M=8, N=6, D=3, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(M, D, generator=g, dtype=dtype, requires_grad=True)
    y = torch.rand(N, D, generator=g, dtype=dtype, requires_grad=True)
    return x, y


def _gauss(x_i, y_j, s=1.0):
    return (-((x_i - y_j) ** 2).sum(-1) * s).exp()


def _dense_gauss(x, y, s=1.0):
    return torch.exp(-((x[..., :, None, :] - y[..., None, :, :]) ** 2).sum(-1) * s)


def test_operations_stay_torch_lazytensors_and_reductions_give_tensors():
    x, y = _points()
    K = _gauss(LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :]), 0.5)
    assert isinstance(K, kt.LazyTensor) and K.shape == (8, 6)
    assert isinstance(K + 1.0, kt.LazyTensor) and isinstance(2 * K, kt.LazyTensor)
    assert isinstance(keir.LazyTensor(2.0) * K, kt.LazyTensor)  # a numpy parameter joins
    out = K.sum(dim=1)
    assert isinstance(out, torch.Tensor) and out.dtype == F64 and out.shape == (8, 1)
    torch.testing.assert_close(out[:, 0], _dense_gauss(x, y, 0.5).sum(1))
    torch.testing.assert_close((K * np.float64(2.0)).sum(1), 2 * out)


def test_backward_through_a_reduction_result():
    x, y = _points()
    b = torch.rand(6, 2, dtype=F64, requires_grad=True)
    K = _gauss(Vi(x), Vj(y))
    (K @ b).square().sum().backward()
    got = [x.grad, y.grad, b.grad]
    for t in (x, y, b):
        t.grad = None
    (_dense_gauss(x, y) @ b).square().sum().backward()
    for g, t in zip(got, (x, y, b)):
        torch.testing.assert_close(g, t.grad)


@pytest.mark.parametrize("red", ["sum", "logsumexp", "min", "max", "Kmin"])
def test_gradcheck_reductions_on_both_axes(red):
    def f(x, y, s):
        D = LazyTensor(x[:, None, :]).sqdist(LazyTensor(y[None, :, :])) * Pm(s)
        out = [getattr(D, red)(dim=d, **({"K": 2} if red == "Kmin" else {})) for d in (0, 1)]
        return torch.cat([o.reshape(-1) for o in out])

    x, y = _points(5, 4)
    s = torch.tensor([0.7], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, y, s))


def test_gradgradcheck_of_a_gaussian_sum():
    x, y = _points(5, 4)
    assert torch.autograd.gradgradcheck(lambda x, y: _gauss(Vi(x), Vj(y)).sum(1), (x, y))


def test_scalars_zero_d_tensors_and_weighted_logsumexp():
    x, y = _points()
    s = torch.tensor(0.3, dtype=F64, requires_grad=True)
    w = torch.rand(6, 1, dtype=F64, requires_grad=True)
    D = LazyTensor(x[:, None, :]).sqdist(LazyTensor(y[None, :, :]))
    out = (-D * s + 1).logsumexp(dim=1, weight=Vj(w))
    dense = ((x[:, None] - y[None]) ** 2).sum(-1)
    ref = torch.logsumexp(-dense * s + 1 + torch.log(w[:, 0]), dim=1)[:, None]
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), [s, w]),
                               torch.autograd.grad(ref.sum(), [s, w]))  # fmt: skip


def test_a_detached_view_of_the_same_memory_gets_no_gradient():
    x, _ = _points()
    out = (Vi(x) * Vi(x.detach())).sum(0).sum()  # sum_i |x_i|^2: d/dx = x (not 2x)
    (g,) = torch.autograd.grad(out, [x])
    torch.testing.assert_close(g, x.detach())


def test_transpose_matmul_argkmin_and_float32():
    x, y = _points(dtype=torch.float32)
    K = _gauss(LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :]))
    v = torch.rand(8, dtype=torch.float32)
    torch.testing.assert_close(K.T @ v, _dense_gauss(x, y).T @ v)
    assert (K.t() @ v).dtype == torch.float32
    idx = LazyTensor(x[:, None, :]).sqdist(LazyTensor(y[None, :, :])).argKmin(2, dim=1)
    assert idx.dtype == torch.int64
    torch.testing.assert_close(idx, ((x[:, None] - y[None]) ** 2).sum(-1).argsort(1)[:, :2])


def test_batch_dimensions():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 5, 3, generator=g, dtype=F64, requires_grad=True)
    y = torch.rand(1, 4, 3, generator=g, dtype=F64, requires_grad=True)
    K = _gauss(LazyTensor(x[:, :, None, :]), LazyTensor(y[:, None, :, :]))
    out = K.sum(dim=2)
    ref = _dense_gauss(x, y).sum(-1, keepdim=True)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(torch.autograd.grad(out.sum(), [y])[0],
                               torch.autograd.grad(ref.sum(), [y])[0])  # fmt: skip


def test_symbolic_variables():
    x, y = _points()
    K = _gauss(Vi(0, 3), Vj(1, 3))
    red = K.sum(axis=1, call=False)
    torch.testing.assert_close(red(x, y)[:, 0], _dense_gauss(x, y).sum(1))


def test_complex_lazytensor():
    g = torch.Generator().manual_seed(4)
    z = torch.rand(5, 2, generator=g, dtype=torch.complex128)
    w = torch.rand(4, 2, generator=g, dtype=torch.complex128)
    Z = LazyTensor(z[:, None, :])
    assert isinstance(Z, kt.ComplexLazyTensor)
    out = (Z * LazyTensor(w[None, :, :])).sum(dim=1)
    assert out.dtype == torch.complex128
    torch.testing.assert_close(out, (z[:, None] * w[None]).sum(1))


def test_solve_matches_a_dense_solve_and_is_differentiable():
    x, _ = _points(10, 1)
    b = torch.rand(10, 2, dtype=F64, requires_grad=True)

    def f(x, b):
        return _gauss(Vi(x), Vj(x)).solve(b, alpha=0.5, eps=1e-12)

    A = _dense_gauss(x, x) + 0.5 * torch.eye(10, dtype=F64)
    torch.testing.assert_close(f(x, b), torch.linalg.solve(A, b))
    assert torch.autograd.gradcheck(f, (x, b))


def test_numpy_and_torch_lazytensors_give_the_same_numbers():
    x, y = _points()
    xn, yn = x.detach().numpy(), y.detach().numpy()
    a = _gauss(keir.LazyTensor(xn[:, None, :]), keir.LazyTensor(yn[None, :, :])).sum(axis=1)
    b = _gauss(LazyTensor(x[:, None, :]), LazyTensor(y[None, :, :])).sum(axis=1)
    np.testing.assert_array_equal(a, b.detach().numpy())


def test_bad_inputs():
    x, y = _points()
    with pytest.raises(keir.ArgumentError, match="wraps torch tensors"):
        LazyTensor(np.zeros((3, 1, 2)))
    with pytest.raises(keir.ArgumentError, match="device meta"):
        LazyTensor(torch.empty(3, 1, 2, device="meta"))
    with pytest.raises(keir.NotSupportedError, match="float16"):
        LazyTensor(x.half()[:, None, :])
    with pytest.raises(keir.ArgumentError, match="dtype"):
        (LazyTensor(x[:, None, :]) - LazyTensor(y.float()[None, :, :])).sum(1)
    with pytest.raises(keir.DimensionError):
        LazyTensor(x[:, None, :]) - LazyTensor(y[None, :, :2])
    with pytest.raises(keir.ArgumentError, match="ranges_i must be an integer array"):
        K = _gauss(Vi(x), Vj(y))
        K.ranges = (torch.zeros(1, 2),) * 6
        K.sum(1)
