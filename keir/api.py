"""The user-facing API: pykeops-compatible `Genred` and RKeOps-style `keops_kernel`.

Both build the keir IR of a formula once per dtype, compile it through keir.compiler (cached in
memory and on disk) and call the native kernel on numpy arrays.
"""

from __future__ import annotations

import numpy as np

from .dialect.builders import DTYPES
from .dialect.reductions import REDUCTIONS
from .errors import ArgumentError, NotSupportedError
from .frontend.formula import ReductionSpec, reduction_name
from .frontend.spec import KernelSpec, Options
from .runtime import cuda, results
from .runtime.results import postprocess  # noqa: F401  (keir.api.postprocess, for fusion)

_DTYPE_NAMES = {np.dtype(d).type: d for d in DTYPES}  # dtype.type: a dict lookup, not .name


def _infer_dtype(args) -> str:
    """pykeops takes the dtype of the first argument; keir takes the first float array's."""
    for a in args:
        name = _DTYPE_NAMES.get(getattr(getattr(a, "dtype", None), "type", None))
        if name is not None:
            return name
    return "float64"


class _Compiled:
    """A KernelSpec compiled lazily once per dtype (the shared part of Genred and keops_kernel).

    The module built at construction (to check the formula and read its signature) is kept
    and compiled by the first call in that dtype, so a formula is built once, not twice.
    """

    def __init__(self, spec: KernelSpec, dtype: str | None):
        if dtype is not None and dtype not in DTYPES:
            raise ArgumentError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.spec, self.dtype = spec, dtype
        self._kernels = {}
        from .dialect.kernel import kernel_funcs, signature

        first = dtype or "float32"
        module, args = spec.build(first)  # a bad formula fails at construction
        self._built = {first: (module, args)}
        self.signature = signature(kernel_funcs(module)[0])

    def __getstate__(self) -> dict:
        """Pickled without its MLIR module and loaded kernels (rebuilt on first use)."""
        return {**self.__dict__, "_built": {}, "_kernels": {}}

    def module(self, dtype: str):
        """(module, argument specs) in `dtype`; the module is the caller's to consume."""
        built = self._built.pop(dtype, None)
        return built if built is not None else self.spec.build(dtype)

    def kernel(self, dtype: str, device=None, ranges: bool = False):
        """The native CPU kernel (with `ranges`, its block-sparse variant), or with a CUDA
        `device` the GPU kernel compiled for it."""
        if ranges and device is not None:
            raise NotSupportedError(
                "block-sparse ranges run on the CPU backend only (keir's GPU kernels have no "
                "ranged variant yet): use backend='CPU'"
            )
        key = (dtype, ranges) if device is None else (dtype, device.ordinal)
        if key not in self._kernels:
            from . import backends

            module, args = self.module(dtype)
            names = [a.name for a in args]
            if device is None:
                self._kernels[key] = backends.get("cpu").compile(module, names, ranges=ranges)
            else:
                self._kernels[key] = backends.get("cuda").compile(module, names, device=device)
        return self._kernels[key]

    def run(self, args, backend: str, device_id: int = -1, ranges=None, **options):
        """`options`: threads, progress (keir.runtime.launcher.Kernel.run_prepared); `ranges`:
        pykeops' block-sparse 6-tuple (keir.runtime.ranges)."""
        if backend not in cuda.BACKENDS:
            raise NotSupportedError(
                f"backend {backend!r} is not supported: use one of {', '.join(cuda.BACKENDS)}"
            )
        # "auto" with ranges: the CPU, which has the block-sparse kernels
        device = (
            None if ranges is not None and backend == "auto" else cuda.select(backend, device_id)
        )
        dtype = self.dtype or _infer_dtype(args)
        accurate = self.spec.options
        refused = device is not None and accurate.on_gpu_refused(self.spec.reduction.kind, dtype)
        if refused:
            raise NotSupportedError(f"{refused} is not supported on the GPU backend yet")
        ranged = ranges is not None
        if ranged:
            options["ranges"] = ranges
        if accurate.wider(dtype):
            wide = [_as_float64(a) for a in args]
            kernel = self.kernel("float64", device, ranged)
            return _as_dtype(results.call(kernel, wide, **options), dtype)
        return results.call(self.kernel(dtype, device, ranged), args, **options)


def _as_float64(a):
    """A float32 argument as float64 (dtype_acc="float64"); anything else as it is (the
    launcher checks and names bad arguments)."""
    if getattr(getattr(a, "dtype", None), "type", None) is np.float32:
        return np.asarray(a, dtype=np.float64)
    return a


def _as_dtype(result, dtype: str):
    """The float parts of a float64 result in `dtype` (indices stay int64)."""
    if isinstance(result, tuple):
        return tuple(_as_dtype(r, dtype) for r in result)
    return result.astype(dtype) if result.dtype == np.float64 else result


def _alias_list(aliases) -> list:
    if isinstance(aliases, str):  # one alias: a list of its characters would be nonsense
        aliases = [aliases]
    if not isinstance(aliases, (list, tuple)):
        raise ArgumentError(
            f'aliases must be a list of strings such as "x = Vi(3)", got {aliases!r}'
        )
    return list(aliases)


def _k(reduction_op: str, opt_arg) -> int:
    if isinstance(opt_arg, bool) or not isinstance(opt_arg, (int, np.integer)) or opt_arg < 1:
        raise ArgumentError(
            f"{reduction_op} needs opt_arg = K, a positive integer; got {opt_arg!r}"
        )
    return int(opt_arg)


class Genred:
    """pykeops.numpy.Genred: reduce `formula` over axis 0 (i) or 1 (j) with `reduction_op`.

    `dtype` is optional, as in pykeops 2.x where it is deprecated: by default the kernel takes
    the dtype of the first floating-point argument and converts the others to it.
    Calls take, beside pykeops' options, `threads=n` (OpenMP threads of this call; default
    keir.set_threads, else OMP_NUM_THREADS, else all cores) and `progress=True` (a progress
    bar on stderr) or `progress=f` (f(done_rows, total_rows), called every 0.05 s).
    """

    def __init__(
        self,
        formula: str,
        aliases,
        reduction_op: str = "Sum",
        axis: int = 0,
        dtype: str | None = None,
        opt_arg=None,
        formula2: str | None = None,
        cuda_type=None,
        dtype_acc: str = "auto",
        use_double_acc: bool = False,
        sum_scheme: str = "auto",
        enable_chunks: bool = True,
        rec_multVar_highdim: bool = False,
        use_fast_math: bool = True,
    ):
        if axis not in (0, 1):
            raise ArgumentError(f"axis must be 0 (reduce over i) or 1 (reduce over j), got {axis}")
        kind = reduction_name(reduction_op, reduction_op, 0)
        k = _k(reduction_op, opt_arg) if REDUCTIONS[kind].uses_k else 0
        options = Options(
            dtype_acc, use_double_acc, sum_scheme, enable_chunks, rec_multVar_highdim, use_fast_math
        ).check(kind)
        if dtype is not None:
            options.check_dtype(dtype)
        self.formula, self.aliases, self.reduction_op, self.axis = (
            formula,
            _alias_list(aliases),
            reduction_op,
            axis,
        )
        self.kind, self.k, self.formula2 = kind, k, formula2
        spec = KernelSpec.parse(
            formula, self.aliases, ReductionSpec(kind, axis, k, formula2), options
        )
        self._compiled = _Compiled(spec, dtype)

    @classmethod
    def from_spec(cls, spec: KernelSpec, dtype: str | None = None) -> Genred:
        """The Genred of a spec built by a transformation (keir.grad), with no formula text."""
        self = cls.__new__(cls)
        red = spec.reduction
        self.formula, self.aliases, self.reduction_op, self.axis = None, None, red.kind, red.axis
        self.kind, self.k, self.formula2 = red.kind, red.k, None
        self._compiled = _Compiled(spec, dtype)
        return self

    @property
    def spec(self) -> KernelSpec:
        return self._compiled.spec

    def out_dim_hint(self) -> int:
        """Components per output row (K * D for KMin-like reductions)."""
        return self._compiled.signature.out_dim

    def __call__(
        self,
        *args,
        backend: str = "auto",
        device_id: int = -1,
        ranges=None,
        out=None,
        threads: int | None = None,
        progress=False,
    ):
        result = self._compiled.run(
            args, backend, device_id, ranges=ranges, threads=threads, progress=progress
        )
        if out is None:
            return result
        if isinstance(result, tuple):
            raise ArgumentError(
                f"out= is not available for {self.reduction_op}: it returns two arrays"
            )
        return results.write_out(out, result)


class KeopsKernel:
    """The callable returned by `keops_kernel`: op([X, Y, ...]) as in RKeOps."""

    def __init__(self, formula: str, args):
        self.formula, self.args = formula, _alias_list(args)
        self._compiled = _Compiled(KernelSpec.parse(formula, self.args), None)

    def __call__(self, arrays, backend: str = "auto", threads=None, progress=False) -> np.ndarray:
        if not isinstance(arrays, (list, tuple)):
            raise ArgumentError(
                "keops_kernel operators take a list of arrays, in the order of args"
            )
        return self._compiled.run(list(arrays), backend, threads=threads, progress=progress)


def keops_kernel(formula: str, args) -> KeopsKernel:
    """RKeOps' keops_kernel: `formula` contains its reduction, e.g. Sum_Reduction(f, 0)."""
    return KeopsKernel(formula, args)
