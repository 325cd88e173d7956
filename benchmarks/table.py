"""One command, one run, one table: keir against pykeops 2.3 (CPU), numpy dense and a plain C
loop, in G pairs/s (M * N / seconds / 1e9) and as ratios.

    python benchmarks/table.py                         # the default cases and sizes
    python benchmarks/table.py --sizes 10000 --cases gauss3 argkmin3 --no-pykeops
    python benchmarks/table.py --json out.json ...     # also write the rates (for plot.py)

keir and pykeops: best of --repeat calls (more for short calls: as many as fill 0.5 s), after
a first call on 1,000 points that compiles.
numpy: dense, only where M * N <= 1e8. C: benchmarks/gauss_loop.c (Gaussian D = 3 only),
compiled now with cc -O3 -march=native -ffast-math -fopenmp, up to --c-max pairs. pykeops is
skipped above --pykeops-max pairs (it runs at 0.3-0.5 G pairs/s here: 10^10 pairs take half a
minute per call). The defaults include M = N = 10^6 for D = 3: about two hours in all.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import keir

CASES = {
    # name: (formula, aliases, reduction, options, D)
    "gauss3": ("Exp(-SqDist(x,y))*b", 3, "Sum", {}),
    "gauss64": ("Exp(-SqDist(x,y))*b", 64, "Sum", {}),
    "laplace3": ("Exp(-Sqrt(SqDist(x,y)))*b", 3, "Sum", {}),
    # Matern nu = 3/2: (1 + sqrt(3) r) exp(-sqrt(3) r)
    "matern3": ("(1 + Sqrt(3*SqDist(x,y))) * Exp(-Sqrt(3*SqDist(x,y))) * b", 3, "Sum", {}),
    "lse3": ("-SqDist(x,y)", 3, "LogSumExp", {}),
    "argkmin3": ("SqDist(x,y)", 3, "ArgKMin", {"opt_arg": 10}),
    "argkmin64": ("SqDist(x,y)", 64, "ArgKMin", {"opt_arg": 10}),
    "grad3": ("Grad(Exp(-SqDist(x,y))*b, x, e)", 3, "Sum", {}),
}


def aliases(name, D):
    al = [f"x = Vi({D})", f"y = Vj({D})", "b = Vj(1)"]
    return al + ["e = Vi(1)"] if name == "grad3" else al


def inputs(name, D, n, dtype, rng):
    scale = 1 / np.sqrt(D)  # |x - y|^2 of order 1 whatever D

    def draw(cols):
        return (rng.random((n, cols)) * (scale if cols == D else 1)).astype(dtype)

    return [draw(D), draw(D), draw(1)] + ([draw(1)] if name == "grad3" else [])


# Calls shorter than this are repeated until they fill it: a 0.3 ms call timed twice on this
# virtual machine moved by 2x between runs.
MIN_SECONDS = 0.5


def best(fn, repeat):
    """The fastest of `repeat` calls, or of as many as fill MIN_SECONDS if that is more."""
    times, start = [], time.perf_counter()
    while len(times) < repeat or time.perf_counter() - start < MIN_SECONDS:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def numpy_dense(name, args):
    x, y, b = args[:3]
    d2 = (x * x).sum(1)[:, None] + (y * y).sum(1)[None] - 2 * x @ y.T
    if name.startswith("gauss"):
        return np.exp(-d2) @ b
    if name.startswith("laplace"):
        return np.exp(-np.sqrt(np.maximum(d2, 0))) @ b
    if name.startswith("matern"):
        r = np.sqrt(3 * np.maximum(d2, 0))
        return ((1 + r) * np.exp(-r)) @ b
    if name.startswith("lse"):
        m = (-d2).max(1, keepdims=True)
        return m + np.log(np.exp(-d2 - m).sum(1, keepdims=True))
    if name.startswith("argkmin"):
        return np.argpartition(d2, 10, axis=1)[:, :10]
    return None


def c_loop(dtype):
    src = Path(__file__).with_name("gauss_loop.c")
    so = Path(tempfile.mkdtemp()) / f"gauss_{dtype}.so"
    real = "float" if dtype == "float32" else "double"
    subprocess.run(
        [
            "cc",
            "-O3",
            "-march=native",
            "-ffast-math",
            "-fopenmp",
            "-shared",
            "-fPIC",
            f"-DREAL={real}",
            str(src),
            "-o",
            str(so),
            "-lm",
        ],
        check=True,
    )
    fn = ctypes.CDLL(str(so)).gauss
    fn.restype = None

    def run(x, y, b):
        yt, out = np.ascontiguousarray(y.T), np.empty((len(x), 1), dtype=dtype)
        ptrs = [a.ctypes.data_as(ctypes.c_void_p) for a in (x, yt, b, out)]
        fn(*ptrs, ctypes.c_int64(len(x)), ctypes.c_int64(len(y)))
        return out

    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--pykeops-max", type=float, default=1e9, help="largest M*N run by pykeops")
    p.add_argument("--no-pykeops", action="store_true")
    p.add_argument("--c-max", type=float, default=1e11, help="largest M*N run by the C loop")
    p.add_argument("--max-d3", type=int, default=1_000_000, help="largest M=N for D = 3 cases")
    p.add_argument("--max-d64", type=int, default=100_000, help="largest M=N for D = 64 cases")
    p.add_argument("--json", help="also write the rates to this JSON file")
    args = p.parse_args()
    rows = []
    pk = None
    if not args.no_pykeops:
        try:
            import pykeops.numpy as pk
        except ImportError:
            pk = None
    rng = np.random.default_rng(0)
    head = f"{'case':10} {'M=N':>8} {'dtype':8} | {'keir':>7} {'pykeops':>8} {'numpy':>7} {'C':>7} | {'/pykeops':>8} {'/numpy':>7} {'/C':>6}"
    print(
        f"keir {keir.__version__}, G pairs/s, best of {args.repeat} calls or of 0.5 s of calls\n{head}\n{'-' * len(head)}"
    )
    c_loops = {}
    for name in args.cases:
        formula, D, red, opts = CASES[name]
        for n in args.sizes:
            if n > (args.max_d64 if D == 64 else args.max_d3):
                continue
            for dtype in args.dtypes:
                data = inputs(name, D, n, dtype, rng)
                small = [a[:1000] for a in data]
                al = aliases(name, D)
                pairs = n * n / 1e9
                f = keir.Genred(formula, al, reduction_op=red, axis=1, **opts)
                f(*small)  # compiles
                rates = {"keir": pairs / best(lambda: f(*data), args.repeat)}
                if pk is not None and n * n <= args.pykeops_max:
                    g = pk.Genred(formula, al, reduction_op=red, axis=1, **opts)
                    g(*small, backend="CPU")
                    rates["pykeops"] = pairs / best(lambda: g(*data, backend="CPU"), args.repeat)
                if n * n <= 1e8 and not name.startswith("grad"):
                    rates["numpy"] = pairs / best(lambda: numpy_dense(name, data), args.repeat)
                if name == "gauss3" and n * n <= args.c_max:
                    c_loops.setdefault(dtype, c_loop(dtype))
                    rates["C"] = pairs / best(lambda: c_loops[dtype](*data), args.repeat)

                def cell(k):
                    return f"{rates[k]:7.3f}" if k in rates else f"{'-':>7}"

                def ratio(k):
                    return f"{rates['keir'] / rates[k]:7.1f}x" if k in rates else f"{'-':>8}"

                print(
                    f"{name:10} {n:8d} {dtype:8} | {cell('keir')} {cell('pykeops'):>8} "
                    f"{cell('numpy')} {cell('C')} | {ratio('pykeops')} {ratio('numpy'):>7} "
                    f"{ratio('C'):>6}",
                    flush=True,
                )
                rows.append({"case": name, "n": n, "dtype": dtype, "rates": rates})
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"keir": keir.__version__, "unit": "G pairs/s", "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
