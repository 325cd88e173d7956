"""GPyTorch's KeOps kernels, unchanged, on keir: gpytorch.kernels.keops imports pykeops and
pykeops.torch.LazyTensor; pointed at keir.torch, its RBFKernel and MaternKernel must give the
kernel products and gradients of gpytorch's own (dense torch) kernels."""

from __future__ import annotations

import sys
import types

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gpytorch")

import keir.torch  # noqa: E402


@pytest.fixture
def keops(monkeypatch):
    """gpytorch.kernels.keops imported afresh with pykeops(.torch) being keir's; `.calls`
    counts the keir reductions run (so a test shows that keir, not a dense fallback, ran)."""
    import gpytorch

    from keir.torch.autograd import Reduction

    calls, run = [], Reduction.run
    monkeypatch.setattr(Reduction, "run", lambda *a: calls.append(1) or run(*a))

    pykeops = types.ModuleType("pykeops")
    pykeops.torch = keir.torch
    monkeypatch.setitem(sys.modules, "pykeops", pykeops)
    monkeypatch.setitem(sys.modules, "pykeops.torch", keir.torch)
    names = [k for k in sys.modules if k.startswith("gpytorch.kernels.keops")]
    saved = {k: sys.modules.pop(k) for k in names}
    import gpytorch.kernels.keops as module
    from gpytorch.kernels.keops import keops_kernel

    assert keops_kernel.LazyTensor is keir.torch.LazyTensor
    module.calls = calls
    with gpytorch.settings.max_cholesky_size(0):  # KeOps at every size, not only past 800
        yield module
    for k in [k for k in sys.modules if k.startswith("gpytorch.kernels.keops")]:
        del sys.modules[k]
    sys.modules.update(saved)


def _pair(keops, name, **kw):
    import gpytorch

    dense = getattr(gpytorch.kernels, name)(**kw).double()
    lazy = getattr(keops, name)(**kw).double()
    lazy.load_state_dict(dense.state_dict())
    return lazy, dense


@pytest.mark.parametrize(
    "name, kw",
    [("RBFKernel", {}), ("RBFKernel", {"ard_num_dims": 3}), ("MaternKernel", {"nu": 0.5}),
     ("MaternKernel", {"nu": 2.5, "ard_num_dims": 3})],
)  # fmt: skip
def test_keops_kernels_match_gpytorch_dense(keops, name, kw):
    g = torch.Generator().manual_seed(0)
    x1 = torch.rand(40, 3, generator=g, dtype=torch.float64, requires_grad=True)
    x2 = torch.rand(30, 3, generator=g, dtype=torch.float64)
    v = torch.rand(30, 2, generator=g, dtype=torch.float64)
    lazy, dense = _pair(keops, name, **kw)
    with torch.no_grad():
        for k in (lazy, dense):
            k.lengthscale = torch.linspace(0.3, 0.7, k.lengthscale.shape[-1], dtype=torch.float64)
    results = []
    for kernel in (lazy, dense):
        product = kernel(x1, x2) @ v  # keir: a LazyTensor @ v reduction; dense: a matmul
        grads = torch.autograd.grad(product.square().sum(), [x1, kernel.raw_lengthscale])
        results.append((product, *grads))
    assert keops.calls  # keir ran the product (and its gradients)
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_exact_gp_marginal_likelihood_and_its_gradient(keops):
    """An exact GP's loss through gpytorch's iterative solvers, which multiply by the keir
    kernel: the same loss and lengthscale gradient as with the dense RBF kernel."""
    import gpytorch

    g = torch.Generator().manual_seed(1)
    x = torch.rand(60, 2, generator=g, dtype=torch.float64)
    y = torch.sin(6 * x[:, 0]) + 0.1 * torch.randn(60, generator=g, dtype=torch.float64)

    class GP(gpytorch.models.ExactGP):
        def __init__(self, kernel, likelihood):
            super().__init__(x, y, likelihood)
            self.mean, self.kernel = gpytorch.means.ZeroMean(), kernel

        def forward(self, t):
            return gpytorch.distributions.MultivariateNormal(self.mean(t), self.kernel(t))

    results = []
    for kernel in _pair(keops, "RBFKernel"):
        likelihood = gpytorch.likelihoods.GaussianLikelihood().double()
        model = GP(kernel, likelihood).double()
        mll = gpytorch.mlls.ExactMarginalLogLikelihood(likelihood, model)
        with gpytorch.settings.fast_computations(log_prob=False, solves=False):
            loss = -mll(model(x), y)
        (grad,) = torch.autograd.grad(loss, [kernel.raw_lengthscale])
        results.append((loss, grad))
    assert keops.calls
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-8, atol=1e-10)
