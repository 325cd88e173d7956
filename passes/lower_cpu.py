"""keir-lower-cpu: each keir kernel becomes a parallel loop nest over scalar lanes.

    func @k(args: memref<?xT>..., out: memref<?xT>, M: index, N: index)
      scf.parallel r in [0, rows)            # output rows, one OpenMP work item each
        load the row's variables and the parameters
        state = init
        scf.for c in [0, reduced) iter_args(state)
          load the column's variables, evaluate the formula, state = update(state, F, c)
        out[r, :] = finalize(state)

Arrays are flat, C-contiguous, row r of a dim-D variable at [r*D, r*D + D). The formula is
evaluated with the op rules of keir.dialect.ops through a `LaneEmitter`; the online combine is
the reduction's init/update/finalize from keir.dialect.reductions.
"""

from __future__ import annotations

import json

from mlir import ir
from mlir.dialects import arith, func, memref, scf

from ..dialect.check import check_module
from ..dialect.kernel import find_reductions, kernel_funcs, signature
from .lowering.formula import index_const, reduce_step, reductions_of, row_values, split_state
from .lowering.lanes import LaneEmitter

NAME = "keir-lower-cpu"
DESCRIPTION = "lower keir kernels to scf.parallel over output rows with a sequential inner loop"


def run_on(module_op) -> None:
    """Replaces every keir kernel function of the module by its loop-nest implementation."""
    check_module(module_op)
    for old in kernel_funcs(module_op):
        with ir.InsertionPoint(old), old.location:
            _lower_kernel(old)
        old.erase()


def _row_offset(row: ir.Value, dim: int, k: int) -> ir.Value:
    return arith.addi(arith.muli(row, index_const(dim)), index_const(k))


def _load_row(array: ir.Value, row: ir.Value, dim: int) -> list:
    """The `dim` lanes of a variable at `row`."""
    return [memref.load(array, [_row_offset(row, dim, k)]) for k in range(dim)]


def _lower_kernel(old) -> None:
    sig = signature(old)
    elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
    index = ir.IndexType.get()
    n_args, n_out = len(sig.arg_cats), len(sig.outputs)
    ftype = ir.FunctionType.get([buf] * (n_args + n_out) + [index, index], [])
    new = func.FuncOp(sig.name, ftype)
    new.attributes["keir.signature"] = ir.StringAttr.get(json.dumps(sig.to_json()))
    entry = new.add_entry_block()
    arrays, outs = list(entry.arguments[:n_args]), list(entry.arguments[n_args : n_args + n_out])
    sizes = {0: entry.arguments[n_args + n_out], 1: entry.arguments[n_args + n_out + 1]}
    e = LaneEmitter(elem)
    reductions = reductions_of(sig)
    with ir.InsertionPoint(entry):
        par = scf.ParallelOp([], [index_const(0)], [sizes[sig.out_cat]], [index_const(1)], [])
        func.ReturnOp([])
    body = par.region.blocks.append(index)
    row = body.arguments[0]
    with ir.InsertionPoint(body):
        fixed = row_values(sig, arrays, row)  # row variables and parameters, before the loop
        states = [red.init(e, shape) for red, shape, _ in reductions]
        loop = scf.ForOp(index_const(0), sizes[1 - sig.out_cat], index_const(1), sum(states, []))
        finals = split_state(list(loop.results), states)
        for (red, shape, spec), state, out in zip(reductions, finals, outs):
            for k, lane in enumerate(red.finalize(e, state, shape)):
                memref.store(lane, out, [_row_offset(row, spec.out_dim, k)])
        scf.ReduceOp([], 0)
    with ir.InsertionPoint(loop.body):
        col = loop.induction_variable

        def load(cat, pos, dim):
            return fixed[pos] if pos in fixed else _load_row(arrays[pos], col, dim)

        carried = split_state(list(loop.inner_iter_args), states)
        ops = find_reductions(old)
        scf.YieldOp(reduce_step(old, e, load, e.index_to_lane(col), reductions, ops, carried))
