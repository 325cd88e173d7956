"""Calls a compiled kernel on numpy arrays through ctypes (numpy only: no MLIR needed).

The native ABI is fixed by keir.dialect.signature: each array expands to the five fields of a
rank-1 memref descriptor, then M and N (then the control block, for kernels that take one). The
launcher validates and converts the arrays first, so the native code never sees a wrong shape.
Long calls run in a worker thread (runtime/background.py): Ctrl-C stops them, and they can
report progress.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

from ..dialect.signature import CAT_NAMES, Signature
from ..errors import ArgumentError
from . import progress as progress_
from . import threads as threads_
from .background import run_interruptible

# Below this many pairs a call runs on one thread: waking the others costs more than they save
# (and on a busy machine a late thread stretches a 5 us call to 15).
SERIAL_PAIRS = 1 << 14
# From this many pairs a call runs in a worker thread (Ctrl-C, progress): starting one costs
# about 0.1 ms, a few percent of such a call.
BACKGROUND_PAIRS = 1 << 22

_MEMREF = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64]


class Kernel:
    """A loaded native kernel: call it with the declared arguments in order."""

    def __init__(self, library: ctypes.CDLL, sig: Signature, names: list[str] | None = None):
        self.sig = sig
        self.names = names or [f"argument {k}" for k in range(len(sig.arg_cats))]
        self._fn = getattr(library, sig.name)
        self._fn.restype = None
        n_buffers = len(sig.arg_cats) + len(sig.outputs)
        self._fn.argtypes = (
            _MEMREF * n_buffers
            + [ctypes.c_int64] * 2
            + _MEMREF * sig.control
            + _MEMREF * (2 * sig.ranges)
        )
        self._library = library  # keeps the shared object mapped
        self._dtype = np.dtype(sig.dtype)
        self._out_dims = [o.out_dim for o in sig.outputs]
        self._threads = threads_.openmp_controls(library)
        # which arguments the launcher lays out in tiles (those of the reduced index)
        self._tiled = (
            [cat == 1 - sig.out_cat for cat in sig.arg_cats] if sig.layout == "tiles" else []
        )

    def prepare(self, args) -> tuple[list[np.ndarray], int, int]:
        """Checks count, dims and sizes; returns C-contiguous arrays of the kernel dtype, M, N."""
        sig = self.sig
        if len(args) != len(sig.arg_cats):
            raise ArgumentError(f"expected {len(sig.arg_cats)} arrays, got {len(args)}")
        dtype = np.dtype(sig.dtype)
        arrays = [
            _as_2d(name, a, cat, dtype) for name, cat, a in zip(self.names, sig.arg_cats, args)
        ]
        return (arrays, *check_shapes(sig, self.names, arrays, "an array"))

    def __call__(self, *args, threads: int | None = None, progress=None, ranges=None):
        extra = {} if ranges is None else {"ranges": ranges}  # (device kernels have none)
        outs = self.run_prepared(*self.prepare(args), threads=threads, progress=progress, **extra)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def run_prepared(
        self,
        arrays: list[np.ndarray],
        M: int,
        N: int,
        threads: int | None = None,
        progress=None,
        ranges=None,
    ) -> list[np.ndarray]:
        """Runs on the output of `prepare` (checked, converted arrays); one array per output.
        `threads`: OpenMP threads for this call (runtime/threads.py); `progress`: True for a
        bar, or a function(done_rows, total_rows) (runtime/progress.py); `ranges`: pykeops'
        block-sparse 6-tuple, for a kernel built with ranges (runtime/ranges.py)."""
        sig = self.sig
        rows = M if sig.out_cat == 0 else N
        if (ranges is not None) != sig.ranges:
            raise ArgumentError(
                "this kernel was built for block-sparse ranges: pass ranges="
                if sig.ranges
                else "this kernel was built without block-sparse ranges"
            )
        if ranges is None and M * N < SERIAL_PAIRS and progress in (None, False):
            threads_.check(threads)  # (checked, though such a call runs on one thread)
            return self._run_small(arrays, M, N, rows)
        if ranges is not None:
            from .ranges import work_list

            reduced = N if sig.out_cat == 0 else M
            work, red = work_list(ranges, sig.axis, rows, reduced)
        outs = [np.empty((rows, dim), dtype=self._dtype) for dim in self._out_dims]
        if self._tiled:
            arrays = [to_tiles(a, sig.lanes) if t else a for a, t in zip(arrays, self._tiled)]
        fields = []  # the five fields of each rank-1 memref descriptor
        for a in arrays + outs:
            ptr = address(a)
            fields += (ptr, ptr, 0, a.size, 1)
        threads = threads_.check(threads) or threads_.get_threads()
        if M * N < SERIAL_PAIRS:
            threads = 1
        fields += (M, N)
        if not sig.control:
            self._call(fields, threads)
            return outs
        control = np.zeros(2, dtype=np.int64)  # [stop flag, finished rows]: keir-tile-cpu
        ptr = address(control)
        fields += (ptr, ptr, 0, 2, 1)
        if ranges is not None:
            for a in (work.reshape(-1), red):
                ptr = address(a)
                fields += (ptr, ptr, 0, a.size, 1)
            arrays = [*arrays, work, red]  # alive until the call returns
        if M * N < BACKGROUND_PAIRS and progress in (None, False):
            self._call(fields, threads)
            return outs
        with progress_.reporter(progress, rows) as hook:
            keep = (arrays, outs, control)  # the worker's arrays, alive until it returns
            run_interruptible(lambda: self._call(fields, threads, keep), control, rows, hook)
            if hook is not None:
                hook(rows, rows)
        return outs

    def _run_small(self, arrays, M: int, N: int, rows: int):
        """A call too small for a second thread or a worker (M * N < SERIAL_PAIRS), where the
        Python steps cost as much as the kernel's work: the tiles and the control block share
        one zeroed buffer, so one address lookup serves them all (the outputs are arrays of
        their own, which the caller keeps)."""
        lanes, item = self.sig.lanes, self._dtype.itemsize
        tiled = self._tiled or [False] * len(arrays)
        sizes = [tiles_size(a.shape, lanes) if t else 0 for a, t in zip(arrays, tiled)]
        used = sum(sizes)
        control_at = used + (-used) % (8 // item)  # the int64 control block, 8-byte aligned
        buffer = np.zeros(control_at + 16 // item, dtype=self._dtype)
        base, at, fields = address(buffer), 0, []
        for a, size in zip(arrays, sizes):
            if size:
                tile_into(buffer[at : at + size], a, lanes)
                ptr, n, at = base + at * item, size, at + size
            else:
                ptr, n = address(a), a.size
            fields += (ptr, ptr, 0, n, 1)
        outs = [np.empty((rows, dim), dtype=self._dtype) for dim in self._out_dims]
        for out in outs:
            ptr = address(out)
            fields += (ptr, ptr, 0, out.size, 1)
        fields += (M, N)
        if self.sig.control:
            ptr = base + control_at * item
            fields += (ptr, ptr, 0, 2, 1)
        self._call(fields, 1)
        return outs

    def _call(self, fields, threads: int | None, keep=None) -> None:
        """The native call, on `threads` OpenMP threads if given (the ICV of the calling
        thread, restored after: other Python threads are unaffected)."""
        if threads is None or self._threads is None:
            self._fn(*fields)
            return
        get, set_ = self._threads
        before = get()
        set_(threads)
        try:
            self._fn(*fields)
        finally:
            set_(before)


def check_shapes(sig: Signature, names, arrays, kind: str) -> tuple[int, int]:
    """(M, N) of 2-D arrays (or device tensors: anything with a shape) for `sig`, after checking
    each inner dimension and that the arrays of one index have the same rows."""
    sizes = {0: None, 1: None}
    for name, cat, dim, a in zip(names, sig.arg_cats, sig.arg_dims, arrays):
        if a.shape[1] != dim:
            raise ArgumentError(
                f"{name}: expected inner dimension {dim} ({CAT_NAMES[cat]} variable), "
                f"got {kind} of shape {tuple(a.shape)}"
            )
        if cat in sizes:
            if sizes[cat] is not None and sizes[cat][1] != a.shape[0]:
                raise ArgumentError(
                    f"{name}: has {a.shape[0]} rows but {sizes[cat][0]} has {sizes[cat][1]};"
                    f" all {CAT_NAMES[cat]}-indexed arrays must have the same number of rows"
                )
            sizes[cat] = (name, a.shape[0])
    M, N = ((s[1] if s else 1) for s in (sizes[0], sizes[1]))
    return M, N


def _as_2d(name: str, a, cat: int, dtype: np.dtype) -> np.ndarray:
    ma = sys.modules.get("numpy.ma")  # (not imported unless the caller uses masked arrays)
    if ma is not None and isinstance(a, ma.MaskedArray):
        raise ArgumentError(f"{name}: a masked array's mask would be ignored: pass a.filled(v)")
    try:
        a = np.asarray(a)
    except (ValueError, TypeError) as e:  # e.g. ragged nested lists
        raise ArgumentError(f"{name}: cannot be read as an array: {e}") from None
    if a.dtype.kind not in "fiub":  # complex would lose its imaginary part: refuse it
        raise ArgumentError(
            f"{name}: expected a real numeric array, got dtype {a.dtype}"
            + (
                " (store complex numbers as interleaved real, imaginary pairs)"
                if a.dtype.kind == "c"
                else ""
            )
        )
    a = np.ascontiguousarray(a, dtype=dtype)
    if not a.flags.aligned:  # e.g. np.frombuffer at an odd offset: the kernel assumes alignment
        a = a.copy()
    if cat == 2:
        return a.reshape(1, -1)
    if a.ndim == 1:
        return a.reshape(-1, 1)
    if a.ndim != 2:
        raise ArgumentError(f"{name}: expected a 2-D array (rows, dim), got shape {a.shape}")
    return a


def address(a: np.ndarray) -> int:
    """The address of a C-contiguous array's data: through the buffer protocol when the array
    is writeable (0.5 us; `a.ctypes.data` builds a helper object, 1.5 us), else a.ctypes."""
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    except (TypeError, ValueError):  # read-only, or empty
        return a.ctypes.data


def tiles_size(shape, lanes: int) -> int:
    """Elements of the tile layout of an (n, D) array: whole tiles of `lanes` rows."""
    return -(-shape[0] // lanes) * lanes * shape[1]


def to_tiles(a: np.ndarray, lanes: int) -> np.ndarray:
    """(n, D) -> tiles of `lanes` rows (the last zero-padded), each stored component-major:
    element (c, k) at (c // lanes) * lanes * D + k * lanes + c % lanes. See Signature.layout."""
    out = np.zeros(tiles_size(a.shape, lanes), dtype=a.dtype)
    tile_into(out, a, lanes)
    return out


def tile_into(dest: np.ndarray, a: np.ndarray, lanes: int) -> None:
    """Writes the tile layout of `a` (see to_tiles) into `dest`, a zeroed 1-D array of
    tiles_size elements (the padding stays zero)."""
    n, dim = a.shape
    if dim == 1:  # the layout of one column is the column itself
        dest[:n] = a[:, 0]
        return
    tiles = dest.reshape(-1, dim, lanes)
    full = n - n % lanes
    if full:
        tiles[: full // lanes] = a[:full].reshape(-1, lanes, dim).transpose(0, 2, 1)
    if full < n:
        tiles[-1, :, : n - full] = a[full:].T
