"""Batch dimensions: one kernel call on the stacked batches, kept apart by block-diagonal ranges.

Arguments may carry leading batch dimensions ((*B, M, D) for Vi/Vj, (*B, D) for Pm) that
broadcast against each other, as in pykeops. The tensors are broadcast (expand) and stacked
into B M and B N rows, a per-batch parameter becomes one value per stacked i-row, and one
ranged call (keir.runtime.ranges.batch_ranges) reduces each batch's block only. Autograd flows
through expand and reshape, so gradients of broadcast (size-1) batch dimensions are summed as
torch expects.
"""

from __future__ import annotations

import math

import torch

from ..errors import ArgumentError
from ..runtime.ranges import batch_offsets, batch_ranges
from .devices import on_cuda


def batch_shape(names, tensors, cats) -> tuple:
    for t, c in zip(tensors, cats):
        if t.dim() > (1 if c == 2 else 2):
            break
    else:
        return ()  # the common case, without torch.broadcast_shapes' cost (~10 us)
    shapes = [t.shape[: max(t.dim() - (1 if c == 2 else 2), 0)] for t, c in zip(tensors, cats)]
    try:
        return tuple(torch.broadcast_shapes(*shapes))
    except RuntimeError:
        shown = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes) if s)
        raise ArgumentError(f"incompatible batch dimensions: {shown}") from None


def run_batched(red, tensors, opts):
    """red (a Reduction) on the tensors; with batch dimensions, one call on the stacked
    batches (keir.lazy.reduce does the same on numpy arrays). opts: (backend, device_id,
    ranges), ranges those of one batch."""
    shape = batch_shape(red.names, tensors, red.cats)
    if not shape:
        return red(tensors, opts)
    if on_cuda(tensors) and opts[2] is None:
        return _looped(red, tensors, opts, shape)  # the GPU kernels have no ranged variant yet
    B = math.prod(shape)
    sizes = {c: next((t.shape[-2] for t, k in zip(tensors, red.cats) if k == c), 1) for c in (0, 1)}
    stacked, as_rows = [], []
    for pos, (t, c) in enumerate(zip(tensors, red.cats)):
        if c == 2 and t.dim() > 1 and math.prod(t.shape[:-1]) > 1:  # varies over the batch
            t = t.reshape(*t.shape[:-1], 1, t.shape[-1]).expand(*shape, sizes[0], t.shape[-1])
            as_rows.append(pos)
        elif c == 2:
            stacked.append(t.reshape(-1))
            continue
        stacked.append(t.expand(*shape, *t.shape[-2:]).reshape(B * t.shape[-2], t.shape[-1]))
    if as_rows:
        red = red.with_row_parameters(as_rows)
    ranges = batch_ranges(opts[2], B, sizes[0], sizes[1])
    res = red(stacked, (*opts[:2], ranges))
    reduced = sizes[1] if red.genred.axis == 1 else sizes[0]
    parts = res if isinstance(res, tuple) else (res,)
    parts = tuple(_per_batch(p, B, reduced).reshape(*shape, -1, *p.shape[1:]) for p in parts)
    return parts if isinstance(res, tuple) else parts[0]


def _per_batch(part, B: int, reduced: int):
    """Index outputs count from each batch's first reduced row again (runtime.ranges)."""
    if part.dtype != torch.int64:
        return part
    offsets = torch.from_numpy(batch_offsets(B, reduced)).to(part.device)
    return (part.reshape(B, -1) - offsets).clamp_min(0).reshape(part.shape)


def _looped(red, tensors, opts, shape):
    """One 2-D call per batch index (views, no copy), stacked: CUDA tensors."""
    import itertools

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
