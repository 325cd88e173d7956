"""keir.dask on a 2-worker dask.distributed LocalCluster against in-process keir, same run.

    python benchmarks/dask_scaling.py                      # M = N = 2e5 and 1e6, D = 3
    python benchmarks/dask_scaling.py --sizes 200000 --blocks 4

The Gaussian kernel sum, float32. In-process keir uses both cores through OpenMP; each dask
worker is a process with one thread and one OpenMP thread (OMP_NUM_THREADS=1 in its
environment), so the two configurations use the same two cores and the ratio is the cost of
the engine (graph, scheduling, transfers, the merge of partial states). In-process keir runs
first, before the cluster starts: each configuration has the machine to itself. A first call
of each configuration compiles (and, on the workers, loads the kernel once per process) and is not
timed. The last lines estimate a 100-node run at M = N = 10^9 from the measured time per task.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

FORMULA = "Exp(-SqDist(x,y))*b"
ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def _data(n: int, rng):
    return [rng.random((n, d), dtype=np.float32) for d in (3, 3, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--blocks", type=int, default=4, help="row blocks per variable")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    import dask.array as da
    import distributed

    import keir
    import keir.dask as kd

    rng = np.random.default_rng(0)
    numpy_f = keir.Genred(FORMULA, ALIASES, "Sum", 1)
    dask_f = kd.Genred(FORMULA, ALIASES, "Sum", 1)
    small = _data(1000, rng)
    numpy_f(*small)
    # In-process keir first, alone on the machine: with a LocalCluster alive (its workers idle)
    # the same call ran at 2.4 instead of 4.4 G pairs/s, so each configuration gets the
    # machine to itself.
    datasets = {n: _data(n, rng) for n in args.sizes}
    in_process = {}
    for n, (x, y, b) in datasets.items():
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            want = numpy_f(x, y, b)
        in_process[n] = ((time.perf_counter() - t0) / args.repeat, want)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"OMP_NUM_THREADS": "1"},
    )
    client = distributed.Client(cluster)
    client.compute(dask_f(*(da.from_array(a, chunks=500) for a in small)), sync=True)
    print(f"machine: {os.cpu_count()} cores; dask {da.__name__} workers: 2 x 1 thread")
    print(f"{'M = N':>10} {'tasks':>6} {'keir s':>8} {'dask s':>8} {'ratio':>6} {'G pairs/s':>10}")
    per_task = None
    for n in args.sizes:
        x, y, b = datasets[n]
        keir_s, want = in_process[n]
        chunk = -(-n // args.blocks)
        xd, yd, bd = (da.from_array(a, chunks=(chunk, -1)) for a in (x, y, b))
        xd, yd, bd = client.persist([xd, yd, bd])  # the data lives on the workers, as it would
        distributed.wait([xd, yd, bd])
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            got = client.compute(dask_f(xd, yd, bd), sync=True)
        dask_s = (time.perf_counter() - t0) / args.repeat
        err = float(np.abs(got - want).max() / np.abs(want).max())
        tasks = args.blocks * args.blocks
        per_task = (dask_s * 2 / tasks, (n / args.blocks) ** 2)  # (seconds, pairs) per task
        print(
            f"{n:>10,} {tasks:>6} {keir_s:>8.2f} {dask_s:>8.2f} {dask_s / keir_s:>6.2f} "
            f"{n * n / dask_s / 1e9:>10.2f}   (max rel. diff {err:.1e})"
        )
    client.close()
    cluster.close()
    seconds, pairs = per_task
    rate = pairs / seconds  # pairs per second per core, from the last size
    total = 1e18
    cores = 100 * 2
    block = 2.5e5  # rows per block: 4000 x 4000 = 1.6e7 tasks
    n_tasks = (1e9 / block) ** 2
    print(
        f"estimate, M = N = 1e9 on 100 nodes of 2 cores: {total:.0e} pairs at {rate / 1e9:.2f} "
        f"G pairs/s per core -> {total / rate / cores / 3600:.0f} h wall-clock on {cores} cores; "
        f"{n_tasks:.1e} tasks of {block * block:.1e} pairs ({block * block / rate:.0f} s each)"
    )


if __name__ == "__main__":
    main()
