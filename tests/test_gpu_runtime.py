"""The GPU runtime without a GPU: backend selection, chunk plans, parameter packing, and the CUDA
driver wrapper itself, run against a fake libcuda whose kernels are the CPU emulation."""

from __future__ import annotations

import collections
import ctypes

import numpy as np
import pytest

from keir import Genred, KeirError
from keir.cli import main
from keir.dialect.interpreter import evaluate
from keir.dialect.signature import Output, Signature
from keir.errors import ArgumentError
from keir.gpu_compiler import emulated_program
from keir.runtime import cuda
from keir.runtime.cuda_toolkit import toolkit
from keir.runtime.gpu_kernel import GpuKernel, GpuProgram, Plan, flat_values, plan_chunks

from gpu_cases import ALIASES, reduction_module


@pytest.fixture
def fresh_driver(monkeypatch):
    """Forget the cached driver and devices before and after the test."""
    caches = (cuda.driver, cuda.device, cuda.available)
    for cached in caches:
        cached.cache_clear()
    yield monkeypatch
    for cached in caches:
        cached.cache_clear()


@pytest.fixture
def no_driver(fresh_driver):
    """A machine without the NVIDIA driver: libcuda does not load (other libraries do)."""
    real = ctypes.CDLL

    def load(name, *args, **kwargs):
        if str(name).startswith("libcuda"):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)

    fresh_driver.setattr(ctypes, "CDLL", load)
    return fresh_driver


def _args(M=6, N=9):
    rng = np.random.default_rng(0)
    return rng.random((M, 3)), rng.random((N, 3)), rng.random((N, 1))


def test_gpu_backend_without_a_device_is_a_clear_error(no_driver):
    f = Genred("SqDist(x, y) * b", ALIASES, axis=1)
    for backend in ("GPU", "GPU_1D", "GPU_2D_host"):
        with pytest.raises(cuda.DeviceError, match="no CUDA device") as err:
            f(*_args(), backend=backend)
        assert isinstance(err.value, KeirError)


def test_auto_falls_back_to_the_cpu(no_driver):
    f = Genred("SqDist(x, y) * b", ALIASES, axis=1)
    assert not cuda.available()
    np.testing.assert_array_equal(f(*_args(), backend="auto"), f(*_args(), backend="CPU"))


def test_chip_for_compute_capability():
    assert cuda.chip_for((8, 6)) == "sm_80" and cuda.chip_for((9, 0)) == "sm_90"
    assert cuda.chip_for((12, 0)) == "sm_90"  # newer GPUs JIT-compile sm_90 PTX
    with pytest.raises(cuda.DeviceError, match="8.0 or newer"):
        cuda.chip_for((7, 5))


def test_chunk_plans():
    assert plan_chunks(1000, 2000, 16, 12, 10**6, 128) == Plan(1000, 2000)  # fits: one launch
    plan = plan_chunks(10**6, 10**6, 16, 12, 10**6, 128)
    assert plan.cols * 12 <= 10**6 // 2 and plan.rows % 128 == 0
    assert plan.rows * 16 + plan.cols * 12 <= 10**6
    with pytest.raises(ArgumentError, match="cannot hold one output row"):
        plan_chunks(10, 10, 1000, 8, 900, 128)


def test_flat_values_follow_the_kernel_parameter_order():
    sig = Signature("k", "float32", (0, 1), (3, 3), 1, (Output("Sum", 3, 3),))
    program = GpuProgram(sig, "k_kernel", "", 128, 3, params=(5, 1, 3, 8))
    host = [(100, 30), (200, 60), (0, 1), (300, 30), (400, 30), 10, 20, 0, 20]
    assert flat_values(program, host) == [
        ("i64", 10),  # M
        *[("ptr", 200), ("ptr", 200), ("i64", 0), ("i64", 60), ("i64", 1)],  # y
        *[("ptr", 300), ("ptr", 300), ("i64", 0), ("i64", 30), ("i64", 1)],  # the output
        ("i64", 20),  # total
    ]
    assert GpuProgram.from_json(program.to_json()) == program


class FakeLibcuda:
    """The libcuda calls keir makes, on host memory; a launch runs the emulated kernel with the
    values decoded from cuLaunchKernel's parameter array, so the packing is checked too."""

    def __init__(self, fail: tuple[str, ...] = ()):
        self.buffers, self.modules, self.functions, self.launches = {}, {}, {}, []
        self.fail, self.calls = fail, collections.Counter()
        for name in cuda._SIGNATURES:
            method = getattr(self, "_" + name, None) or (lambda *args: 0)
            setattr(self, name, self._checked(name, method))

    def _checked(self, name, method):
        def call(*args):
            self.calls[name] += 1
            return 700 if name in self.fail else method(*args) or 0

        return call  # a plain function: the driver sets argtypes on it

    def _cuDeviceGetCount(self, count):
        count._obj.value = 1

    def _cuDeviceGetName(self, buf, size, dev):
        buf.value = b"Fake GPU"

    def _cuDeviceGetAttribute(self, value, attribute, dev):
        value._obj.value = (
            9 if attribute == cuda.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR else 0
        )

    def _cuMemGetInfo_v2(self, free, total):
        free._obj.value, total._obj.value = 10**9, 2 * 10**9

    def _cuMemAlloc_v2(self, address, nbytes):
        buf = np.empty(nbytes, np.uint8)
        self.buffers[buf.ctypes.data] = buf
        address._obj.value = buf.ctypes.data

    def _cuMemFree_v2(self, address):
        del self.buffers[address]

    def _cuMemcpyHtoD_v2(self, dst, src, nbytes):
        ctypes.memmove(dst, src, nbytes)

    def _cuMemcpyDtoH_v2(self, dst, src, nbytes):
        ctypes.memmove(dst, src, nbytes)

    def _cuModuleLoadDataEx(self, module, image, n, options, values):
        module._obj.value = len(self.modules) + 1
        self.modules[module._obj.value] = ctypes.CDLL(image.rstrip(b"\0").decode())

    def _cuModuleGetFunction(self, fn, module, name):
        function = getattr(self.modules[module.value], name.decode())
        fn._obj.value = id(function)
        self.functions[id(function)] = function

    def _cuLaunchKernel(self, fn, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        values = [ctypes.c_int64.from_address(p).value for p in params]
        function = self.functions[fn.value]
        function.argtypes = [ctypes.c_int64] * len(values)
        function(*values)
        self.launches.append((gx, bx))

    def _cuGetErrorName(self, status, text):
        text._obj.value = b"CUDA_ERROR_FAKE"

    def _cuGetErrorString(self, status, text):
        text._obj.value = b"the fake driver refused"


def _fake_device(fresh_driver, fake):
    fresh_driver.setattr(cuda, "_open_library", lambda: fake)
    return cuda.device(0)


@pytest.mark.parametrize("budget", [None, 2000])
def test_cuda_device_runs_a_kernel_through_the_driver_calls(fresh_driver, budget):
    fake = FakeLibcuda()
    dev = _fake_device(fresh_driver, fake)
    assert (dev.name, dev.capability, dev.chip) == ("Fake GPU", (9, 0), "sm_90")
    program = emulated_program(reduction_module("ArgKMin", "float64", 1), block=8)
    x, y, b = _args(M=29, N=23)
    out = GpuKernel(program, dev, budget=budget)(x, y, b)
    want = evaluate(reduction_module("ArgKMin", "float64", 1), [x, y, b])
    np.testing.assert_array_equal(out, want)
    assert all(block == 8 for _, block in fake.launches)
    assert len(fake.launches) == 1 if budget is None else len(fake.launches) > 2  # chunks
    assert not fake.buffers  # every device buffer freed


def test_driver_errors_carry_the_driver_message(fresh_driver):
    dev = _fake_device(fresh_driver, FakeLibcuda(fail=("cuMemAlloc_v2",)))
    with pytest.raises(cuda.DeviceError, match="cuMemAlloc_v2 failed: CUDA_ERROR_FAKE"):
        dev.alloc(64)


def test_a_kernel_fault_is_reported_not_the_cleanup_after_it(fresh_driver):
    """After a kernel fault CUDA fails every call, cuMemFree too: the error raised names the
    launch, and every buffer was still offered back."""
    fake = FakeLibcuda(fail=("cuCtxSynchronize", "cuMemFree_v2"))
    dev = _fake_device(fresh_driver, fake)
    program = emulated_program(reduction_module("Sum", "float64", 1), block=8)
    with pytest.raises(cuda.DeviceError, match="cuCtxSynchronize failed: CUDA_ERROR_FAKE"):
        GpuKernel(program, dev)(*_args())
    assert fake.calls["cuMemFree_v2"] == fake.calls["cuMemAlloc_v2"] == 5  # x, y, b, out, state


@pytest.mark.skipif(toolkit() is None, reason="no CUDA toolkit (libdevice) found")
def test_cli_prints_ptx(capsys):
    formula = "Sum_Reduction(Exp(-SqDist(x, y)) * b, 0)"
    aliases = ["--aliases", "x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
    assert main(["compile", formula, *aliases, "--target", "gpu", "--emit", "ptx"]) == 0
    ptx = capsys.readouterr().out
    assert ".target sm_80" in ptx and ".shared" in ptx and "bar.sync" in ptx
    assert main(["compile", formula, *aliases, "--emit", "gpu"]) == 0
    assert "gpu.launch" in capsys.readouterr().out
