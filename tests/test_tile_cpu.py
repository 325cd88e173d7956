"""keir-tile-cpu's register blocks and tiles: every shape of block against the interpreter.

The lowering differs by the width of the reduced-index variables (D >= 16: blocks of 4 rows),
by the reduction (K-min states: no row blocks, a guarded insertion) and by the sizes (partial
row blocks, partial column tiles, the scalar tail): these tests cross them, on odd sizes.
"""

from __future__ import annotations

import numpy as np
import pytest

from keir.api import postprocess
from keir.compiler import compile_module
from keir.dialect.interpreter import evaluate
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.passes import tile_cpu

from conftest import assert_close

WIDE = ["x = Vi(17)", "y = Vj(17)", "b = Vj(2)"]
CASES = {  # reduction: (formula, weight formula or None, K)
    "Sum": ("Exp(-SqDist(x, y)) * b", None, 0),
    "LogSumExp": ("-SqDist(x, y)", None, 0),
    "Min_ArgMin": ("SqDist(x, y) * b", None, 0),
    "SumSoftMaxWeight": ("-SqDist(x, y)", "b", 0),
    "ArgKMin": ("SqDist(x, y)", None, 3),
    "KMin": ("SqDist(x, y) + b", None, 2),
}


def _data(M, N, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.random((M, 17)) * 0.3).astype(dtype),
        (rng.random((N, 17)) * 0.3).astype(dtype),
        rng.standard_normal((N, 2)).astype(dtype),
    ]


def _check(kind, dtype, axis, M, N):
    formula, weight, k = CASES[kind]
    spec = ReductionSpec(kind, axis, k, weight)
    aliases = WIDE if axis == 1 else ["x = Vj(17)", "y = Vi(17)", "b = Vi(2)"]
    args = _data(M, N, dtype) if axis == 1 else _data(N, M, dtype)
    module, _ = build_kernel(formula, aliases, dtype, spec)
    kernel, _ = compile_module(module, ["x", "y", "b"])
    got = postprocess(kind, kernel(*args), k)
    module, _ = build_kernel(formula, aliases, dtype, spec)
    want = postprocess(kind, evaluate(module, args), k)
    for g, w in zip(*((got, want) if isinstance(got, tuple) else ((got,), (want,)))):
        if g.dtype == np.int64:
            np.testing.assert_array_equal(g, w)
        else:
            assert_close(g, w, dtype, scale_rtol=5)


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("dtype, axis", [("float32", 1), ("float64", 0)])
def test_wide_variables_in_row_blocks(kind, dtype, axis):
    """M = 7: a full block of 4 rows and a partial one; N = 37: two tiles and a tail."""
    _check(kind, dtype, axis, M=7, N=37)


@pytest.mark.parametrize("M, N", [(1, 1), (3, 16), (5, 17), (4, 15), (9, 64)])
def test_sizes_around_blocks_and_tiles(M, N):
    _check("Min_ArgMin", "float32", 1, M, N)


@pytest.mark.parametrize("rows, cols", [(3, 2), (2, 3)])
def test_explicit_blocks(rows, cols, monkeypatch, tmp_path):
    """Blocks the defaults never pick (3 x 2, 2 x 3: several column vectors per step)."""
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path))  # no kernel of another blocking
    monkeypatch.setattr(tile_cpu, "_blocking", lambda *_: (rows, cols))
    for kind in ("Sum", "Min_ArgMin", "LogSumExp"):
        _check(kind, "float64", 1, M=8, N=101)


def test_kmin_guard_keeps_ties_in_index_order():
    """Equal distances everywhere: the guarded insertion must keep the K smallest indices."""
    x, y = np.zeros((5, 17)), np.zeros((40, 17))
    b = np.zeros((40, 2))
    module, _ = build_kernel("SqDist(x, y)", WIDE, "float64", ReductionSpec("ArgKMin", 1, 3))
    kernel, _ = compile_module(module, ["x", "y", "b"])
    np.testing.assert_array_equal(kernel(x, y, b), np.tile([0.0, 1.0, 2.0], (5, 1)))


@pytest.mark.parametrize("tile_bytes, chunk_blocks", [(64, 3), (2000, 2)])
def test_cache_tiles_and_chunks(tile_bytes, chunk_blocks, monkeypatch, tmp_path):
    """Tiny tiles (one or a few vector steps) and chunks of 2-3 blocks: the states go to the
    stack buffer and back many times, and chunks end inside the last block."""
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tile_cpu, "TILE_BYTES", tile_bytes)
    monkeypatch.setattr(tile_cpu, "TILE_PER_STATE", 0)
    monkeypatch.setattr(tile_cpu, "CHUNK_BLOCKS", chunk_blocks)
    monkeypatch.setattr(tile_cpu, "MIN_CHUNKS", 1)
    for kind in ("Sum", "ArgKMin", "LogSumExp", "Min_ArgMin"):
        _check(kind, "float32", 1, M=37, N=101)
    _check("KMin", "float64", 0, M=9, N=70)
