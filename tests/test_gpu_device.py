"""On a machine with a CUDA GPU: keir's GPU kernels against its CPU kernels (skipped elsewhere).

The one command to verify the GPU backend on such a machine (docs/gpu.md):

    pip install -e ".[dev,gpu]" && pytest -v tests/test_gpu_device.py
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from keir import Genred
from keir.gpu_compiler import compile_gpu
from keir.runtime import cuda
from keir.runtime.cuda_toolkit import toolkit

from conftest import AXES, DTYPES
from gpu_cases import ALIASES, REDUCTIONS, reduction_module

pytestmark = pytest.mark.skipif(
    not cuda.available() or toolkit() is None,
    reason="needs a CUDA device (libcuda.so.1) and libdevice (pip install 'keir[gpu]')",
)

RTOL = {"float32": 1e-4, "float64": 1e-11}


def _inputs(M: int, N: int, dtype: str):
    rng = np.random.default_rng(0)
    return [
        rng.standard_normal((M, 3)).astype(dtype),
        rng.standard_normal((N, 3)).astype(dtype),
        rng.uniform(0.5, 1.5, (N, 1)).astype(dtype),
    ]


def _cpu(kind: str, dtype: str, axis: int, args):
    from keir.compiler import compile_module

    kernel, _ = compile_module(reduction_module(kind, dtype, axis))
    return kernel(*args)


def _compare(got, want, dtype: str) -> None:
    finite = want[np.isfinite(want)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def test_device_is_described():
    dev = cuda.device(0)
    print(f"{dev.name}: compute capability {dev.capability}, PTX for {dev.chip}")
    assert dev.memory_budget() > 0


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(REDUCTIONS))
def test_reduction_matches_cpu(kind, dtype, axis):
    kernel = compile_gpu(reduction_module(kind, dtype, axis))
    for M, N in [(1000, 777), (129, 128), (5, 3), (300, 1), (7, 0)]:
        args = _inputs(M, N, dtype)
        _compare(kernel(*args), _cpu(kind, dtype, axis, args), dtype)


@pytest.mark.parametrize("kind", ["Sum", "ArgKMin", "LogSumExp", "SumSoftMaxWeight"])
def test_streamed_chunks_give_one_launch_result(kind):
    args = _inputs(3000, 5000, "float64")
    whole = compile_gpu(reduction_module(kind, "float64", 1))(*args)
    kernel = compile_gpu(reduction_module(kind, "float64", 1))
    kernel.budget = 200_000  # bytes: several row chunks times several column chunks
    np.testing.assert_array_equal(kernel(*args), whole)


def test_genred_backends():
    f = Genred("Exp(-SqDist(x, y)) * b", ALIASES, reduction_op="Sum", axis=1)
    args = _inputs(2000, 3000, "float32")
    cpu = f(*args, backend="CPU")
    _compare(f(*args, backend="GPU"), cpu, "float32")
    _compare(f(*args, backend="auto"), cpu, "float32")
    _compare(f(*args, backend="GPU_1D", device_id=0), cpu, "float32")


def test_gaussian_sum_throughput():
    f = Genred("Exp(-SqDist(x, y)) * b", ALIASES, reduction_op="Sum", axis=1)
    args = _inputs(100_000, 100_000, "float32")
    f(*args[:1], *(a[:10] for a in args[1:]), backend="GPU")  # compile, load, warm up
    start = time.perf_counter()
    f(*args, backend="GPU")
    seconds = time.perf_counter() - start
    print(f"Gaussian sum 1e5 x 1e5, float32: {seconds:.3f} s, {1e10 / seconds / 1e9:.1f} G pairs/s")
