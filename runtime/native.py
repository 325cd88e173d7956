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
    try:  # the binding itself: mlir.dialects.llvm would first import 12k lines of op classes
        from mlir._mlir_libs._mlirDialectsLLVM import translate_module_to_llvmir
    except ImportError:  # (20 ms per process)
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
        ll = Path(tmp) / "k.ll"
        ll.write_text(ir_text)
        # MLIR's translation emits unoptimised IR: opt runs LLVM's O3 pipeline, llc generates code.
        # keir-tile-cpu vectorises the hot loop itself; LLVM's SLP vectorizer only finds scraps
        # outside it, and it aborts on an assertion on some expanded sin/cos/log code (LLVM
        # 22.1.8, assertions build; tests/test_lazytensor.py::test_expressions_match_numpy).
        opt = [toolchain.opt(), "-O3", "-vectorize-slp=false", f"-mcpu={cpu}", str(ll), "-o", "-"]
        pic = ["-relocation-model=pic", f"-filetype={'asm' if asm else 'obj'}"]
        llc = [toolchain.llc(), "-O3", f"-mcpu={cpu}", *pic, "-", "-o", str(out_path)]
        _run_piped(opt, llc)


def _run_piped(first: list[str], second: list[str]) -> None:
    """first | second: the second tool loads while the first one works (saves ~10 ms)."""
    with tempfile.TemporaryFile() as err1, tempfile.TemporaryFile() as err2:
        p1 = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=err1)
        p2 = subprocess.Popen(second, stdin=p1.stdout, stderr=err2)
        p1.stdout.close()  # the second tool now owns the read end
        codes = p2.wait(), p1.wait()
        for cmd, code, err in ((first, codes[1], err1), (second, codes[0], err2)):
            if code != 0:
                err.seek(0)
                message = err.read().decode(errors="replace")
                raise CompileError(f"{Path(cmd[0]).name} failed ({code}):\n{message}")


def link_shared(objects: list[Path], out_path: Path, rpath: str) -> None:
    """Links objects into one shared object against libiomp5, found at run time via `rpath`
    (a directory, or "$ORIGIN" for a copy shipped beside the library)."""
    libdir = toolchain.openmp_libdir()
    objs = [str(o) for o in objects]
    cmd = [toolchain.cc(), "-shared", "-o", str(out_path), *objs, f"-L{libdir}", "-liomp5"]
    _run([*cmd, f"-Wl,-rpath,{rpath}", "-lm"])
