"""How many OpenMP threads a CPU kernel call uses: per call (`threads=`), for the process
(`keir.set_threads`), else OpenMP's default (OMP_NUM_THREADS, else one per logical CPU).

The count is OpenMP's nthreads ICV of the thread that makes the call, set through the runtime the
kernel links (libiomp5) just before the call and restored after it, so concurrent calls from
other Python threads keep their own counts.
"""

from __future__ import annotations

import ctypes

from ..errors import ArgumentError

_default: int | None = None  # keir.set_threads; None: OpenMP's own default


def set_threads(n: int | None) -> None:
    """Threads for every later CPU kernel call of this process (None: OpenMP's default)."""
    global _default
    _default = check(n, "set_threads")


def get_threads() -> int | None:
    """The count given to set_threads (None: OpenMP's default)."""
    return _default


def check(n, where: str = "threads") -> int | None:
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ArgumentError(f"{where}: expected a positive number of threads, got {n!r}")
    return n


def openmp_controls(library):
    """(omp_get_max_threads, omp_set_num_threads) of the OpenMP runtime the kernel links, or
    None (dlsym on the kernel's handle also searches the libraries it depends on)."""
    try:
        get, set_ = library.omp_get_max_threads, library.omp_set_num_threads
    except AttributeError:
        return None
    get.restype, get.argtypes = ctypes.c_int, []
    set_.restype, set_.argtypes = None, [ctypes.c_int]
    return get, set_
