"""keir.torch on CUDA tensors, as far as a machine without a GPU can check it.

1. PTX: what keir.torch runs on a GPU (a forward kernel, its keir.grad gradient, an index
   reduction) is compiled by the cuda backend, and ptxas accepts it for sm_80 and sm_90.
2. The launch path, end to end from keir.torch.Genred and LazyTensor down to cuLaunchKernel,
   against the C libcuda stand-in of test_gpu_driver_abi.py (its device memory is host memory).
   What stands in for the GPU, and nothing else: CPU tensors are reported on cuda:0 by
   keir.torch.tensors.device_of, torch's current stream is a marker handle
   (tensors.current_stream), and the cuda backend's build returns the emulated kernel (the same
   gpu.launch run on the CPU by keir-gpu-to-cpu, which the fake's launch calls) in place of
   PTX. Values and gradients are compared with the CPU path; the fake counts that no byte was
   copied between host and device, that nothing synchronised, and that the launch went to
   torch's stream.
3. The errors: two devices in one call, backend='CPU' on CUDA tensors, another device_id, no
   CUDA driver, keir without libdevice (its gpu extra), wrong shapes.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keir  # noqa: E402
import keir.torch as kt  # noqa: E402
from keir.backends import cuda as cuda_backend  # noqa: E402
from keir.backends.base import Built  # noqa: E402
from keir.gpu_compiler import compile_ptx, emulated_program  # noqa: E402
from keir.gradients import grad  # noqa: E402
from keir.runtime import cuda, cuda_toolkit  # noqa: E402
from keir.torch import tensors as seam  # noqa: E402

from test_gpu_driver_abi import fake, fake_library  # noqa: E402, F401  (fixtures)
from test_gpu_ptx import CHIPS, assemble  # noqa: E402

CUDA0 = torch.device("cuda", 0)
STREAM = 0x5EED  # the marker torch's "current stream" returns in these tests
GAUSS = ("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])
F64 = torch.float64


class Device:
    """The stand-in: every CPU tensor is on cuda:0 (but those whose memory `on_cpu` was given);
    the cuda backend builds emulated kernels, whose .so the fake's launch callback calls."""

    def __init__(self, lib, monkeypatch):
        self.lib, self.cpu, self.errors, self.launches = lib, set(), [], 0
        self._programs, self._libraries = {}, {}
        self._callback = _LAUNCH(self._launch)
        lib.fake_set_launch(self._callback)
        monkeypatch.setattr(seam, "device_of", self._device_of)
        monkeypatch.setattr(seam, "current_stream", lambda device: STREAM)
        monkeypatch.setattr(cuda_backend.BACKEND, "build", self._build)

    def on_cpu(self, *tensors):
        """These tensors and their views stay CPU tensors."""
        self.cpu = {t.untyped_storage().data_ptr() for t in tensors}

    def _device_of(self, t):
        return t.device if t.untyped_storage().data_ptr() in self.cpu else CUDA0

    def _build(self, module, target=None, block=None):
        program = emulated_program(module, block=8)
        self._programs[program.code] = program
        meta = {k: v for k, v in program.to_json().items() if k != "code"}
        return Built(meta, extra={"ptx": {chip: program.code for chip in target.chips}})

    def _launch(self, image, name, grid, block, shared, params):
        try:
            program = self._programs[image.decode()]
            n = sum(5 if k < program.n_buffers else 1 for k in program.params)
            values = [ctypes.c_int64.from_address(params[k]).value for k in range(n)]
            library = self._libraries.setdefault(image, ctypes.CDLL(image.decode()))
            fn = getattr(library, name.decode())
            fn.restype, fn.argtypes = None, [ctypes.c_int64] * n
            fn(*values)
            self.launches += 1
        except Exception as e:  # a ctypes callback cannot raise: the tests assert on this
            self.errors.append(repr(e))

    def counters(self):
        lib = self.lib
        return lib.fake_copies(), lib.fake_synchronizes(), lib.fake_live_allocations()

    def check_quiet(self, before):
        """Since `before`: launches happened, none failed, no copy, no sync, on torch's stream."""
        assert not self.errors, self.errors
        assert self.counters() == before  # no cuMemcpy, no cuCtxSynchronize, no cuMemAlloc
        self.lib.fake_last_stream.restype = ctypes.c_void_p
        assert self.lib.fake_last_stream() == STREAM


_LAUNCH = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint,
                           ctypes.c_uint, ctypes.POINTER(ctypes.c_void_p))  # fmt: skip


@pytest.fixture
def gpu(fake, monkeypatch):  # noqa: F811 (the fixture imported above)
    lib, _ = fake
    return Device(lib, monkeypatch)


def _data(M, N, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, y = (torch.randn(n, 3, generator=g, dtype=dtype) for n in (M, N))
    return [x, y, torch.rand(N, 1, generator=g, dtype=dtype)]


def _numpy(*ts):
    return [t.detach().numpy() for t in ts]


# ---------------------------------------------------------------- 1. PTX
@pytest.mark.skipif(cuda_toolkit.toolkit() is None or cuda_toolkit.ptxas() is None,
                    reason="no CUDA toolkit (libdevice and ptxas)")  # fmt: skip
def test_ptx_of_what_keir_torch_runs_on_a_gpu_assembles(tmp_path):
    f = kt.Genred(*GAUSS, reduction_op="Sum", axis=1)
    g = grad(f._reduction.genred, "x").genred  # the backward of d/dx, as keir.torch runs it
    knn = kt.Genred("SqDist(x,y)", GAUSS[1][:2], reduction_op="ArgKMin", axis=0, opt_arg=4)
    for genred, dtype in ((f._reduction.genred, "float32"), (g, "float64"),
                          (knn._reduction.genred, "float64")):  # fmt: skip
        module, _ = genred._compiled.module(dtype)
        texts, _ = compile_ptx(module, CHIPS)
        assemble(texts, tmp_path, f"{genred.kind} ({dtype})")


# ---------------------------------------------------------------- 2. the launch path
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("axis", [0, 1])
def test_genred_runs_on_device_pointers(gpu, dtype, axis):
    x, y, b = _data(37, 29, dtype)
    if axis == 0:
        x, y, b = y, x, torch.rand(37, 1, dtype=dtype)
    want = keir.Genred(*GAUSS, reduction_op="Sum", axis=axis)(*_numpy(x, y, b), backend="CPU")
    before = gpu.counters()
    out = kt.Genred(*GAUSS, reduction_op="Sum", axis=axis)(x, y, b)
    gpu.check_quiet(before)
    assert gpu.launches == 1 and out.dtype == dtype and out.shape == want.shape
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), want, rtol=tol, atol=tol)


def test_index_reductions_and_pairs_come_back_as_pykeops_does(gpu):
    x, y, _ = _data(23, 31, F64, seed=1)
    for op, k in (("ArgKMin", 3), ("Min_ArgMin", None), ("KMin_ArgKMin", 2)):
        f = keir.Genred("SqDist(x,y)", GAUSS[1][:2], reduction_op=op, axis=1, opt_arg=k)
        want = f(*_numpy(x, y), backend="CPU")
        got = kt.Genred("SqDist(x,y)", GAUSS[1][:2], reduction_op=op, axis=1, opt_arg=k)(x, y)
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for g, w in zip(got, want):
            assert g.dtype == torch.from_numpy(w).dtype and g.is_contiguous()
            np.testing.assert_allclose(g.numpy(), w, rtol=1e-12)
    assert not gpu.errors


def test_gradients_and_double_backward_on_the_device(gpu):
    f = kt.Genred(*GAUSS, reduction_op="LogSumExp", axis=1)
    x, y, b = (t.requires_grad_() for t in _data(9, 11, F64, seed=2))
    assert torch.autograd.gradcheck(lambda *a: f(*a), (x, y, b))
    assert torch.autograd.gradgradcheck(lambda *a: f(*a), (x, y, b))
    assert not gpu.errors and gpu.launches > 10  # forward, backward and their own backwards
    cpu_x, cpu_y, cpu_b = (t.detach().clone().requires_grad_() for t in (x, y, b))
    gpu.on_cpu(cpu_x, cpu_y, cpu_b)  # the same call on the CPU path: the same gradients
    want = torch.autograd.grad(f(cpu_x, cpu_y, cpu_b).sum(), [cpu_x, cpu_y, cpu_b])
    gpu.on_cpu()
    got = torch.autograd.grad(f(x, y, b).sum(), [x, y, b])
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-12)


def test_lazytensor_batches_and_parameters_on_the_device(gpu):
    x, y, b = _data(2 * 13, 2 * 7, F64, seed=3)
    x, y, b = x.reshape(2, 13, 3), y.reshape(2, 7, 3), b.reshape(2, 7, 1)
    x_i, y_j = kt.LazyTensor(x[:, :, None]), kt.LazyTensor(y[:, None])
    b_j = kt.LazyTensor(b[:, None])
    got = ((-x_i.sqdist(y_j) * 0.5).exp() * b_j).sum(2)  # 0.5: a Python number, a parameter
    want = torch.exp(-0.5 * ((x[:, :, None] - y[:, None]) ** 2).sum(-1)) @ b
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert not gpu.errors and gpu.launches == 2  # one per batch index


def test_strided_and_lazily_negated_tensors_are_read_right(gpu):
    x, y, b = _data(8, 6, F64, seed=4)
    xt = x.t().contiguous().t()  # same values, transposed strides
    neg = torch._neg_view(-y)  # the negative bit: data_ptr holds -y
    assert not xt.is_contiguous() and neg.is_neg()
    got = kt.Genred(*GAUSS, reduction_op="Sum", axis=1)(xt, neg, b)
    want = keir.Genred(*GAUSS, reduction_op="Sum", axis=1)(*_numpy(x, y, b), backend="CPU")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


# ---------------------------------------------------------------- 3. errors
def test_two_devices_in_one_call_are_refused(gpu):
    x, y, b = _data(5, 4, F64)
    gpu.on_cpu(b)
    with pytest.raises(keir.ArgumentError, match="b: a tensor on cpu, but x is on cuda:0"):
        kt.Genred(*GAUSS, reduction_op="Sum", axis=1)(x, y, b)
    with pytest.raises(keir.ArgumentError, match="a2: a tensor on cpu, but a0 is on cuda:0"):
        (kt.LazyTensor(x[:, None]).sqdist(kt.LazyTensor(y[None])) * kt.LazyTensor(b[None])).sum(1)


def test_backend_and_device_id_must_fit_the_tensors(gpu):
    f = kt.Genred(*GAUSS, reduction_op="Sum", axis=1)
    x, y, b = _data(5, 4, F64)
    with pytest.raises(keir.ArgumentError, match=r"x: a tensor on cuda:0 with backend='CPU'"):
        f(x, y, b, backend="CPU")
    with pytest.raises(keir.ArgumentError, match="device_id=1, but x is a tensor on cuda:0"):
        f(x, y, b, device_id=1)
    with pytest.raises(keir.NotSupportedError, match="backend 'TPU' is not supported"):
        f(x, y, b, backend="TPU")
    with pytest.raises(keir.ArgumentError, match=r"y: expected inner dimension 3 .*\(5, 2\)"):
        f(x, torch.ones(5, 2, dtype=F64), b)
    assert gpu.launches == 0


def test_without_a_driver_or_libdevice_the_error_names_the_argument(monkeypatch):
    monkeypatch.setattr(seam, "device_of", lambda t: CUDA0)
    f = kt.Genred(*GAUSS, reduction_op="Sum", axis=1)
    x, y, b = _data(5, 4, F64)
    monkeypatch.setattr(cuda_toolkit, "toolkit", lambda: None)
    with pytest.raises(keir.CompileError, match="x: a tensor on cuda:0, but keir cannot compile"):
        f(x, y, b)
    monkeypatch.undo()
    monkeypatch.setattr(seam, "device_of", lambda t: CUDA0)
    monkeypatch.setattr(cuda_toolkit, "toolkit", lambda: "/a/toolkit")
    caches = (cuda.driver, cuda.device, cuda.available)
    for cached in caches:
        cached.cache_clear()

    def no_driver():
        raise cuda.DeviceError("no CUDA device: the NVIDIA driver library libcuda.so.1 is not "
                               "installed")  # fmt: skip

    monkeypatch.setattr(cuda, "_open_library", no_driver)
    try:
        with pytest.raises(cuda.DeviceError, match="x: a tensor on cuda:0, but keir cannot run"):
            f(x, y, b)
    finally:
        for cached in caches:
            cached.cache_clear()


def test_other_devices_are_refused_by_name():
    f = kt.Genred(*GAUSS, reduction_op="Sum", axis=1)
    x, _, b = _data(5, 4, F64)
    with pytest.raises(keir.ArgumentError, match="y: a tensor on device meta; keir.torch runs CPU"):
        f(x, torch.empty(4, 3, dtype=F64, device="meta"), b)


def test_kernel_solve_and_python_numbers_on_the_device(gpu):
    """KernelSolve's conjugate gradients run keir's kernel on the device; a Python number for
    a parameter becomes a tensor beside the others (on their device)."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(12, 2, generator=g, dtype=F64)
    b = torch.rand(12, 1, generator=g, dtype=F64, requires_grad=True)
    formula, aliases = "Exp(-g*SqDist(x,y))*b", ["g = Pm(1)", "x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
    solve = kt.KernelSolve(formula, aliases, "b", axis=1)
    a = solve(2.0, x, x, b, alpha=0.5, eps=1e-12)
    K = torch.exp(-2.0 * ((x[:, None] - x[None]) ** 2).sum(-1))
    want = torch.linalg.solve(K + 0.5 * torch.eye(12, dtype=F64), b.detach())
    torch.testing.assert_close(a.detach(), want, rtol=1e-8, atol=1e-9)
    (grad_b,) = torch.autograd.grad(a.sum(), [b])
    want_b = torch.linalg.solve(K + 0.5 * torch.eye(12, dtype=F64), torch.ones(12, 1, dtype=F64))
    torch.testing.assert_close(grad_b, want_b, rtol=1e-8, atol=1e-9)
    assert not gpu.errors and gpu.launches > 2
