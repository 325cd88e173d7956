"""Reference interpreter: evaluates keir IR densely with numpy, independently of the compiler.

It materialises the M x N x D formula (so it is for small sizes only) from each op's numpy
rule and applies the reduction's numpy rule. Tests use it as the oracle for compiled kernels.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError, KeirError
from .kernel import (
    find_reductions,
    float_attr,
    formula_ops,
    int_attr,
    kernel_funcs,
    param_values,
    signature,
)
from .ops import BY_MNEMONIC
from .reductions import RedShape, reduction_def


def _leaf(op, args, dtype):
    kind = op.name.removeprefix("keir.")
    if kind == "var":
        a = np.asarray(args[int_attr(op, "pos")], dtype=dtype)
        cat = int_attr(op, "cat")
        if cat == 2:
            return a.reshape(1, 1, -1)
        a = a.reshape(a.shape[0], int_attr(op, "dim"))
        return a[:, None, :] if cat == 0 else a[None, :, :]
    if kind == "intcst":
        return np.full((1, 1, 1), int_attr(op, "value"), dtype=dtype)
    if kind == "cst":
        return np.full((1, 1, 1), float_attr(op, "value"), dtype=dtype)
    return None


def evaluate(module, args, sizes: tuple[int, int] | None = None) -> np.ndarray:
    """Runs the (single) kernel of `module` on `args`; sizes (M, N) default to the arrays'."""
    module = _without_grads(module)
    func = kernel_funcs(module)[0]
    sig = signature(func)
    dtype = np.dtype(sig.dtype)
    M, N = sizes or _sizes(sig, args)
    with np.errstate(all="ignore"):
        env = _formula(func, args, dtype)
        outs = []
        for red, spec in zip(find_reductions(func), sig.outputs):
            F = np.broadcast_to(env[red.operands[0]], (M, N, spec.formula_dim))
            G = None
            if spec.weight_dim:
                G = np.broadcast_to(env[red.operands[1]], (M, N, spec.weight_dim))
            shape = RedShape(spec.formula_dim, spec.weight_dim, spec.k)
            out = reduction_def(spec.reduction).ref(F, G, sig.axis, shape)
            outs.append(np.ascontiguousarray(out, dtype=dtype).reshape(-1, spec.out_dim))
    return outs[0] if len(outs) == 1 else tuple(outs)


def formula_values(module, args, sizes: tuple[int, int]) -> np.ndarray:
    """The formula of the (single) kernel's first reduction on every (i, j) pair, unreduced:
    an (M, N, D) array (LazyTensor.dense)."""
    func = kernel_funcs(_without_grads(module))[0]
    sig = signature(func)
    with np.errstate(all="ignore"):
        env = _formula(func, args, np.dtype(sig.dtype))
    F = env[find_reductions(func)[0].operands[0]]
    return np.broadcast_to(F, (*sizes, sig.outputs[0].formula_dim)).astype(sig.dtype)


def _formula(func, args, dtype) -> dict:
    """Every formula op's dense value (broadcastable to (M, N, dim)), by its result."""
    env = {}
    for op in formula_ops(func):
        value = _leaf(op, args, dtype)
        if value is None:
            d = BY_MNEMONIC[op.name.removeprefix("keir.")]
            params = param_values(op, d.params)
            value = d.ref(*(env[o] for o in op.operands), **params)
        env[op.result] = np.asarray(value, dtype=dtype)
    return env


def _without_grads(module):
    """keir.grad has no numpy rule: the caller differentiates first (keir-autodiff, which the
    tests check against finite differences), keeping this module independent of the passes."""
    if "keir.grad" in str(module):
        raise KeirError(
            "the interpreter evaluates keir.grad only after keir-autodiff: "
            "use keir.passes.pipeline.lower(module, 'autodiff') first"
        )
    return module


def _sizes(sig, args) -> tuple[int, int]:
    sizes = {0: None, 1: None}
    for cat, a in zip(sig.arg_cats, args):
        if cat in sizes:
            sizes[cat] = np.asarray(a).shape[0]
    if sizes[0] is None or sizes[1] is None:
        raise ArgumentError("pass sizes=(M, N) when the kernel has no i or no j variable")
    return sizes[0], sizes[1]
