"""Fixed costs: cold compile + first call of a new formula, and a warm call on tiny data.

    python benchmarks/overhead.py

Cold: an empty kernel cache (KEIR_CACHE_DIR in a new temporary directory), timed from before
`Genred(...)` to after its first call on 1,000 points: first in a fresh process (which also
loads MLIR, the keir dialect and the grammar: `import keir` itself is lazy and reported apart),
then for a second new formula in the same process (the cost of each further formula). Warm:
M = N = 10, median of 20,000 calls, keir and pykeops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

FORMULAS = {
    "gauss": ("Exp(-SqDist(x,y))*b", "Sum", None),
    "lse": ("-SqDist(x,y)", "LogSumExp", None),
    "argkmin": ("SqDist(x,y)", "ArgKMin", 10),
}
ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]

COLD = """
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import keir
t1 = time.perf_counter()
formula, red, k = json.loads(sys.argv[1])
x = np.random.rand(1000, 3).astype(np.float32)
times = [t1 - t0]
for variant in (formula, formula.replace("SqDist(x,y)", "SqDist(x,y)*2")):
    t = time.perf_counter()
    f = keir.Genred(variant, {aliases!r}, reduction_op=red, axis=1, opt_arg=k)
    f(x, x, x[:, :1])
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def cold(name):
    env = dict(os.environ, KEIR_CACHE_DIR=tempfile.mkdtemp(prefix="keir-cold-"))
    code = COLD.format(aliases=ALIASES)
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(FORMULAS[name])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def warm_us(fn, args, n=20_000):
    for _ in range(1000):
        fn(*args)
    times = np.empty(n)
    for k in range(n):
        t = time.perf_counter()
        fn(*args)
        times[k] = time.perf_counter() - t
    return float(np.median(times)) * 1e6


def main():
    for name in FORMULAS:
        imp, first, second = cold(name)
        print(
            f"cold  {name:8} import keir {imp:.3f} s; Genred + compile + first call: "
            f"{first:.3f} s in a fresh process, {second:.3f} s for a further new formula"
        )
    import keir

    rng = np.random.default_rng(0)
    args = [rng.random((10, d), dtype=np.float32) for d in (3, 3, 1)]
    formula, red, _ = FORMULAS["gauss"]
    f = keir.Genred(formula, ALIASES, reduction_op=red, axis=1)
    print(f"warm  keir     M = N = 10: {warm_us(f, args):.1f} us per call (median)")
    try:
        import pykeops.numpy as pk
    except ImportError:
        return
    g = pk.Genred(formula, ALIASES, reduction_op=red, axis=1)
    print(
        f"warm  pykeops  M = N = 10: {warm_us(lambda *a: g(*a, backend='CPU'), args, 2000):.1f} us"
    )


if __name__ == "__main__":
    main()
