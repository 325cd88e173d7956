"""Loads an ahead-of-time kernel bundle with numpy and ctypes alone (no MLIR, no Lark).

A bundle (built by `keir bundle`, keir.bundle) is a directory:

    manifest.json        what is inside: kernels, argument specs, output shapes, target, sha256s
    libkeir_bundle.so    every kernel of the bundle, one exported symbol each (keir_<name>)
    libiomp5.so          the OpenMP runtime the library needs, found through its $ORIGIN rpath
    <name>.<sm>.ptx      PTX per kernel and GPU architecture (target "ptx"), for CUDA loaders

`load_bundle` refuses, before loading any code, a bundle whose ABI version, machine or CPU
features differ from this process's (BundleTargetError), and (BundleIntegrityError) one whose
manifest does not match its own sha256 (`seal`: every field, signatures included), whose files
do not match the manifest's sha256s, or whose kernel entries contradict themselves (arguments
vs signature). The library is loaded from a copy named by its content (runtime.loader), so a
bundle rebuilt in place and loaded again runs the new code. Nothing is signed with a key: the
checks catch corrupted, truncated, edited or mixed-up files, not someone able to rewrite the
whole directory consistently.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path

from ..dialect.signature import CAT_NAMES, Signature
from ..errors import BundleError, BundleIntegrityError, BundleTargetError
from ..target import cpu_flags
from . import results
from .launcher import Kernel
from .loader import LibraryChangedError, load_library

# Bump when the native calling convention (keir.dialect.signature) or the manifest changes.
ABI_VERSION = 2  # 2: the manifest's own sha256 (seal); CPU kernels take a control block
FORMAT = "keir-bundle"
MANIFEST = "manifest.json"
LIBRARY = "libkeir_bundle.so"
OPENMP = "libiomp5.so"

# /proc/cpuinfo flags of instruction-set extensions that LLVM may use when targeting a CPU


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def host_target() -> dict:
    return {"system": platform.system(), "machine": platform.machine()}


_FIELD_TYPES = {"target": dict, "files": dict, "kernels": list, "library": str}


def seal(manifest: dict) -> str:
    """sha256 of every field of the manifest but this one (stored as "manifest_sha256")."""
    fields = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


class BundleKernel:
    """One kernel of a bundle: call it with numpy arrays in the order of its arguments; it
    returns what `Genred` with the same formula returns."""

    def __init__(self, entry: dict, library: ctypes.CDLL):
        self.name, self.formula, self.args = entry["name"], entry["formula"], entry["args"]
        self.output = entry["output"]
        self.signature = _entry_signature(entry)
        self._kernel = Kernel(library, self.signature, [a["name"] for a in self.args])

    def __call__(self, *arrays, threads: int | None = None, progress=False):
        return results.call(self._kernel, arrays, threads=threads, progress=progress)

    def __repr__(self) -> str:
        args = ", ".join(f"{a['name']}={a['cat']}({a['dim']})" for a in self.args)
        return f"<bundle kernel {self.name}({args}): {self.formula}>"


class Bundle(Mapping):
    """Kernel name -> callable; `manifest` holds the rest (targets, files, keir version)."""

    def __init__(self, path: Path, manifest: dict, kernels: dict[str, BundleKernel]):
        self.path, self.manifest, self._kernels = path, manifest, kernels

    def __getitem__(self, name: str) -> BundleKernel:
        return self._kernels[name]

    def __iter__(self):
        return iter(self._kernels)

    def __len__(self) -> int:
        return len(self._kernels)

    def __repr__(self) -> str:
        return f"<keir bundle {self.path}: {', '.join(self._kernels)}>"


def _entry_signature(entry: dict) -> Signature:
    """The entry's signature, checked against the entry's own argument list and symbol."""
    sig = Signature.from_json(entry["signature"])
    args = [(a["cat"], a["dim"]) for a in entry["args"]]
    if args != [(CAT_NAMES[c], d) for c, d in zip(sig.arg_cats, sig.arg_dims)]:
        raise ValueError("its arguments differ from its signature's")
    if entry["symbol"] != sig.name or entry["output"]["reduction"] != sig.reduction:
        raise ValueError("its symbol or reduction differs from its signature's")
    return sig


def load_bundle(path) -> Bundle:
    """The kernels of the bundle in directory `path`, {name: callable on numpy arrays}, after
    checking its ABI, machine and CPU (BundleTargetError) and its files' sha256s
    (BundleIntegrityError); see docs/bundles.md."""
    folder = Path(path)
    manifest = read_manifest(folder)
    check_target(manifest)
    check_seal(folder, manifest)
    check_files(folder, manifest)
    library = _load_library(folder, manifest)
    kernels = {}
    for n, entry in enumerate(manifest["kernels"]):
        try:
            kernels[entry["name"]] = BundleKernel(entry, library)
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            raise BundleIntegrityError(
                f"{folder / MANIFEST}: kernel entry {n} is malformed ({e}); rebuild the bundle"
            ) from None
    return Bundle(folder, manifest, kernels)


def check_seal(folder: Path, manifest: dict) -> None:
    """The manifest hashes to its recorded sha256: no field was edited alone."""
    if manifest.get("manifest_sha256") != seal(manifest):
        raise BundleIntegrityError(
            f"{folder / MANIFEST}: its content does not match its manifest_sha256: the manifest"
            " was edited or damaged; rebuild the bundle"
        )


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise BundleError(f"{folder} is not a keir bundle: it has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: not a readable JSON manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"{path}: not a keir bundle manifest (format {FORMAT!r} expected)")
    for field, kind in _FIELD_TYPES.items():
        if not isinstance(manifest.get(field), kind):
            raise BundleIntegrityError(f"{path}: {field!r} must be a JSON {kind.__name__}")
    return manifest


def check_target(manifest: dict) -> None:
    """Refuses a bundle built for another keir ABI, system, machine or CPU feature set."""
    made_by = f"keir {manifest.get('keir_version', '?')}"
    if manifest.get("abi") != ABI_VERSION:
        raise BundleTargetError(
            f"bundle built by {made_by} uses keir ABI {manifest.get('abi')}, this keir loads ABI "
            f"{ABI_VERSION}: rebuild the bundle with this keir (keir bundle SPEC -o DIR)"
        )
    target, here = manifest.get("target", {}), host_target()
    for key in ("system", "machine"):
        if target.get(key) != here[key]:
            raise BundleTargetError(
                f"bundle built for {target.get('system')}/{target.get('machine')} "
                f"(CPU {target.get('cpu')}); this is {here['system']}/{here['machine']}"
            )
    missing = sorted(set(target.get("cpu_flags", [])) - cpu_flags())
    if missing:
        raise BundleTargetError(
            f"bundle built for CPU {target.get('cpu')} uses {', '.join(missing)}, which this "
            'CPU lacks: rebuild it here, or for a baseline with "cpu": "x86-64-v3" in its spec'
        )


def check_files(folder: Path, manifest: dict) -> None:
    """Every file of the manifest exists, and has the recorded sha256."""
    for name, digest in manifest["files"].items():
        path = folder / name
        if Path(name).name != name or not isinstance(digest, str):
            raise BundleIntegrityError(f"{folder}: {name!r} is not a file name inside the bundle")
        if not path.is_file():
            raise BundleIntegrityError(f"{folder}: file {name!r} of the manifest is missing")
        actual = sha256(path)
        if actual != digest:
            raise BundleIntegrityError(
                f"{path}: sha256 {actual[:16]}... differs from the manifest's {digest[:16]}...:"
                " the file was modified or corrupted; rebuild the bundle"
            )


def _load_library(folder: Path, manifest: dict) -> ctypes.CDLL:
    library, openmp = manifest.get("library"), manifest.get("openmp")  # openmp may be null
    for name in (library, *([openmp] if openmp else [])):
        if name not in manifest.get("files", {}):
            raise BundleIntegrityError(f"{folder}: {name} has no sha256 in the manifest")
    try:
        if openmp:
            _load_openmp(folder / openmp)
        return load_library(folder / library, manifest["files"][library])
    except LibraryChangedError as e:
        raise BundleIntegrityError(str(e)) from None
    except OSError as e:
        raise BundleError(f"cannot load {folder / library}: {e}") from None


def _load_openmp(shipped: Path) -> None:
    """One OpenMP runtime per process: an already loaded libiomp5 (e.g. keir's own, from the
    intel-openmp wheel) serves the bundle too (a second copy would abort with OMP error #15);
    otherwise the bundle's checked copy is loaded, before the library's $ORIGIN lookup."""
    try:
        ctypes.CDLL(shipped.name, mode=os.RTLD_NOLOAD | ctypes.RTLD_GLOBAL)
    except OSError:
        ctypes.CDLL(str(shipped), mode=ctypes.RTLD_GLOBAL)
