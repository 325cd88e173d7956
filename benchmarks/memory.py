"""What one call adds to peak memory: the Gaussian kernel sum at M = N = 10^6, D = 3.

    python benchmarks/memory.py              # M = N = 1,000,000, float32 (about 2.5 min)
    python benchmarks/memory.py -n 100000

The inputs are made and the kernel compiled (on 1,000 points) first; the figure is the growth
of the process's peak resident set (ru_maxrss) across the timed call: the launcher's copies
(tiles of the reduced-index arrays) and the output, never an M x N matrix.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

import keir


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1_000_000)
    p.add_argument("--dtype", default="float32")
    args = p.parse_args()
    rng = np.random.default_rng(0)
    x, y = (rng.random((args.n, 3), dtype=args.dtype) for _ in range(2))
    b = rng.random((args.n, 1), dtype=args.dtype)
    f = keir.Genred("Exp(-SqDist(x,y))*b", ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"], "Sum", axis=1)
    f(x[:1000], y[:1000], b[:1000])
    inputs_mb = sum(a.nbytes for a in (x, y, b)) / 2**20
    before = peak_mb()
    t = time.perf_counter()
    f(x, y, b)
    seconds = time.perf_counter() - t
    print(
        f"M = N = {args.n:,} {args.dtype}: {seconds:.1f} s, {args.n**2 / seconds / 1e9:.2f} G pairs/s;"
        f" inputs {inputs_mb:.0f} MB; peak RSS {before:.0f} MB -> {peak_mb():.0f} MB"
        f" (+{peak_mb() - before:.0f} MB)"
    )


if __name__ == "__main__":
    main()
