"""keir: run, compile, opt, bundle and formulas, the commands of KeOps-style kernel reductions.

keir run                                   # Gaussian kernel sum, M = N = 100,000, D = 3
keir run "Sum_Reduction(SqDist(x,y), 0)" --aliases "x=Vi(3)" "y=Vj(3)" -M 5000 -N 8000
keir run FORMULA --aliases ... --data x=x.npy --data y=y.npy
keir compile FORMULA --aliases ... --emit keir|autodiff|loops|llvm|llvm-ir|asm
keir opt FILE.mlir --pipeline "keir-simplify,keir-lower-cpu,canonicalize" [--emit llvm-ir]
keir opt --list-passes
keir run FORMULA --reduction ArgKMin -K 5 --param s=0.5 --threads 2 -o knn.npy
keir bundle SPEC.json -o DIR                # kernels ahead of time, for keir.load_bundle
keir formulas                              # the formula reference (docs/formulas.md)
"""

from __future__ import annotations

import argparse
import os
import sys

from . import __version__, cli_run
from .cli_run import UsageError
from .errors import KeirError
from .output_forms import FORMS


def _reduction(args):
    from .frontend.formula import ReductionSpec, reduction_name

    if args.reduction is None:
        return None
    axis = 1 if args.axis is None else args.axis
    return ReductionSpec(reduction_name(args.reduction, args.reduction, 0), axis)


def cmd_compile(args) -> int:
    from .frontend.formula import build_kernel
    from .passes import pipeline

    formula = cli_run.formula_of(args)
    if formula is None:
        raise UsageError("keir compile needs a formula")
    dtype = args.dtype or "float32"
    module, _ = build_kernel(formula, args.aliases or [], dtype, _reduction(args))
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


def _common(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument(
        "formula",
        nargs="?",
        default=None,
        help=f"KeOps formula, e.g. 'Sum_Reduction(Exp(-SqDist(x,y)), 0)'{default}",
    )
    cli_run.add_aliases(p)
    p.add_argument("--reduction", help="reduction (if the formula has none), e.g. Sum, ArgMin")
    p.add_argument(
        "--axis",
        type=int,
        choices=(0, 1),
        help="with --reduction: 1 reduces over j (default), 0 over i",
    )
    p.add_argument(
        "--dtype", choices=("float32", "float64"), help="default: float32 (keir run: the data's)"
    )


class _Parser(argparse.ArgumentParser):
    """argparse's errors on one line, `keir: error: argument -M: ...`, exit status 2."""

    def error(self, message: str):
        command = self.prog.removeprefix("keir").strip()
        hint = f" (see keir {command + ' ' if command else ''}--help)"
        self.exit(2, f"keir: error: {message}{hint}\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="keir",
        description=__doc__.splitlines()[0],
        epilog="examples:\n" + __doc__.split("\n", 2)[2].rstrip('"'),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"keir {__version__}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="compile a formula and run it on generated or .npy data")
    _common(run, " (default: the Gaussian kernel sum of the README)")
    cli_run.add_arguments(run)
    run.set_defaults(func=cli_run.cmd_run)
    comp = sub.add_parser("compile", help="print the IR of a formula at a stage")
    _common(comp, "")
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
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # a usage error (printed on one line), --help or --version
        return e.code
    try:
        return args.func(args)
    except KeirError as e:
        print(f"keir: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into head & co.
        return 0
    except KeyboardInterrupt:  # Ctrl-C: the kernel stopped (keir.runtime.background)
        print("keir: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
