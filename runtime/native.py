"""LLVM dialect -> LLVM IR -> optimised bitcode (opt) -> PIC object (llc) -> .so (cc + libiomp5).

llc with -relocation-model=pic gives an object without text relocations (the ExecutionEngine's
object uses the large code model and would need DT_TEXTREL, which hardened systems refuse).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ..errors import CompileError
from . import toolchain


def llvm_ir(module) -> str:
    """The LLVM IR text of a module already lowered to the LLVM dialect."""
    from mlir.dialects.llvm import translate_module_to_llvmir

    try:
        return str(translate_module_to_llvmir(module.operation))
    except Exception as e:
        raise CompileError(f"translation to LLVM IR failed:\n{e}") from None


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{proc.stderr}")


def build_shared_object(ir_text: str, out_path: Path, cpu: str | None = None) -> None:
    """Compiles LLVM IR text to a shared object at `out_path` (linked against libiomp5)."""
    cpu = cpu or toolchain.host_cpu()
    libdir = toolchain.openmp_libdir()
    with tempfile.TemporaryDirectory(prefix="keir-build-") as tmp:
        ll, bc, obj = Path(tmp) / "k.ll", Path(tmp) / "k.bc", Path(tmp) / "k.o"
        ll.write_text(ir_text)
        # MLIR's translation emits unoptimised IR: opt runs LLVM's O3 pipeline, llc generates code.
        _run([toolchain.opt(), "-O3", f"-mcpu={cpu}", str(ll), "-o", str(bc)])
        pic = ["-relocation-model=pic", "-filetype=obj"]
        _run([toolchain.llc(), "-O3", f"-mcpu={cpu}", *pic, str(bc), "-o", str(obj)])
        _run(
            [
                toolchain.cc(),
                "-shared",
                "-o",
                str(out_path),
                str(obj),
                f"-L{libdir}",
                "-liomp5",
                f"-Wl,-rpath,{libdir}",
                "-lm",
            ]
        )
