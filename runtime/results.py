"""A kernel's raw (rows, out_dim) output in pykeops.numpy's form, with numpy only.

Shared by the API (Genred, keops_kernel) and prebuilt bundles (keir.load_bundle), so a bundle
kernel returns exactly what the same Genred returns.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError

# Index reductions return exact integers as int64, as pykeops does; a float32 index is exact
# only below 2**24, so (like pykeops) larger reductions must use float64.
FLOAT32_INDEX_LIMIT = 16_000_000


_RULES: dict = {}  # reduction name -> its ReductionDef (imported on first use: numpy only)


def _rule(reduction: str):
    rule = _RULES.get(reduction)
    if rule is None:
        from ..dialect.reductions import reduction_def

        rule = _RULES[reduction] = reduction_def(reduction)
    return rule


def check_index_range(reduction: str, dtype: str, reduced: int) -> None:
    """Refuses float32 index reductions over more rows than float32 counts exactly."""
    if reduced > FLOAT32_INDEX_LIMIT and dtype == "float32" and _rule(reduction).indices:
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


def write_out(out, result: np.ndarray) -> np.ndarray:
    """Copies `result` into the caller's `out=` array, which must be a writeable numpy array
    of its shape and dtype (a cast would truncate floats to integers or lose precision)."""
    if not isinstance(out, np.ndarray):
        raise ArgumentError(f"out: expected a numpy array, got {type(out).__name__}")
    if out.shape != result.shape or out.dtype != result.dtype:
        raise ArgumentError(
            f"out: expected an array of shape {result.shape} and dtype {result.dtype}, "
            f"got shape {out.shape} and dtype {out.dtype}"
        )
    if not out.flags.writeable:
        raise ArgumentError("out: the array is read-only")
    out[...] = result
    return out


def postprocess(kind: str, out: np.ndarray, k: int = 0):
    """The kernel's raw (rows, out_dim) output in pykeops.numpy's form for reduction `kind`
    (the reduction's own `output` rule: int64 indices, (values, indices) pairs, K axes)."""
    return _rule(kind).output(out, k)
