"""`keir bundle SPEC -o DIR`: kernels compiled ahead of time, for processes without MLIR.

SPEC is JSON (or TOML, by its suffix):

    {"kernels": [{"name": "gauss", "formula": "Exp(-SqDist(x,y))*b",
                  "aliases": ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"],
                  "reduction": "Sum", "axis": 1, "dtype": "float32"}],
     "targets": ["cpu", "ptx"]}

Per kernel: `name` (a C identifier), `formula`, `aliases`; optional `reduction` (if the formula
has no X_Reduction), `axis` (1: reduce over j, the default), `dtype` (float32), `opt_arg` (K of
KMin-like reductions), `formula2` (weight). Top level: `targets` (cpu, ptx; default cpu), `cpu`
(host, the default, or a baseline: x86-64, x86-64-v2, x86-64-v3, x86-64-v4), `ptx_archs`.
Each kernel is compiled on its own (no fusion between kernels) to an object, and the objects
are linked into one library; keir.runtime.bundle documents the directory and loads it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .errors import BundleError, KeirError
from .runtime import bundle as layout
from .runtime import leftovers
from .target import CPU_LEVELS, GPU_CHIPS, CpuTarget, GpuTarget, host

KERNEL_FIELDS = ("name", "formula", "aliases", "reduction", "axis", "dtype", "opt_arg", "formula2")
_FIELD_TYPES = dict(formula=str, reduction=str, axis=int, dtype=str, opt_arg=int, formula2=str)
TOP_FIELDS = ("kernels", "targets", "cpu", "ptx_archs")
TARGETS = ("cpu", "ptx")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class KernelEntry:
    name: str
    formula: str
    aliases: tuple[str, ...]
    reduction: str | None = None
    axis: int = 1
    dtype: str = "float32"
    opt_arg: int | None = None
    formula2: str | None = None


@dataclass(frozen=True)
class BundleSpec:
    kernels: tuple[KernelEntry, ...]
    targets: tuple[str, ...] = ("cpu",)
    cpu: str = "host"
    ptx_archs: tuple[str, ...] = GPU_CHIPS


# ------------------------------------------------------------------ the spec
def read_spec(path) -> BundleSpec:
    path = Path(path)
    try:
        text = path.read_text()
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as e:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise BundleError(f"cannot read bundle spec {path}: {e}") from None
    return parse_spec(data)


def _fields(data, allowed: tuple[str, ...], where: str) -> dict:
    if not isinstance(data, dict):
        raise BundleError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BundleError(f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(allowed)})")
    return data


def parse_spec(data) -> BundleSpec:
    """Checks a spec's fields and values; errors name the kernel and the field."""
    top = _fields(data, TOP_FIELDS, "bundle spec")
    if not top.get("kernels"):
        raise BundleError('bundle spec: "kernels" must list at least one kernel')
    kernels = tuple(_kernel(k, n) for n, k in enumerate(top["kernels"]))
    names = [k.name for k in kernels]
    if len(set(names)) != len(names):
        raise BundleError(f"bundle spec: kernel names must be unique, got {names}")
    targets = tuple(top.get("targets", ["cpu"]))
    if "cpu" not in targets or set(targets) - set(TARGETS):
        raise BundleError(
            f"bundle spec: targets must include cpu (the callables and signatures come from the"
            f" CPU build) and be among {', '.join(TARGETS)}; got {list(targets)}"
        )
    cpu = top.get("cpu", "host")
    if cpu != "host" and cpu not in CPU_LEVELS:
        raise BundleError(f"bundle spec: cpu must be host or one of {', '.join(CPU_LEVELS)}")
    archs = tuple(top.get("ptx_archs", BundleSpec.ptx_archs))
    return BundleSpec(kernels, targets, cpu, archs)


def _kernel(data, n: int) -> KernelEntry:
    fields = _fields(data, KERNEL_FIELDS, f"kernel {n}")
    name = fields.get("name")
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise BundleError(f"kernel {n}: name must be an identifier like gauss_sum, got {name!r}")
    for key in ("formula", "aliases"):
        if key not in fields:
            raise BundleError(f"kernel {name}: {key!r} is required")
    aliases = fields["aliases"]
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise BundleError(f'kernel {name}: aliases must be a list of strings like "x=Vi(3)"')
    for key, kind in _FIELD_TYPES.items():
        if key in fields and not isinstance(fields[key], kind):
            raise BundleError(
                f"kernel {name}: {key} must be a {kind.__name__}, got {fields[key]!r}"
            )
    if fields.get("axis", 1) not in (0, 1):
        raise BundleError(f"kernel {name}: axis must be 0 or 1, got {fields['axis']!r}")
    return KernelEntry(**{**fields, "aliases": tuple(aliases)})


# ------------------------------------------------------------------ building
def build_bundle(spec: BundleSpec, out_dir) -> dict:
    """Compiles every kernel of `spec` into `out_dir`; returns the manifest written there.

    The bundle is built in a sibling directory and renamed into place at the end, so a failed
    build leaves a previous bundle at `out_dir` untouched."""
    out = Path(out_dir).absolute()
    if out.exists() and any(out.iterdir()) and not (out / layout.MANIFEST).is_file():
        raise BundleError(f"{out} exists, is not empty and is not a keir bundle: not touched")
    out.parent.mkdir(parents=True, exist_ok=True)
    leftovers.clean(out.parent)  # what a killed build left (staging, old copies)
    staging = Path(tempfile.mkdtemp(prefix=leftovers.prefix("bundle"), dir=out.parent))
    staging.chmod(0o755)  # (mkdtemp's 0700 would hide the bundle from other users)
    try:
        manifest = _build_into(spec, staging)
        old = out.with_name(f"{leftovers.prefix('old')}{out.name}")
        if out.exists():
            out.rename(old)
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _build_into(spec: BundleSpec, out: Path) -> dict:
    from .runtime.native import link_shared
    from .runtime.toolchain import openmp_libdir

    start = time.perf_counter()
    cpu = _cpu(spec.cpu)
    with tempfile.TemporaryDirectory(prefix="objects-", dir=out) as tmp:
        compiled = [_compile_cpu(k, Path(tmp), cpu) for k in spec.kernels]
        link_shared([obj for _, obj in compiled], out / layout.LIBRARY, rpath="$ORIGIN")
    shutil.copy2(openmp_libdir() / layout.OPENMP, out / layout.OPENMP)
    entries = [entry for entry, _ in compiled]
    files = [layout.LIBRARY, layout.OPENMP]
    if "ptx" in spec.targets:
        files += _write_ptx(spec, out, entries)
    manifest = {
        "format": layout.FORMAT,
        "abi": layout.ABI_VERSION,
        "keir_version": __version__,
        "target": {**layout.host_target(), "cpu": cpu.name, "cpu_flags": sorted(cpu.features)},
        "library": layout.LIBRARY,
        "openmp": layout.OPENMP,
        "files": {name: layout.sha256(out / name) for name in files},
        "kernels": entries,
        "build_seconds": round(time.perf_counter() - start, 3),
    }
    manifest["manifest_sha256"] = layout.seal(manifest)
    _write_json(out / layout.MANIFEST, manifest)
    return manifest


def _cpu(choice: str) -> CpuTarget:
    """The CPU to build for: this one, or a baseline level (its flags are what a machine needs
    to run the bundle; its vector width is what keir-tile-cpu uses)."""
    return host() if choice == "host" else CpuTarget.level(choice)


def _build(k: KernelEntry):
    """The keir module of a kernel spec and its argument specs; errors name the kernel."""
    from .frontend.formula import ReductionSpec, build_kernel, reduction_name

    try:
        reduction = None
        if k.reduction is not None:
            kind = reduction_name(k.reduction, k.reduction, 0)
            reduction = ReductionSpec(kind, k.axis, k.opt_arg or 0, k.formula2)
        return build_kernel(k.formula, list(k.aliases), k.dtype, reduction, name=f"keir_{k.name}")
    except KeirError as e:
        raise BundleError(f"kernel {k.name}: {e}") from None


def _compile_cpu(k: KernelEntry, tmp: Path, cpu: CpuTarget) -> tuple[dict, Path]:
    from .backends.cpu import BACKEND
    from .runtime.native import compile_ir

    module, args = _build(k)
    try:
        text, sig = BACKEND.native_ir(module, cpu)
    except KeirError as e:  # e.g. past the unrolling limit: say which kernel
        raise BundleError(f"kernel {k.name}: {e}") from None
    obj = tmp / f"{k.name}.o"
    compile_ir(text, obj, cpu.name)
    return _describe(k, args, sig), obj


def _describe(k: KernelEntry, args, sig) -> dict:
    """The manifest entry of a kernel: what a caller needs to know to call it."""
    from .dialect.signature import CAT_NAMES

    return {
        "name": k.name,
        "formula": k.formula,
        "aliases": list(k.aliases),
        "dtype": k.dtype,
        "args": [{"name": a.name, "cat": CAT_NAMES[a.cat], "dim": a.dim} for a in args],
        "symbol": sig.name,
        "output": _output_rule(sig),
        "signature": sig.to_json(),
    }


def _output_rule(sig) -> dict:
    """Shapes of the result: rows M (i) or N (j), then the reduction's trailing dimensions."""
    from .runtime.results import postprocess

    rows = "M" if sig.out_cat == 0 else "N"
    sample = postprocess(sig.reduction, np.zeros((2, sig.out_dim), sig.dtype), sig.k)
    arrays = sample if isinstance(sample, tuple) else (sample,)
    return {
        "reduction": sig.reduction,
        "reduces_over": "j" if sig.axis == 1 else "i",
        "rows": rows,
        "returns": [{"shape": [rows, *a.shape[1:]], "dtype": a.dtype.name} for a in arrays],
    }


def _write_ptx(spec: BundleSpec, out: Path, entries: list[dict]) -> list[str]:
    """One PTX file per kernel and chip; the entry records how to launch it (keir-tile-gpu's
    GPU ABI: the fields of keir.runtime.gpu_kernel.GpuProgram, `code` being the file)."""
    from .backends.cuda import BACKEND

    files = []
    for k, entry in zip(spec.kernels, entries):
        texts, launch = BACKEND.ptx(_build(k)[0], GpuTarget(spec.ptx_archs))
        entry["ptx"] = {**launch, "files": {}}
        for chip, text in texts.items():
            name = f"{k.name}.{chip}.ptx"
            (out / name).write_text(text)
            entry["ptx"]["files"][chip] = name
            files.append(name)
    return files


def _write_json(path: Path, data: dict) -> None:
    """Written under a temporary name, then renamed: a reader never sees half a manifest."""
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
    os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide the manifest from other users
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
