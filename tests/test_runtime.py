"""The disk cache (reuse across processes, atomic files) and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keir.cli import main
from keir.runtime import cache

SMALL_RUN = [
    "run",
    "Sum_Reduction(SqDist(x, y) * b, 1)",
    "--aliases",
    "x = Vi(2)",
    "y = Vj(2)",
    "b = Vi(1)",
    "-M",
    "300",
    "-N",
    "200",
]


def _keir(args, env):
    return subprocess.run(
        [sys.executable, "-m", "keir", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_second_process_reuses_the_compiled_kernel(tmp_path):
    env = dict(os.environ, KEIR_CACHE_DIR=str(tmp_path))
    first = _keir(SMALL_RUN, env)
    assert first.returncode == 0, first.stderr
    assert "(compiled)" in first.stdout
    sos = sorted(tmp_path.glob("*.so"))
    assert len(sos) == 1
    mtime = sos[0].stat().st_mtime_ns
    second = _keir(SMALL_RUN, env)
    assert second.returncode == 0, second.stderr
    assert "(disk cache hit)" in second.stdout
    assert sorted(tmp_path.glob("*.so")) == sos and sos[0].stat().st_mtime_ns == mtime
    checksum = [line for line in first.stdout.splitlines() if line.startswith("checksum")]
    assert checksum == [line for line in second.stdout.splitlines() if line.startswith("checksum")]


def test_cache_entry_metadata_and_no_leftovers(tmp_path, monkeypatch):
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path / "fresh"))
    assert main(SMALL_RUN) == 0
    folder = tmp_path / "fresh"
    assert folder.stat().st_mode & 0o777 == 0o700
    (meta,) = folder.glob("*.json")
    data = json.loads(meta.read_text())
    assert data["signature"]["outputs"][0]["reduction"] == "Sum" and data["signature"]["axis"] == 0
    assert not list(folder.glob(".*")), "temporary files must not survive a build"


def test_cache_key_depends_on_ir_dtype_and_target():
    keys = {
        cache.cache_key("a", "float32", "znver5"),
        cache.cache_key("b", "float32", "znver5"),
        cache.cache_key("a", "float64", "znver5"),
        cache.cache_key("a", "float32", "skylake"),
    }
    assert len(keys) == 4


def test_run_with_npy_inputs(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x, y = rng.random((20, 2)), rng.random((30, 2))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    out = tmp_path / "out.npy"
    code = main(
        [
            "run",
            "Min_Reduction(SqDist(x, y), 0)",
            "--aliases",
            "x = Vi(2)",
            "y = Vj(2)",
            "--dtype",
            "float64",
            "--data",
            f"x={tmp_path / 'x.npy'}",
            "--data",
            f"y={tmp_path / 'y.npy'}",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    expected = ((x[:, None] - y[None]) ** 2).sum(-1).min(1, keepdims=True)
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-12)
    assert "M = 20  N = 30" in capsys.readouterr().out


def test_compile_emits_each_stage(capsys):
    formula = ["Sum_Reduction(Exp(-SqDist(x, y)), 0)", "--aliases", "x = Vi(3)", "y = Vj(3)"]
    expected = {
        "keir": ['"keir.sqdist"', '"keir.reduction"'],
        "loops": ["scf.parallel", "scf.for", "vector.load", "math.fma"],
        "llvm": ["llvm.func @keir_kernel", "omp.parallel", "omp.wsloop"],
        "llvm-ir": ["define void @keir_kernel", "@llvm.fma.v", "__kmpc_fork_call"],
    }
    for emit, needles in expected.items():
        assert main(["compile", *formula, "--emit", emit]) == 0
        text = capsys.readouterr().out
        for needle in needles:
            assert needle in text, (emit, needle)
        if emit == "llvm-ir":  # keir-expand: no exp call left, vector or scalar
            assert "llvm.exp" not in text and "expf" not in text


def test_cli_reports_errors_without_a_traceback(capsys):
    assert main(["compile", "Sum_Reduction(Exp(x + y), 0)", "--aliases", "x=Vi(3)", "y=Vj(2)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("keir: error: Add: dimensions 3 and 2")
    assert "Traceback" not in err


def test_runtime_imports_neither_mlir_nor_lark():
    """Prebuilt kernels must run with numpy alone: the launcher may not pull the compiler in."""
    code = (
        "import sys, keir, keir.runtime.launcher, keir.runtime.cache, keir.dialect.signature\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mlir', 'lark')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_small_calls_run_on_one_thread_and_restore_the_thread_count():
    """Below SERIAL_PAIRS the launcher sets OpenMP to one thread for the call, then back."""
    from keir import Genred
    from keir.runtime import launcher

    f = Genred("SqDist(x,y)", ["x = Vi(2)", "y = Vj(2)"], reduction_op="Sum", axis=1)
    kernel = f._compiled.kernel("float64")
    get, set_ = kernel._threads
    before = get()
    seen = []
    native = kernel._fn
    kernel._fn = lambda *a: (seen.append(get()), native(*a))
    rng = np.random.default_rng(0)
    for n in (3, 200):  # 9 pairs: one thread; 40,000 pairs: all of them
        x, y = rng.random((n, 2)), rng.random((n, 2))
        want = ((x[:, None] - y[None]) ** 2).sum((1, 2))[:, None]
        np.testing.assert_allclose(kernel(x, y), want, rtol=1e-12)
        assert get() == before
    assert 200 * 200 >= launcher.SERIAL_PAIRS > 9
    assert seen == [1, before]


def test_host_cpu_is_the_one_llc_compiles_for():
    """The in-process libLLVM answer must name the CPU that llc's -mcpu=native would pick."""
    from keir.runtime import toolchain

    out = subprocess.run([toolchain.llc(), "--version"], capture_output=True, text=True).stdout
    (line,) = [x for x in out.splitlines() if "Host CPU:" in x]
    assert toolchain.host_cpu() == line.split(":", 1)[1].strip()


def test_llvm_is_told_the_target_triple_so_memset_is_a_library_call(tmp_path):
    """MLIR's LLVM IR names no triple; told none, LLVM assumes no C library and llc expanded a
    memset (K-min's zeroed state slots, before they were packed) into a loop of one-byte
    stores."""
    from keir.runtime import native, toolchain

    out = subprocess.run([toolchain.llc(), "--version"], capture_output=True, text=True).stdout
    (line,) = [x for x in out.splitlines() if "Default target:" in x]
    assert toolchain.target_triple() == line.split(":", 1)[1].strip()
    ir = (
        "define void @zero(ptr %p) {\n"
        "  call void @llvm.memset.p0.i64(ptr %p, i8 0, i64 640, i1 false)\n"
        "  ret void\n}\n"
        "declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)\n"
    )
    native.compile_ir(ir, tmp_path / "zero.s", asm=True)
    asm = (tmp_path / "zero.s").read_text()
    assert "memset" in asm and "loadstoreloop" not in asm


def test_llvm_failure_is_a_compile_error_naming_the_tool(tmp_path):
    import pytest

    from keir.errors import CompileError
    from keir.runtime import native

    with pytest.raises(CompileError, match=r"^opt failed \(1\):\n.*expected top-level entity"):
        native.compile_ir("this is not LLVM IR", tmp_path / "k.o")


def test_a_cpu_compile_imports_no_gpu_pass(tmp_path):
    """Cold-start budget: the GPU passes and the gpu dialect's classes load only when used."""
    code = (
        "import sys, numpy as np, keir\n"
        "x = np.ones((5, 3))\n"
        "keir.Genred('SqDist(x,y)', ['x = Vi(3)', 'y = Vj(3)'], axis=1)(x, x)\n"
        "print(sorted(m for m in sys.modules if 'gpu' in m))\n"
    )
    env = dict(os.environ, KEIR_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_an_llvm_job_stopped_before_its_ir_leaves_no_process():
    """compile_module starts opt | llc before lowering; a lowering error must stop them."""
    from keir.runtime import native

    job = native.LLVMJob()
    with job:
        pass
    assert job._opt.poll() is not None and job._llc.poll() is not None


def test_a_failing_llc_is_the_error_reported(tmp_path, monkeypatch):
    """opt | llc: when llc fails, its failure is reported, not opt's broken pipe."""
    import shutil

    import pytest

    from keir.errors import CompileError
    from keir.runtime import native, toolchain

    monkeypatch.setattr(toolchain, "llc", lambda: shutil.which("false"))
    big = "".join(
        f"define i32 @f{k}(i32 %x) {{\n  %y = add i32 %x, {k}\n  ret i32 %y\n}}\n"
        for k in range(4000)
    )
    with pytest.raises(CompileError, match=r"^false failed \(1\)"):
        native.compile_ir(big, tmp_path / "k.o")


@pytest.mark.parametrize("n", [1, 7, 8, 9, 37])
def test_small_call_path_matches_the_general_one(n):
    """Calls below SERIAL_PAIRS share one buffer for tiles and control (launcher._run_small);
    a progress hook sends the same call down the general path: the results are bitwise equal,
    for one- and three-column tiled arguments and row counts around the vector width."""
    from keir import Genred

    f = Genred(
        "Exp(-SqDist(x,y))*b",
        ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
        reduction_op="Sum",
        axis=1,
    )
    rng = np.random.default_rng(n)
    x, y, b = rng.random((5, 3)), rng.random((n, 3)), rng.random((n, 1))
    kernel = f._compiled.kernel("float64")
    small = kernel(x, y, b)
    general = kernel(x, y, b, progress=lambda done, total: None)
    np.testing.assert_array_equal(small, general)
    want = np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) @ b
    np.testing.assert_allclose(small, want, rtol=1e-13)
    assert small.flags.owndata
