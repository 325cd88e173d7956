"""Runs a keir-tile-gpu kernel on a device, streaming inputs larger than its memory in chunks.

The kernel (see keir.passes.tile_gpu) takes, in host order: the argument arrays (row-major),
the output arrays, a state array, then M, N, offset and total. The driver cuts the output rows
into chunks of R rows and the reduced index into chunks of C rows, so that one chunk of every
array fits the device's memory budget. For each row chunk, the launches over the reduced chunks
carry the raw reduction states in the state array (offset > 0 resumes them, offset + n == total
finalizes), so a chunked result is the unchunked one, bit for bit. Arrays already in device
memory (keir.torch's CUDA tensors) skip all of that: `run_resident` is one launch on them.

A device is anything with alloc(nbytes) -> address, free(address), upload(address, array),
download(array, address), launch(program, grid, values, stream=None) and memory_budget(): the
CUDA driver (keir.runtime.cuda) or the CPU emulation (keir.runtime.emulated). numpy only.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import numpy as np

from ..dialect.signature import Signature
from ..errors import ArgumentError, NotSupportedError
from .launcher import Kernel


@dataclass(frozen=True)
class GpuProgram:
    """What a device needs to run a compiled kernel (plain data, stored as JSON)."""

    signature: Signature  # layout "rows"
    kernel: str  # the entry point's name in `code`
    code: str  # PTX text (CUDA), or the path of the emulation's shared object
    block: int  # threads per block
    state_len: int  # raw state lanes per output row (all outputs)
    params: tuple[int, ...]  # the host argument behind each kernel parameter, in order

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> GpuProgram:
        data = dict(data, params=tuple(data["params"]))
        data["signature"] = Signature.from_json(data["signature"])
        return cls(**data)

    @property
    def n_buffers(self) -> int:
        """Host arguments that are arrays: arguments, outputs, state (then 4 integers)."""
        return len(self.signature.arg_cats) + len(self.signature.outputs) + 1


def flat_values(program: GpuProgram, host: list) -> list[tuple[str, int]]:
    """The kernel's parameter values: a buffer (address, elements) becomes the five fields of a
    rank-1 memref descriptor, an integer stays one; each tagged "ptr" or "i64"."""
    out = []
    for k in program.params:
        if k < program.n_buffers:
            address, size = host[k]
            out += [("ptr", address), ("ptr", address), ("i64", 0), ("i64", size), ("i64", 1)]
        else:
            out.append(("i64", host[k]))
    return out


@dataclass(frozen=True)
class Plan:
    rows: int  # output rows per chunk
    cols: int  # reduced-index rows per chunk


def plan_chunks(rows: int, n: int, row_bytes: int, col_bytes: int, budget: int, block: int):
    """The largest chunks that fit `budget` bytes of device memory: everything at once when it
    fits, else at most half the budget for the reduced index and the rest for output rows."""
    rows, n = max(rows, 1), max(n, 1)
    if rows * row_bytes + n * col_bytes <= budget:
        return Plan(rows, n)
    cols = n if n * col_bytes <= budget // 2 else max(1, budget // 2 // max(col_bytes, 1))
    room = (budget - cols * col_bytes) // max(row_bytes, 1)
    if room >= block:
        room -= room % block  # whole blocks
    if room < 1:
        raise ArgumentError(
            f"a GPU memory budget of {budget:,} bytes cannot hold one output row "
            f"({row_bytes} bytes) beside {cols} reduced rows ({col_bytes} bytes each)"
        )
    return Plan(min(rows, room), cols)


class GpuKernel(Kernel):
    """A kernel run by a device; called like the CPU `Kernel` (same checks, same outputs)."""

    def __init__(self, program: GpuProgram, device, names=None, budget: int | None = None):
        sig = program.signature
        self.sig, self.program, self.device, self.budget = sig, program, device, budget
        self.names = names or [f"argument {k}" for k in range(len(sig.arg_cats))]

    def run_prepared(
        self, arrays: list[np.ndarray], M: int, N: int, threads=None, progress=None, ranges=None
    ) -> list[np.ndarray]:
        """As Kernel.run_prepared; `threads` and `progress` do not apply to a device."""
        if ranges is not None:
            raise NotSupportedError("block-sparse ranges run on the CPU backend only")
        sig, prog = self.sig, self.program
        rows, n = (M, N) if sig.out_cat == 0 else (N, M)
        outs = [np.empty((rows, o.out_dim), dtype=sig.dtype) for o in sig.outputs]
        if rows == 0:
            return outs
        run = _Run(self.device, prog, arrays, outs, self.plan(arrays, rows, n))
        try:
            run.allocate()
            run.all(rows, n)
        except BaseException:
            # after a kernel fault CUDA fails every later call (cuMemFree too): the error
            # raised is the fault's, not the cleanup's
            with contextlib.suppress(Exception):
                run.free()
            raise
        run.free()
        return outs

    def run_resident(self, buffers: list[tuple[int, int]], M: int, N: int, stream: int) -> None:
        """One launch on memory already on the device, no copies (keir.torch's CUDA tensors).

        `buffers`: (device address, elements) of each argument (row-major, the kernel's dtype),
        each output and the state array (rows * state_len elements), as run_prepared
        allocates them; queued on `stream` (a CUstream handle) without waiting for it."""
        sig, prog = self.sig, self.program
        if len(buffers) != prog.n_buffers:
            raise ArgumentError(f"expected {prog.n_buffers} device buffers, got {len(buffers)}")
        rows, n = (M, N) if sig.out_cat == 0 else (N, M)
        if rows == 0:
            return
        grid = (rows + prog.block - 1) // prog.block
        self.device.launch(prog, grid, flat_values(prog, [*buffers, M, N, 0, n]), stream=stream)

    def plan(self, arrays, rows: int, n: int) -> Plan:
        """The chunks a call on `arrays` (rows output rows, n reduced rows) is cut into."""
        sig, item = self.sig, np.dtype(self.sig.dtype).itemsize
        per_cat = {0: 0, 1: 0, 2: 0}
        for a, cat in zip(arrays, sig.arg_cats):
            per_cat[cat] += a.shape[1] * item
        outs = sum(o.out_dim for o in sig.outputs) + self.program.state_len
        row_bytes = per_cat[sig.out_cat] + outs * item
        budget = (self.budget or self.device.memory_budget()) - per_cat[2]
        return plan_chunks(rows, n, row_bytes, per_cat[1 - sig.out_cat], budget, self.program.block)


class _Run:
    """One call: device buffers sized for one chunk, filled and launched chunk by chunk."""

    def __init__(self, device, program: GpuProgram, arrays, outs, plan: Plan):
        self.device, self.program, self.plan = device, program, plan
        self.arrays, self.outs, self.cats = arrays, outs, program.signature.arg_cats
        self.buffers = []  # (address, elements) per host buffer: arrays, outputs, state
        self.loaded = None  # the reduced-index chunk on the device

    def allocate(self) -> None:
        sig, plan = self.program.signature, self.plan
        chunk = {sig.out_cat: plan.rows, 1 - sig.out_cat: plan.cols}
        sizes = [
            a.size if cat == 2 else chunk[cat] * a.shape[1]
            for a, cat in zip(self.arrays, self.cats)
        ]
        sizes += [plan.rows * o.shape[1] for o in self.outs] + [plan.rows * self.program.state_len]
        item = np.dtype(sig.dtype).itemsize
        for elements in sizes:
            self.buffers.append((self.device.alloc(max(elements, 1) * item), elements))
        self._upload(2, 0, 1)

    def free(self) -> None:
        """Frees every buffer, then raises the first failure if any."""
        error = None
        for address, _ in self.buffers:
            try:
                self.device.free(address)
            except Exception as e:  # raised below, after the other frees
                error = error or e
        self.buffers = []
        if error is not None:
            raise error

    def _upload(self, cat: int, start: int, stop: int) -> None:
        for (address, _), a, c in zip(self.buffers, self.arrays, self.cats):
            if c == cat:
                self.device.upload(address, a[start:stop])

    def all(self, rows: int, n: int) -> None:
        sig, plan, prog = self.program.signature, self.plan, self.program
        for r0 in range(0, rows, plan.rows):
            r1 = min(rows, r0 + plan.rows)
            self._upload(sig.out_cat, r0, r1)
            for c0 in range(0, max(n, 1), plan.cols):  # n == 0: one launch finalizes the inits
                c1 = min(n, c0 + plan.cols)
                if self.loaded != (c0, c1):  # one reduced chunk in all: uploaded once
                    self._upload(1 - sig.out_cat, c0, c1)
                    self.loaded = (c0, c1)
                M, N = (r1 - r0, c1 - c0) if sig.out_cat == 0 else (c1 - c0, r1 - r0)
                grid = (r1 - r0 + prog.block - 1) // prog.block
                self.device.launch(prog, grid, flat_values(prog, self.buffers + [M, N, c0, n]))
            for (address, _), out in zip(self.buffers[len(self.arrays) :], self.outs):
                self.device.download(out[r0:r1], address)
