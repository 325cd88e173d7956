"""What a user calls on a GPU, for gpu_check.py: Genred's backend= choices, and keir.torch on
CUDA tensors when that module exists. Both compile on the spot, so they need MLIR where they
run; each check that cannot run says why, and a failure names the call and the error."""

from __future__ import annotations

import time

import numpy as np

from gpu_suite import Case, Result, inputs, mismatch

BACKENDS = ("GPU", "auto", "GPU_1D", "GPU_2D_host")
TORCH_TOL = {"float32": 1e-4, "float64": 1e-10}


def _result(name: str, check: str, run) -> Result:
    start = time.perf_counter()
    try:
        ok, detail = run()
    except Exception as e:  # reported; the other checks go on
        ok, detail = False, f"{type(e).__name__}: {e}".replace("\n", " | ")
    return Result(name, check, ok, detail, time.perf_counter() - start)


def _mlir_missing() -> str | None:
    try:
        import mlir.ir  # noqa: F401
    except ImportError as e:
        return f"keir cannot compile here (no MLIR: {e}); the pack's kernels were run instead"
    return None


def genred_checks(source, device, size=(1000, 777)) -> list[Result]:
    """Genred on the GPU (each backend= spelling) against the CPU backend's reference."""
    missing = _mlir_missing()
    if missing:
        return [Result("Genred", "backends", True, f"skipped: {missing}", 0.0)]
    from keir import Genred

    from gpu_pack import gpu_cases

    results = []
    for kind, dtype, axis in (("Sum", "float32", 1), ("ArgKMin", "float64", 0)):
        case = Case(kind, dtype, axis)
        formula, weight, k = gpu_cases().REDUCTIONS[kind]
        opts = {"opt_arg": k} if k else {}
        f = Genred(formula, gpu_cases().ALIASES, reduction_op=kind, axis=axis, **opts)
        args = source.inputs(case, *size)
        (raw,) = source.reference(case, size, args)
        for backend in BACKENDS:

            def run(backend=backend):
                got = f(*args, backend=backend, device_id=device.ordinal)
                found = _api_mismatch(kind, k, got, raw, dtype)
                return found is None, found or f"{np.shape(got)} {np.asarray(got).dtype}: ok"

            results.append(_result(f"Genred {case.id}", f"backend={backend}", run))
    return results


def _api_mismatch(kind, k, got, raw, dtype) -> str | None:
    """Genred returns pykeops' form (int64 indices, K axes): compare it in that form."""
    from keir.runtime.results import postprocess

    want = postprocess(kind, raw, k)
    if isinstance(want, tuple) or np.asarray(got).dtype != np.asarray(want).dtype:
        return f"returned {type(got).__name__} {np.asarray(got).dtype}, expected {want.dtype}"
    got_raw = np.asarray(got, dtype=raw.dtype).reshape(raw.shape)
    return mismatch(kind, k, got_raw, raw, dtype)


def torch_checks(device) -> list[Result]:
    """keir.torch on CUDA tensors against torch's dense computation, values and gradients."""
    try:
        import torch
    except ImportError as e:
        return [Result("keir.torch", "import", True, f"skipped: no torch ({e})", 0.0)]
    try:
        import keir.torch as kt
    except ImportError as e:
        return [
            Result("keir.torch", "import", True, f"skipped: keir.torch not importable ({e})", 0.0)
        ]
    if not torch.cuda.is_available():
        return [Result("keir.torch", "cuda", True, "skipped: torch sees no CUDA device", 0.0)]
    missing = _mlir_missing()
    if missing:
        return [Result("keir.torch", "cuda", True, f"skipped: {missing}", 0.0)]
    cuda = torch.device("cuda", device.ordinal)
    results = []
    for dtype in ("float32", "float64"):
        x, y, b = (torch.from_numpy(a).to(cuda) for a in inputs(dtype, 2000, 1500))
        name = f"keir.torch {dtype}"
        results.append(_result(name, "gauss sum", lambda: _gauss(kt, x, y, b)))
        results.append(_result(name, "gauss grad x", lambda: _grad(kt, x, y, b)))
        results.append(_result(name, "argkmin", lambda: _argkmin(kt, x, y)))
        results.append(_result(name, "no host copy", lambda: _no_host_copy(kt, device, x, y, b)))
        results.append(_result(name, "side stream", lambda: _side_stream(kt, x, y, b)))
        results.append(_result(name, "lazy batch", lambda: _lazy_batch(kt, x, y, b)))
    return results


def torch_pointer_checks(source, device) -> list[Result]:
    """keir.torch's device-pointer launch (keir.torch.devices.launch) of the pack's kernels on
    CUDA tensors, with numpy, torch and keir's runtime alone (no MLIR): the pack's CPU
    references, on torch's default stream and on a side stream."""
    try:
        import torch

        from keir.torch import devices
    except ImportError as e:
        return [Result("keir.torch", "pointers", True, f"skipped: no keir.torch ({e})", 0.0)]
    if not torch.cuda.is_available():
        return [Result("keir.torch", "pointers", True, "skipped: torch sees no CUDA device", 0.0)]
    from keir.runtime.gpu_kernel import GpuKernel

    cuda, results = torch.device("cuda", device.ordinal), []
    for case in [c for c in source.cases() if c.kind in ("Sum", "ArgKMin", "LogSumExp")]:
        size = source.sizes().plain[0]

        def run(case=case, size=size):
            args = source.inputs(case, *size)
            (raw,) = source.reference(case, size, args)
            kernel = GpuKernel(source.program(case), device)
            tensors = [torch.from_numpy(a).to(cuda) for a in args]
            side = torch.cuda.Stream(cuda)
            with torch.cuda.stream(side):
                on_side = devices.launch(kernel, tensors)
            plain = devices.launch(kernel, tensors)
            torch.cuda.synchronize(cuda)
            for got in (plain, on_side):  # back to the raw form (float indices, K flat)
                got = got.double().reshape(raw.shape).cpu().numpy().astype(raw.dtype)
                found = mismatch(case.kind, kernel.sig.k, got, raw, case.dtype)
                if found:
                    return False, found
            return True, f"{tuple(plain.shape)} {plain.dtype} on {plain.device}, both streams"

        results.append(_result(f"keir.torch ptr {case.id}", f"{size[0]}x{size[1]}", run))
    return results


ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]


def _dense_gauss(x, y, b):
    import torch

    return torch.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


def _close(got, want, what: str):
    import torch

    if not isinstance(got, torch.Tensor) or got.device != want.device:
        where = getattr(got, "device", type(got).__name__)
        return False, f"{what}: returned {where}, expected a tensor on {want.device}"
    tol = TORCH_TOL[str(want.dtype).split(".")[-1]]
    err = float((got - want).abs().max()) / max(float(want.abs().max()), 1e-30)
    return err <= tol, f"{what}: {tuple(got.shape)} on {got.device}, max rel err {err:.1e}"


def _gauss(kt, x, y, b):
    f = kt.Genred("Exp(-SqDist(x,y))*b", ALIASES, reduction_op="Sum", axis=1)
    return _close(f(x, y, b, backend="GPU"), _dense_gauss(x, y, b), "sum_j exp(-|x-y|^2) b")


def _grad(kt, x, y, b):
    import torch

    f = kt.Genred("Exp(-SqDist(x,y))*b", ALIASES, reduction_op="Sum", axis=1)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    (g,) = torch.autograd.grad(f(xa, y, b, backend="GPU").sum(), [xa])
    (want,) = torch.autograd.grad(_dense_gauss(xb, y, b).sum(), [xb])
    return _close(g, want, "d/dx of the sum")


def _argkmin(kt, x, y):
    import torch

    f = kt.Genred("SqDist(x,y)", ALIASES[:2], reduction_op="ArgKMin", axis=1, opt_arg=4)
    got = f(x, y, backend="GPU")
    want = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1).topk(4, dim=1, largest=False).indices
    if not isinstance(got, torch.Tensor):
        return False, f"returned {type(got).__name__}, expected a tensor"
    same = (got.sort(1).values.long().cpu() == want.sort(1).values.cpu()).all(1).float().mean()
    return bool(same >= 0.999), f"{float(same):.2%} rows with torch's 4 nearest indices"


def _no_host_copy(kt, device, x, y, b):
    """keir's own host<->device copies (CudaDevice.upload/download) are never called."""
    import torch

    from keir.runtime import cuda

    dev, calls = cuda.device(device.ordinal), []
    saved = dev.upload, dev.download
    dev.upload = lambda *a: calls.append("upload") or saved[0](*a)
    dev.download = lambda *a: calls.append("download") or saved[1](*a)
    try:
        xa = x.clone().requires_grad_()
        f = kt.Genred("Exp(-SqDist(x,y))*b", ALIASES, reduction_op="Sum", axis=1)
        (g,) = torch.autograd.grad(f(xa, y, b).sum(), [xa])
    finally:
        dev.upload, dev.download = saved
    ok = not calls and g.is_cuda
    return ok, f"{len(calls)} host copies by keir ({', '.join(calls) or 'none'})"


def _side_stream(kt, x, y, b):
    """On a side stream, right after x is written there: ordered by the stream, not a sync."""
    import torch

    side = torch.cuda.Stream(x.device)
    f = kt.Genred("Exp(-SqDist(x,y))*b", ALIASES, reduction_op="Sum", axis=1)
    with torch.cuda.stream(side):
        x2 = x * 1.0  # queued on the side stream; keir must run after it
        got = f(x2, y, b)
    torch.cuda.synchronize(x.device)
    return _close(got, _dense_gauss(x, y, b), "sum on a side stream")


def _lazy_batch(kt, x, y, b):
    import torch

    xb, yb, bb = x[:1000].reshape(2, 500, 3), y[:1000].reshape(2, 500, 3), b[:1000].reshape(2, 500)
    x_i, y_j = kt.LazyTensor(xb[:, :, None]), kt.LazyTensor(yb[:, None])
    got = ((-x_i.sqdist(y_j)).exp() * kt.LazyTensor(bb[:, None, :, None])).sum(2)
    want = torch.exp(-((xb[:, :, None] - yb[:, None]) ** 2).sum(-1)) @ bb[..., None]
    return _close(got, want, "LazyTensor, batch of 2")
