"""keir.dask: keir reductions over dask arrays, lazily, as a task graph dask schedules anywhere.

    from keir.dask import Genred
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
    out = f(x, y, b)            # x, y, b: dask arrays (or numpy), out: a lazy dask array
    out.compute()               # on a dask.distributed cluster, or the local scheduler

Every keir reduction is associative, so a block of output rows x a block of reduced rows is
one task: keir's compiled kernel in its partial-state form (keir-tile-cpu{states}) gives the
block's raw states, with reduced indices made global. A tree reduction over the reduced blocks
(dask.array.reduction) merges states with the reduction's own `merge` rule and a last map
finishes them (`finalize`, `output`): the rules the kernels are compiled from, run on numpy by
keir.runtime.states. The graph has O(blocks_i x blocks_j) tasks and moves each input block to
a task once per block of the other index.

Each worker process compiles a kernel once (or loads it from keir's disk cache, shared by the
workers of one machine) and keeps it for all later tasks. Parameters (Pm) are numpy arrays.
"""

from __future__ import annotations

import numpy as np

from .api import Genred as _NumpyGenred
from .api import _infer_dtype
from .errors import ArgumentError, NotSupportedError
from .frontend.spec import KernelSpec
from .gradients import GradFunction, _rows, forward_spec

_KERNELS: dict[tuple, object] = {}  # per worker process: kernels built here
BUILDS: list[str] = []  # the kernels this process built (tests count them)


def _dask():
    try:
        import dask.array as da
    except ImportError:  # pragma: no cover - the extra is not installed
        raise ArgumentError('keir.dask needs dask: pip install "keir[dask]"') from None
    return da


def _kernel(spec: KernelSpec, dtype: str):
    """The partial-state kernel of (spec, dtype), built once per process. (dask ships the
    spec to workers with its own serialisation; keir itself unpickles nothing.)"""
    key = (spec, dtype)  # specs are frozen dataclasses of trees: hashable, compared by value
    kernel = _KERNELS.get(key)
    if kernel is None:
        from .backends import get

        module, args = spec.build(dtype)
        kernel = get("cpu").compile(module, [a.name for a in args], states=True)
        _KERNELS[key] = kernel
        BUILDS.append(f"{hash(key):x}")
    return kernel


def _partial(job: tuple, starts, *arrays):
    """One task: the raw states of a block of output rows over a block of reduced rows, with
    the block's reduced indices made global. Returns (rows, 1, state_len)."""
    from .runtime.states import States

    kernel = _kernel(*job)
    sig = kernel.sig
    state = kernel.run_prepared(*kernel.prepare(list(arrays)))[0]
    shape = _shape(sig)
    state = States(sig.reduction, shape, sig.dtype).shift(state, starts)
    return state[:, None, :]


def _states_graph(spec, dtype, blocks, out_cat, output, reduced, state_len):
    """The (rows, reduced blocks, state_len) dask array of partial states: one task per
    (output block, reduced block), each reading its two blocks and the parameters."""
    import dask
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    job = (spec, dtype)
    token = dask.base.tokenize(repr(job), *[a.name if c != 2 else a for a, c in blocks])
    name, spec_key = f"keir-partial-{token}", f"keir-spec-{token}"
    starts = np.cumsum((0,) + reduced.chunks[0][:-1])
    graph = {spec_key: job}
    for a in range(len(output.chunks[0])):
        for r in range(len(reduced.chunks[0])):
            args = [x if c == 2 else (x.name, a if c == out_cat else r, 0) for x, c in blocks]
            graph[(name, a, r, 0)] = (_partial, spec_key, int(starts[r]), *args)
    deps = [x for x, c in blocks if c != 2]
    hlg = HighLevelGraph.from_collections(name, graph, dependencies=deps)
    chunks = (output.chunks[0], (1,) * len(reduced.chunks[0]), (state_len,))
    return da.Array(hlg, name, chunks=chunks, dtype=dtype, meta=np.empty((0, 0, 0), dtype))


def _shape(sig):
    from .dialect.reductions import RedShape

    return RedShape(sig.formula_dim, sig.weight_dim, sig.k)


class _Merge:
    """dask.array.reduction's chunk/combine/aggregate: merges the states along axis 1 in
    block order (earlier blocks first, so ties go to smaller indices)."""

    def __init__(self, kind: str, shape, dtype):
        self.kind, self.shape, self.dtype = kind, shape, dtype

    def chunk(self, x, axis, keepdims):
        return x

    def combine(self, x, axis, keepdims):
        from .runtime.states import States

        states = States(self.kind, self.shape, self.dtype)
        total = x[:, 0, :]
        for k in range(1, x.shape[1]):
            total = states.merge(total, x[:, k, :])
        return total[:, None, :] if keepdims else total

    def aggregate(self, x, axis, keepdims):
        return self.combine(x, axis, keepdims)


class _Reduction:
    """A KernelSpec run over dask arrays: the graph of partial states, merges and finish."""

    def __init__(self, spec: KernelSpec, dtype: str | None):
        self.spec, self.dtype = spec, dtype
        self.numpy = _NumpyGenred.from_spec(spec, dtype)  # checks it compiles; its signature
        sig = self.numpy._compiled.signature
        self.out_dim, self.kind, self.k = sig.out_dim, sig.reduction, sig.k
        self.shape = _shape(sig)

    def __call__(self, *args, split_every=None):
        da = _dask()
        spec = self.spec
        if len(args) != len(spec.aliases):
            raise ArgumentError(f"expected {len(spec.aliases)} arrays, got {len(args)}")
        dtype = self.dtype or _infer_dtype(args)
        if spec.options.wider(dtype):
            raise NotSupportedError(
                f"dtype_acc={spec.options.dtype_acc!r} for {dtype} arrays is not supported by "
                "keir.dask yet (pass float64 arrays)"
            )
        out_cat = 0 if spec.reduction.axis == 1 else 1
        arrays = _aligned(
            [a.cat for a in spec.aliases], args, dtype, [a.name for a in spec.aliases]
        )
        blocks = [(a, c) for a, c in zip(arrays, [a.cat for a in spec.aliases])]
        reduced = next((a for a, c in blocks if c == 1 - out_cat), None)
        output = next((a for a, c in blocks if c == out_cat), None)
        if reduced is None or output is None:
            raise ArgumentError("keir.dask needs an i-indexed and a j-indexed dask argument")
        from .dialect.reductions import reduction_def

        state_len = reduction_def(self.kind).state_len(self.shape)
        states = _states_graph(spec, dtype, blocks, out_cat, output, reduced, state_len)
        merge = _Merge(self.kind, self.shape, dtype)
        merged = da.reduction(
            states,
            merge.chunk,
            merge.aggregate,
            combine=merge.combine,
            axis=1,
            dtype=dtype,
            split_every=split_every,
            concatenate=True,
            meta=np.empty((0, 0), dtype),
        )
        return self._finish(merged)

    def _finish(self, merged):
        """Finalised outputs in Genred's form (one dask array, or a pair)."""
        from .runtime.states import States

        kind, shape, k = self.kind, self.shape, self.k
        sample = States(kind, shape, merged.dtype).finish(
            np.zeros((1, merged.shape[1]), merged.dtype), k
        )

        def part(block, index):
            out = States(kind, shape, block.dtype).finish(block, k)
            return out[index] if isinstance(out, tuple) else out

        def one(index):
            like = sample[index] if isinstance(sample, tuple) else sample
            return merged.map_blocks(
                part,
                index,
                dtype=like.dtype,
                chunks=(merged.chunks[0], *((n,) for n in like.shape[1:])),
                new_axis=list(range(2, like.ndim)) or None,
                meta=np.empty((0,) * like.ndim, like.dtype),
            )

        return tuple(one(n) for n in range(len(sample))) if isinstance(sample, tuple) else one(0)


def _aligned(cats, args, dtype, names):
    """Dask arrays of the variables (2-D, one chunk of columns, rows chunked alike within a
    category: numpy inputs take the chunks of a dask input of their category); Pm as numpy."""
    da = _dask()
    rows = {}
    for c, a in zip(cats, args):
        if c != 2 and isinstance(a, da.Array) and c not in rows:
            rows[c] = a.chunks[0]
    out = []
    for c, a, name in zip(cats, args, names):
        if c == 2:
            if isinstance(a, da.Array):
                raise ArgumentError(f"{name}: parameters (Pm) are numpy arrays or numbers")
            out.append(np.asarray(a, dtype=dtype).reshape(-1))
            continue
        if not isinstance(a, da.Array):
            a = np.asarray(a)
            a = da.from_array(a, chunks=(rows.get(c, -1),) + (-1,) * (a.ndim - 1))
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ArgumentError(f"{name}: expected a 2-D array (rows, dim), got shape {a.shape}")
        a = a.astype(dtype).rechunk({0: rows.get(c, a.chunks[0]), 1: -1})
        rows.setdefault(c, a.chunks[0])
        out.append(a)
    return out


class Genred:
    """keir.Genred on dask arrays: the same arguments; calls return lazy dask arrays."""

    def __init__(
        self,
        formula,
        aliases,
        reduction_op="Sum",
        axis=0,
        dtype=None,
        opt_arg=None,
        formula2=None,
        **options,
    ):
        self.numpy = _NumpyGenred(
            formula, aliases, reduction_op, axis, dtype, opt_arg, formula2, **options
        )
        self.kind, self.axis, self.k = self.numpy.kind, axis, self.numpy.k
        self.spec = self.numpy.spec
        self._reduction = _Reduction(self.spec, dtype)

    def out_dim_hint(self) -> int:
        return self.numpy.out_dim_hint()

    def __call__(self, *args, split_every=None):
        return self._reduction(*args, split_every=split_every)


class Grad:
    """keir.grad on dask arrays: d/d(wrt) of sum_r gradin_r . f(args)_r, lazily."""

    def __init__(self, f: Genred, wrt):
        if not isinstance(f, Genred):
            raise ArgumentError("keir.dask.grad differentiates a keir.dask.Genred")
        self.f = f
        self.numpy = GradFunction(f.numpy, wrt)  # the gradient's spec and saved-forward roles
        self._reduction = _Reduction(self.numpy.spec, f.numpy._compiled.dtype)

    def __call__(self, *args, gradin=None, split_every=None):
        da = _dask()
        f, g = self.f, self.numpy
        dtype = f.numpy._compiled.dtype or _infer_dtype(args)
        value = None
        if gradin is None:
            value = f(*args, split_every=split_every)
            gradin = da.ones_like(value, dtype=dtype)
        gradin = (
            gradin.reshape(gradin.shape[0], -1)
            if isinstance(gradin, da.Array)
            else (np.asarray(gradin, dtype).reshape(len(gradin), -1))
        )
        saved = [self._saved(role, args, value, split_every) for role in g._roles[1:]]
        out = self._reduction(*args, gradin, *saved, split_every=split_every)
        if g.var.cat == 2:  # a parameter: also reduce over the other index
            return out.sum(0).reshape(np.shape(args[g.var.pos]))
        return out

    def _saved(self, role, args, value, split_every):
        da = _dask()
        f = self.f
        if role == "out":
            return value if value is not None else f(*args, split_every=split_every)
        spec = f.spec
        if role in ("lse", "selected"):
            out = _Reduction(forward_spec(f.numpy, role), None)(*args, split_every=split_every)
            return (
                out if role == "lse" else out.reshape(out.shape[0], -1).astype(_infer_dtype(args))
            )
        # index: the row numbers of the reduced index, chunked like its variables
        cat = 1 if f.axis == 1 else 0
        n = _rows(f.numpy, args, cat)
        chunks = next(
            (
                a.chunks[0]
                for a, al in zip(args, spec.aliases)
                if al.cat == cat and isinstance(a, da.Array)
            ),
            -1,
        )
        return da.arange(n, chunks=chunks, dtype=_infer_dtype(args))[:, None]


def grad(f: Genred, wrt) -> Grad:
    """The gradient of a keir.dask.Genred with respect to argument `wrt` (name or position)."""
    return Grad(f, wrt)


# ---------------------------------------------------------------- LazyTensor on dask arrays
def _lazy_classes():
    """keir.dask.LazyTensor, Vi, Vj, Pm: keir's LazyTensor whose variables hold dask arrays
    and whose reductions return lazy dask arrays (built on first use: keir.lazy's family
    hooks, as keir.torch)."""
    from .lazy import methods as _methods  # noqa: F401  (attaches the generated methods)
    from .lazy import variables as V
    from .lazy.core import LazyTensor as NumpyLazyTensor
    from .lazy.core import variable_constructors
    from .lazy.reduce import ReducedLazyTensor as NumpyReduced

    da = _dask()

    class LazyTensor(NumpyLazyTensor):
        """pykeops-style LazyTensor(x[:, None, :]) of a dask array x; reductions are lazy."""

        _FAMILY_RANK = 2

        def __init__(self, x=None, axis=None, is_complex=False, index=None):
            axis = V.axis_of(axis, index)
            if not isinstance(x, da.Array):
                super().__init__(x, axis, is_complex)
                return
            if is_complex or np.iscomplexobj(np.empty(0, x.dtype)):
                raise ArgumentError("keir.dask.LazyTensor: complex dask arrays are not supported")
            like = np.lib.stride_tricks.as_strided(
                np.zeros(1, x.dtype), x.shape, (0,) * x.ndim
            )  # shape and dtype only: keir.lazy's conventions decide the variable
            fields = V.from_input(like, axis, False)
            (v,) = fields["variables"]
            v.data = x.reshape(v.data.shape)
            v.key = ("dask", x.name, tuple(v.data.shape))
            self._set(**fields)

    LazyTensor._REAL = LazyTensor

    class ReducedLazyTensor(NumpyReduced):
        def __call__(self, *args, **kwargs):
            if args or self.program.n_symbolic:
                raise ArgumentError("keir.dask reductions take no symbolic variables")
            kwargs = {**self.kwargs, **kwargs}
            if kwargs:
                raise ArgumentError(f"keir.dask reductions take no options, got {sorted(kwargs)}")
            dtype = self._dtype or "float64"
            arrays = []
            for v in self.program.data:
                data = v.data
                if v.cat != 2 and isinstance(data, da.Array) and data.ndim != 2:
                    raise ArgumentError("keir.dask LazyTensors have no batch dimensions")
                arrays.append(data if isinstance(data, da.Array) else v.array(dtype))
            return _Reduction(self.genred.spec, dtype)(*arrays)

    LazyTensor._REDUCED = ReducedLazyTensor
    return LazyTensor, variable_constructors(LazyTensor)


def __getattr__(name):
    if name in ("LazyTensor", "Vi", "Vj", "Pm", "Var"):
        lazy, (var, vi, vj, pm) = _lazy_classes()
        globals().update(LazyTensor=lazy, Var=var, Vi=vi, Vj=vj, Pm=pm)
        return globals()[name]
    raise AttributeError(f"module 'keir.dask' has no attribute {name!r}")
