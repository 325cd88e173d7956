"""GeomLoss, unchanged, on keir: its "online" backend imports pykeops.torch; pointed at
keir.torch it must give the losses and gradients of its "tensorized" (pure torch) backend."""

from __future__ import annotations

import sys
import types

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("geomloss")

import keir.torch  # noqa: E402
import keir.torch.cluster  # noqa: E402


@pytest.fixture
def geomloss_on_keir(monkeypatch):
    """geomloss imported afresh with pykeops.torch (and .cluster) being keir's."""
    pykeops = types.ModuleType("pykeops")
    pykeops.torch = keir.torch
    monkeypatch.setitem(sys.modules, "pykeops", pykeops)
    monkeypatch.setitem(sys.modules, "pykeops.torch", keir.torch)
    monkeypatch.setitem(sys.modules, "pykeops.torch.cluster", keir.torch.cluster)
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "geomloss"}
    for k in saved:
        del sys.modules[k]
    import geomloss
    from geomloss._legacy import sinkhorn_samples

    assert sinkhorn_samples.keops_available and sinkhorn_samples.LazyTensor is keir.torch.LazyTensor
    yield geomloss
    for k in [k for k in sys.modules if k.split(".")[0] == "geomloss"]:
        del sys.modules[k]
    sys.modules.update(saved)


# Not compared: "laplacian" and "energy" (the tensorized backend clamps squared distances at
# 1e-8, so its self-interaction terms differ from any online backend's by design).
CASES = [("sinkhorn", {"p": 2, "blur": 0.1}), ("sinkhorn", {"p": 1, "blur": 0.1, "debias": False}),
         ("gaussian", {"blur": 0.5})]  # fmt: skip


@pytest.mark.parametrize("batch", [(), (2,)])
@pytest.mark.parametrize("loss, kw", CASES)
def test_online_backend_matches_tensorized(geomloss_on_keir, loss, kw, batch):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(*batch, 60, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(*batch, 50, 3, generator=g, dtype=torch.float64)
    a = torch.rand(*batch, 60, generator=g, dtype=torch.float64)
    a = (a / a.sum(-1, keepdim=True)).requires_grad_()
    b = torch.full((*batch, 50), 1 / 50, dtype=torch.float64)
    results = []
    for backend in ("online", "tensorized"):
        L = geomloss_on_keir.SamplesLoss(loss, backend=backend, **kw)
        value = L(a, x, b, y).sum()
        results.append((value, *torch.autograd.grad(value, [x, a])))
    # the tensorized backend expands |x - y|^2 = |x|^2 - 2 x.y + |y|^2: not bit-identical
    for got, ref in zip(*results):
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-9)


def test_multiscale_backend_runs_on_keir_ranges(geomloss_on_keir):
    """The "multiscale" backend (keir.torch.cluster + block-sparse ranges): with every block
    kept (truncate large), its coarse-to-fine Sinkhorn lands on the online backend's loss;
    with the default truncation it drops far blocks and stays close."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(800, 3, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(900, 3, generator=g, dtype=torch.float64) * 0.8 + 0.1
    kw = {"p": 2, "blur": 0.05, "scaling": 0.7}
    online = geomloss_on_keir.SamplesLoss("sinkhorn", backend="online", **kw)(x, y)
    (g_online,) = torch.autograd.grad(online, x)
    for truncate, tol in ((1e9, 0.01), (5, 0.05)):
        L = geomloss_on_keir.SamplesLoss(
            "sinkhorn", backend="multiscale", truncate=truncate, cluster_scale=0.1, **kw
        )
        value = L(x, y)
        (grad,) = torch.autograd.grad(value, x)
        assert abs(value.item() - online.item()) < tol * online.item()
        # the multiscale scheme's own annealing moves the potentials a little (pykeops too)
        assert (grad - g_online).abs().max() < 0.1 * g_online.abs().max()
