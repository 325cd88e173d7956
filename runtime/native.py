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
    with tempfile.TemporaryDirectory(prefix="keir-build-") as tmp:
        obj = Path(tmp) / "k.o"
        compile_ir(ir_text, obj, cpu)
        link_shared([obj], out_path, rpath=str(toolchain.openmp_libdir()))


def compile_ir(ir_text: str, out_path: Path, cpu: str | None = None, asm: bool = False) -> None:
    """LLVM IR text -> a PIC object file (or, with `asm`, assembly text) at `out_path`."""
    cpu = cpu or toolchain.host_cpu()
    with tempfile.TemporaryDirectory(prefix="keir-build-") as tmp:
        ll, bc = Path(tmp) / "k.ll", Path(tmp) / "k.bc"
        ll.write_text(ir_text)
        # MLIR's translation emits unoptimised IR: opt runs LLVM's O3 pipeline, llc generates code.
        # keir-tile-cpu vectorises the hot loop itself; LLVM's SLP vectorizer only finds scraps
        # outside it, and it aborts on an assertion on some expanded sin/cos/log code (LLVM
        # 22.1.8, assertions build; tests/test_lazytensor.py::test_expressions_match_numpy).
        _run(
            [toolchain.opt(), "-O3", "-vectorize-slp=false", f"-mcpu={cpu}", str(ll), "-o", str(bc)]
        )
        pic = ["-relocation-model=pic", f"-filetype={'asm' if asm else 'obj'}"]
        _run([toolchain.llc(), "-O3", f"-mcpu={cpu}", *pic, str(bc), "-o", str(out_path)])


def link_shared(objects: list[Path], out_path: Path, rpath: str) -> None:
    """Links objects into one shared object against libiomp5, found at run time via `rpath`
    (a directory, or "$ORIGIN" for a copy shipped beside the library)."""
    libdir = toolchain.openmp_libdir()
    objs = [str(o) for o in objects]
    cmd = [toolchain.cc(), "-shared", "-o", str(out_path), *objs, f"-L{libdir}", "-liomp5"]
    _run([*cmd, f"-Wl,-rpath,{rpath}", "-lm"])
