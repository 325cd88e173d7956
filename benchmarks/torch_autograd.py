"""keir.torch against keir's numpy path and pykeops.torch: forward + backward, and call cost.

    python benchmarks/torch_autograd.py                 # M = N = 10^5, pykeops included (about 2 min)
    python benchmarks/torch_autograd.py --no-pykeops --size 30000

Work: the Gaussian kernel sum out_i = sum_j exp(-|x_i - y_j|^2) b_j, D = 3, float32, then its
gradient with respect to x for an incoming gradient e: keir.torch as out = f(x, y, b);
out.backward(e) (x.requires_grad), the numpy path as f(x, y, b) then keir.grad(f, "x")(x, y, b,
gradin=e), pykeops.torch like keir.torch. keir: best of --repeat runs, the two paths
alternating (other processes' load falls on both), after a warm-up call (which compiles);
pykeops: one call, after a warm-up on 1,000 points. Call cost: the median of 5,000 calls at
M = N = --small (100).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import keir
import keir.torch as kt

FORMULA, ALIASES = "Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def best_interleaved(fns: dict, repeat: int) -> dict:
    """Best time of each function, runs alternating so that load from other processes (this
    machine is shared) falls on all of them alike; after one warm-up call each."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: min(ts) for name, ts in times.items()}


def once(fn, warm_up) -> float:
    warm_up()  # loads (and on first use compiles) the kernels on small data
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def median_us(fn, n: int = 5000) -> float:
    for _ in range(500):
        fn()
    times = np.empty(n)
    for k in range(n):
        t = time.perf_counter()
        fn()
        times[k] = time.perf_counter() - t
    return float(np.median(times)) * 1e6


def native_call(fn, *arrays):
    """The compiled kernel on prepared arrays (launcher.run_prepared): the floor of a call."""
    kernel = fn._compiled.kernel("float32")
    prepared = kernel.prepare(arrays)
    return lambda: kernel.run_prepared(*prepared)


class _Twice(torch.autograd.Function):
    """A trivial Function (x -> 2x): what torch's autograd costs without any kernel."""

    @staticmethod
    def forward(x):
        return x * 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, e):
        return e * 2


def torch_floor(x, e):
    def step():
        x.grad = None
        _Twice.apply(x).backward(e)

    return step


def data(M: int, N: int):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(M, 3, generator=g), torch.rand(N, 3, generator=g)
    b, e = torch.rand(N, 1, generator=g), torch.rand(M, 1, generator=g)
    return x.requires_grad_(), y, b, e


def torch_step(Genred, x, y, b, e):
    f = Genred(FORMULA, ALIASES, axis=1)

    def step():
        x.grad = None
        f(x, y, b).backward(e)
        return x.grad

    return step


def numpy_step(x, y, b, e):
    f = keir.Genred(FORMULA, ALIASES, axis=1)
    g = keir.grad(f, "x")
    xn, yn, bn, en = (t.detach().numpy() for t in (x, y, b, e))
    return lambda: (f(xn, yn, bn), g(xn, yn, bn, gradin=en))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--small", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-pykeops", action="store_true")
    args = p.parse_args()
    M = N = args.size
    x, y, b, e = data(M, N)
    steps = {"keir.torch": torch_step(kt.Genred, x, y, b, e), "keir numpy": numpy_step(x, y, b, e)}
    rows = best_interleaved(steps, args.repeat)
    if not args.no_pykeops:  # one call: at 0.1-0.3 G pairs/s it takes minutes
        import pykeops.torch as pk

        small = torch_step(pk.Genred, *data(1000, 1000))
        rows["pykeops.torch"] = once(torch_step(pk.Genred, x, y, b, e), small)
    print(f"forward + backward (d/dx), Gaussian sum, M = N = {M:,}, D = 3, float32")
    for name, t in rows.items():
        ratio = rows[name] / rows["keir.torch"]
        print(f"  {name:14} {t:8.3f} s   {2 * M * N / t / 1e9:6.2f} G pairs/s   {ratio:5.2f}x")

    x, y, b, e = data(args.small, args.small)
    f, fn = kt.Genred(FORMULA, ALIASES, axis=1), keir.Genred(FORMULA, ALIASES, axis=1)
    xd = x.detach()
    xn, yn, bn, en = (t.detach().numpy() for t in (x, y, b, e))
    costs = {
        "keir numpy forward": median_us(lambda: fn(xn, yn, bn)),
        "keir.torch forward": median_us(lambda: f(xd, y, b)),
        "keir.torch forward, x.requires_grad": median_us(lambda: f(x, y, b)),
        "keir numpy forward + keir.grad": median_us(numpy_step(x, y, b, e)),
        "keir.torch forward + backward": median_us(torch_step(kt.Genred, x, y, b, e)),
    }
    native = median_us(native_call(fn, xn, yn, bn))  # the two kernels' own time
    native_grad = median_us(native_call(keir.grad(fn, "x").genred, xn, yn, bn, en))
    floor = median_us(torch_floor(x.detach().clone().requires_grad_(), torch.ones_like(x)))
    if not args.no_pykeops:  # the same calls through pykeops.torch, for scale
        import pykeops.torch as pk

        g = pk.Genred(FORMULA, ALIASES, axis=1)
        costs["pykeops.torch forward"] = median_us(lambda: g(xd, y, b), 1000)
        costs["pykeops.torch forward, x.requires_grad"] = median_us(lambda: g(x, y, b), 1000)
        costs["pykeops.torch forward + backward"] = median_us(
            torch_step(pk.Genred, x, y, b, e), 1000
        )
    print(f"call cost, M = N = {args.small}, median of 5,000 calls. Overhead: the time over the")
    print(f"kernels' own (launcher.run_prepared on prepared arrays: forward {native:.1f} us,")
    print(f"gradient {native_grad:.1f} us), per kernel call. torch's autograd alone (a Function")
    print(f"computing 2x, forward + backward) costs {floor:.1f} us.")
    for name, us in costs.items():
        calls = 2 if "+" in name else 1  # forward + gradient: two kernels
        work = native + (native_grad if calls == 2 else 0)
        base = costs["keir numpy forward" + (" + keir.grad" if calls == 2 else "")]
        if name.startswith("pykeops"):
            ours = costs[name.replace("pykeops.torch", "keir.torch")]
            print(f"  {name:36} {us:7.1f} us   ({us / ours:.1f}x keir.torch's time)")
            continue
        print(
            f"  {name:36} {us:7.1f} us   ({us - base:+.1f} us over numpy; overhead "
            f"{(us - work) / calls:.1f} us per call)"
        )


if __name__ == "__main__":
    main()
