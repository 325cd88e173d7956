"""One command, one run, one table: keir against pykeops 2.3 (CPU), numpy and torch dense, a
plain C loop and FAISS, in G pairs/s (M * N / seconds / 1e9) and as ratios.

    python benchmarks/table.py                         # the default cases and sizes
    python benchmarks/table.py --sizes 10000 --cases gauss3 argkmin3 --no-pykeops
    python benchmarks/table.py --json out.json ...     # also write the rates (for plot.py)

keir and every baseline: best of --repeat calls (more for short calls: as many as fill 0.5 s),
after a first call on 1,000 points (keir's and pykeops' compile; the others warm up). The
baselines, and why each is fair, are in benchmarks/baselines.py: numpy and torch dense in row
chunks (up to --dense-max pairs), C = benchmarks/gauss_loop.c (D = 3 cases) compiled now with
cc -O3 -march=native -ffast-math -fopenmp, FAISS IndexFlatL2 for ArgKMin in float32. pykeops is
skipped above --pykeops-max pairs (it runs at 0.3-0.5 G pairs/s: 10^10 pairs take half a
minute per call). The defaults include M = N = 10^6 for D = 3: hours in all;
benchmarks/run_all.py runs the sizes docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import keir

import baselines

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


TOOLS = ("keir", "pykeops", "numpy", "torch", "C", "faiss")


def baseline_runners(name, dtype, tools):
    """{tool: [functions of the inputs]} for the baselines of this case
    (benchmarks/baselines.py): numpy and torch dense once per chunk size of CHUNK_CHOICES
    (measure keeps the fastest), C and FAISS once."""
    chunked = baselines.CHUNK_CHOICES
    makers = {
        "numpy": lambda: [baselines.numpy_dense(name, c) for c in chunked],
        "torch": lambda: [baselines.torch_dense(name, c) for c in chunked],
        "C": lambda: [baselines.c_loop(name, dtype)],
        "faiss": lambda: [baselines.faiss_flat(name, dtype)],
    }
    found = {tool: makers[tool]() for tool in makers if tool in tools}
    return {tool: fns for tool, fns in found.items() if fns[0] is not None}


def measure(cases, sizes, dtypes, repeat=2, tools=TOOLS, limits=None, log=print):
    """Rows {case, n, dtype, rates {tool: G pairs/s}}, printed as they come."""
    limits = {"pykeops": 1e9, "numpy": 1e10, "torch": 1e10, "C": 1e11, "faiss": 1e11} | (
        limits or {}
    )
    pk = None
    if "pykeops" in tools:
        try:
            import pykeops.numpy as pk
        except ImportError:
            pk = None
    rng = np.random.default_rng(0)
    log(header(repeat))
    rows = []
    for name in cases:
        formula, D, red, opts = CASES[name]
        for n in sizes:
            if n > limits.get(f"max_d{D}", float("inf")):
                continue
            for dtype in dtypes:
                data = inputs(name, D, n, dtype, rng)
                small = [a[:1000] for a in data]
                al = aliases(name, D)
                pairs = n * n / 1e9
                f = keir.Genred(formula, al, reduction_op=red, axis=1, **opts)
                f(*small)  # compiles
                rates = {"keir": pairs / best(lambda: f(*data), repeat)}
                if pk is not None and n * n <= limits["pykeops"]:
                    g = pk.Genred(formula, al, reduction_op=red, axis=1, **opts)
                    g(*small, backend="CPU")
                    rates["pykeops"] = pairs / best(lambda: g(*data, backend="CPU"), repeat)
                for tool, fns in baseline_runners(name, dtype, tools).items():
                    if n * n <= limits[tool]:
                        for fn in fns:
                            fn(*small)  # warms up (threads, FAISS' and torch's first calls)
                            rate = pairs / best(lambda: fn(*data), repeat)
                            rates[tool] = max(rate, rates.get(tool, 0.0))
                row = {"case": name, "n": n, "dtype": dtype, "rates": rates}
                log(format_row(row))
                rows.append(row)
    return rows


def header(repeat):
    cells = " ".join(f"{t:>7}" for t in TOOLS)
    ratios = " ".join(f"{'/' + t:>8}" for t in TOOLS[1:])
    head = f"{'case':10} {'M=N':>7} {'dtype':7} | {cells} | {ratios}"
    return (
        f"keir {keir.__version__}, G pairs/s, best of {repeat} calls or of {MIN_SECONDS} s of "
        f"calls\n{head}\n{'-' * len(head)}"
    )


def format_row(row):
    rates = row["rates"]
    cells = " ".join(f"{rates[t]:7.3f}" if t in rates else f"{'-':>7}" for t in TOOLS)
    ratios = " ".join(
        f"{rates['keir'] / rates[t]:7.1f}x" if t in rates else f"{'-':>8}" for t in TOOLS[1:]
    )
    return f"{row['case']:10} {row['n']:7d} {row['dtype']:7} | {cells} | {ratios}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    p.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    p.add_argument("--pykeops-max", type=float, default=1e9, help="largest M*N run by pykeops")
    p.add_argument("--no-pykeops", action="store_true")
    p.add_argument("--dense-max", type=float, default=1e10, help="largest M*N of numpy, torch")
    p.add_argument("--c-max", type=float, default=1e11, help="largest M*N run by the C loop")
    p.add_argument("--max-d3", type=int, default=1_000_000, help="largest M=N for D = 3 cases")
    p.add_argument("--max-d64", type=int, default=100_000, help="largest M=N for D = 64 cases")
    p.add_argument("--json", help="also write the rates to this JSON file")
    args = p.parse_args()
    tools = [t for t in args.tools if not (args.no_pykeops and t == "pykeops")]
    limits = {"pykeops": args.pykeops_max, "numpy": args.dense_max, "torch": args.dense_max}
    limits |= {"C": args.c_max, "max_d3": args.max_d3, "max_d64": args.max_d64}
    rows = measure(args.cases, args.sizes, args.dtypes, args.repeat, tools, limits)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"keir": keir.__version__, "unit": "G pairs/s", "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
