"""Every op and reduction compiles to PTX that ptxas accepts for sm_80 and sm_90 (no GPU needed).

Ops are fused a dozen per kernel (one compile and one ptxas run per batch and chip); each
reduction gets its own kernel. Skipped, with the reason, where no CUDA toolkit is found.
"""

from __future__ import annotations

import subprocess

import pytest

from keir.frontend.formula import ReductionSpec, build_kernel
from keir.gpu_compiler import compile_ptx
from keir.runtime.cuda_toolkit import ptxas, toolkit

from formulas import ALIASES as OP_ALIASES
from gpu_cases import ALIASES, fused_module, op_batches, reduction_module
from gpu_cases import REDUCTIONS as CASES

CHIPS = ("sm_80", "sm_90")

pytestmark = pytest.mark.skipif(
    toolkit() is None or ptxas() is None,
    reason="no CUDA toolkit (libdevice and ptxas): pip install 'keir[gpu]' or set KEIR_CUDA_PATH",
)


def assemble(texts: dict, tmp_path, what: str) -> None:
    """ptxas -arch=<chip> on each PTX text; fails with ptxas' diagnostics."""
    assert set(texts) == set(CHIPS)
    for chip, text in texts.items():
        assert f".target {chip}" in text
        source = tmp_path / f"{chip}.ptx"
        source.write_text(text)
        cmd = [ptxas(), f"-arch={chip}", str(source), "-o", str(tmp_path / f"{chip}.cubin")]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"ptxas -arch={chip} refused {what}:\n{done.stderr}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch", op_batches(), ids=lambda b: f"{b[0]}..{b[-1]}")
def test_ops_assemble(batch, dtype, tmp_path):
    texts, info = compile_ptx(fused_module(batch, OP_ALIASES, dtype), CHIPS)
    assert len(info["signature"]["outputs"]) == len(batch)
    assemble(texts, tmp_path, f"the ops {', '.join(batch)} ({dtype})")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", sorted(CASES))
def test_reductions_assemble(kind, dtype, tmp_path):
    axis = 1 if dtype == "float32" else 0
    texts, info = compile_ptx(reduction_module(kind, dtype, axis), CHIPS)
    assemble(texts, tmp_path, f"{kind} ({dtype}, axis {axis})")
    ptx = texts["sm_90"]
    assert ".shared" in ptx and "bar.sync" in ptx  # the tile in shared memory, the barriers
    assert info["kernel"] in ptx and info["block"] == 128


def test_kernel_parameters_are_the_host_arguments(tmp_path):
    """The outlined kernel takes the host arguments it uses, in its own order: the runtime
    packs them from `params`, one memref descriptor (5 fields) or one integer each."""
    texts, info = compile_ptx(reduction_module("Sum", "float32", 1), ["sm_80"])
    # host arguments: x, y, b, the output, the state, M, N, offset, total; b is not in x - y
    assert sorted(info["params"]) == [0, 1, 3, 4, 5, 6, 7, 8]
    entry = texts["sm_80"].split(".entry", 1)[1].split(")", 1)[0]
    assert entry.count(".param") == 5 * 4 + 4  # x, y, output, state; 4 integers


def test_kernel_without_reduced_variables_has_no_tile(tmp_path):
    module = build_kernel("Exp(x) * 2", ALIASES, "float32", ReductionSpec("Sum", 1))[0]
    texts, _ = compile_ptx(module, CHIPS)
    assemble(texts, tmp_path, "Exp(x) * 2 (no j variable)")
    assert ".shared" not in texts["sm_80"]
