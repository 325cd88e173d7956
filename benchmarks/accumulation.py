"""A/B in one process: Gaussian D=3 float32 reduction, M = N = 1e5, per sum_scheme /
accumulator. `--kind LogSumExp` or `SumSoftMaxWeight` (weight b) for the shifted-exp sums,
`--size` for M = N."""

import argparse
import time

import numpy as np

from keir import Genred

FORMULAS = {  # kind -> (formula, formula2)
    "Sum": ("Exp(-SqDist(x, y)) * b", None),
    "LogSumExp": ("-SqDist(x, y)", None),
    "SumSoftMaxWeight": ("-SqDist(x, y)", "b"),
}
parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--kind", choices=FORMULAS, default="Sum")
parser.add_argument("--size", type=int, default=10**5)
opts = parser.parse_args()

rng = np.random.default_rng(0)
M = N = opts.size
x, y = rng.random((M, 3), np.float32), rng.random((N, 3), np.float32)
b = rng.random((N, 1), np.float32)
F, F2 = FORMULAS[opts.kind]
A = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
cases = {
    "direct_sum": dict(sum_scheme="direct_sum"),
    "block_sum": dict(sum_scheme="block_sum"),
    "kahan_scheme": dict(sum_scheme="kahan_scheme"),
    "dtype_acc=float64": dict(dtype_acc="float64"),
}
gs = {k: Genred(F, A, opts.kind, axis=1, formula2=F2, **o) for k, o in cases.items()}
for g in gs.values():
    g(x, y, b)
best = {k: 1e9 for k in cases}
for _ in range(5):
    for k, g in gs.items():
        t = time.perf_counter()
        g(x, y, b)
        best[k] = min(best[k], time.perf_counter() - t)
for k in cases:
    print(f"{k:18s} {best[k] * 1e3:8.1f} ms  {best[k] / best['direct_sum']:.2f}x")
