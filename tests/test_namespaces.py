"""keir.numpy and keir.torch mirror pykeops.numpy and pykeops.torch; `import keir` (and
keir.numpy) never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import keir
import keir.numpy as kn

PYKEOPS_NAMES = sorted(
    "ComplexLazyTensor Genred KernelSolve LazyTensor Pm Vi Vj generic_argkmin generic_argmin "
    "generic_logsumexp generic_sum".split()
)


def test_import_keir_and_keir_numpy_do_not_import_torch():
    code = "import sys, keir, keir.numpy; keir.Genred, keir.grad; print('torch' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"


@pytest.mark.parametrize("module", ["numpy", "torch"])
def test_namespaces_export_the_pykeops_names(module):
    if module == "torch":
        pytest.importorskip("torch")
    import importlib

    ns = importlib.import_module(f"keir.{module}")
    assert sorted(ns.__all__) == PYKEOPS_NAMES
    assert all(callable(getattr(ns, name)) for name in PYKEOPS_NAMES)


def test_keir_numpy_is_keirs_numpy_api():
    assert kn.Genred is keir.Genred and kn.LazyTensor is keir.LazyTensor


def test_numpy_generic_ops_and_kernel_solve():
    rng = np.random.default_rng(0)
    x, b = rng.random((12, 3)), rng.random((12, 2))
    d = ((x[:, None] - x[None]) ** 2).sum(-1)
    gs = kn.generic_sum("Exp(-SqDist(x, y)) * a", "r = Vi(2)", "x = Vi(3)", "y = Vj(3)",
                        "a = Vj(2)")  # fmt: skip
    np.testing.assert_allclose(gs(x, x, b), np.exp(-d) @ b, rtol=1e-12)
    gk = kn.generic_argkmin("SqDist(x, y)", "r = Vj(2)", 2, "x = Vi(3)", "y = Vj(3)")
    np.testing.assert_array_equal(gk(x, x), d.argsort(0)[:2].T)
    ks = kn.KernelSolve("Exp(-SqDist(x, y)) * a", ["x = Vi(3)", "y = Vj(3)", "a = Vj(2)"], "a",
                        axis=1)  # fmt: skip
    sol = ks(x, x, b, alpha=0.5, eps=1e-12)
    np.testing.assert_allclose(sol, np.linalg.solve(np.exp(-d) + 0.5 * np.eye(12), b), atol=1e-9)
    full = (np.array([[0, 12]]), np.array([1]), np.array([[0, 12]]))
    np.testing.assert_allclose(ks(x, x, b, alpha=0.5, eps=1e-12, ranges=full * 2), sol, atol=1e-9)
    with pytest.raises(keir.ArgumentError, match="ranges_i must be an integer array"):
        ks(x, x, b, ranges=(np.zeros((1, 2)),) * 6)
