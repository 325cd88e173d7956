"""Where gpu_check.py gets its kernels and references: compiled now, or from a prepared pack.

A GPU machine lent for a check may have no LLVM tools and no package index (keir's MLIR and
LLVM wheels are ~280 MB), so `gpu_check.py --prepare DIR` compiles everything here instead:

    DIR/programs.json   {case or bench id: {target: GpuProgram}}, targets sm_80 and sm_90
                        (PTX, every text accepted by ptxas) or "emulated" (a local .so path)
    DIR/data.npz        the suite's inputs and the CPU backend's outputs on them
    DIR/manifest.json   what was prepared, when, from which commit; ptxas' resource report

On the GPU machine the kernels then run with numpy and keir's runtime alone (PackSource).
LiveSource makes the same things in-process (needs keir's full install).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from keir.runtime.gpu_kernel import GpuProgram

from gpu_suite import Case, Sizes, inputs

CHIPS = ("sm_80", "sm_90")
EMULATED = "emulated"
EMULATED_BLOCK = 8
_TESTS = Path(__file__).resolve().parent.parent / "tests"


def gpu_cases():
    """tests/gpu_cases.py (the case table the GPU tests share; it needs MLIR to build)."""
    if str(_TESTS) not in sys.path:
        sys.path.insert(0, str(_TESTS))
    import gpu_cases

    return gpu_cases


OPS = "ops"  # the kind that stands for every op example, fused a dozen per kernel


def all_cases(kinds=None, dtypes=("float32", "float64"), axes=(0, 1)) -> list[Case]:
    """The reduction cases of `kinds` (default: all, and the op batches), over j and i; the op
    batches over j only (each op's example is a Sum over j)."""
    kinds = kinds or [*sorted(gpu_cases().REDUCTIONS), OPS]
    cases = [Case(k, d, a) for k in kinds if k != OPS for d in dtypes for a in axes]
    if OPS in kinds:
        batches = gpu_cases().op_batches()
        cases += [Case(OPS, d, 1, tuple(b)) for d in dtypes for b in batches]
    return cases


def module_of(case: Case):
    """The keir module of a case (needs MLIR)."""
    if case.ops:
        from formulas import ALIASES

        return gpu_cases().fused_module(list(case.ops), ALIASES, case.dtype, case.axis)
    return gpu_cases().reduction_module(case.kind, case.dtype, case.axis)


def case_inputs(case: Case, M: int, N: int) -> list:
    if case.ops:
        from formulas import data

        return data(case.dtype, seed=M * 100_003 + N, sizes=(M, N))
    return inputs(case.dtype, M, N)


def _data_key(*parts) -> str:
    return "/".join(str(p) for p in parts)


class LiveSource:
    """Programs compiled now (for `device`, or for the CPU emulation), CPU-backend references."""

    def __init__(self, device, emulate: bool = False):
        self.device, self.emulate = device, emulate
        self._cpu = {}

    def program(self, case: Case) -> GpuProgram:
        module = module_of(case)
        if self.emulate:
            from keir.gpu_compiler import emulated_program

            return emulated_program(module, block=EMULATED_BLOCK)
        from keir.gpu_compiler import compile_gpu

        return compile_gpu(module, device=self.device).program

    def inputs(self, case: Case, M: int, N: int):
        return case_inputs(case, M, N)

    def reference(self, case: Case, size, args) -> list[np.ndarray]:
        """The CPU backend's outputs (raw: float indices, K-min rows flat)."""
        if case not in self._cpu:
            from keir.compiler import compile_module

            self._cpu[case], _ = compile_module(module_of(case))
        kernel = self._cpu[case]
        return kernel.run_prepared(*kernel.prepare(args))


class PackSource:
    """What `prepare` wrote, for `device` (a CUDA device: its chip picks the PTX)."""

    def __init__(self, folder, device, target: str | None = None):
        folder = Path(folder)
        self.device, self.target = device, target or device.chip
        self.programs = json.loads((folder / "programs.json").read_text())
        self.manifest = json.loads((folder / "manifest.json").read_text())
        self.data = dict(np.load(folder / "data.npz"))

    def cases(self) -> list[Case]:
        return [Case(**dict(c, ops=tuple(c["ops"]))) for c in self.manifest["cases"]]

    def sizes(self) -> Sizes:
        s = self.manifest["sizes"]
        return Sizes(tuple(map(tuple, s["plain"])), tuple(s["chunked"]))

    def program(self, case_id) -> GpuProgram:
        key = case_id.id if isinstance(case_id, Case) else case_id
        if key not in self.programs:
            raise KeyError(f"the pack holds no program {key!r}: prepare it with this case")
        return GpuProgram.from_json(self.programs[key][self.target])

    def inputs(self, case: Case, M: int, N: int):
        return _stored(self.data, "in", case.inputs_id, f"{M}x{N}")

    def reference(self, case: Case, size, args) -> list[np.ndarray]:
        return _stored(self.data, "ref", case.id, f"{size[0]}x{size[1]}")


def _stored(data: dict, *key) -> list[np.ndarray]:
    found = []
    while _data_key(*key, len(found)) in data:
        found.append(data[_data_key(*key, len(found))])
    if not found:
        raise KeyError(f"the pack holds no {_data_key(*key)}: prepare it with this case and size")
    return found


def prepare(folder, cases, sizes: Sizes, bench: dict, emulate: bool = False, log=print) -> dict:
    """Writes the pack for `cases` at `sizes` plus the `bench` kernels ({id: keir module})."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cpu = LiveSource(None)  # for its references
    programs, data, resources = {}, {}, {}
    for case in cases:
        module = module_of(case)
        programs[case.id] = _emulated_program(module) if emulate else _ptx_programs(module)
        for size in (*sizes.plain, sizes.chunked):
            args = case_inputs(case, *size)
            tag = f"{size[0]}x{size[1]}"
            for k, a in enumerate(args):
                data[_data_key("in", case.inputs_id, tag, k)] = a
            for k, a in enumerate(cpu.reference(case, size, args)):
                data[_data_key("ref", case.id, tag, k)] = a
        log(f"prepared {case.id}")
    for name, module in bench.items():
        programs[name] = _emulated_program(module) if emulate else _ptx_programs(module)
    if not emulate:
        resources = {key: _ptxas_all(progs) for key, progs in programs.items()}
    manifest = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "commit": _commit(),
        "cases": [dict(vars(c), ops=list(c.ops)) for c in cases],
        "sizes": {"plain": [list(s) for s in sizes.plain], "chunked": list(sizes.chunked)},
        "bench": sorted(bench),
        "ptxas": resources,
    }
    (folder / "programs.json").write_text(json.dumps(programs))
    np.savez_compressed(folder / "data.npz", **data)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _emulated_program(module) -> dict:
    from keir.gpu_compiler import emulated_program

    return {EMULATED: emulated_program(module, block=EMULATED_BLOCK).to_json()}


def _ptx_programs(module) -> dict:
    from keir.gpu_compiler import compile_ptx

    texts, info = compile_ptx(module, CHIPS)
    return {chip: GpuProgram.from_json({**info, "code": texts[chip]}).to_json() for chip in CHIPS}


def ptxas_report(ptx: str, chip: str) -> str:
    """ptxas -v's resource line for one PTX text (registers, spills, shared memory); raises
    RuntimeError with ptxas' diagnostics when it refuses the PTX."""
    from keir.runtime.cuda_toolkit import ptxas

    tool = ptxas()
    if tool is None:
        return "not checked: no ptxas"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        cmd = [tool, "-v", f"-arch={chip}", str(src), "-o", str(Path(tmp) / "k.cubin")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"ptxas -arch={chip} refused the PTX:\n{done.stderr}")
    lines = [line.split(":", 1)[-1].strip() for line in done.stderr.splitlines()]
    return "; ".join(line for line in lines if "spill" in line or "Used" in line)


def _ptxas_all(programs: dict) -> dict:
    return {chip: ptxas_report(p["code"], chip) for chip, p in programs.items()}


def _commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        )
        return done.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
