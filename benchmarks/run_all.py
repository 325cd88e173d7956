"""Regenerates keir's part of docs/benchmarks.md from one run: the table of keir and every
baseline (benchmarks/table.py, benchmarks/baselines.py), the roofline of each case
(benchmarks/roofline.py) and the picture of throughput against size (benchmarks/plot.py,
docs/benchmarks.png), with the CPU model, its flags, the load and the date read now.

    python benchmarks/run_all.py                 # writes docs/benchmarks.md (about 15 min)
    python benchmarks/run_all.py --quick -o -    # small sizes, printed: a smoke run

Only the text between the markers below is replaced; the rest of the page (other sections,
other authors' rows) is kept. Without the markers the section is added at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import keir

import roofline
import table

BEGIN = "<!-- BEGIN benchmarks/run_all.py: generated, do not edit by hand -->"
END = "<!-- END benchmarks/run_all.py -->"
DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    from keir.target import host

    cpu = host()
    isa = "AVX-512" if "avx512f" in cpu.features else "AVX2" if "avx2" in cpu.features else "SSE"
    load = os.getloadavg()
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, LLVM CPU `{cpu.name}`, {isa} "
        f"({cpu.vector_bytes * 8}-bit vectors); Python {platform.python_version()}; "
        f"load average at the start {load[0]:.2f}"
    )


def section(quick: bool, tools=table.TOOLS, plot=None, plot_path=None) -> str:
    """The generated section; with `plot` (benchmarks/plot.py) also the throughput-against-size
    picture, written to `plot_path`."""
    cmd = "python benchmarks/run_all.py" + (" --quick" if quick else "")
    cmd += "" if "pykeops" in tools else " --no-pykeops"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [BEGIN, "", "## The table: keir and every baseline, with the roofline", ""]
    lines += [f"`{cmd}`, {now}, keir {keir.__version__}. Machine: {machine()}.", ""]
    lines += [
        "G pairs/s = M N / seconds / 1e9 (higher is better); ratios are keir's rate over the",
        "other's. The baselines and why each is fair: benchmarks/baselines.py (numpy and torch",
        "dense, by the GEMM trick / cdist, in row chunks: the fastest of 1 MB, 4 MB and 256 MB),",
        "benchmarks/gauss_loop.c (the C loops,",
        f"`cc {' '.join(table.baselines.C_FLAGS)}`), FAISS `IndexFlatL2` (ArgKMin, float32).",
        "",
        "```",
    ]
    small = [3000] if quick else [10_000, 100_000]
    d3 = [c for c in table.CASES if table.CASES[c][1] == 3]
    # pykeops and the dense baselines (0.1-0.5 G pairs/s) at 10^4 only (a minute a call at
    # 10^5), but pykeops also at 10^5 for ArgKMin, whose targets name that size (D = 64 in
    # float32 only: pykeops takes about two minutes there)
    limits = {"pykeops": 1e7 if quick else 1e8, "numpy": 1e8, "torch": 1e8}
    runs = [
        ([c for c in d3 if c != "argkmin3"], small, limits),
        (["argkmin3"], small, limits | {"pykeops": 1e10}),
        (["gauss64", "argkmin64"], small[:1], limits),
    ]
    if not quick:
        runs.append((["argkmin64"], small[1:], limits | {"pykeops": 1e10}, ["float32"]))
    out = []
    for cases, sizes, caps, *dtypes in runs:
        dtypes = dtypes[0] if dtypes else ["float32", "float64"]
        out += table.measure(cases, sizes, dtypes, 2, tools, caps, log=lambda s: None)
    lines += table.header(2).splitlines() + [table.format_row(r) for r in out] + ["```", ""]
    if plot is not None:  # throughput against size, the Gaussian in float32
        sizes = [1000, 3000] if quick else [1000, 3000, 10_000, 30_000, 100_000]
        rows = table.measure(["gauss3"], sizes, ["float32"], 2, tools, limits, log=lambda s: None)
        plot.draw({"keir": keir.__version__, "rows": rows}, plot_path, cpu_model())
        lines += [f"![throughput against size, Gaussian float32]({plot_path.name})", ""]
    ghz, cores = roofline.measured_ghz(), os.cpu_count()
    limits = roofline.measured_limits(ghz)
    lines += [
        "Roofline (`python benchmarks/roofline.py`): keir's hot loop cut from its assembly",
        "(ArgKMin: its path when no value enters the K best, the steady state at large N; D = 64:",
        "the loop over components, 4 of the 64 per iteration, without the exp or the K-min test",
        "after it, so an upper bound); its cycles per iteration at the issue limits measured on",
        "this core (vector arithmetic at the rate of independent FMAs of its width, divides and",
        "square roots also at the divider's, loads and stores at theirs; register moves free),",
        f"at the measured clock {ghz:.2f} GHz (dependent imuls) on {cores} cores. llvm-mca's",
        f"estimate with LLVM's scheduling model of `{roofline.model_cpu()}` is shown beside it.",
        "Fraction: keir's rate at the largest size above over the ceiling.",
        "",
        roofline.describe_limits(limits) + ".",
        "",
        "| case | dtype | instructions / vector ones per iteration | vector per 16 pairs | "
        "cycles per iteration (pairs) | llvm-mca cycles | ceiling G pairs/s | keir | fraction |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case in roofline.ROOFLINE_CASES:
        for dtype in ("float32", "float64"):
            r = roofline.analyse(case, dtype, ghz, cores, limits)
            rate = [x["rates"]["keir"] for x in out if x["case"] == case and x["dtype"] == dtype]
            keir_rate = rate[-1] if rate else float("nan")
            lines.append(
                f"| {case} | {dtype} | {r['instructions']} / {r['vector']} | {r['per16']:.1f} | "
                f"{r['cycles']:.2f} ({r['pairs']}) | {r['mca']:.2f} | {r['ceiling']:.2f} | "
                f"{keir_rate:.2f} | {keir_rate / r['ceiling']:.0%} |"
            )
    return "\n".join(lines + ["", END]) + "\n"


def splice(doc: str, new: str) -> str:
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        return head + new.rstrip("\n") + rest.split(END, 1)[1]
    return doc.rstrip("\n") + "\n\n" + new


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="M = N = 3000 only, pykeops to 1e7 pairs")
    p.add_argument("-o", "--output", default=str(DOC), help="the page to update, or - to print")
    p.add_argument("--no-pykeops", action="store_true", help="leave pykeops out (its compiles)")
    args = p.parse_args()
    tools = [t for t in table.TOOLS if not (args.no_pykeops and t == "pykeops")]
    if args.output == "-":
        sys.stdout.write(section(args.quick, tools))
        return
    import plot  # matplotlib: the bench extra

    path = Path(args.output)
    new = section(args.quick, tools, plot, path.parent / "benchmarks.png")
    path.write_text(splice(path.read_text() if path.exists() else "", new))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
