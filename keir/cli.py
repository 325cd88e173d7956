"""The `keir` command line: `keir run` (the main job) and `keir compile` (show the IR).

keir run                                   # Gaussian kernel sum, M = N = 100,000, D = 3
keir run "Sum_Reduction(SqDist(x,y), 0)" --aliases "x=Vi(3)" "y=Vj(3)" -M 5000 -N 8000
keir run FORMULA --aliases ... --data x=x.npy --data y=y.npy
keir compile FORMULA --aliases ... --emit keir|autodiff|loops|llvm|llvm-ir|asm
keir opt FILE.mlir --pipeline "keir-simplify,keir-lower-cpu,canonicalize" [--emit llvm-ir]
keir opt --list-passes
keir bundle SPEC.json -o DIR                # kernels ahead of time, for keir.load_bundle
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from .errors import KeirError
from .output_forms import FORMS

DEFAULT_FORMULA = "Sum_Reduction(Exp(-s * SqNorm2(x - y)) * b, 0)"
DEFAULT_ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
DEFAULT_PARAMS = {"s": 1.0}


def _reduction(args):
    from .frontend.formula import ReductionSpec, reduction_name

    if args.reduction is None:
        return None
    return ReductionSpec(reduction_name(args.reduction, args.reduction, 0), args.axis)


def _generated(aliases, M: int, N: int, dtype: str, files: dict, seed: int):
    """Inputs in alias order: .npy files where given, else uniform random data."""
    rng = np.random.default_rng(seed)
    arrays = []
    for a in aliases:
        if a.name in files:
            arrays.append(np.load(files[a.name]))
        elif a.cat == 2:
            value = DEFAULT_PARAMS.get(a.name, 1.0)
            arrays.append(np.full(a.dim, value, dtype=dtype))
        else:
            rows = M if a.cat == 0 else N
            arrays.append(rng.random((rows, a.dim), dtype=dtype))
    return arrays


def _parse_data(items) -> dict:
    files = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep:
            raise KeirError(f"--data expects NAME=FILE.npy, got {item!r}")
        files[name.strip()] = path
    return files


def cmd_run(args) -> int:
    from .compiler import compile_module
    from .frontend.aliases import parse_aliases
    from .frontend.formula import build_kernel

    formula = args.formula or DEFAULT_FORMULA
    aliases = args.aliases or (DEFAULT_ALIASES if args.formula is None else [])
    t0 = time.perf_counter()
    module, _ = build_kernel(formula, aliases, args.dtype, _reduction(args))
    kernel, info = compile_module(module, [a.name for a in parse_aliases(aliases)])
    compile_s = time.perf_counter() - t0
    inputs = _generated(
        parse_aliases(aliases), args.M, args.N, args.dtype, _parse_data(args.data), args.seed
    )
    _, M, N = kernel.prepare(inputs)
    t1 = time.perf_counter()
    out = kernel(*inputs)
    run_s = time.perf_counter() - t1
    print(f"formula   {formula}")
    print(f"aliases   {', '.join(aliases)}")
    print(f"sizes     M = {M:,}  N = {N:,}  dtype = {args.dtype}  output {out.shape}")
    print(f"compile   {compile_s:.3f} s ({'disk cache hit' if info.cache_hit else 'compiled'})")
    print(f"run       {run_s:.3f} s  ({M * N / run_s / 1e9:.3f} G pairs/s)")
    print(f"checksum  sum = {float(out.sum(dtype=np.float64)):.9g}  first row = {out[0][:4]}")
    if args.output:
        np.save(args.output, out)
        print(f"saved     {args.output}")
    return 0


def cmd_compile(args) -> int:
    from .frontend.formula import build_kernel
    from .passes import pipeline

    module, _ = build_kernel(args.formula, args.aliases, args.dtype, _reduction(args))
    if args.target == "gpu" or args.emit in GPU_EMITS:
        return _compile_gpu(module, args)
    if args.emit in ("llvm-ir", "asm"):
        from .output_forms import emit

        print(emit(pipeline.lower(module, "llvm"), args.emit))
    else:
        print(pipeline.lower(module, args.emit))
    return 0


GPU_EMITS = ("gpu", "nvvm", "ptx")


def _compile_gpu(module, args) -> int:
    """--target gpu: the IR after a GPU stage (keir, autodiff, gpu, nvvm), or the PTX text."""
    from .passes import pipeline

    if args.emit == "ptx":
        from .gpu_compiler import compile_ptx

        print(compile_ptx(module, [args.arch])[0][args.arch], end="")
    elif args.emit in pipeline.GPU_STAGES:
        print(pipeline.lower_gpu(module, args.emit, chips=(args.arch,)))
    else:
        stages = ", ".join((*pipeline.GPU_STAGES[:-1], "ptx"))
        raise KeirError(f"--target gpu emits one of {stages}; got --emit {args.emit}")
    return 0


def cmd_opt(args) -> int:
    from .dialect.kernel import kernel_funcs
    from .output_forms import emit
    from .passes.registry import run_pipeline

    for path in args.load or []:
        _load_passes(path)
    if args.list_passes:
        print(_pass_list(), end="")
        return 0
    if not args.file:
        raise KeirError("keir opt: give an .mlir file (or - for stdin)")
    module = parse_module(_read(args.file))
    if kernel_funcs(module):  # IRDL checks types only: dims and variables are checked here
        run_pipeline(module, ["keir-verify"])
    if args.pipeline:
        run_pipeline(module, args.pipeline, print_ir_after_all=args.print_ir_after_all)
    print(emit(module, args.emit))
    return 0


def _load_passes(path: str) -> None:
    """Runs a Python file that registers passes (keir.passes.register), like mlir-opt's
    --load-pass-plugin."""
    import runpy

    if not path.endswith(".py") or not os.path.isfile(path):
        raise KeirError(f"--load expects a Python file that registers passes, got {path!r}")
    runpy.run_path(path, run_name="keir_pass_plugin")


def _read(path: str) -> str:
    try:
        return sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as e:
        raise KeirError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise KeirError(f"cannot read {path}: not UTF-8 text (byte {e.start})") from None


def _pass_list() -> str:
    """keir's passes, their options (type, default, help), and how to name upstream ones."""
    from .passes.registry import all_passes

    lines = []
    for info in all_passes():
        lines.append(f"{info.name:20} {info.description}")
        lines += [f"{'':21}{o.usage()}" for o in info.options]
        doc = info.run_on.__doc__ if any(not o.help for o in info.options) else None
        lines += [f"{'':23}{line.strip()}" for line in (doc or "").strip().splitlines()]
    lines.append(
        "Any other name is an upstream MLIR pass (canonicalize, cse, convert-scf-to-openmp, ...),"
        " its options in braces as in mlir-opt."
    )
    return "\n".join(lines) + "\n"


def parse_module(text: str):
    """Parses MLIR text with the keir dialect loaded; diagnostics become a CompileError."""
    from mlir import ir

    from .dialect.definition import context
    from .errors import CompileError

    try:
        return ir.Module.parse(text, context=context())
    except Exception as e:
        raise CompileError(f"cannot parse the input:\n{e}") from None


def cmd_bundle(args) -> int:
    from .bundle import build_bundle, read_spec

    manifest = build_bundle(read_spec(args.spec), args.output)
    print(f"bundle    {args.output}  ({manifest['build_seconds']:.2f} s)")
    print(f"target    {manifest['target']['machine']}, CPU {manifest['target']['cpu']}")
    for k in manifest["kernels"]:
        print(f"kernel    {k['name']:16} {k['formula']}  [{', '.join(k['aliases'])}]")
    for name, digest in manifest["files"].items():
        print(f"file      {name:24} sha256 {digest[:16]}...")
    return 0


def cmd_formulas(args) -> int:
    from .formula_docs import markdown

    print(markdown(), end="")
    return 0


def _common(p: argparse.ArgumentParser, formula_required: bool) -> None:
    p.add_argument(
        "formula",
        nargs=None if formula_required else "?",
        help="KeOps formula, e.g. 'Sum_Reduction(Exp(-SqDist(x,y)), 0)'",
    )
    p.add_argument("--aliases", nargs="+", metavar="A", help='argument specs, e.g. "x = Vi(3)"')
    p.add_argument("--reduction", help="reduction (if the formula has none), e.g. Sum, ArgMin")
    p.add_argument(
        "--axis",
        type=int,
        default=1,
        choices=(0, 1),
        help="with --reduction: 1 reduces over j (default), 0 over i",
    )
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="keir", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="compile a formula and run it on generated or .npy data")
    _common(run, formula_required=False)
    run.add_argument("-M", type=int, default=100_000, help="number of i rows (generated data)")
    run.add_argument("-N", type=int, default=100_000, help="number of j rows (generated data)")
    run.add_argument("--data", action="append", metavar="NAME=FILE.npy", help="input from .npy")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("-o", "--output", help="save the result to this .npy file")
    run.set_defaults(func=cmd_run)
    comp = sub.add_parser("compile", help="print the IR of a formula at a stage")
    _common(comp, formula_required=True)
    comp.add_argument(
        "--emit",
        default="keir",
        choices=("keir", "autodiff", "loops", "llvm", "llvm-ir", "asm", *GPU_EMITS),
        help="stage to print; gpu, nvvm and ptx are GPU stages (docs/gpu.md)",
    )
    comp.add_argument("--target", default="cpu", choices=("cpu", "gpu"))
    comp.add_argument("--arch", default="sm_80", choices=("sm_80", "sm_90"), help="GPU chip")
    comp.set_defaults(func=cmd_compile)
    opt = sub.add_parser("opt", help="run a pass pipeline over an .mlir file (like mlir-opt)")
    opt.add_argument("file", nargs="?", help="input .mlir file, - for stdin")
    opt.add_argument("--pipeline", help='comma-separated passes, e.g. "keir-lower-cpu,cse"')
    opt.add_argument("--list-passes", action="store_true", help="list keir's passes and options")
    opt.add_argument(
        "--load", action="append", metavar="PASSES.py", help="register the passes of a Python file"
    )
    opt.add_argument(
        "--print-ir-after-all", action="store_true", help="print the IR after each pass to stderr"
    )
    opt.add_argument(
        "--emit",
        default="keir",
        choices=FORMS,
        help="output: the IR as the pipeline left it (keir), or lowered further",
    )
    opt.set_defaults(func=cmd_opt)
    bundle = sub.add_parser("bundle", help="compile the kernels of a JSON/TOML spec ahead of time")
    bundle.add_argument("spec", help='spec file: {"kernels": [{"name", "formula", ...}], ...}')
    bundle.add_argument("-o", "--output", required=True, help="the bundle directory")
    bundle.set_defaults(func=cmd_bundle)
    ref = sub.add_parser("formulas", help="print the formula reference (docs/formulas.md)")
    ref.set_defaults(func=cmd_formulas)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeirError as e:
        print(f"keir: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        return 0


if __name__ == "__main__":
    sys.exit(main())
