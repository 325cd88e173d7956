"""keir.torch with block-sparse ranges and batches: values and gradients against dense torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from keir.torch import Genred, LazyTensor  # noqa: E402
from keir.torch.cluster import from_matrix  # noqa: E402


def _pattern(M, N, bm, bn, seed):
    g = torch.Generator().manual_seed(seed)
    keep = torch.rand(M // bm, N // bn, generator=g) < 0.5
    ri = torch.stack([torch.arange(0, M, bm), torch.arange(bm, M + 1, bm)], 1)
    rj = torch.stack([torch.arange(0, N, bn), torch.arange(bn, N + 1, bn)], 1)
    mask = keep.repeat_interleave(bm, 0).repeat_interleave(bn, 1)
    return from_matrix(ri, rj, keep), mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ranged_sum_and_gradients(dtype):
    M, N = 40, 60
    ranges, mask = _pattern(M, N, 10, 15, 0)
    x = torch.rand(M, 3, dtype=dtype, requires_grad=True)
    y = torch.rand(N, 3, dtype=dtype, requires_grad=True)
    b = torch.rand(N, 2, dtype=dtype, requires_grad=True)
    g = Genred("Exp(-SqDist(x, y)) * b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(2)"], "Sum", 1)
    out = g(x, y, b, ranges=ranges)
    K = torch.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) * mask
    want = K @ b
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(out, want, rtol=tol, atol=tol)
    e = torch.rand_like(out)
    grads = torch.autograd.grad((out * e).sum(), (x, y, b))
    wants = torch.autograd.grad((want * e).sum(), (x, y, b))
    for got_g, want_g in zip(grads, wants):
        torch.testing.assert_close(got_g, want_g, rtol=tol * 10, atol=tol * 10)


def test_lazytensor_ranges_and_gradcheck():
    M, N = 30, 45
    ranges, mask = _pattern(M, N, 10, 15, 1)
    x = torch.rand(M, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(N, 3, dtype=torch.float64)

    def f(x):
        F = -((LazyTensor(x[:, None]) - LazyTensor(y[None])) ** 2).sum(2)
        F.ranges = ranges
        return F.logsumexp(1)

    dense = torch.where(mask, -((x[:, None] - y[None]) ** 2).sum(-1), -torch.inf)
    rows = mask.any(1)
    torch.testing.assert_close(f(x)[rows, 0], torch.logsumexp(dense, 1)[rows])
    assert torch.autograd.gradcheck(f, (x,))


def test_batched_lazytensor_is_one_call_with_gradients():
    A, B, M, N = 2, 3, 20, 25
    x = torch.rand(A, 1, M, 1, 3, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, B, 1, N, 3, dtype=torch.float64, requires_grad=True)
    s = torch.rand(A, B, 1, 1, 1, dtype=torch.float64, requires_grad=True)
    D = ((LazyTensor(x) - LazyTensor(y)) ** 2).sum(-1) * LazyTensor(s)
    got = D.exp().sum(3)
    dense = (((x - y) ** 2).sum(-1) * s[..., 0]).exp().sum(3, keepdim=True)
    torch.testing.assert_close(got, dense)
    gg = torch.autograd.grad(got.sum(), (x, y, s))
    gw = torch.autograd.grad(dense.sum(), (x, y, s))
    for a, b in zip(gg, gw):
        torch.testing.assert_close(a, b)
    idx = D.argmin(3)
    np.testing.assert_array_equal(
        idx[..., 0].numpy(), (((x - y) ** 2).sum(-1) * s[..., 0]).argmin(3).numpy()
    )
