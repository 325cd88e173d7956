"""The GPU kernel, run on the CPU by keir-gpu-to-cpu, against the reference interpreter.

The kernel is the gpu.launch that keir-tile-gpu emits for the GPU (threads of a block run as
loops split at the barriers), so its tiling is tested here: blocks of 8 threads with sizes
that leave partial blocks and partial tiles, fewer reduced rows than a block, one, none; and
the GPU driver's chunking (streamed inputs, states carried across launches) on top.
"""

from __future__ import annotations

import numpy as np
import pytest

from keir.api import postprocess
from keir.dialect.interpreter import evaluate
from keir.dialect.reductions import REDUCTIONS
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.gpu_compiler import compile_emulated

from conftest import AXES, DTYPES
from formulas import ALIASES as OP_ALIASES
from formulas import data as op_data
from gpu_cases import ALIASES, fused_module, op_batches, reduction_module
from gpu_cases import REDUCTIONS as CASES

BLOCK = 8
# (M, N): partial last block and tile, exact multiples, N < block, N = 1, N = 0, M = 1
SIZES = [(13, 21), (16, 16), (5, 3), (3, 1), (4, 0), (1, 9)]


def _inputs(M: int, N: int, dtype: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((M, 3)).astype(dtype),
        rng.standard_normal((N, 3)).astype(dtype),
        rng.uniform(0.5, 1.5, (N, 1)).astype(dtype),
    ]


RTOL = {"float32": 1e-4, "float64": 1e-12}


def _close(got, want, dtype: str) -> None:
    """Equal infinities and NaNs (K-min of fewer than K values, empty softmax), close values."""
    finite = want[np.isfinite(want)]
    scale = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def _check(kind: str, got, want, dtype: str) -> None:
    k = CASES[kind][2]
    got, want = postprocess(kind, got, k), postprocess(kind, want, k)
    for g, w in zip(*((x,) if not isinstance(x, tuple) else x for x in (got, want))):
        if g.dtype == np.int64:
            np.testing.assert_array_equal(g, w)
        else:
            _close(g, w, dtype)


def test_every_reduction_has_a_case():
    assert set(CASES) == set(REDUCTIONS)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", sorted(CASES))
def test_reduction_matches_interpreter(kind, dtype, axis):
    kernel = compile_emulated(reduction_module(kind, dtype, axis), block=BLOCK)
    oracle = reduction_module(kind, dtype, axis)
    for M, N in SIZES:
        args = _inputs(M, N, dtype)
        got = kernel.run_prepared(*kernel.prepare(args))[0]
        assert got.shape == (M if axis == 1 else N, kernel.sig.out_dim)
        if got.shape[0]:  # the interpreter's K-min cannot shape an empty output
            _check(kind, got, evaluate(oracle, args), dtype)


@pytest.mark.parametrize("kind", ["Sum", "ArgKMin", "LogSumExp", "SumSoftMaxWeight"])
def test_chunked_launches_give_the_unchunked_result(kind):
    """A small memory budget streams both indices in chunks: the same bits as one launch."""
    kernel = compile_emulated(reduction_module(kind, "float64", 1), block=BLOCK)
    args = _inputs(37, 45, "float64", seed=1)
    whole = kernel(*args)
    assert kernel.device.launches == 1
    chunked = compile_emulated(reduction_module(kind, "float64", 1), block=BLOCK, budget=1500)
    np.testing.assert_array_equal(chunked(*args), whole)
    assert chunked.device.launches > 4  # several row chunks times several column chunks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", op_batches(), ids=lambda b: f"{b[0]}..{b[-1]}")
def test_every_op_in_the_gpu_kernel(batch, dtype):
    """All op examples, fused a dozen per kernel, through the emulated GPU kernel."""
    kernel = compile_emulated(fused_module(batch, OP_ALIASES, dtype), block=BLOCK)
    args = op_data(dtype, sizes=(11, 19))
    outs = kernel.run_prepared(*kernel.prepare(args))
    for name, got in zip(batch, outs):
        want = evaluate(fused_module([name], OP_ALIASES, dtype), args)
        assert got.shape == want.shape, name
        _close(got, want, dtype)


@pytest.mark.parametrize("axis", AXES)
def test_formula_without_reduced_variables(axis):
    """Nothing to stage (no workgroup memory): the tile loop still counts the reduced rows."""
    formula = "Exp(x) * 2" if axis == 1 else "Exp(y) * 2"
    spec = ReductionSpec("Sum", axis)
    kernel = compile_emulated(build_kernel(formula, ALIASES, "float64", spec)[0], block=BLOCK)
    args = _inputs(11, 19, "float64")
    want = evaluate(build_kernel(formula, ALIASES, "float64", spec)[0], args)
    _close(kernel(*args), want, "float64")
