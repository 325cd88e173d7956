"""Fusion benchmark: a Gaussian kernel sum and its gradient with respect to x, computed as two
kernels and as one fused kernel (keir.fuse), timed in one run on the same data.

    python benchmarks/fusion.py            # M = N = 50,000, D = 3, float32
    python benchmarks/fusion.py --size 20000 --dtype float64
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import keir


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=50_000, help="M = N")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n, dt = args.size, args.dtype
    x, y = rng.random((n, 3), dtype=dt), rng.random((n, 3), dtype=dt)
    b, e = rng.random((n, 1), dtype=dt), rng.random((n, 1), dtype=dt)
    f = keir.Genred(
        "Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], reduction_op="Sum", axis=1
    )
    g = keir.grad(f, "x")
    fg = keir.fuse(f, g)
    small = [a[:100] for a in (x, y, b, e)]
    f(*small[:3]), g(*small[:3], gradin=small[3]), fg(*small)  # compile outside the timing

    def separate():
        return f(x, y, b), g(x, y, b, gradin=e)

    (v1, d1), (v2, d2) = separate(), fg(x, y, b, e)
    err = max(np.abs(v1 - v2).max() / np.abs(v1).max(), np.abs(d1 - d2).max() / np.abs(d1).max())
    t_sep = best_of(separate, args.repeat)
    t_fused = best_of(lambda: fg(x, y, b, e), args.repeat)
    pairs = n * n / 1e9
    print(
        f"keir {keir.__version__}: Gaussian kernel sum + gradient wrt x, M = N = {n:,}, D = 3, {dt}"
    )
    print(f"two kernels   {t_sep:7.3f} s   ({2 * pairs / t_sep:.3f} G pair-evaluations/s)")
    print(f"fused kernel  {t_fused:7.3f} s   ({2 * pairs / t_fused:.3f} G pair-evaluations/s)")
    print(f"speed-up      {t_sep / t_fused:7.2f}x   (max rel. difference {err:.1e})")


if __name__ == "__main__":
    main()
