"""The baselines of benchmarks/table.py: what a user would otherwise write for each case.

Each returns a function of the case's numpy inputs (x, y, b[, e]) giving keir's output for
the same Genred (reduction over j, axis 1), or None when that tool has no sensible form of the
case. tests/test_baselines.py checks each against keir at a small size.

- numpy dense: the matrix of squared distances by the GEMM trick |x|^2 + |y|^2 - 2 x y^T (one
  BLAS call, the way numpy users compute distance matrices), then the kernel and a matrix-vector
  product, in row chunks of the M x N matrix; table.py runs each chunk size of CHUNK_CHOICES
  and keeps the fastest. Chunks whose temporaries stay in the L2 cache (1-4 MB) ran 3-10x
  faster than 256 MB ones (Sapphire Rapids, 10^4 points: numpy Gaussian D = 3 0.56 vs 0.05-0.13
  G pairs/s, the large chunks paying page faults on fresh temporaries each time).
- torch dense (CPU): torch.cdist (which itself uses the matrix-product form for large inputs),
  squared, then exp and a matrix-vector product, topk or logsumexp, in the same row chunks
  (the fastest of CHUNK_CHOICES); all cores (torch.set_num_threads).
- C: benchmarks/gauss_loop.c (see its header), D = 3 only.
- FAISS IndexFlatL2: exact brute-force k nearest neighbours, the standard CPU library for it
  (its BLAS-based search), for the ArgKMin rows in float32 (FAISS has no float64 index).
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np

K = 10  # ArgKMin's K in every case
CHUNK_BYTES = 256 << 20  # dense baselines: at most this much of the M x N matrix at once...
CHUNK_CHOICES = (1 << 20, 4 << 20, CHUNK_BYTES)  # ...each of these tried, the fastest kept
C_FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp"]


def _chunks(m: int, n: int, itemsize: int, chunk_bytes: int | None = None):
    step = max(1, (chunk_bytes or CHUNK_BYTES) // max(1, n * itemsize))
    return [(i, min(i + step, m)) for i in range(0, m, step)]


# ------------------------------------------------------------------ numpy
def numpy_dense(case: str, chunk_bytes: int | None = None):
    if case.startswith("grad"):
        return None

    def run(x, y, b, *rest):
        yy = (y * y).sum(1)[None]
        parts = []
        for i0, i1 in _chunks(len(x), len(y), x.itemsize, chunk_bytes):
            xi = x[i0:i1]
            d2 = (xi * xi).sum(1)[:, None] + yy - 2 * xi @ y.T
            parts.append(_numpy_kernel(case, np.maximum(d2, 0), b))
        return np.concatenate(parts)

    return run


def _numpy_kernel(case, d2, b):
    if case.startswith("gauss"):
        return np.exp(-d2) @ b
    if case.startswith("laplace"):
        return np.exp(-np.sqrt(d2)) @ b
    if case.startswith("matern"):
        r = np.sqrt(3 * d2)
        return ((1 + r) * np.exp(-r)) @ b
    if case.startswith("lse"):
        m = (-d2).max(1, keepdims=True)
        return m + np.log(np.exp(-d2 - m).sum(1, keepdims=True))
    if case.startswith("argkmin"):
        near = np.argpartition(d2, K, axis=1)[:, :K]
        order = np.take_along_axis(d2, near, 1).argsort(1, kind="stable")
        return np.take_along_axis(near, order, 1)
    raise ValueError(case)


# ------------------------------------------------------------------ torch
def torch_dense(case: str, chunk_bytes: int | None = None):
    try:
        import torch
    except ImportError:
        return None
    if case.startswith("grad"):
        return None
    import os

    torch.set_num_threads(os.cpu_count() or 1)

    def run(x, y, b, *rest):
        tx, ty, tb = (torch.from_numpy(a) for a in (x, y, b))
        parts = []
        with torch.no_grad():
            for i0, i1 in _chunks(len(x), len(y), x.itemsize, chunk_bytes):
                d2 = torch.cdist(tx[i0:i1], ty).square_()
                parts.append(_torch_kernel(torch, case, d2, tb))
        return torch.cat(parts).numpy()

    return run


def _torch_kernel(torch, case, d2, b):
    if case.startswith("gauss"):
        return torch.exp(-d2) @ b
    if case.startswith("laplace"):
        return torch.exp(-d2.sqrt()) @ b
    if case.startswith("matern"):
        r = (3 * d2).sqrt()
        return ((1 + r) * torch.exp(-r)) @ b
    if case.startswith("lse"):
        return torch.logsumexp(-d2, dim=1, keepdim=True)
    if case.startswith("argkmin"):
        return torch.topk(d2, K, dim=1, largest=False, sorted=True).indices
    raise ValueError(case)


# ------------------------------------------------------------------ FAISS
def faiss_flat(case: str, dtype: str):
    """IndexFlatL2: the index holds y; a search gives the K nearest of each x, sorted."""
    if not case.startswith("argkmin") or dtype != "float32":
        return None
    try:
        import faiss
    except ImportError:
        return None

    def run(x, y, *rest):
        index = faiss.IndexFlatL2(y.shape[1])
        index.add(np.ascontiguousarray(y))
        return index.search(np.ascontiguousarray(x), K)[1]

    return run


# ------------------------------------------------------------------ C
C_CASES = {"gauss3": "gauss", "laplace3": "laplace", "matern3": "matern", "lse3": "lse"}
C_CASES["grad3"] = "grad"
_LIBS: dict = {}


def c_library(dtype: str):
    """benchmarks/gauss_loop.c built for `dtype` (once per process), or None without cc."""
    if dtype not in _LIBS:
        src = Path(__file__).with_name("gauss_loop.c")
        so = Path(tempfile.mkdtemp()) / f"loops_{dtype}.so"
        obj = so.with_suffix(".o")
        real = "float" if dtype == "float32" else "double"
        # compiled with -ffast-math, linked without it: a -ffast-math link adds crtfastmath.o,
        # whose constructor turns on flush-to-zero and denormals-are-zero for the whole process
        # when the library loads (keir's own accuracy tests then saw denormals as 0)
        compile_ = ["cc", *C_FLAGS, "-c", "-fPIC", f"-DREAL={real}", str(src), "-o", str(obj)]
        link = ["cc", "-shared", "-fopenmp", str(obj), "-o", str(so), "-lm"]
        try:
            subprocess.run(compile_, check=True, capture_output=True)
            subprocess.run(link, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            _LIBS[dtype] = None
        else:
            _LIBS[dtype] = ctypes.CDLL(str(so))
    return _LIBS[dtype]


def c_loop(case: str, dtype: str):
    lib = c_library(dtype) if case in C_CASES else None
    if lib is None:
        return None
    fn = getattr(lib, C_CASES[case])
    fn.restype = None

    def run(x, y, b, *rest):
        yt = np.ascontiguousarray(y.T)
        out = np.empty((len(x), 3 if case == "grad3" else 1), dtype=dtype)
        arrays = [x, yt] + ([] if case == "lse3" else [b]) + list(rest) + [out]
        ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in arrays]
        fn(*ptrs, ctypes.c_int64(len(x)), ctypes.c_int64(len(y)))
        return out

    return run
