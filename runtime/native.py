"""LLVM dialect -> LLVM IR -> optimised bitcode (opt) -> PIC object (llc) -> .so (cc + libiomp5).

llc with -relocation-model=pic gives an object without text relocations (the ExecutionEngine's
object uses the large code model and would need DT_TEXTREL, which hardened systems refuse).
"""

from __future__ import annotations

import signal
import subprocess
import tempfile
from pathlib import Path

from ..errors import CompileError
from . import leftovers, toolchain


def llvm_ir(module) -> str:
    """The LLVM IR text of a module already lowered to the LLVM dialect."""
    try:  # the binding itself: mlir.dialects.llvm would first import 12k lines of op classes
        from mlir._mlir_libs._mlirDialectsLLVM import translate_module_to_llvmir
    except ImportError:  # (20 ms per process)
        from mlir.dialects.llvm import translate_module_to_llvmir

    check_translatable(module)  # upstream's translator crashes the process on other ops
    try:
        return str(translate_module_to_llvmir(module.operation))
    except Exception as e:
        raise CompileError(f"translation to LLVM IR failed:\n{e}") from None


# Ops MLIR translates to LLVM IR (keir's CPU lowering ends in these): the LLVM dialect, OpenMP
# (convert-openmp-to-llvm leaves omp ops, translated to __kmpc calls) and nested modules.
TRANSLATABLE = ("llvm.", "omp.")


def check_translatable(module) -> None:
    """CompileError naming the first op (and its location) that is not in the LLVM dialect."""
    from mlir import ir

    found = []

    def visit(op):
        name = op.name
        if not name.startswith(TRANSLATABLE) and name != "builtin.module":
            found.append(op)
            return ir.WalkResult.INTERRUPT
        return ir.WalkResult.ADVANCE

    module.operation.walk(visit)
    if found:
        op = found[0]
        raise CompileError(
            f"cannot translate to LLVM IR: {op.name} at {op.location} is left after the "
            "lowering, and only llvm and omp ops have a translation (a keir function needs a "
            "keir.reduction to be lowered; other dialects need their conversion passes)"
        )


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CompileError(f"{Path(cmd[0]).name} failed ({proc.returncode}):\n{proc.stderr}")


def build_shared_object(ir_text: str, out_path: Path, cpu: str | None = None, job=None) -> None:
    """Compiles LLVM IR text to a shared object at `out_path` (linked against libiomp5), with
    `job` (an LLVMJob started earlier for `cpu`) or a new one."""
    # beside the output (the cache): a killed build's directory is cleaned there (leftovers)
    with tempfile.TemporaryDirectory(prefix=leftovers.prefix("build"), dir=out_path.parent) as tmp:
        obj = Path(tmp) / "k.o"
        obj.write_bytes((job or LLVMJob(cpu)).finish(ir_text))
        link_shared([obj], out_path, rpath=str(toolchain.openmp_libdir()))


def compile_ir(ir_text: str, out_path: Path, cpu: str | None = None, asm: bool = False) -> None:
    """LLVM IR text -> a PIC object file (or, with `asm`, assembly text) at `out_path`."""
    out_path.write_bytes(LLVMJob(cpu, asm).finish(ir_text))


class LLVMJob:
    """`opt -O3 | llc`, started before the IR exists: each tool first spends ~15 ms loading
    libLLVM, which then overlaps keir's lowering (on another core). Use as a context manager so
    that a lowering error stops the tools.

    MLIR's translation emits unoptimised IR: opt runs LLVM's O3 pipeline, llc generates code.
    keir-tile-cpu vectorises the hot loop itself; LLVM's SLP vectorizer only finds scraps
    outside it, and it aborts on an assertion on some expanded sin/cos/log code (LLVM 22.1.8,
    assertions build; tests/test_lazytensor.py::test_expressions_match_numpy)."""

    def __init__(self, cpu: str | None = None, asm: bool = False):
        cpu = cpu or toolchain.host_cpu()
        target = [f"-mtriple={toolchain.target_triple()}", f"-mcpu={cpu}"]
        opt = [toolchain.opt(), "-O3", "-vectorize-slp=false", *target, "-", "-o", "-"]
        pic = ["-relocation-model=pic", f"-filetype={'asm' if asm else 'obj'}"]
        llc = [toolchain.llc(), "-O3", *target, *pic, "-", "-o", "-"]
        self._errors = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        self._names = [Path(opt[0]).name, Path(llc[0]).name]
        pipe = subprocess.PIPE
        self._opt = subprocess.Popen(opt, stdin=pipe, stdout=pipe, stderr=self._errors[0])
        self._llc = subprocess.Popen(
            llc, stdin=self._opt.stdout, stdout=pipe, stderr=self._errors[1]
        )
        self._opt.stdout.close()  # llc owns the read end now

    def finish(self, ir_text: str) -> bytes:
        """Feeds the IR and returns llc's output (opt reads all its input before it writes, so
        writing everything first cannot deadlock)."""
        try:
            try:
                self._opt.stdin.write(ir_text.encode())
            except BrokenPipeError:
                pass  # opt has already failed: its message is reported below
            finally:
                self._opt.stdin.close()
            out = self._llc.stdout.read()
            codes = [self._opt.wait(), self._llc.wait()]
            if codes[1] != 0 and codes[0] == -signal.SIGPIPE:
                codes[0] = 0  # opt only lost its reader: llc's error is the one to report
            for name, code, err in zip(self._names, codes, self._errors):
                if code != 0:
                    err.seek(0)
                    message = err.read().decode(errors="replace")
                    raise CompileError(f"{name} failed ({code}):\n{message}")
            return out
        finally:
            self.close()

    def close(self) -> None:
        for proc in (self._opt, self._llc):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None and not stream.closed:
                    stream.close()
        for err in self._errors:
            err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def link_shared(objects: list[Path], out_path: Path, rpath: str) -> None:
    """Links objects into one shared object against libiomp5, found at run time via `rpath`
    (a directory, or "$ORIGIN" for a copy shipped beside the library)."""
    libdir = toolchain.openmp_libdir()
    objs = [str(o) for o in objects]
    cmd = [toolchain.cc(), "-shared", "-o", str(out_path), *objs, f"-L{libdir}", "-liomp5"]
    _run([*cmd, f"-Wl,-rpath,{rpath}", "-lm"])
