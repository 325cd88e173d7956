"""CUDA tensors: keir's CUDA kernel run on their device memory, its outputs allocated by torch.

A call on CUDA tensors compiles the reduction with keir's cuda backend (PTX for the chip of the
tensors' device, once per process and formula: docs/gpu.md) and launches it on the tensors'
`data_ptr()`s, so nothing goes through the host. The outputs (and the reduction's state array)
are torch tensors on the same device, from torch's caching allocator, and the kernel is queued
on torch's current stream of that device: it is ordered with the torch work before and after
it, and nothing waits for it (like a torch op: synchronise before timing it). keir's driver
uses the device's primary context, which is torch's too, so torch's pointers are valid in it.

torch's CUDA runtime is asked only through keir.torch.tensors' `device_of` and
`current_stream`: tests replace the two to run this path on the CPU, against a libcuda stand-in
whose device memory is host memory.
"""

from __future__ import annotations

import torch

from ..errors import ArgumentError, CompileError, NotSupportedError
from ..runtime import cuda
from ..runtime.launcher import check_shapes
from ..runtime.results import check_index_range, postprocess
from . import tensors as seam
from .tensors import FLOATS, TORCH_DTYPES


def on_cuda(tensors) -> bool:
    """Whether a call runs on a CUDA device (check() made every tensor's device the same)."""
    return bool(tensors) and seam.device_of(tensors[0]).type == "cuda"


def run(genred, names, tensors, backend: str, device_id: int):
    """The reduction `genred` on CUDA tensors of one device and dtype: pykeops' output form."""
    device = seam.device_of(tensors[0])
    _check_choice(names[0], device, backend, device_id)
    kernel = _kernel(genred, names[0], tensors[0].dtype, device)
    return launch(kernel, tensors, device)


def _check_choice(name: str, device, backend: str, device_id: int) -> None:
    if backend not in cuda.BACKENDS:
        raise NotSupportedError(
            f"backend {backend!r} is not supported: use one of {', '.join(cuda.BACKENDS)}"
        )
    if backend == "CPU":
        raise ArgumentError(
            f"{name}: a tensor on {device} with backend='CPU': move the tensors with .cpu(), "
            "or use backend='auto' or 'GPU'"
        )
    if device_id not in (-1, device.index or 0):
        raise ArgumentError(f"device_id={device_id}, but {name} is a tensor on {device}")


def _kernel(genred, name: str, dtype: torch.dtype, device):
    """The GpuKernel of `genred` for the device (compiled on first use, kept by the Genred)."""
    from ..runtime.cuda_toolkit import toolkit

    where = f"{name}: a tensor on {device}, but keir"
    if toolkit() is None:
        raise CompileError(
            f"{where} cannot compile CUDA kernels here: libdevice (CUDA's math library) is not "
            "found; install keir's gpu extra (pip install 'keir[gpu]') or set KEIR_CUDA_PATH"
        )
    try:
        dev = cuda.device(device.index or 0)
    except cuda.DeviceError as e:
        raise cuda.DeviceError(f"{where} cannot run on it: {e}") from None
    return genred._compiled.kernel(FLOATS[dtype], dev)


def launch(kernel, tensors, device=None):
    """A loaded GpuKernel on CUDA tensors, its outputs in pykeops' form (int64 indices, ...)."""
    sig = kernel.sig
    arrays, M, N = prepare(kernel.names, sig, tensors)
    check_index_range(sig.reduction, sig.dtype, N if sig.axis == 1 else M)
    rows, dtype, like = (M if sig.out_cat == 0 else N), TORCH_DTYPES[sig.dtype], arrays[0]
    outs = [like.new_empty((rows, o.out_dim), dtype=dtype) for o in sig.outputs]
    state = like.new_empty((max(rows * kernel.program.state_len, 1),), dtype=dtype)
    buffers = [(t.data_ptr(), t.numel()) for t in (*arrays, *outs, state)]
    kernel.run_resident(buffers, M, N, seam.current_stream(device or seam.device_of(like)))
    result = postprocess(sig.reduction, outs[0], sig.k)
    return tuple(r.contiguous() for r in result) if isinstance(result, tuple) else result


def prepare(names, sig, tensors) -> tuple[list[torch.Tensor], int, int]:
    """C-contiguous 2-D tensors of the kernel's dtype (Pm: one row), M and N: the checks of
    the CPU launcher (runtime.launcher.Kernel.prepare) on device tensors, without a copy of a
    contiguous tensor of the right dtype (others are copied on their device)."""
    if len(tensors) != len(sig.arg_cats):
        raise ArgumentError(f"expected {len(sig.arg_cats)} tensors, got {len(tensors)}")
    dtype, arrays = TORCH_DTYPES[sig.dtype], []
    for name, cat, t in zip(names, sig.arg_cats, tensors):
        t = t.detach().resolve_neg().resolve_conj().to(dtype).contiguous()
        t = t.reshape(1, -1) if cat == 2 else t.reshape(-1, 1) if t.dim() == 1 else t
        if t.dim() != 2:
            raise ArgumentError(
                f"{name}: expected a 2-D array (rows, dim), got shape {tuple(t.shape)}"
            )
        arrays.append(t)
    return (arrays, *check_shapes(sig, names, arrays, "a tensor"))
