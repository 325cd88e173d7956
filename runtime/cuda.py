"""The CUDA driver API through ctypes: a device, its memory and kernel launches.

libcuda.so.1 (installed with the NVIDIA driver) is opened on first use, never at import: no
CUDA toolkit is needed to run kernels, the driver JIT-compiles keir's PTX for the device.
Every call is checked; a failure raises DeviceError with the driver's own error name and text.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np

from ..errors import KeirError

CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
CU_JIT_ERROR_LOG_BUFFER = 5
CU_JIT_ERROR_LOG_SIZE = 6  # CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
MEMORY_SHARE = 0.8  # of the free device memory that one call may use

_P, _U64, _INT, _UINT, _SIZE = (
    ctypes.c_void_p,
    ctypes.c_uint64,
    ctypes.c_int,
    ctypes.c_uint,
    ctypes.c_size_t,
)
_REF = ctypes.c_void_p  # pointers to out-parameters (ctypes.byref)
# name -> argument types; every function returns a CUresult (0: success)
_SIGNATURES = {
    "cuInit": [_UINT],
    "cuDeviceGetCount": [_REF],
    "cuDeviceGet": [_REF, _INT],
    "cuDeviceGetName": [ctypes.c_char_p, _INT, _INT],
    "cuDeviceGetAttribute": [_REF, _INT, _INT],
    "cuDevicePrimaryCtxRetain": [_REF, _INT],
    "cuCtxSetCurrent": [_P],
    "cuCtxSynchronize": [],
    "cuMemGetInfo_v2": [_REF, _REF],
    "cuMemAlloc_v2": [_REF, _SIZE],
    "cuMemFree_v2": [_U64],
    "cuMemcpyHtoD_v2": [_U64, _P, _SIZE],
    "cuMemcpyDtoH_v2": [_P, _U64, _SIZE],
    "cuModuleLoadDataEx": [_REF, ctypes.c_char_p, _UINT, _REF, _REF],
    "cuModuleGetFunction": [_REF, _P, ctypes.c_char_p],
    "cuLaunchKernel": [_P, _UINT, _UINT, _UINT, _UINT, _UINT, _UINT, _UINT, _P, _REF, _REF],
    "cuGetErrorName": [_INT, _REF],
    "cuGetErrorString": [_INT, _REF],
}


class DeviceError(KeirError):
    """No CUDA device is usable, or the CUDA driver refused a call."""


def _open_library():
    for name in ("libcuda.so.1", "libcuda.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    raise DeviceError(
        "no CUDA device: the NVIDIA driver library libcuda.so.1 is not installed "
        "(use backend='CPU', or 'auto' to fall back to the CPU)"
    )


@functools.cache
def driver():
    """The initialised driver library (cached); DeviceError when there is none."""
    lib = _open_library()
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, _INT
    check(lib, lib.cuInit(0), "cuInit")
    return lib


def check(lib, status: int, what: str) -> None:
    if status == 0:
        return
    name, text = ctypes.c_char_p(), ctypes.c_char_p()
    lib.cuGetErrorName(status, ctypes.byref(name))
    lib.cuGetErrorString(status, ctypes.byref(text))
    raise DeviceError(f"{what} failed: {_text(name)} ({status}): {_text(text)}")


def _text(s: ctypes.c_char_p) -> str:
    return s.value.decode(errors="replace") if s.value else "unknown error"


def device_count() -> int:
    lib = driver()
    count = ctypes.c_int()
    check(lib, lib.cuDeviceGetCount(ctypes.byref(count)), "cuDeviceGetCount")
    return count.value


@functools.cache
def available() -> bool:
    """True when a CUDA device can run kernels (what backend='auto' asks; asked once)."""
    try:
        return device_count() > 0
    except DeviceError:
        return False


def chip_for(capability: tuple[int, int]) -> str:
    """The PTX target keir compiles for on a device of this compute capability: the newest of
    keir.target.GPU_CHIPS that the device runs."""
    from ..target import GPU_CHIPS

    runs = [c for c in GPU_CHIPS if capability >= (int(c[3:-1]), int(c[-1]))]
    if not runs:
        oldest = GPU_CHIPS[0]
        raise DeviceError(
            f"keir's GPU kernels need compute capability {oldest[3:-1]}.{oldest[-1]} or newer, "
            f"the device has {capability[0]}.{capability[1]}"
        )
    return runs[-1]


@functools.cache
def device(ordinal: int = 0) -> CudaDevice:
    """The CUDA device `ordinal` (one object per device and process)."""
    count = device_count()
    if not 0 <= ordinal < count:
        raise DeviceError(f"no CUDA device {ordinal}: {count} device(s) present")
    return CudaDevice(ordinal)


class CudaDevice:
    """One GPU through its primary context: the device interface of keir.runtime.gpu_kernel."""

    def __init__(self, ordinal: int):
        self.lib = driver()
        dev, ctx = ctypes.c_int(), ctypes.c_void_p()
        self._call("cuDeviceGet", ctypes.byref(dev), ordinal)
        self._call("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev.value)
        self.ordinal, self.handle, self.context = ordinal, dev.value, ctx
        name = ctypes.create_string_buffer(256)
        self._call("cuDeviceGetName", name, 256, dev.value)
        self.name = name.value.decode(errors="replace")
        self.capability = tuple(
            self._attribute(a)
            for a in (
                CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
            )
        )
        self.chip = chip_for(self.capability)
        self._functions: dict[tuple[str, str], ctypes.c_void_p] = {}

    def _call(self, name: str, *args) -> None:
        check(self.lib, getattr(self.lib, name)(*args), name)

    def _attribute(self, attribute: int) -> int:
        value = ctypes.c_int()
        self._call("cuDeviceGetAttribute", ctypes.byref(value), attribute, self.handle)
        return value.value

    def _current(self) -> None:
        self._call("cuCtxSetCurrent", self.context)

    def memory_budget(self) -> int:
        self._current()
        free, total = ctypes.c_size_t(), ctypes.c_size_t()
        self._call("cuMemGetInfo_v2", ctypes.byref(free), ctypes.byref(total))
        return int(free.value * MEMORY_SHARE)

    def alloc(self, nbytes: int) -> int:
        self._current()
        address = ctypes.c_uint64()
        self._call("cuMemAlloc_v2", ctypes.byref(address), max(nbytes, 1))
        return address.value

    def free(self, address: int) -> None:
        self._current()
        self._call("cuMemFree_v2", address)

    def upload(self, address: int, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if array.nbytes:
            self._current()
            self._call("cuMemcpyHtoD_v2", address, array.ctypes.data, array.nbytes)

    def download(self, array: np.ndarray, address: int) -> None:
        if array.nbytes:
            self._current()
            self._call("cuMemcpyDtoH_v2", array.ctypes.data, address, array.nbytes)

    def launch(self, program, grid: int, values: list[tuple[str, int]], stream=None) -> None:
        """Runs `program` on `grid` blocks; `values` are its parameters (see flat_values).
        Without `stream`: on the default stream, and waits for it (host buffers follow). With
        a CUstream handle (an int; 0 is the legacy default stream): queued there, no wait, so
        it is ordered with the caller's other work on that stream (keir.torch: torch's)."""
        fn = self._function(program)
        cells = [ctypes.c_uint64(v) if kind == "ptr" else ctypes.c_int64(v) for kind, v in values]
        params = (ctypes.c_void_p * len(cells))(*(ctypes.addressof(c) for c in cells))
        self._current()
        dims = (grid, 1, 1, program.block, 1, 1)
        self._call("cuLaunchKernel", fn, *dims, 0, stream, params, None)
        if stream is None:
            self._call("cuCtxSynchronize")

    def _function(self, program):
        """The kernel's function handle; its PTX is JIT-compiled once per device."""
        key = (program.code, program.kernel)
        if key not in self._functions:
            self._current()
            module = self._load(program.code)
            fn = ctypes.c_void_p()
            name = program.kernel.encode()
            self._call("cuModuleGetFunction", ctypes.byref(fn), module, name)
            self._functions[key] = fn
        return self._functions[key]

    def _load(self, ptx: str) -> ctypes.c_void_p:
        """cuModuleLoadDataEx with the JIT's error log in the message when it fails."""
        module, log = ctypes.c_void_p(), ctypes.create_string_buffer(8192)
        options = (ctypes.c_int * 2)(CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_SIZE)
        values = (ctypes.c_void_p * 2)(ctypes.addressof(log), len(log))
        image = ptx.encode() + b"\0"
        status = self.lib.cuModuleLoadDataEx(ctypes.byref(module), image, 2, options, values)
        try:
            check(self.lib, status, "cuModuleLoadDataEx (PTX JIT)")
        except DeviceError as e:
            detail = log.value.decode(errors="replace").strip()
            raise DeviceError(f"{e}\n{detail}" if detail else str(e)) from None
        return module


# pykeops' spellings; "_device"/"_host" (where the data live) and 1D/2D (its thread schemes)
# all mean "on the GPU" here: keir's kernel is the 1-D scheme, fed from host arrays.
GPU_BACKENDS = (
    "GPU",
    "GPU_1D",
    "GPU_2D",
    "GPU_1D_device",
    "GPU_2D_device",
    "GPU_1D_host",
    "GPU_2D_host",
)
BACKENDS = ("auto", "CPU", *GPU_BACKENDS)


def select(backend: str, device_id: int = -1) -> CudaDevice | None:
    """The device a `backend=` choice runs on, None for the CPU: "auto" takes the GPU when a
    device is present and libdevice is found (to compile for it), else the CPU."""
    if backend == "CPU":
        return None
    ordinal = max(device_id, 0)
    if backend in GPU_BACKENDS:
        return device(ordinal)
    if not available():
        return None
    from .cuda_toolkit import toolkit

    return device(ordinal) if toolkit() is not None else None
