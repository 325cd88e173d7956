"""A kernel's raw (rows, out_dim) output in pykeops.numpy's form, with numpy only.

Shared by the API (Genred, keops_kernel) and prebuilt bundles (keir.load_bundle), so a bundle
kernel returns exactly what the same Genred returns.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError

# Index reductions return exact integers as int64, as pykeops does; a float32 index is exact
# only below 2**24, so (like pykeops) larger reductions must use float64.
INDEX_REDUCTIONS = ("ArgMin", "ArgMax", "Min_ArgMin", "Max_ArgMax", "ArgKMin", "KMin_ArgKMin")
FLOAT32_INDEX_LIMIT = 16_000_000


def check_index_range(reduction: str, dtype: str, reduced: int) -> None:
    """Refuses float32 index reductions over more rows than float32 counts exactly."""
    if reduction in INDEX_REDUCTIONS and dtype == "float32" and reduced > FLOAT32_INDEX_LIMIT:
        raise ArgumentError(
            f"{reduction} over more than {FLOAT32_INDEX_LIMIT:,} rows needs float64: "
            "float32 cannot represent larger indices exactly"
        )


def call(kernel, args, **options):
    """Runs a launcher `Kernel` on `args` and returns its first output in pykeops form;
    `options` (threads, progress) go to Kernel.run_prepared."""
    sig = kernel.sig
    arrays, M, N = kernel.prepare(args)
    check_index_range(sig.reduction, sig.dtype, N if sig.axis == 1 else M)
    return postprocess(sig.reduction, kernel.run_prepared(arrays, M, N, **options)[0], sig.k)


def _by_k(out: np.ndarray, k: int) -> np.ndarray:
    """(rows, K*D) -> (rows, K, D), squeezed to (rows, K) when D == 1, as pykeops."""
    out = out.reshape(out.shape[0], k, out.shape[1] // k)  # not -1: rows may be 0
    return out[..., 0] if out.shape[-1] == 1 else out


def postprocess(kind: str, out: np.ndarray, k: int = 0):
    """The kernel's raw (rows, out_dim) output in pykeops.numpy's form for reduction `kind`."""
    if kind in ("ArgMin", "ArgMax"):
        return out.astype(np.int64)
    if kind in ("Min_ArgMin", "Max_ArgMax"):
        d = out.shape[-1] // 2
        return out[:, :d], out[:, d:].astype(np.int64)
    if kind == "KMin":
        return _by_k(out, k)
    if kind == "ArgKMin":
        return _by_k(out, k).astype(np.int64)
    if kind == "KMin_ArgKMin":
        pairs = out.reshape(out.shape[0], k, 2, out.shape[1] // (2 * k))
        vals, idx = pairs[:, :, 0], pairs[:, :, 1].astype(np.int64)
        return (vals[..., 0], idx[..., 0]) if vals.shape[-1] == 1 else (vals, idx)
    return out
