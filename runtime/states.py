"""Partial reduction states in numpy: merged and finalised by each reduction's own rules.

A kernel built with keir-tile-cpu{states} returns, per output row, its reduction's raw running
state (ReductionDef.state_len lanes) instead of the finalised result. Callers that cut the
reduced index into pieces (keir.dask: one task per block of rows x block of columns) merge
the pieces' states with the reduction's `merge` and finish with its `finalize` and `output`,
the same rules the kernels are compiled from, run here on numpy columns by `NumpyLanes`: each
"lane" is a column of the state (one value per row), so one rule call handles every row.
"""

from __future__ import annotations

import numpy as np

from ..dialect.reductions import RedShape, reduction_def


class NumpyLanes:
    """The lane-emitter interface of keir's lowering (passes/lowering/lanes.py) on numpy
    columns of one float dtype, for the rules that merge and finalise states."""

    is_vector = False

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def const(self, x):
        return self.dtype.type(x)

    def add(self, a, b):
        return np.add(a, b, dtype=self.dtype)

    def sub(self, a, b):
        return np.subtract(a, b, dtype=self.dtype)

    def mul(self, a, b):
        return np.multiply(a, b, dtype=self.dtype)

    def div(self, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(a, b, dtype=self.dtype)

    def exp(self, a):
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return np.exp(a, dtype=self.dtype)

    def log(self, a):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a, dtype=self.dtype)

    def gt(self, a, b):
        return np.greater(a, b)

    def lt(self, a, b):
        return np.less(a, b)

    def eq(self, a, b):
        return np.equal(a, b)

    def and_(self, a, b):
        return np.logical_and(a, b)

    def or_(self, a, b):
        return np.logical_or(a, b)

    def select(self, cond, a, b):
        return np.where(cond, a, b).astype(self.dtype, copy=False)

    def lanes_min(self, a):
        return a  # one lane per row: its own minimum

    def scalar(self):
        return self

    def splat(self, s):
        return s

    def fold_items(self, items, carried, body):
        for item in items:
            carried = body(list(item), carried)
        return carried

    def when_any(self, cond, state, update):
        """update() where cond holds (row by row), `state` elsewhere: the rules' updates are
        pure, so computing them for every row and selecting is the same as branching."""
        if not np.any(cond):
            return state
        new = update()
        return [self.select(cond, n, s) for n, s in zip(new, state)]


class States:
    """The merge, index shift and finish of one reduction's states ((rows, state_len) arrays)."""

    def __init__(self, kind: str, shape: RedShape, dtype):
        self.red, self.shape, self.e = reduction_def(kind), shape, NumpyLanes(dtype)

    def _columns(self, state: np.ndarray) -> list:
        return [state[:, k] for k in range(state.shape[1])]

    def shift(self, state: np.ndarray, start: int) -> np.ndarray:
        """`state` of a call whose reduced indices began at `start` (indices made global)."""
        lanes = list(self.red.index_lanes(self.shape))
        if start and lanes:
            state = state.copy()
            state[:, lanes] += start
        return state

    def merge(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The state of both parts, a's indices before b's (ties go to a)."""
        lanes = self.red.merge(self.e, self._columns(a), self._columns(b), self.shape)
        return np.stack([np.broadcast_to(v, a.shape[:1]) for v in lanes], 1)

    def finish(self, state: np.ndarray, k: int = 0):
        """The result in pykeops' form, as Genred returns it."""
        lanes = self.red.finalize(self.e, self._columns(state), self.shape)
        rows = state.shape[0]
        out = np.stack([np.broadcast_to(v, (rows,)) for v in lanes], 1) if lanes else None
        out = np.zeros((rows, 0), state.dtype) if out is None else out.astype(state.dtype)
        return self.red.output(out, k)
