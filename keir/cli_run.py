"""`keir run`: compile a formula and run it once on generated or .npy data, with a summary.

Its flags are checked before anything runs, each mistake reported on one line naming the flag
(`keir: error: ...`, exit status 2). The result is computed by the same runtime calls as the
API (keir.runtime.results), so `-o` saves exactly what `Genred` returns: one array as .npy, a
(values, indices) pair as an .npz holding `values` and `indices`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import numpy as np

from .errors import KeirError

DEFAULT_FORMULA = "Sum_Reduction(Exp(-s * SqNorm2(x - y)) * b, 0)"
DEFAULT_ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
DEFAULT_PARAMS = {"s": 1.0}
PAIRS = ("Min_ArgMin", "Max_ArgMax", "KMin_ArgKMin")

_ALIAS = re.compile(r"^\s*[A-Za-z_]\w*\s*=\s*(Vi|Vj|Pm|Var)\s*\(")
_ASSIGNMENT = re.compile(r"^\s*[A-Za-z_]\w*\s*=")


class UsageError(KeirError):
    """A wrong `keir run` flag: reported as `keir: error: ...`, exit status 2."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


class _ItemsOrFormula(argparse.Action):
    """--aliases/--data/--param take several items (and may be repeated); a word that is not
    such an item is the formula, written after the flag."""

    def __init__(self, *args, pattern: re.Pattern, **kwargs):
        super().__init__(*args, nargs="+", **kwargs)
        self.pattern = pattern

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        for value in values:
            if self.pattern.match(value):
                items.append(value)
            else:  # (argparse may still set the positional formula to None after this)
                namespace.formulas_after_flags = [*_after_flags(namespace), value]
        setattr(namespace, self.dest, items)


def _after_flags(namespace) -> list[str]:
    return getattr(namespace, "formulas_after_flags", [])


def formula_of(args) -> str | None:
    """The formula, written before the flags or after --aliases/--data/--param."""
    given = [f for f in (args.formula, *_after_flags(args)) if f is not None]
    if len(given) > 1:
        raise UsageError(f"two formulas given: {given[0]!r} and {given[1]!r}")
    return given[0] if given else None


def add_arguments(run: argparse.ArgumentParser) -> None:
    """The flags of `keir run` (the formula, --aliases, --reduction, --axis, --dtype are
    shared with `keir compile`)."""
    item = dict(action=_ItemsOrFormula, default=None)
    run.add_argument(
        "-M", type=positive_int, default=100_000, help="i rows of generated data (default 100,000)"
    )
    run.add_argument(
        "-N", type=positive_int, default=100_000, help="j rows of generated data (default 100,000)"
    )
    run.add_argument("-K", type=positive_int, help="K of --reduction KMin, ArgKMin or KMin_ArgKMin")
    run.add_argument(
        "--data",
        metavar="NAME=FILE.npy",
        pattern=_ASSIGNMENT,
        help="inputs from .npy files (several per flag, or repeat it); the dtype follows the "
        "data unless --dtype is given",
        **item,
    )
    run.add_argument(
        "--param",
        metavar="NAME=V[,V...]",
        pattern=_ASSIGNMENT,
        help="value of a parameter (Pm); parameters not given are 1.0",
        **item,
    )
    run.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    run.add_argument("--backend", default="auto", help="CPU, GPU or auto (default: auto)")
    run.add_argument(
        "--threads",
        type=positive_int,
        help="OpenMP threads (default: $OMP_NUM_THREADS, else all cores)",
    )
    run.add_argument("-o", "--output", help="save the result: .npy, or .npz for a pair")


def add_aliases(p: argparse.ArgumentParser) -> None:
    """--aliases: several specs (the flag may be repeated); a word that is no spec is the
    formula, so it may come before or after the flag."""
    p.add_argument(
        "--aliases",
        metavar="A",
        action=_ItemsOrFormula,
        pattern=_ALIAS,
        default=None,
        help='argument specs, e.g. "x = Vi(3)" "y = Vj(3)"',
    )


def cmd_run(args) -> int:
    from .frontend.aliases import parse_aliases

    formula, aliases = _formula(args)
    parsed = parse_aliases(aliases)
    files = _pairs(args.data, "--data")
    params = {name: _floats(name, text) for name, text in _pairs(args.param, "--param").items()}
    _check_names(parsed, files, params)
    data = {name: _load(name, path) for name, path in files.items()}
    dtype = args.dtype or _data_dtype(data) or "float32"
    kernel, compile_s, hit = _compile(formula, aliases, args, dtype)
    _check_output(args.output, kernel.sig)
    inputs = _inputs(parsed, args.M, args.N, dtype, data, params, args.seed)
    return _run(kernel, inputs, formula, aliases, dtype, compile_s, hit, args)


def _formula(args) -> tuple[str, list[str]]:
    formula = formula_of(args)
    if formula is None:
        if args.aliases:
            raise UsageError("--aliases needs a formula (the default formula has its own)")
        return DEFAULT_FORMULA, DEFAULT_ALIASES
    return formula, args.aliases or []


def _pairs(items, flag: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        name, _, value = item.partition("=")
        name = name.strip()
        if name in out:
            raise UsageError(f"{flag} {name}: given twice")
        out[name] = value.strip()
    return out


def _floats(name: str, text: str) -> np.ndarray:
    try:
        return np.array([float(v) for v in text.split(",")])
    except ValueError:
        raise UsageError(
            f"--param {name}: expected numbers separated by commas, got {text!r}"
        ) from None


def _check_names(aliases, files: dict, params: dict) -> None:
    known = {a.name: a for a in aliases}
    for flag, names in (("--data", files), ("--param", params)):
        for name in names:
            if name not in known:
                raise UsageError(
                    f"{flag} {name}: no such variable (the aliases name {', '.join(known)})"
                )
    for name, value in params.items():
        a = known[name]
        if a.cat != 2:
            raise UsageError(f"--param {name}: {name} is not a parameter (Pm): use --data")
        if name in files:
            raise UsageError(f"--param {name}: also given by --data")
        if value.size not in (1, a.dim):
            expected = "1 value" if a.dim == 1 else f"1 or {a.dim} values"
            raise UsageError(f"--param {name}: expected {expected}, got {value.size}")


def _load(name: str, path: str) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except OSError as e:
        raise UsageError(f"--data {name}: cannot read {path!r}: {e.strerror or e}") from None
    except ValueError as e:
        raise UsageError(f"--data {name}: {path!r} is not a .npy array ({e})") from None
    if not isinstance(data, np.ndarray):
        data.close()
        raise UsageError(f"--data {name}: {path!r} is an .npz archive: give one .npy array")
    return data


def _data_dtype(data: dict) -> str | None:
    """The first float32/float64 data array's dtype, as Genred takes the first float array's."""
    for a in data.values():
        if a.dtype in (np.float32, np.float64):
            return a.dtype.name
    return None


def _compile(formula, aliases, args, dtype: str):
    """(kernel, seconds, cache hit) through the compiler the API uses, on --backend."""
    from .dialect.reductions import REDUCTIONS
    from .frontend.aliases import parse_aliases
    from .frontend.formula import ReductionSpec, build_kernel, reduction_name
    from .runtime import cuda

    spec = None
    if args.reduction is not None:
        kind = reduction_name(args.reduction, args.reduction, 0)
        if REDUCTIONS[kind].uses_k and args.K is None:
            raise UsageError(f"--reduction {args.reduction} needs -K")
        spec = ReductionSpec(kind, 1 if args.axis is None else args.axis, args.K or 0)
    elif args.axis is not None:
        raise UsageError("--axis applies to --reduction (a formula's X_Reduction has its own)")
    if args.K is not None and (spec is None or not REDUCTIONS[spec.kind].uses_k):
        raise UsageError("-K applies to --reduction KMin, ArgKMin or KMin_ArgKMin")
    if args.backend not in cuda.BACKENDS:
        raise UsageError(f"--backend: expected one of {', '.join(cuda.BACKENDS)}")
    t0 = time.perf_counter()
    device = cuda.select(args.backend)
    module, _ = build_kernel(formula, aliases, dtype, spec)
    names = [a.name for a in parse_aliases(aliases)]
    if device is not None:
        from .gpu_compiler import compile_gpu

        return compile_gpu(module, names, device), time.perf_counter() - t0, None
    from .compiler import compile_module

    kernel, info = compile_module(module, names)
    return kernel, time.perf_counter() - t0, info.cache_hit


def _check_output(path: str | None, sig) -> None:
    if path is None:
        return
    if sig.reduction in PAIRS and not path.endswith(".npz"):
        raise UsageError(f"-o {path}: {sig.reduction} returns (values, indices): give a .npz")
    if not path.endswith((".npy", ".npz")):
        raise UsageError(f"-o {path}: expected a .npy or .npz file name")


def _inputs(aliases, M: int, N: int, dtype: str, data: dict, params: dict, seed: int):
    """Inputs in alias order: --data arrays, --param values, else uniform random rows (as many
    as the data of the same index has, else M or N) and parameters of 1.0."""
    rows = {0: M, 1: N}
    for a in aliases:
        if a.name in data and a.cat in rows and data[a.name].ndim >= 1:
            rows[a.cat] = data[a.name].shape[0]
    rng = np.random.default_rng(seed)
    out = []
    for a in aliases:
        if a.name in data:
            out.append(data[a.name])
        elif a.cat == 2:
            value = params.get(a.name, DEFAULT_PARAMS.get(a.name, 1.0))
            out.append(np.broadcast_to(np.asarray(value, dtype=dtype), (a.dim,)))
        else:
            out.append(rng.random((rows[a.cat], a.dim), dtype=dtype))
    return out


def _run(kernel, inputs, formula, aliases, dtype, compile_s, hit, args) -> int:
    from .runtime import results

    _, M, N = kernel.prepare(inputs)
    progress = sys.stderr.isatty()
    t1 = time.perf_counter()
    out = results.call(kernel, inputs, threads=args.threads, progress=progress)
    run_s = time.perf_counter() - t1
    parts = {"values": out[0], "indices": out[1]} if isinstance(out, tuple) else {"": out}
    shapes = " + ".join(str(p.shape) for p in parts.values())
    cached = "GPU" if hit is None else "disk cache hit" if hit else "compiled"
    print(f"formula   {formula}")
    print(f"aliases   {', '.join(aliases)}")
    print(f"sizes     M = {M:,}  N = {N:,}  dtype = {dtype}  output {shapes}")
    print(f"compile   {compile_s:.3f} s ({cached})")
    print(f"run       {run_s:.3f} s  ({M * N / max(run_s, 1e-9) / 1e9:.3f} G pairs/s)")
    for name, p in parts.items():
        print(f"checksum  {name + ': ' if name else ''}{_checksum(p)}")
    if args.output:
        if args.output.endswith(".npz"):
            np.savez(args.output, **{k or "values": v for k, v in parts.items()})
        else:
            np.save(args.output, out)
        print(f"saved     {args.output}")
    return 0


def _checksum(out: np.ndarray) -> str:
    """The sum and the first row's first values, to 6 digits: float32 sums differ in their
    last digits between vector widths (the order of the additions)."""
    first = out.reshape(len(out), -1)[0, :4] if out.size else out
    if out.dtype.kind == "f":
        values = ", ".join(f"{v:.6g}" for v in first)
        return f"sum = {out.sum(dtype=np.float64):.6g}  first row = [{values}]"
    values = ", ".join(str(int(v)) for v in first)
    return f"sum = {int(out.sum(dtype=np.int64))}  first row = [{values}]"
