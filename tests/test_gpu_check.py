"""benchmarks/gpu_check.py, the one command a GPU machine runs, exercised here without a GPU:
its suite on the CPU emulation of the GPU kernels, its pack (prepared kernels + references)
round trip, its device mode on the fake driver, and that a wrong result or a chunk that loses
its states fails with the case, the size and the error named."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_gpu_runtime import FakeLibcuda, _fake_device, fresh_driver  # noqa: F401  (fixture)

from keir.runtime import gpu_kernel
from keir.runtime.cuda_toolkit import ptxas, toolkit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import gpu_check  # noqa: E402
import gpu_pack  # noqa: E402

KINDS = ["Sum", "ArgKMin", "LogSumExp"]


def _report(out: Path) -> dict:
    return json.loads((out / "gpu_check.json").read_text())


def test_emulated_suite_and_benchmark_pass(tmp_path, monkeypatch):
    # one batch of 3 op examples (a 3-output kernel) stands for the 7 batches of 12
    monkeypatch.setattr(gpu_pack.gpu_cases(), "op_batches", lambda: [["Abs", "Acos", "Add"]])
    argv = ["--emulate", "--kinds", *KINDS, "ops", "--sizes", "200", "--out", str(tmp_path)]
    assert gpu_check.main(argv) == 0
    report = _report(tmp_path)
    suite = report["suite"]
    dtypes = ("float32", "float64")
    assert {r["case"] for r in suite} == {
        f"{k}-{d}-axis{a}" for k in KINDS for d in dtypes for a in (0, 1)
    } | {f"ops Abs..Add-{d}-axis1" for d in dtypes}
    assert all(r["ok"] for r in suite)
    chunked = [r for r in suite if r["check"].startswith("chunked")]
    assert len(chunked) == 14 and all("bit for bit" in r["detail"] for r in chunked)
    assert [row["case"] for row in report["bench"]] == ["gauss3", "gauss64", "lse3", "argkmin3"]
    assert all(row["keir"]["kernel"] > 0 for row in report["bench"])
    assert "**PASSED**" in (tmp_path / "gpu_check.md").read_text()


@pytest.fixture(scope="module")
def emulated_pack(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pack")
    argv = ["--prepare", str(folder), "--emulate", "--kinds", "Sum", "--dtypes", "float64"]
    argv += ["--cases", "gauss3"]
    assert gpu_check.main(argv) == 0
    return folder


def test_a_wrong_reference_value_fails_naming_case_size_and_error(emulated_pack, tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("programs.json", "manifest.json"):
        (pack / name).write_text((emulated_pack / name).read_text())
    data = dict(np.load(emulated_pack / "data.npz"))
    data["ref/Sum-float64-axis1/13x21/0"][4, 2] += 0.5
    np.savez(pack / "data.npz", **data)
    out = tmp_path / "out"
    assert (
        gpu_check.main(["--pack", str(pack), "--emulate", "--only", "suite", "--out", str(out)])
        == 1
    )
    (bad,) = [r for r in _report(out)["suite"] if not r["ok"]]
    assert (bad["case"], bad["check"]) == ("Sum-float64-axis1", "13x21")
    assert "1 of 39 values off; worst at (4, 2)" in bad["detail"]
    assert "FAILED: 1 failing check(s)" in (out / "gpu_check.log").read_text()


def test_chunks_that_lose_their_states_fail(emulated_pack, tmp_path, monkeypatch):
    """Every launch told offset 0: no chunk resumes the states of the one before."""
    real = gpu_kernel.flat_values
    monkeypatch.setattr(
        gpu_kernel, "flat_values", lambda p, host: real(p, host[:-2] + [0, host[-1]])
    )
    argv = ["--pack", str(emulated_pack), "--emulate", "--only", "suite", "--out", str(tmp_path)]
    assert gpu_check.main(argv) == 1
    failed = [r for r in _report(tmp_path)["suite"] if not r["ok"]]
    assert failed and all(r["check"] == "chunked 37x45" for r in failed)
    assert all("not the one-launch result" in r["detail"] for r in failed)


def test_device_mode_runs_on_the_cuda_driver(emulated_pack, tmp_path, fresh_driver):  # noqa: F811
    """The non-emulated path (CUDA device, programs picked by its chip) on the fake driver,
    whose launches run the emulated kernels stored under the chip's name."""
    pack = tmp_path / "pack"
    pack.mkdir()
    programs = json.loads((emulated_pack / "programs.json").read_text())
    for progs in programs.values():
        progs["sm_90"] = progs.pop(gpu_pack.EMULATED)
    (pack / "programs.json").write_text(json.dumps(programs))
    for name in ("manifest.json", "data.npz"):
        (pack / name).write_bytes((emulated_pack / name).read_bytes())
    fake = FakeLibcuda()
    _fake_device(fresh_driver, fake)
    out = tmp_path / "out"
    argv = ["--pack", str(pack), "--only", "suite", "bench", "--cases", "gauss3"]
    argv += ["--isolation", "none"]  # the fake driver lives in this process only
    assert gpu_check.main([*argv, "--sizes", "100", "--out", str(out)]) == 0
    report = _report(out)
    assert report["device"]["name"] == "Fake GPU" and report["device"]["chip"] == "sm_90"
    assert len(report["suite"]) == 14 and all(r["ok"] for r in report["suite"])
    assert report["bench"][0]["keir"]["kernel"] > 0 and fake.launches
    assert not fake.buffers


@pytest.mark.skipif(toolkit() is None or ptxas() is None, reason="no CUDA toolkit (ptxas)")
def test_prepared_pack_holds_ptx_that_ptxas_accepts(tmp_path):
    argv = ["--prepare", str(tmp_path), "--kinds", "ArgKMin", "--dtypes", "float32"]
    assert gpu_check.main([*argv, "--axes", "1"]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest["ptxas"]) == {"ArgKMin-float32-axis1"} | {
        f"bench:{n}" for n in ("gauss3", "gauss64", "lse3", "argkmin3")
    }
    for chips in manifest["ptxas"].values():
        assert set(chips) == {"sm_80", "sm_90"}
        assert all("registers" in line for line in chips.values())
    programs = json.loads((tmp_path / "programs.json").read_text())
    assert ".target sm_90" in programs["bench:gauss64"]["sm_90"]["code"]


def test_torch_column_and_its_agreement_check(monkeypatch):
    """The torch dense column (on the CPU here; CUDA on a GPU machine) agrees with keir, and a
    keir result 1% off is a failure of the row."""
    torch = pytest.importorskip("torch")
    from keir.gpu_compiler import emulated_program
    from keir.runtime.emulated import EmulatedDevice

    import gpu_bench

    monkeypatch.setattr(gpu_bench, "pykeops_runner", lambda name, side: (None, "not here"))
    names = ["gauss3", "argkmin3"]
    programs = {n: emulated_program(gpu_bench.bench_module(n), block=8) for n in names}
    side = gpu_bench.TorchSide(torch, "cpu")

    def rows():
        clock = gpu_bench.Clock(float("inf"), 60.0)
        return gpu_bench.bench_rows(programs, EmulatedDevice(), names, [150], clock, side=side)

    good = rows()
    assert all("failed" not in r["keir"] for r in good)
    assert good[0]["torch"]["agreement"].startswith("max rel err")
    assert good[1]["torch"]["agreement"] == "100.00% rows same indices"
    real = gpu_bench.run_keir

    def off(*args):
        timing, out = real(*args)
        return timing, out * 1.01 if out.shape[1] == 1 else out

    monkeypatch.setattr(gpu_bench, "run_keir", off)
    bad = rows()
    assert bad[0]["keir"]["failed"].startswith("differs from torch: max rel err 1.0e-02")
    assert "failed" not in bad[1]["keir"]


@pytest.mark.parametrize("fault", ["crash", "hang"])
def test_a_kernel_that_crashes_or_hangs_costs_one_case(emulated_pack, tmp_path, fault):
    """The suite's worker process dies (segfault) or stops answering in one case: that case
    fails saying so, and the next one runs in a fresh worker."""
    import subprocess

    import gpu_worker

    from keir.runtime import toolchain

    body = "*(volatile int *)0 = 1;" if fault == "crash" else "for (;;) {}"
    programs = json.loads((emulated_pack / "programs.json").read_text())
    bad = programs["Sum-float64-axis0"][gpu_pack.EMULATED]
    c_file = tmp_path / "bad.c"
    c_file.write_text(f"void {bad['kernel']}(void) {{ {body} }}\n")
    bad["code"] = str(tmp_path / "bad.so")
    subprocess.run([toolchain.cc(), "-shared", "-fPIC", str(c_file), "-o", bad["code"]], check=True)
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "programs.json").write_text(json.dumps(programs))
    for name in ("manifest.json", "data.npz"):
        (pack / name).write_bytes((emulated_pack / name).read_bytes())
    packed = gpu_pack.PackSource(pack, None, gpu_pack.EMULATED)
    spec = gpu_worker.SourceSpec(str(pack), emulate=True, device=0)
    results = gpu_worker.run_isolated(spec, packed.cases(), packed.sizes(), print, seconds=4)
    (failed,) = [r for r in results if not r.ok]
    assert failed.case == "Sum-float64-axis0"
    assert ("worker process died" if fault == "crash" else "no answer in 4 s") in failed.detail
    assert [r.ok for r in results if r.case == "Sum-float64-axis1"] == [True] * 7
