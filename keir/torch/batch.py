"""Batch dimensions: keir kernels are 2-D, so a batched call runs one kernel per batch index.

Arguments may carry leading batch dimensions ((*B, M, D) for Vi/Vj, (*B, D) for Pm) that
broadcast against each other, as in pykeops. Each batch index slices the tensors (views, no
copy) and runs the 2-D reduction; results are stacked. Autograd flows through the slicing and
the stack, so gradients of broadcast (size-1) batch dimensions are summed as torch expects.
"""

from __future__ import annotations

import itertools

import torch

from ..errors import ArgumentError


def batch_shape(names, tensors, cats) -> tuple:
    if all(t.dim() <= (1 if c == 2 else 2) for t, c in zip(tensors, cats)):
        return ()  # the common case, without torch.broadcast_shapes' cost (~10 us)
    shapes = [t.shape[: max(t.dim() - (1 if c == 2 else 2), 0)] for t, c in zip(tensors, cats)]
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        shown = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes) if s)
        raise ArgumentError(f"incompatible batch dimensions: {shown}") from None


def run_batched(red, tensors, opts):
    """red (a Reduction) on the tensors, once per index of their broadcast batch dimensions."""
    shape = batch_shape(red.names, tensors, red.cats)
    if not shape:
        return red(tensors, opts)
    results = []
    for idx in itertools.product(*map(range, shape)):
        sliced = []
        for t, c in zip(tensors, red.cats):
            nb = max(t.dim() - (1 if c == 2 else 2), 0)
            pad = len(shape) - nb
            sliced.append(t[tuple(0 if t.shape[k] == 1 else idx[pad + k] for k in range(nb))])
        results.append(red(sliced, opts))
    if isinstance(results[0], tuple):
        return tuple(_stack([r[k] for r in results], shape) for k in range(len(results[0])))
    return _stack(results, shape)


def _stack(parts, shape):
    return torch.stack(parts).reshape(*shape, *parts[0].shape)
