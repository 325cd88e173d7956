"""Guard-page buffers: numpy arrays that touch an inaccessible page, so a kernel reading or
writing one element out of bounds faults at once instead of silently reading a neighbour.

`guarded_empty(n, dtype, "end")` ends exactly where a PROT_NONE page begins (catches overruns);
"start" begins exactly where one ends (catches underruns). `guard_kernel` wraps a launcher
Kernel's native entry point so that every buffer the kernel sees (inputs as the launcher laid
them out, tiles included, and outputs) is such a copy. A fault kills the process: run this in
a subprocess (tests/test_bounds.py does).
"""

from __future__ import annotations

import ctypes
import mmap

import numpy as np

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def _protect(address: int, length: int) -> None:
    if _libc.mprotect(address, length, 0) != 0:  # PROT_NONE
        raise OSError(ctypes.get_errno(), "mprotect failed")


def guarded_empty(n: int, dtype, where: str = "end") -> np.ndarray:
    """A 1-D array of n elements flush against a PROT_NONE page (after it if where="start")."""
    dtype = np.dtype(dtype)
    nbytes = n * dtype.itemsize
    data_pages = max(1, -(-nbytes // PAGE))
    mm = mmap.mmap(-1, (data_pages + 2) * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    _protect(base, PAGE)
    _protect(base + (data_pages + 1) * PAGE, PAGE)
    offset = PAGE if where == "start" else (data_pages + 1) * PAGE - nbytes
    return np.frombuffer(mm, dtype=dtype, count=n, offset=offset)  # keeps the mapping alive


def guarded_copy(a: np.ndarray, where: str = "end") -> np.ndarray:
    a = np.ascontiguousarray(a)
    out = guarded_empty(a.size, a.dtype, where)
    out[:] = a.ravel()
    return out.reshape(a.shape)


def _value(v) -> int:
    return getattr(v, "value", v) or 0


def guard_kernel(kernel, where: str, calls: list, shrink: int = 0) -> None:
    """Makes `kernel` (a keir.runtime.launcher.Kernel) run on guarded copies of its buffers.

    Relies only on the native ABI (keir.dialect.signature): one (allocated, aligned, offset,
    size, stride) memref per argument then per output, then M and N, then the control block's
    memref if the kernel takes one (passed through unguarded). Appends to `calls` per
    call, so a caller can check that the guarded path really ran. `shrink` > 0 drops that many
    elements from the end of the first argument: a self-test that the kernel's reads do fault.
    """
    sig, native = kernel.sig, kernel._fn
    n_in, n_out = len(sig.arg_cats), len(sig.outputs)
    dtype = np.dtype(sig.dtype)

    control = 5 if sig.control else 0

    def call(*fields):
        assert len(fields) == 5 * (n_in + n_out) + 2 + control, "the native ABI changed"
        descs = [[_value(v) for v in fields[5 * k : 5 * k + 5]] for k in range(n_in + n_out)]
        copies = []
        for k, (_, aligned, offset, size, stride) in enumerate(descs):
            assert offset == 0 and stride == 1, "expected flat contiguous memrefs"
            size -= shrink if k == 0 else 0
            buf = guarded_empty(size, dtype, where)
            if k < n_in:
                ctypes.memmove(buf.ctypes.data, aligned, size * dtype.itemsize)
            else:
                buf[:] = 12345.0  # an output element the kernel forgets shows up
            copies.append(buf)
        flat = [f for b in copies for f in (b.ctypes.data, b.ctypes.data, 0, b.size, 1)]
        native(*flat, *fields[5 * (n_in + n_out) :])  # M, N (and the control block)
        for (_, aligned, _, size, _), buf in zip(descs[n_in:], copies[n_in:]):
            ctypes.memmove(aligned, buf.ctypes.data, size * dtype.itemsize)
        calls.append(1)

    kernel._fn = call
