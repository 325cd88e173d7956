"""Gaussian kernel sum out_i = sum_j exp(-|x_i - y_j|^2) b_j (D = 3): keir vs numpy vs pykeops.

    python benchmarks/gauss_sum.py                       # M = N = 20,000, float32 and float64
    python benchmarks/gauss_sum.py --sizes 10000 20000 50000 --repeat 1

keir:    keir.Genred(..., axis=1); the first call compiles (or loads the disk cache), then the
         best of --repeat calls is timed.
numpy:   dense, in row chunks. It never evaluates more than --numpy-max-pairs (i, j) pairs: above
         that it runs on the first rows only and its rate is measured on those rows.
pykeops: pykeops.numpy.Genred on the CPU backend if pykeops is importable; warmed up with one
         call (the first use of a formula compiles C++ for 5-10 s), then timed like keir.

Rates are in G pairs/s = M * N / seconds / 1e9. "rel err" is max_i |keir_i - other_i| / |other_i|.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np

import keir

FORMULA = "Exp(-SqDist(x,y))*b"
ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
D = 3


def best_time(fn, args, repeat: int, **kw) -> tuple[float, np.ndarray]:
    """The fastest of `repeat` calls fn(*args, **kw) and its result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t)
    return best, out


def numpy_gauss(x, y, b, chunk_pairs: int = 1 << 20) -> np.ndarray:
    """Dense reference in the inputs' dtype: exact differences, in-place ops, row chunks."""
    out = np.empty((x.shape[0], 1), dtype=x.dtype)
    yt = np.ascontiguousarray(y.T)
    rows = max(1, chunk_pairs // y.shape[0])
    for start in range(0, x.shape[0], rows):
        xc = x[start : start + rows]
        d = np.subtract.outer(xc[:, 0], yt[0])
        np.square(d, out=d)
        for k in range(1, x.shape[1]):
            t = np.subtract.outer(xc[:, k], yt[k])
            np.square(t, out=t)
            d += t
        np.negative(d, out=d)
        np.exp(d, out=d)
        out[start : start + rows] = d @ b
    return out


def rel_err(a: np.ndarray, ref: np.ndarray) -> float:
    a, ref = a.astype(np.float64), ref.astype(np.float64)
    return float(np.max(np.abs(a - ref) / np.abs(ref)))


def load_pykeops():
    try:
        from pykeops.numpy import Genred as PKGenred
    except ImportError as e:
        print(f"pykeops: not available ({type(e).__name__}: {e})")
        return None
    import pykeops

    print(f"pykeops: {pykeops.__version__} (CPU backend)")
    return PKGenred


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


@dataclass
class Row:
    size: int
    dtype: str
    keir: float  # G pairs/s
    numpy: float
    pykeops: float | None
    err_numpy: float  # max relative error of keir against numpy
    err_pykeops: float | None


def measure(n: int, dtype: str, args, pk_genred, notes: list[str]) -> Row:
    """Times one (size, dtype) cell with every available implementation."""
    M = N = n
    rng = np.random.default_rng(args.seed)
    x = rng.random((M, D)).astype(dtype)
    y = rng.random((N, D)).astype(dtype)
    b = rng.random((N, 1)).astype(dtype)

    # keir: the first call compiles (or loads the disk cache); the later calls are timed.
    f = keir.Genred(FORMULA, ALIASES, reduction_op="Sum", axis=1, dtype=dtype)
    first, _ = best_time(f, (x, y, b), 1)
    notes.append(f"keir    {n} {dtype}: first call {first:.2f} s (compile or cache load + run)")
    t_keir, out_keir = best_time(f, (x, y, b), args.repeat)

    # numpy: dense, on at most --numpy-max-pairs pairs.
    rows = min(M, max(1, int(args.numpy_max_pairs // N)))
    if rows < M:
        notes.append(f"numpy   {n} {dtype}: timed and checked on the first {rows:,} rows")
    t_np, out_np = best_time(numpy_gauss, (x[:rows], y, b), 1)
    row = Row(
        n,
        dtype,
        M * N / t_keir / 1e9,
        rows * N / t_np / 1e9,
        None,
        rel_err(out_keir[:rows], out_np),
        None,
    )

    # pykeops: one warm-up call (compiles on the first use of the formula), then timed.
    if pk_genred is not None:
        g = pk_genred(FORMULA, ALIASES, reduction_op="Sum", axis=1)
        first, _ = best_time(g, (x, y, b), 1, backend="CPU")
        notes.append(f"pykeops {n} {dtype}: first call {first:.2f} s")
        t_pk, out_pk = best_time(g, (x, y, b), args.repeat, backend="CPU")
        row.pykeops, row.err_pykeops = M * N / t_pk / 1e9, rel_err(out_keir, out_pk)
    return row


def print_table(rows: list[Row]) -> None:
    head = (
        f"{'M=N':>7} {'dtype':>8} | {'G pairs/s':^29} | {'keir /':^15} | {'keir max rel err':^20}"
    )
    sub = (
        f"{'':>7} {'':>8} | {'keir':>9} {'numpy':>9} {'pykeops':>9} | "
        f"{'numpy':>7} {'pykeops':>7} | {'vs numpy':>9} {'vs pykeops':>10}"
    )
    print(head.rstrip(), sub, "-" * len(sub), sep="\n")
    for r in rows:
        vs_pk = None if r.pykeops is None else r.keir / r.pykeops
        print(
            f"{r.size:>7} {r.dtype:>8} | {r.keir:>9.3f} {r.numpy:>9.3f} "
            f"{fmt(r.pykeops, '.3f'):>9} | "
            f"{r.keir / r.numpy:>7.2f} {fmt(vs_pk, '.2f'):>7} | "
            f"{r.err_numpy:>9.1e} {fmt(r.err_pykeops, '.1e'):>10}"
        )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[20000], help="M = N values")
    p.add_argument(
        "--dtypes", nargs="+", default=["float32", "float64"], choices=("float32", "float64")
    )
    p.add_argument("--repeat", type=int, default=3, help="timed calls after the first (best kept)")
    p.add_argument(
        "--numpy-max-pairs",
        type=float,
        default=1e8,
        help="numpy evaluates at most this many pairs (first rows only above it)",
    )
    p.add_argument("--no-pykeops", action="store_true", help="skip pykeops even if installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    print(f"keir {keir.__version__}, numpy {np.__version__}, Python {platform.python_version()}")
    print(f"cpu: {cpu_model()}, {os.cpu_count()} logical CPUs")
    pk_genred = None if args.no_pykeops else load_pykeops()
    print(f"formula: Sum_j {FORMULA}  with {', '.join(ALIASES)}  (axis=1)")
    print()
    notes: list[str] = []
    rows = [measure(n, dt, args, pk_genred, notes) for n in args.sizes for dt in args.dtypes]
    print_table(rows)
    print()
    print("\n".join(notes))
    return 0


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
