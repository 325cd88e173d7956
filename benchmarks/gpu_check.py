"""keir's GPU backend on a real GPU, in one command: the GPU test suite, the user paths and the
benchmark table against pykeops and torch, written to --out as JSON and markdown.

    python benchmarks/gpu_check.py --out DIR                 # on a GPU machine, full install
    python benchmarks/gpu_check.py --prepare gpu_pack        # here: compile kernels + references
    python benchmarks/gpu_check.py --pack gpu_pack --out DIR # there: numpy + keir's runtime only
    python benchmarks/gpu_check.py --emulate --quick         # no GPU: the suite on the emulation

The suite (gpu_suite.py) runs every reduction, float32 and float64, both axes, at sizes that
leave partial blocks and tiles, and streamed in 3+ x 3+ chunks under a forced memory budget,
against the CPU backend. Exit status 1 when any check fails, 2 when nothing could run. See the
README ("The GPU check") and docs/gpu.md for the command a GPU machine runs and its duration.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import gpu_worker

import gpu_bench
import gpu_pack
import gpu_suite
import gpu_user_paths

QUICK_KINDS = ("Sum", "ArgKMin", "LogSumExp", "SumSoftMaxWeight", "Min_ArgMin", "KMin")
SECTIONS = ("suite", "user", "bench")
EMULATED_BENCH_SIZES = [300, 1000]  # the benchmark code path on the emulation: not timings


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="gpu_check_out", help="folder for gpu_check.{json,md,log}")
    p.add_argument("--emulate", action="store_true", help="run the suite on the CPU emulation")
    p.add_argument("--prepare", metavar="DIR", help="write a pack of kernels and references")
    p.add_argument("--pack", metavar="DIR", help="take kernels and references from a pack")
    p.add_argument("--quick", action="store_true", help=f"kinds {', '.join(QUICK_KINDS)}; 1e5")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument("--kinds", nargs="+", help="reductions of the suite (default: all)")
    p.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    p.add_argument("--axes", nargs="+", type=int, default=[0, 1])
    p.add_argument("--cases", nargs="+", help="benchmark cases (default: all, or the pack's)")
    p.add_argument("--sizes", nargs="+", type=int, help="benchmark M = N (default 1e5 1e6)")
    p.add_argument("--max-call", type=float, default=60.0, help="skip longer benchmark calls")
    p.add_argument("--deadline", type=float, default=480.0, help="seconds; then skip the rest")
    p.add_argument("--device", type=int, default=0, help="CUDA device ordinal")
    p.add_argument(
        "--isolation",
        choices=("auto", "worker", "none"),
        default="auto",
        help="suite cases in a child process replaced after a fault (auto: on CUDA)",
    )
    args = p.parse_args(argv)
    if args.quick and not args.kinds:
        args.kinds = list(QUICK_KINDS)
    if not args.sizes:
        args.sizes = EMULATED_BENCH_SIZES if args.emulate else [100_000] if args.quick else None
        args.sizes = args.sizes or list(gpu_bench.SIZES)
    return args


class Report:
    """Everything printed goes to the log too; sections land in the JSON as they finish."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        self.out, self.data = (
            out,
            {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())},
        )
        self.log_file = open(out / "gpu_check.log", "w")  # closed in finish
        self.failed = 0

    def log(self, line: str = "") -> None:
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def section(self, name: str, value) -> None:
        self.data[name] = value
        (self.out / "gpu_check.json").write_text(json.dumps(self.data, indent=1, default=str))

    def results(self, name: str, results: list) -> None:
        self.failed += sum(not r.ok for r in results)
        self.section(name, [vars(r) for r in results])

    def finish(self, markdown: str) -> None:
        (self.out / "gpu_check.md").write_text(markdown)
        self.log_file.close()


def open_device(args, report: Report):
    """The device the suite runs on: the emulation, or CUDA device --device."""
    if args.emulate:
        from keir.runtime.emulated import EmulatedDevice

        return EmulatedDevice()
    from keir.runtime import cuda

    dev = cuda.device(args.device)
    info = {
        "name": dev.name,
        "capability": list(dev.capability),
        "chip": dev.chip,
        "budget_bytes": dev.memory_budget(),
    }
    report.log(f"device {dev.ordinal}: {dev.name}, compute capability {dev.capability}, {dev.chip}")
    report.section("device", info)
    return dev


def open_source(args, device):
    if args.pack:
        target = gpu_pack.EMULATED if args.emulate else None
        return gpu_pack.PackSource(args.pack, device, target)
    return gpu_pack.LiveSource(device, emulate=args.emulate)


def suite_cases(args, source) -> list:
    if isinstance(source, gpu_pack.PackSource):
        cases = source.cases()
    else:
        cases = gpu_pack.all_cases(None, tuple(args.dtypes), tuple(args.axes))
    keep = set(args.kinds) if args.kinds else None
    return [
        c
        for c in cases
        if (keep is None or c.kind in keep) and c.dtype in args.dtypes and c.axis in args.axes
    ]


def run_checks(args, report: Report) -> str:
    """Runs the selected sections; returns the markdown report."""
    device = open_device(args, report)
    source = open_source(args, device)
    md = [f"# keir GPU check, {report.data['started']}", ""]
    if "device" in report.data:
        d = report.data["device"]
        md += [f"Device: {d['name']} (compute capability {d['capability']}, PTX {d['chip']})", ""]
    if "suite" in args.only:
        md += suite_section(args, source, report)
    if "user" in args.only and args.emulate:
        report.log("user paths: skipped (--emulate: Genred and keir.torch need a CUDA device)")
    if "user" in args.only and not args.emulate:
        results = gpu_user_paths.genred_checks(source, device)
        results += gpu_user_paths.torch_checks(device)
        results += gpu_user_paths.torch_pointer_checks(source, device)
        for r in results:
            report.log(r.line())
        report.results("user", results)
        md += ["## User paths (Genred backends, keir.torch)", ""] + [
            f"    {r.line()}" for r in results
        ]
        md.append("")
    if "bench" in args.only:
        md += bench_section(args, source, device, report)
    return "\n".join(md) + "\n"


def suite_section(args, source, report: Report) -> list[str]:
    sizes = (
        source.sizes()
        if isinstance(source, gpu_pack.PackSource)
        else (gpu_suite.EMULATED_SIZES if args.emulate else gpu_suite.DEVICE_SIZES)
    )
    cases = suite_cases(args, source)
    report.log(f"GPU suite: {len(cases)} cases, sizes {sizes.plain}, chunked {sizes.chunked}")
    if args.isolation == "worker" or (args.isolation == "auto" and not args.emulate):
        spec = gpu_worker.SourceSpec(args.pack, args.emulate, args.device)
        results = gpu_worker.run_isolated(spec, cases, sizes, log=report.log)
    else:
        results = gpu_suite.run_suite(source, cases, sizes, log=report.log)
    report.results("suite", results)
    summary = gpu_suite.summary(results)
    report.log(summary)
    failed = [r for r in results if not r.ok]
    md = ["## GPU suite", "", summary, ""]
    if failed:
        md += ["Failures:", ""] + [f"    {r.line()}" for r in failed] + [""]
    return md


def bench_section(args, source, device, report: Report) -> list[str]:
    clock = gpu_bench.Clock(START + args.deadline, args.max_call)
    programs, md = {}, ["## Benchmark (float32, seconds, reduced over j)", ""]
    names = args.cases or (
        [b.removeprefix("bench:") for b in source.manifest["bench"]]
        if isinstance(source, gpu_pack.PackSource)
        else list(gpu_bench.BENCH)
    )
    for name in names:
        try:
            programs[name] = bench_program(args, source, device, name)
        except Exception as e:
            report.failed += 1
            report.log(f"FAIL bench {name}: cannot get its kernel: {type(e).__name__}: {e}")
    report.log(gpu_bench.TABLE_HEAD)
    rows = gpu_bench.bench_rows(programs, device, list(programs), args.sizes, clock, report.log)
    report.failed += sum("failed" in r["keir"] for r in rows)
    report.section("bench", rows)
    return md + [gpu_bench.TABLE_HEAD] + [gpu_bench.row_line(r) for r in rows] + [""]


def bench_program(args, source, device, name: str):
    if isinstance(source, gpu_pack.PackSource):
        return source.program(f"bench:{name}")
    module = gpu_bench.bench_module(name)
    if args.emulate:
        from keir.gpu_compiler import emulated_program

        return emulated_program(module, block=gpu_pack.EMULATED_BLOCK)
    from keir.gpu_compiler import compile_gpu

    return compile_gpu(module, device=device).program


def prepare(args) -> int:
    kinds = args.kinds
    cases = gpu_pack.all_cases(kinds, tuple(args.dtypes), tuple(args.axes))
    sizes = gpu_suite.EMULATED_SIZES if args.emulate else gpu_suite.DEVICE_SIZES
    bench = {f"bench:{n}": gpu_bench.bench_module(n) for n in args.cases or gpu_bench.BENCH}
    manifest = gpu_pack.prepare(args.prepare, cases, sizes, bench, emulate=args.emulate)
    for key, chips in manifest["ptxas"].items():
        print(f"ptxas {key}: " + " | ".join(f"{c}: {r}" for c, r in chips.items()))
    size = sum(f.stat().st_size for f in Path(args.prepare).iterdir())
    print(
        f"wrote {args.prepare}: {len(cases)} cases, {len(bench)} benchmark kernels, {size:,} bytes"
    )
    return 0


START = time.perf_counter()


def main(argv=None) -> int:
    args = parse(argv)
    if args.prepare:
        return prepare(args)
    report = Report(Path(args.out))
    report.log(f"keir GPU check: python {platform.python_version()}, argv {argv or sys.argv[1:]}")
    try:
        markdown = run_checks(args, report)
    except Exception as e:
        from keir.errors import KeirError

        if not isinstance(e, KeirError):
            raise
        report.log(f"cannot run: {type(e).__name__}: {e}")
        report.finish(f"# keir GPU check\n\ncannot run: {e}\n")
        return 2
    verdict = "FAILED" if report.failed else "PASSED"
    report.log(f"{verdict}: {report.failed} failing check(s); report in {args.out}")
    report.section("verdict", {"failed": report.failed})
    report.finish(markdown + f"\n**{verdict}**: {report.failed} failing check(s)\n")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
