"""keir's CUDA driver wrapper against a libcuda stand-in written in C (tests/fake_libcuda.c).

The Python fake of test_gpu_runtime.py ignores ctypes' argtypes; this one has the driver's
C prototypes, so the declarations in keir.runtime.cuda are exercised as a real libcuda would
see them: 64-bit device pointers and size_t, the per-thread current context, the JIT log
option, the parameter array of cuLaunchKernel (each parameter decoded from it and handed to
the emulated kernel, whose result is compared with the reference interpreter).
"""

from __future__ import annotations

import ctypes
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from keir.dialect.interpreter import evaluate
from keir.gpu_compiler import emulated_program
from keir.runtime import cuda, toolchain
from keir.runtime.gpu_kernel import GpuKernel

from gpu_cases import reduction_module

LAUNCH = ctypes.CFUNCTYPE(
    None,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_uint,
    ctypes.c_uint,
    ctypes.c_uint,
    ctypes.POINTER(ctypes.c_void_p),
)


@pytest.fixture(scope="module")
def fake_library(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fakecuda") / "libfakecuda.so"
    source = Path(__file__).with_name("fake_libcuda.c")
    subprocess.run(
        [toolchain.cc(), "-shared", "-fPIC", "-O1", str(source), "-o", str(out)], check=True
    )
    return out


class Launches:
    """The fake's launch callback: decodes the parameter array, runs the emulated kernel."""

    def __init__(self, lib, program):
        n_buffers = program.n_buffers
        self.count = sum(5 if k < n_buffers else 1 for k in program.params)
        self.seen, self.errors, self._libraries = [], [], {}
        self.callback = LAUNCH(self._launch)
        lib.fake_set_launch(self.callback)

    def _launch(self, image, name, grid, block, shared, params):
        try:
            values = [ctypes.c_int64.from_address(params[k]).value for k in range(self.count)]
            library = self._libraries.setdefault(image, ctypes.CDLL(image.decode()))
            fn = getattr(library, name.decode())
            fn.restype, fn.argtypes = None, [ctypes.c_int64] * len(values)
            fn(*values)
            self.seen.append((grid, block, shared))
        except Exception as e:  # a ctypes callback cannot raise: the test asserts on this
            self.errors.append(repr(e))


@pytest.fixture
def fake(fake_library, monkeypatch):
    """keir.runtime.cuda on the C fake: (the library, device 0)."""
    caches = (cuda.driver, cuda.device, cuda.available)
    for cached in caches:
        cached.cache_clear()
    lib = ctypes.CDLL(str(fake_library))
    monkeypatch.setattr(cuda, "_open_library", lambda: lib)
    yield lib, cuda.device(0)
    for cached in caches:
        cached.cache_clear()


def _args(M, N, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((M, 3)), rng.standard_normal((N, 3)), rng.random((N, 1))


def test_device_description_and_size_t_memory(fake):
    lib, dev = fake
    assert (dev.name, dev.capability, dev.chip) == ("Fake C GPU", (9, 0), "sm_90")
    lib.fake_set_free_bytes(ctypes.c_ulonglong(7 << 32))
    assert dev.memory_budget() == int((7 << 32) * cuda.MEMORY_SHARE)  # past 32 bits intact


@pytest.mark.parametrize("budget", [None, 1500])
def test_kernel_runs_through_the_c_prototypes(fake, budget):
    lib, dev = fake
    module = reduction_module("ArgKMin", "float64", 1)
    program = emulated_program(module, block=8)
    launches = Launches(lib, program)
    x, y, b = _args(29, 23)
    out = GpuKernel(program, dev, budget=budget)(x, y, b)
    assert not launches.errors
    want = evaluate(reduction_module("ArgKMin", "float64", 1), [x, y, b])
    np.testing.assert_array_equal(out, want)
    assert {(block, shared) for _, block, shared in launches.seen} == {(8, 0)}
    if budget is None:
        assert [grid for grid, _, _ in launches.seen] == [4]  # ceil(29 rows / 8 threads)
    else:
        assert len(launches.seen) > 2  # streamed in chunks
    assert lib.fake_live_allocations() == 0  # every cuMemAlloc freed


def test_every_call_makes_the_context_current_in_its_thread(fake):
    """The driver's current context is per thread: a kernel called from a new thread works
    because keir sets the context before each call (the fake refuses calls without one)."""
    lib, dev = fake
    refused = []
    probe = threading.Thread(target=lambda: refused.append(lib.cuCtxSynchronize()))
    probe.start()
    probe.join()
    assert refused == [201]  # CUDA_ERROR_INVALID_CONTEXT in a thread without a context
    program = emulated_program(reduction_module("Sum", "float32", 0), block=8)
    launches = Launches(lib, program)
    x, y, b = (a.astype(np.float32) for a in _args(11, 17, seed=1))
    got = []
    worker = threading.Thread(target=lambda: got.append(GpuKernel(program, dev)(x, y, b)))
    worker.start()
    worker.join()
    assert not launches.errors and len(got) == 1
    want = evaluate(reduction_module("Sum", "float32", 0), [x, y, b])
    np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-5)


def test_jit_failure_carries_the_jit_log(fake):
    _, dev = fake
    program = emulated_program(reduction_module("Sum", "float32", 1), block=8)
    bad = replace(program, code="BAD ptx")
    with pytest.raises(cuda.DeviceError) as err:
        GpuKernel(bad, dev)(*(a.astype(np.float32) for a in _args(4, 5)))
    text = str(err.value)
    assert "cuModuleLoadDataEx (PTX JIT) failed: CUDA_ERROR_INVALID_PTX (218)" in text
    assert "fake syntax error on line 1" in text
