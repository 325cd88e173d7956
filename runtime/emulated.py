"""A device that runs the CPU emulation of a GPU kernel (keir-gpu-to-cpu) in host memory.

It has the interface of the CUDA device, so the GPU driver's chunking and argument packing run
unchanged on machines without a GPU: tests compare its results with the reference interpreter.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from .loader import load_library


class EmulatedDevice:
    """Host memory as device memory; `launch` calls the emulation's shared object."""

    def __init__(self, budget: int = 1 << 40):
        self.budget = budget
        self._buffers: dict[int, np.ndarray] = {}
        self._libraries: dict[str, ctypes.CDLL] = {}
        self.launches = 0

    def memory_budget(self) -> int:
        return self.budget

    def alloc(self, nbytes: int) -> int:
        buf = np.empty(nbytes, dtype=np.uint8)
        self._buffers[buf.ctypes.data] = buf
        return buf.ctypes.data

    def free(self, address: int) -> None:
        del self._buffers[address]

    def upload(self, address: int, array: np.ndarray) -> None:
        ctypes.memmove(address, np.ascontiguousarray(array).ctypes.data, array.nbytes)

    def download(self, array: np.ndarray, address: int) -> None:
        ctypes.memmove(array.ctypes.data, address, array.nbytes)

    def launch(self, program, grid: int, values: list[tuple[str, int]], stream=None) -> None:
        """Runs the whole grid (the emulated kernel loops over the blocks itself), at once
        whatever the stream."""
        fn = self._function(program)
        fn.argtypes = [ctypes.c_void_p if kind == "ptr" else ctypes.c_int64 for kind, _ in values]
        fn(*(value for _, value in values))
        self.launches += 1

    def _function(self, program):
        if program.code not in self._libraries:
            self._libraries[program.code] = load_library(Path(program.code))
        fn = getattr(self._libraries[program.code], program.kernel)
        fn.restype = None
        return fn
