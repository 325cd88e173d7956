"""LazyTensor.dense(): a small LazyTensor materialised as a (*batch, M, N, D) array.

For inspecting and testing formulas: the formula (as the Sum reduction over j would compile
it) is evaluated on every (i, j) pair by the reference interpreter (keir.dialect.interpreter),
one batch index at a time, on the host. The result is not differentiable; past DENSE_LIMIT
elements it is refused (the M x N matrix is what LazyTensors exist to avoid).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import ArgumentError

DENSE_LIMIT = 1 << 26  # elements (256 MiB of float32)


def dense(lt, host=np.asarray) -> np.ndarray:
    """The values of `lt` as a numpy array of shape lt.shape (complex: complex dtype).
    `host(data)` turns a variable's data into a numpy array (keir.torch: from a tensor)."""
    shape = lt._shape  # (*batch, M, N, D)
    size = int(np.prod(shape, dtype=np.int64))
    if size > DENSE_LIMIT:
        raise ArgumentError(
            f"dense(): a LazyTensor of shape {lt.shape} has {size:,} elements, more than "
            f"{DENSE_LIMIT:,}; reduce it instead (.sum(), @, ...), or slice its inputs"
        )
    nb = lt.nbatchdims
    red = lt.reduction("Sum", axis=nb + 1, call=False)
    if red.program.n_symbolic:
        raise ArgumentError(
            "dense(): the LazyTensor has symbolic variables (Vi(pos, dim), ...) without data"
        )
    from ..dialect.interpreter import formula_values

    data = [host(v.data) for v in red.program.data]
    dtype = lt._dtype or _dtype(data)
    module, _ = red.genred.spec.build(dtype)
    out = np.empty(shape, dtype=dtype)
    for idx in itertools.product(*map(range, shape[:nb])):
        args = [_at(a, cat, idx) for a, cat in zip(data, red.program.cats)]
        out[idx] = formula_values(module, args, shape[nb : nb + 2])
    if lt.is_complex:
        out = np.ascontiguousarray(out).view(_COMPLEX[out.dtype.name])
    return out.reshape(lt.shape)


_COMPLEX = {"float32": np.complex64, "float64": np.complex128}


def _dtype(data) -> str:
    floats = [a.dtype.name for a in data if a.dtype.kind == "f"]
    return floats[0] if floats else "float64"


def _at(a: np.ndarray, cat: int, idx: tuple) -> np.ndarray:
    """One batch index of a variable's data (size-1 batch dimensions broadcast)."""
    nb = max(a.ndim - (1 if cat == 2 else 2), 0)
    pad = len(idx) - nb
    return a[tuple(0 if a.shape[k] == 1 else idx[pad + k] for k in range(nb))]
