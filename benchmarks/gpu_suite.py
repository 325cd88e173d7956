"""The GPU test suite of gpu_check.py: every reduction, both dtypes and axes, and every op,
run on a device (CUDA, or keir's CPU emulation of the GPU kernel) and compared with the CPU
backend.

Each case runs at sizes that leave partial blocks and tiles, fewer reduced rows than a block,
one, none; then once more with a memory budget small enough that the driver streams both
indices in at least 3 x 3 chunks, which must give the one-launch result bit for bit.

Programs, inputs and references come from a source (gpu_pack.LiveSource compiles them now,
gpu_pack.PackSource reads what `gpu_check.py --prepare` wrote), so this one code path runs in
CI on the emulated device and on a GPU machine that has no LLVM tools. numpy only here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from keir.runtime.gpu_kernel import GpuKernel
from keir.runtime.results import postprocess

RTOL = {"float32": 1e-4, "float64": 1e-11}
MIN_CHUNKS = 3  # row chunks and reduced chunks the chunked check asks for, at least


@dataclass(frozen=True)
class Case:
    """One kernel: a reduction of tests/gpu_cases.py's REDUCTIONS, or (kind "ops") the Sum
    examples of `ops` fused into one kernel (libdevice's math on the device, op by op)."""

    kind: str
    dtype: str
    axis: int
    ops: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        if self.ops:
            return f"ops {self.ops[0]}..{self.ops[-1]}-{self.dtype}-axis{self.axis}"
        return f"{self.kind}-{self.dtype}-axis{self.axis}"

    @property
    def inputs_id(self) -> str:
        """Cases with the same inputs share this name (the pack stores them once)."""
        return f"ops-{self.dtype}" if self.ops else self.dtype


@dataclass(frozen=True)
class Sizes:
    plain: tuple[tuple[int, int], ...]  # (M, N) checked against the reference
    chunked: tuple[int, int]  # (M, N) also streamed in chunks


# (M, N): partial last block and tile (block 128), exact multiples, N < block, N = 1, N = 0,
# one output row; the chunked size gives 3+ x 3+ chunks of whole blocks
DEVICE_SIZES = Sizes(((1000, 777), (129, 128), (5, 3), (300, 1), (7, 0), (1, 1000)), (2100, 1700))
# the same shapes for blocks of 8 threads (the emulation runs the threads of a block in turn)
EMULATED_SIZES = Sizes(((13, 21), (16, 16), (5, 3), (3, 1), (4, 0), (1, 9)), (37, 45))


@dataclass
class Result:
    case: str
    check: str  # "compile", "MxN" or "chunked MxN"
    ok: bool
    detail: str  # why it failed, or what was checked
    seconds: float

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"{mark} {self.case:36} {self.check:16} {self.seconds:6.2f} s  {self.detail}"


def inputs(dtype: str, M: int, N: int) -> list[np.ndarray]:
    """x = Vi(3), y = Vj(3), b = Vj(1) (tests/gpu_cases.py's ALIASES), fixed by the sizes."""
    rng = np.random.default_rng(M * 100_003 + N)
    return [
        rng.standard_normal((M, 3)).astype(dtype),
        rng.standard_normal((N, 3)).astype(dtype),
        rng.uniform(0.5, 1.5, (N, 1)).astype(dtype),
    ]


def mismatches(case: Case, sig, got: list, want: list) -> str | None:
    """None when every output agrees with the reference, else what differs (and in which op)."""
    if len(got) != len(want):
        return f"{len(got)} outputs, expected {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        out = sig.outputs[k]
        found = mismatch(out.reduction, out.k, g, w, case.dtype)
        if found:
            return f"{case.ops[k]}: {found}" if case.ops else found
    return None


class DeviceProbe:
    """Wraps a device (CUDA or emulated): counts launches and times each kind of call. Every
    call it wraps returns when the device is done (launch synchronises), so wall time is the
    device's time."""

    def __init__(self, device):
        self.device = device
        self.launches = 0
        self.seconds = {"alloc": 0.0, "upload": 0.0, "launch": 0.0, "download": 0.0, "free": 0.0}

    def reset(self) -> None:
        self.launches = 0
        self.seconds = dict.fromkeys(self.seconds, 0.0)

    def memory_budget(self) -> int:
        return self.device.memory_budget()

    def _timed(self, what: str, *args):
        start = time.perf_counter()
        try:
            return getattr(self.device, what)(*args)
        finally:
            self.seconds[what] += time.perf_counter() - start

    def alloc(self, nbytes):
        return self._timed("alloc", nbytes)

    def free(self, address):
        return self._timed("free", address)

    def upload(self, address, array):
        return self._timed("upload", address, array)

    def download(self, array, address):
        return self._timed("download", array, address)

    def launch(self, program, grid, values):
        self.launches += 1
        return self._timed("launch", program, grid, values)


def mismatch(kind: str, k: int, got: np.ndarray, want: np.ndarray, dtype: str) -> str | None:
    """None when the raw outputs agree (values within RTOL, indices exactly), else what differs."""
    if got.shape != want.shape:
        return f"output shape {got.shape}, expected {want.shape}"
    parts = postprocess(kind, got, k), postprocess(kind, want, k)
    for g, w in zip(*(p if isinstance(p, tuple) else (p,) for p in parts)):
        found = _index_mismatch(g, w) if g.dtype == np.int64 else _value_mismatch(g, w, dtype)
        if found:
            return found
    return None


def _index_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    rows = (got != want).reshape(len(got), int(np.prod(got.shape[1:]))).any(axis=1)
    if not rows.any():
        return None
    r = int(np.argmax(rows))
    return (
        f"indices differ in {int(rows.sum())} of {len(rows)} rows; first at row {r}: "
        f"got {got[r].tolist()}, expected {want[r].tolist()}"
    )


def _value_mismatch(got: np.ndarray, want: np.ndarray, dtype: str) -> str | None:
    """Equal infinities and NaNs (K-min of fewer than K values, empty softmax), close values."""
    got, want = got.astype(np.float64), want.astype(np.float64)
    finite = np.isfinite(want)
    same_special = (np.isnan(got) & np.isnan(want)) | (~finite & (got == want))
    scale = max(1.0, float(np.abs(want[finite]).max())) if finite.any() else 1.0
    tol = RTOL[dtype] * (scale + np.abs(np.where(finite, want, 0)))
    with np.errstate(invalid="ignore"):  # inf - inf where `want` is not finite: masked below
        err = np.where(finite, np.abs(np.nan_to_num(got - want, nan=np.inf, posinf=np.inf)), 0)
    bad = np.where(finite, err > tol, ~same_special)
    if not bad.any():
        return None
    at = np.unravel_index(
        int(np.argmax(np.where(bad, np.nan_to_num(err, posinf=1e308), -1))), bad.shape
    )
    return (
        f"{int(bad.sum())} of {bad.size} values off; worst at {tuple(int(i) for i in at)}: "
        f"got {got[at]!r}, expected {want[at]!r} (error {err[at]:.3g}, tolerance {tol[at]:.3g}, "
        f"max error {float(err.max()):.3g}, rtol {RTOL[dtype]:g} of scale {scale:.3g})"
    )


def run_suite(source, cases, sizes: Sizes, log=print) -> list[Result]:
    """Every case at every size; a failing case does not stop the others."""
    results = []
    for case in cases:
        for result in run_case(source, case, sizes):
            log(result.line())
            results.append(result)
    return results


def run_case(source, case: Case, sizes: Sizes) -> list[Result]:
    start = time.perf_counter()
    try:
        program = source.program(case)
    except Exception as e:  # reported, the suite goes on
        return [Result(case.id, "compile", False, _error(e), time.perf_counter() - start)]
    checks = [(f"{M}x{N}", _plain, (M, N)) for M, N in sizes.plain]
    checks.append((f"chunked {sizes.chunked[0]}x{sizes.chunked[1]}", _chunked, sizes.chunked))
    results = []
    for label, check, size in checks:
        start = time.perf_counter()
        try:
            ok, detail = check(source, case, program, size)
        except Exception as e:
            ok, detail = False, _error(e)
        results.append(Result(case.id, label, ok, detail, time.perf_counter() - start))
    return results


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".replace("\n", " | ")


def _run(kernel: GpuKernel, args) -> list[np.ndarray]:
    return kernel.run_prepared(*kernel.prepare(args))


def _plain(source, case: Case, program, size) -> tuple[bool, str]:
    args = source.inputs(case, *size)
    got = _run(GpuKernel(program, source.device), args)
    found = mismatches(case, program.signature, got, source.reference(case, size, args))
    shapes = ", ".join(str(g.shape) for g in got[:2]) + (", ..." if len(got) > 2 else "")
    return found is None, found or f"output {shapes} matches the CPU backend"


def _chunked(source, case: Case, program, size) -> tuple[bool, str]:
    args = source.inputs(case, *size)
    probe = DeviceProbe(source.device)
    whole = _run(GpuKernel(program, probe), args)
    if probe.launches != 1:
        return False, f"the unchunked call made {probe.launches} launches, expected 1"
    kernel = GpuKernel(program, probe)
    arrays, M, N = kernel.prepare(args)
    rows, n = (M, N) if program.signature.axis == 1 else (N, M)
    kernel.budget, plan = forced_budget(kernel, arrays, rows, n)
    probe.reset()
    got = kernel.run_prepared(arrays, M, N)
    grid = f"{-(-rows // plan.rows)} x {-(-n // plan.cols)} chunks"
    if probe.launches < MIN_CHUNKS * MIN_CHUNKS:
        return False, f"{grid} made {probe.launches} launches, expected {MIN_CHUNKS**2}+"
    for g, w in zip(got, whole):
        if not np.array_equal(g, w, equal_nan=True):
            at = tuple(int(i) for i in np.argwhere(~((g == w) | (np.isnan(g) & np.isnan(w))))[0])
            return (
                False,
                f"{grid}: not the one-launch result; first at {at}: {g[at]!r} vs {w[at]!r}",
            )
    found = mismatches(case, program.signature, got, source.reference(case, size, args))
    if found:
        return False, f"{grid}: {found}"
    return True, f"{grid}, {probe.launches} launches: the one-launch result, bit for bit"


def forced_budget(kernel: GpuKernel, arrays, rows: int, n: int):
    """A memory budget (bytes) under which the call is cut into MIN_CHUNKS+ chunks of output
    rows and of reduced rows, and its plan."""
    item = np.dtype(kernel.sig.dtype).itemsize
    budget = sum(a.size for a in arrays) * item * 4
    while budget > 64:
        kernel.budget = budget
        plan = kernel.plan(arrays, rows, n)
        if -(-rows // plan.rows) >= MIN_CHUNKS and -(-n // plan.cols) >= MIN_CHUNKS:
            return budget, plan
        budget = budget * 3 // 4
    raise AssertionError(f"no budget cuts {rows} x {n} into {MIN_CHUNKS} x {MIN_CHUNKS} chunks")


def summary(results: list[Result]) -> str:
    failed = [r for r in results if not r.ok]
    cases = {r.case for r in results}
    bad = {r.case for r in failed}
    head = f"GPU suite: {len(results) - len(failed)} passed, {len(failed)} failed"
    head += f" ({len(cases) - len(bad)} of {len(cases)} cases clean)"
    if failed:  # after a kernel fault CUDA fails every later call: the first one tells most
        head += f"\nfirst failure: {failed[0].line()}"
    return head
