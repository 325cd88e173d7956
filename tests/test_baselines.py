"""Every baseline of benchmarks/table.py computes what keir computes for its case (issue 17: a
baseline that computes something else, or in another precision, makes the ratios lie). Small
sizes; a baseline whose library is absent is skipped."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import keir  # noqa: E402

import baselines  # noqa: E402
import table  # noqa: E402

TOL = {"float32": 2e-4, "float64": 1e-10}


def keir_result(case, data):
    formula, D, red, opts = table.CASES[case]
    return keir.Genred(formula, table.aliases(case, D), reduction_op=red, axis=1, **opts)(*data)


def case_data(case, dtype, n=200):
    D = table.CASES[case][1]
    return table.inputs(case, D, n, dtype, np.random.default_rng(1))


def check(case, dtype, fn):
    data = case_data(case, dtype)
    want, got = keir_result(case, data), np.asarray(fn(*data))
    assert got.shape == want.shape
    if case.startswith("argkmin"):  # ties are improbable with random data: the same indices
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(want).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c for c in table.CASES if c != "grad3"])
def test_numpy_dense(case, dtype):
    check(case, dtype, baselines.numpy_dense(case))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", [c for c in table.CASES if c != "grad3"])
def test_torch_dense(case, dtype):
    pytest.importorskip("torch")
    check(case, dtype, baselines.torch_dense(case))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(baselines.C_CASES))
def test_c_loop(case, dtype):
    fn = baselines.c_loop(case, dtype)
    if fn is None:
        pytest.skip("no C compiler")
    check(case, dtype, fn)


@pytest.mark.parametrize("case", ["argkmin3", "argkmin64"])
def test_faiss_flat(case):
    pytest.importorskip("faiss")
    check(case, "float32", baselines.faiss_flat(case, "float32"))


def test_chunks_cover_every_row(monkeypatch):
    """The dense baselines cut the rows in chunks; a chunk boundary must not drop or repeat one."""
    monkeypatch.setattr(baselines, "CHUNK_BYTES", 200 * 4 * 7)  # chunks of 7 rows of 200 columns
    check("gauss3", "float32", baselines.numpy_dense("gauss3"))
    assert len(baselines._chunks(200, 200, 4)) == 29


def test_no_baseline_where_the_tool_has_none():
    assert baselines.faiss_flat("gauss3", "float32") is None
    assert baselines.faiss_flat("argkmin3", "float64") is None  # FAISS indexes float32 only
    assert baselines.numpy_dense("grad3") is None
    assert baselines.c_loop("gauss64", "float32") is None


def test_roofline_cuts_the_vector_pair_loop():
    """benchmarks/roofline.py finds keir's vector loop (the widest registers, with the exp's
    FMAs) and llvm-mca prices it; a wrong cut (the scalar tail, the merge loop) fails here."""
    import shutil

    import roofline

    if shutil.which("llvm-mca") is None:
        pytest.skip("no llvm-mca")
    from keir.target import host

    body = roofline.hot_loop(roofline.kernel_asm("gauss3", "float32"))
    reg = {64: "zmm", 32: "ymm", 16: "xmm"}[host().vector_bytes]
    assert sum(reg in i and "fmadd" in i for i in body) >= 8  # Horner's scheme of the exp
    assert roofline.mca_cycles(body, host().name) > 0


def test_roofline_cuts_the_steady_path_of_kmin_and_the_component_loop_of_wide_sums():
    """ArgKMin's pair loop branches to the K-best insertion: its steady path (each row's mask
    test skips it) holds the distances and compares on the widest registers and none of the
    scalar insertion; D = 64: the loop over components, its FMAs R x (components per step)."""
    from keir.target import host

    import roofline

    reg = {64: "zmm", 32: "ymm", 16: "xmm"}[host().vector_bytes]
    path = roofline.hot_loop(roofline.kernel_asm("argkmin3", "float32"))
    assert path and path[-1].startswith("j")
    tests = [roofline.is_mask_test(path[:k]) for k in range(len(path))]
    assert sum(tests) == roofline._block("argkmin3", "float32")  # one per row
    assert sum(i.startswith("vcmpltps") and reg in i for i in path) >= 1
    assert not any(i.startswith(("vucomiss", "tzcnt")) for i in path)  # no insertion
    loop = roofline.hot_loop(roofline.kernel_asm("gauss64", "float32"))
    fmas = sum(i.startswith("vfmadd") for i in loop)
    assert fmas and fmas % roofline._block("gauss64", "float32") == 0
    assert not any("exp" in i or "scalef" in i for i in loop)


def test_roofline_prices_a_loop_at_the_measured_limits():
    """The ceiling's cycles: vector instructions at the FMA rate (register moves are free),
    divides and square roots also at the divider's; the limits are measured, and positive."""
    import roofline

    body = [
        "vfmadd231ps %zmm1, %zmm2, %zmm3",
        "vfmadd231ps (%rax), %zmm2, %zmm4",
        "vmovaps %zmm5, %zmm6",
        "vminps %zmm3, %zmm0, %zmm7",
        "vdivps %zmm7, %zmm3, %zmm8",
        "addq $64, %rax",
    ]
    limits = {("fma", "zmm", "float32"): 2.0, ("div", "zmm", "float32"): 0.5}
    limits |= {("load", "zmm", "float32"): 2.0, ("store", "zmm", "float32"): 1.0}
    assert roofline.port_cycles(body, "zmm", "float32", limits) == 2.0  # 4 at 2 per cycle
    limits["div", "zmm", "float32"] = 0.1
    assert roofline.port_cycles(body, "zmm", "float32", limits) == 10.0  # the divider's
    spills = ["vmovaps 64(%rbx), %zmm0", "vbroadcastss (%rax), %zmm1", "vmovaps %zmm2, (%rbx)"]
    moves = [*spills, "vsubps 4(%rcx){1to16}, %zmm0, %zmm3", "vmovups %zmm3, 128(%rbx)"]
    limits["load", "zmm", "float32"] = 0.5  # 3 loads (one a memory operand) at 0.5 per cycle
    assert roofline.port_cycles(moves, "zmm", "float32", limits) == 6.0
    limits["load", "zmm", "float32"], limits["store", "zmm", "float32"] = 8.0, 0.25
    assert roofline.port_cycles(moves, "zmm", "float32", limits) == 8.0  # 2 stores
    measured = roofline.measured_limits(roofline.measured_ghz())
    assert 0.5 < measured["fma", "ymm", "float32"] < 8
    assert 0 < measured["div", "ymm", "float64"] < measured["fma", "ymm", "float64"]
    assert 0.5 < measured["load", "ymm", "float32"] < 8
    assert 0.25 < measured["store", "ymm", "float32"] < 8
