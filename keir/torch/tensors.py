"""Torch tensors in, numpy views to keir's kernels, torch tensors out: the zero-copy seam.

keir's kernels run on numpy arrays. `t.detach().numpy()` of a CPU tensor is a view of the
tensor's memory (no copy; a non-contiguous tensor gives a strided view, which the launcher
makes contiguous as it does for numpy), and `torch.from_numpy` wraps a kernel's output without
a copy. CUDA tensors skip numpy: devices.py hands their device pointers to keir's CUDA kernel.
Everything a kernel would misread is refused here, naming the argument: tensors on another
device or on two devices, mixed float dtypes, float16, complex tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ArgumentError, NotSupportedError

FLOATS = {torch.float32: "float32", torch.float64: "float64"}
TORCH_DTYPES = {name: dtype for dtype, name in FLOATS.items()}
_INTEGERS = {torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool}


def device_of(t: torch.Tensor) -> torch.device:
    """Where a tensor lives (a seam: tests stand CPU tensors in for CUDA ones, devices.py)."""
    return t.device


def current_stream(device: torch.device) -> int:
    """The CUstream handle of torch's current stream on `device` (0: the default stream)."""
    return torch.cuda.current_stream(device).cuda_stream


def device_error(name: str, t: torch.Tensor) -> ArgumentError:
    return ArgumentError(
        f"{name}: a tensor on device {device_of(t)}; keir.torch runs CPU and CUDA tensors: "
        "use .cpu() or .cuda()"
    )


def check(names, args) -> tuple[list, torch.dtype]:
    """The arguments as tensors (numbers become 1-element tensors) and their float dtype.
    All tensors must be on one device (the CPU, or one CUDA device: devices.py)."""
    dtype = first = device = None
    converted = False  # numbers, or integer tensors: converted after the loop
    for name, a in zip(names, args):
        if not isinstance(a, torch.Tensor):
            if isinstance(a, (int, float)) and not isinstance(a, bool):
                converted = True
                continue
            raise ArgumentError(f"{name}: expected a torch tensor, got {type(a).__name__}")
        where = device_of(a)
        if where.type not in ("cpu", "cuda"):
            raise device_error(name, a)
        if device is None:
            device, on = where, name
        elif where != device:
            raise ArgumentError(
                f"{name}: a tensor on {where}, but {on} is on {device}; all tensors of a call "
                "must be on one device"
            )
        kind = a.dtype
        if kind is dtype:
            continue
        if kind in FLOATS:
            if dtype is not None:
                raise ArgumentError(
                    f"{name}: dtype {kind}, but {first} is {dtype}; all float tensors of "
                    "a call must have the same dtype (pykeops refuses the mix too)"
                )
            dtype, first = kind, name
        elif kind in _INTEGERS:
            converted = True
        else:
            raise _dtype_error(name, kind)
    dtype = dtype or torch.get_default_dtype()
    if not converted:
        return list(args), dtype
    tensors = [a if isinstance(a, torch.Tensor) else _number(a, dtype, args) for a in args]
    return [t if t.dtype == dtype else t.to(dtype) for t in tensors], dtype


def _number(value, dtype, args):
    """A Python number as a 1-element tensor beside the call's tensors (on their device)."""
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    if like is None:
        return torch.tensor([float(value)], dtype=dtype)
    return like.new_full((1,), float(value), dtype=dtype)


def _dtype_error(name: str, dtype: torch.dtype):
    if dtype.is_complex:
        return ArgumentError(
            f"{name}: a complex tensor; Genred takes real tensors (complex numbers as "
            "interleaved real, imaginary pairs: torch.view_as_real), or use ComplexLazyTensor"
        )
    return NotSupportedError(
        f"{name}: {dtype} tensors are not supported: keir kernels compute in float32 or float64"
    )


def array(t: torch.Tensor) -> np.ndarray:
    """A numpy view of a CPU tensor's memory (a copy only for lazily negated/conjugated views:
    force=True resolves them, and detaches)."""
    return t.numpy(force=True)


def tensor(result):
    """A kernel's output (an array or a tuple of arrays) as tensors sharing its memory."""
    if isinstance(result, tuple):
        return tuple(torch.from_numpy(np.ascontiguousarray(r)) for r in result)
    return torch.from_numpy(result)
