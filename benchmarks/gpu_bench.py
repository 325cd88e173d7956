"""The benchmark table of gpu_check.py: keir GPU against pykeops GPU and torch dense on the GPU.

Cases are benchmarks/table.py's (float32, reduced over j): Gaussian D = 3 and D = 64,
LogSumExp, ArgKMin K = 10. Every implementation is warmed up (a small call compiles and loads
its kernel; a full-size one too when it is short), then timed with the device synchronised:
keir's device calls all wait for the device (launch synchronises, copies are synchronous);
torch and pykeops are timed between torch.cuda.synchronize() calls. The device-to-host copy
of the result is timed on its own: keir's `download` calls, `.cpu()` for the others; keir's
total is host arrays in, host arrays out.

A run that would take more than --max-call seconds (extrapolated from the previous size,
as M * N) or start after the deadline is skipped with that reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from keir.runtime.gpu_kernel import GpuKernel
from keir.runtime.results import postprocess

from gpu_suite import DeviceProbe
from table import CASES as TABLE_CASES
from table import aliases as table_aliases
from table import inputs as table_inputs

BENCH = ("gauss3", "gauss64", "lse3", "argkmin3")
SIZES = (100_000, 1_000_000)
WARM = 1000  # points of the compiling warm-up call
FULL_WARMUP_SECONDS = 3.0  # full-size warm-up call when a call takes less than this
DENSE_BYTES = 2 << 30  # one chunk of torch's dense M x N matrix


def bench_module(name: str, dtype: str = "float32"):
    """The keir module of a benchmark case (needs MLIR)."""
    from keir.frontend.formula import ReductionSpec, build_kernel

    formula, D, red, opts = TABLE_CASES[name]
    spec = ReductionSpec(red, 1, opts.get("opt_arg", 0), None)
    return build_kernel(formula, table_aliases(name, D), dtype, spec)[0]


@dataclass
class Clock:
    """The deadline and the per-call limit; remembers each runner's last time to extrapolate."""

    deadline: float
    max_call: float
    last: dict = field(default_factory=dict)

    def refuse(self, key, pairs: float) -> str | None:
        if time.perf_counter() > self.deadline:
            return "skipped: past the run's deadline (--deadline)"
        if key in self.last:
            seconds, before = self.last[key]
            guess = seconds * pairs / before
            if guess > self.max_call:
                return f"skipped: would take ~{guess:.0f} s (--max-call {self.max_call:g})"
        return None

    def record(self, key, pairs: float, seconds: float) -> None:
        self.last[key] = (seconds, pairs)


def _best(call, sync, guess: float) -> float:
    if guess < FULL_WARMUP_SECONDS:
        call()
        sync()
    times = []
    for _ in range(3 if guess < 1 else 1):
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    return min(times)


def _guess(clock: Clock, key, pairs: float) -> float:
    seconds, before = clock.last.get(key, (0.0, 1.0))
    return seconds * pairs / before if key in clock.last else FULL_WARMUP_SECONDS


def run_keir(program, device, args, clock: Clock, key, pairs: float) -> tuple[dict, np.ndarray]:
    probe = DeviceProbe(device)
    kernel = GpuKernel(program, probe)
    arrays, M, N = kernel.prepare(args)
    kernel.run_prepared(*kernel.prepare([a[:WARM] for a in args]))  # JIT-compiles the PTX
    out = []

    def call():
        probe.reset()
        out[:] = kernel.run_prepared(arrays, M, N)

    total = _best(call, lambda: None, _guess(clock, key, pairs))
    clock.record(key, pairs, total)
    s = probe.seconds
    timing = {"total": total, "h2d": s["upload"], "kernel": s["launch"], "d2h": s["download"]}
    return timing, out[0]


@dataclass
class TorchSide:
    """torch on one device, where the torch and pykeops columns run ("cuda"; "cpu" in tests)."""

    torch: object
    device: str

    @classmethod
    def find(cls):
        """(the CUDA side, None) or (None, why there is none)."""
        try:
            import torch
        except ImportError as e:
            return None, f"no torch ({e})"
        if not torch.cuda.is_available():
            return None, "torch sees no CUDA device"
        return cls(torch, "cuda"), None

    def sync(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.synchronize()

    def release(self) -> None:
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()


def run_torch_like(fn, side: TorchSide, dev_args, clock: Clock, key, pairs: float):
    """Times fn(*dev_args) on the device (synchronised), then the copy of its result to the
    host; returns (timing, the host result)."""
    fn(*(a[:WARM] for a in dev_args))
    side.sync()
    out = []

    def call():
        out[:] = [fn(*dev_args)]

    seconds = _best(call, side.sync, _guess(clock, key, pairs))
    clock.record(key, pairs, seconds)
    start = time.perf_counter()
    host = out[0].cpu()
    return {"kernel": seconds, "d2h": time.perf_counter() - start}, host.numpy()


def torch_dense(name: str, torch):
    """The dense M x N computation in row chunks of at most DENSE_BYTES."""

    def run(x, y, b):
        rows = max(1, DENSE_BYTES // (4 * max(len(y), 1)))
        yy = (y * y).sum(1)
        parts = []
        for i in range(0, len(x), rows):
            xi = x[i : i + rows]
            d2 = ((xi * xi).sum(1)[:, None] + yy[None]) - 2 * xi @ y.T
            if name.startswith("gauss"):
                parts.append(torch.exp(-d2) @ b)
            elif name.startswith("lse"):
                parts.append(torch.logsumexp(-d2, 1, keepdim=True))
            else:
                parts.append(d2.topk(10, dim=1, largest=False).indices)
        return torch.cat(parts)

    return run


def pykeops_runner(name: str, side: TorchSide):
    """pykeops.torch's Genred for the case on the side's device, or why it cannot run."""
    try:
        import pykeops
        from pykeops.torch import Genred
    except Exception as e:  # any import failure means: no column
        return None, f"pykeops not importable: {type(e).__name__}: {e}"
    gpu = side.device.startswith("cuda")
    try:
        if gpu and not pykeops.pykeopsconfig.pykeops_cuda.get_use_cuda():
            return None, "pykeops found no CUDA (libcuda, libnvrtc or cuda.h missing)"
    except Exception as e:
        return None, f"pykeops' CUDA check failed: {type(e).__name__}: {e}"
    formula, D, red, opts = TABLE_CASES[name]
    g = Genred(formula, table_aliases(name, D), reduction_op=red, axis=1, **opts)
    backend = "GPU" if gpu else "CPU"
    return (lambda *a: g(*a, backend=backend)), None


AGREE_RTOL = 1e-3  # float32 sums of 1e6 terms, torch's |x|^2 + |y|^2 - 2 x.y
AGREE_ROWS = 0.99  # ArgKMin: rows whose 10 indices match (float32 near-ties may swap)


def agreement(name: str, ours: np.ndarray, theirs: np.ndarray) -> tuple[str, bool]:
    """How close keir's result is to another implementation's, and whether that is close
    enough (a keir result far from both torch and pykeops is a bug, not noise)."""
    if name.startswith("argkmin"):
        same = float((np.sort(ours, 1) == np.sort(theirs.astype(np.int64), 1)).all(1).mean())
        return f"{same:.2%} rows same indices", same >= AGREE_ROWS
    scale = max(float(np.abs(theirs).max()), 1e-30)
    err = float(np.abs(ours - theirs.reshape(ours.shape)).max()) / scale
    return f"max rel err {err:.1e}", err <= AGREE_RTOL


def bench_rows(programs: dict, device, names, sizes, clock: Clock, log=print, side=None):
    """One row per case and size; `programs` maps a case name to its GpuProgram. The torch
    and pykeops columns run on `side` (found: CUDA when torch sees it), pykeops only where
    it is installed."""
    side, why = (side, None) if side else TorchSide.find()
    rows = []
    for name in names:
        pk, pk_why = pykeops_runner(name, side) if side else (None, why)
        for n in sizes:
            row = bench_row(name, n, programs[name], device, side, pk, clock)
            row.setdefault("pykeops", {"skipped": pk_why})
            row.setdefault("torch", {"skipped": why})
            log(row_line(row))
            rows.append(row)
    return rows


def bench_row(name, n, program, device, side: TorchSide | None, pk, clock: Clock) -> dict:
    _, D, _, _ = TABLE_CASES[name]
    args = table_inputs(name, D, n, "float32", np.random.default_rng(0))
    pairs = float(n) * n
    row = {"case": name, "n": n, "pairs": pairs}
    refused = clock.refuse(("keir", name), pairs)
    keir_out = None
    if refused:
        row["keir"] = {"skipped": refused}
    else:
        try:
            row["keir"], raw = run_keir(program, device, args, clock, ("keir", name), pairs)
            keir_out = postprocess(program.signature.reduction, raw, program.signature.k)
        except Exception as e:  # counted as a failure by gpu_check, the other columns go on
            row["keir"] = {"failed": f"{type(e).__name__}: {e}"[:300]}
    if side is None:
        return row
    dev_args = [side.torch.from_numpy(a).to(side.device) for a in args]
    for label, fn in (("torch", torch_dense(name, side.torch)), ("pykeops", pk)):
        if fn is None:
            continue
        refused = clock.refuse((label, name), pairs)
        if refused:
            row[label] = {"skipped": refused}
            continue
        try:
            row[label], host = run_torch_like(fn, side, dev_args, clock, (label, name), pairs)
            if keir_out is not None:
                text, ok = agreement(name, keir_out, host)
                row[label]["agreement"] = text if ok else f"DISAGREES: {text}"
                if not ok:  # counted as a failure by gpu_check
                    row["keir"]["failed"] = f"differs from {label}: {text}"
        except Exception as e:  # a failing column is reported, not fatal
            row[label] = {"skipped": f"failed: {type(e).__name__}: {e}"[:300]}
        side.release()
    return row


def _cell(part: dict, key: str) -> str:
    return f"{part[key]:.4f}" if key in part else "-"


def row_line(row: dict) -> str:
    k, p, t = row["keir"], row["pykeops"], row["torch"]
    ratio = "-"
    if "kernel" in k and "kernel" in p:
        ratio = f"{p['kernel'] / k['kernel']:.2f}x"
    notes = "; ".join(
        f"{label}: {part.get('failed') or part.get('skipped') or part.get('agreement')}"
        for label, part in (("keir", k), ("pykeops", p), ("torch", t))
        if part.get("failed") or part.get("skipped") or part.get("agreement")
    )
    cells = [
        row["case"],
        f"{row['n']:,}",
        _cell(k, "total"),
        _cell(k, "h2d"),
        _cell(k, "kernel"),
        _cell(k, "d2h"),
        _cell(p, "kernel"),
        _cell(p, "d2h"),
        _cell(t, "kernel"),
        _cell(t, "d2h"),
        ratio,
        notes,
    ]
    return "| " + " | ".join(cells) + " |"


TABLE_HEAD = (
    "| case | M = N | keir total s | keir H2D s | keir kernel s | keir D2H s | pykeops s | "
    "pykeops D2H s | torch dense s | torch D2H s | pykeops / keir (kernel) | notes |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)
