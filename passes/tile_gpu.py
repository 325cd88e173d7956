"""keir-tile-gpu: keir kernels become one gpu.launch, one thread per output row (as KeOps).

    func @k(args..., outs..., state, M, N, offset, total: index)      all arrays row-major
      gpu.launch blocks ceil(rows / B) x 1 x 1, threads B x 1 x 1,
                 workgroup(tile: memref<B * Dc x T, workgroup>)       Dc: column components
        r = block * B + thread        (threads past the last row work on row 0, store nothing)
        row variables and parameters: loaded once into registers
        state = offset == 0 ? init : state[r]                       (resume a previous chunk)
        scf.for t in [0, n) step B                                 # tiles of the reduced index
          thread k stages column row t + k (if < n) in tile[.., k]   (component d at d * B + k)
          gpu.barrier
          scf.for c in [0, min(B, n - t))                          # exact tail: a short last tile
            the formula on registers and tile[.., c]; state = update(state, F, offset + t + c)
          gpu.barrier                                             # the tile is overwritten next
        if r < rows: offset + n == total ? outs[r] = finalize(state) : state[r] = state

`state` holds the raw reduction states of a chunk of output rows, so the runtime can stream the
reduced index in chunks through a GPU smaller than the data: each launch resumes the states
the previous chunk saved, and the last one finalizes (`offset`: the first reduced index of the
chunk, `total`: the full reduced size). Options: block=B threads per block (default 128; fewer
when the tile would exceed 48 KiB of shared memory).
"""

from __future__ import annotations

import json

from mlir import ir
from mlir.dialects import arith, func, gpu, memref, scf

from ..dialect.check import check_module
from ..dialect.kernel import find_reductions, formula_ops, int_attr, kernel_funcs, signature
from ..errors import CompileError
from .lowering.formula import index_const, reduce_step, reductions_of, row_values, split_state
from .lowering.lanes import LaneEmitter

NAME = "keir-tile-gpu"
DESCRIPTION = "lower keir kernels to gpu.launch: a thread per output row, shared-memory tiles"

DEFAULT_BLOCK = 128
SHARED_BYTES = 48 * 1024  # static shared memory a block may use on every CUDA device


def run_on(module_op, block: int = DEFAULT_BLOCK) -> None:
    if not 1 <= block <= 1024:
        raise CompileError(f"keir-tile-gpu: block must be in [1, 1024], got {block}")
    check_module(module_op)
    module_op.attributes["gpu.container_module"] = ir.UnitAttr.get()
    for old in kernel_funcs(module_op):
        with ir.InsertionPoint(old), old.location:
            _lower_kernel(old, block)
        old.erase()


def column_vars(old, sig) -> dict:
    """{position: dim} of the reduced-index variables the formula reads, in position order."""
    found = {}
    for op in formula_ops(old):
        if op.name == "keir.var" and int_attr(op, "cat") == 1 - sig.out_cat:
            found[int_attr(op, "pos")] = int_attr(op, "dim")
    return dict(sorted(found.items()))


def block_size(block: int, tile_components: int, itemsize: int) -> int:
    """The requested block, halved until its tile fits the static shared memory."""
    if tile_components * itemsize > SHARED_BYTES:
        raise CompileError(
            f"the reduced-index variables have {tile_components} components: one row does not "
            f"fit the {SHARED_BYTES // 1024} KiB of shared memory of a GPU block"
        )
    while block * tile_components * itemsize > SHARED_BYTES:
        block //= 2
    return block


def _lower_kernel(old, block: int) -> None:
    sig = signature(old)
    elem = ir.F64Type.get() if sig.dtype == "float64" else ir.F32Type.get()
    cols = column_vars(old, sig)
    B = block_size(block, sum(cols.values()), 8 if sig.dtype == "float64" else 4)
    e, reds, ops = LaneEmitter(elem), reductions_of(sig), find_reductions(old)
    state_len = _state_len(e, reds)
    new, entry = _host_func(sig, elem, B, state_len)
    n_args, n_out = len(sig.arg_cats), len(sig.outputs)
    arrays, outs = list(entry.arguments[:n_args]), list(entry.arguments[n_args : n_args + n_out])
    state_buf, M, N, offset, total = entry.arguments[n_args + n_out :]
    rows, n = (M, N) if sig.out_cat == 0 else (N, M)
    with ir.InsertionPoint(entry):
        one = index_const(1)
        grid = arith.divui(arith.addi(rows, index_const(B - 1)), index_const(B))
        launch = gpu.LaunchOp((grid, one, one), (index_const(B), one, one))
        func.ReturnOp([])
    body = launch.regions[0].blocks[0]
    tile = None
    if cols:
        space = ir.Attribute.parse("#gpu.address_space<workgroup>")
        tile = body.add_argument(
            ir.MemRefType.get([B * sum(cols.values())], elem, memory_space=space), old.location
        )
        launch.attributes["workgroup_attributions"] = ir.IntegerAttr.get(
            ir.IntegerType.get_signless(64), 1
        )
    bx, tx = body.arguments[0], body.arguments[3]
    with ir.InsertionPoint(body):
        r = arith.addi(arith.muli(bx, index_const(B)), tx)
        active = arith.cmpi(arith.CmpIPredicate.ult, r, rows)
        row = arith.select(active, r, index_const(0))
        fixed = row_values(sig, arrays, row)
        states = _resume(e, reds, state_buf, row, offset, state_len)
        loop = scf.ForOp(index_const(0), n, index_const(B), sum(states, []))
        with ir.InsertionPoint(loop.body):
            t = loop.induction_variable
            _stage(arrays, cols, tile, t, tx, n, B)
            gpu.barrier()
            length = arith.minui(index_const(B), arith.subi(n, t))
            inner = scf.ForOp(index_const(0), length, one, list(loop.inner_iter_args))
            with ir.InsertionPoint(inner.body):
                c = inner.induction_variable
                load = _tile_loader(fixed, cols, tile, c, B)
                idx = e.index_to_lane(arith.addi(offset, arith.addi(t, c)))
                carried = split_state(list(inner.inner_iter_args), states)
                scf.YieldOp(reduce_step(old, e, load, idx, reds, ops, carried))
            gpu.barrier()
            scf.YieldOp(list(inner.results))
        final = split_state(list(loop.results), states)
        done = arith.cmpi(arith.CmpIPredicate.eq, arith.addi(offset, n), total)
        _store(e, reds, final, outs, state_buf, r, active, done, state_len)
        gpu.TerminatorOp()


def _state_len(e, reds) -> int:
    """Lanes of all reduction states (ReductionDef.state_len)."""
    return sum(red.state_len(shape) for red, shape, _ in reds)


def _host_func(sig, elem, B: int, state_len: int):
    """The function that launches the kernel; its arguments are the kernel's (see above)."""
    buf = ir.MemRefType.get([ir.ShapedType.get_dynamic_size()], elem)
    inputs = [buf] * (len(sig.arg_cats) + len(sig.outputs) + 1) + [ir.IndexType.get()] * 4
    new = func.FuncOp(sig.name, ir.FunctionType.get(inputs, []))
    new.attributes["keir.signature"] = ir.StringAttr.get(json.dumps(sig.to_json()))
    gpu_info = {"block": B, "state_len": state_len}
    new.attributes["keir.gpu"] = ir.StringAttr.get(json.dumps(gpu_info))
    return new, new.add_entry_block()


def _resume(e, reds, state_buf, row, offset, state_len: int) -> list:
    """The initial states, or those a previous chunk saved when `offset` > 0."""
    first = arith.cmpi(arith.CmpIPredicate.eq, offset, index_const(0))
    branch = scf.IfOp(first, [e.type] * state_len, has_else=True)
    with ir.InsertionPoint(branch.then_block):
        init = [red.init(e, shape) for red, shape, _ in reds]
        scf.YieldOp(sum(init, []))
    with ir.InsertionPoint(branch.else_block):
        base = arith.muli(row, index_const(state_len))
        scf.YieldOp(
            [memref.load(state_buf, [arith.addi(base, index_const(k))]) for k in range(state_len)]
        )
    return split_state(list(branch.results), init)


def _stage(arrays, cols: dict, tile, t, tx, n, B: int) -> None:
    """Thread tx copies component d of column row t + tx to tile[start + d * B + tx]."""
    if tile is None:
        return
    c = arith.addi(t, tx)
    inside = scf.IfOp(arith.cmpi(arith.CmpIPredicate.ult, c, n))
    with ir.InsertionPoint(inside.then_block):
        start = 0
        for pos, dim in cols.items():
            base = arith.muli(c, index_const(dim))
            for d in range(dim):
                value = memref.load(arrays[pos], [arith.addi(base, index_const(d))])
                slot = arith.addi(index_const(start + d * B), tx)
                memref.store(value, tile, [slot])
            start += dim * B
        scf.YieldOp([])


def _tile_loader(fixed: dict, cols: dict, tile, c, B: int):
    """Variables for the formula: row values from registers, column values from the tile."""
    starts, start = {}, 0
    for pos, dim in cols.items():
        starts[pos], start = start, start + dim * B

    def load(cat, pos, dim):
        if pos in fixed:
            return fixed[pos]
        return [
            memref.load(tile, [arith.addi(c, index_const(starts[pos] + d * B))]) for d in range(dim)
        ]

    return load


def _store(e, reds, states, outs, state_buf, r, active, done, state_len: int) -> None:
    """Active threads write the finalized outputs, or save the states for the next chunk."""
    guard = scf.IfOp(active)
    with ir.InsertionPoint(guard.then_block):
        branch = scf.IfOp(done, has_else=True)
        with ir.InsertionPoint(branch.then_block):
            for (red, shape, spec), state, out in zip(reds, states, outs):
                base = arith.muli(r, index_const(spec.out_dim))
                for k, lane in enumerate(red.finalize(e, state, shape)):
                    memref.store(lane, out, [arith.addi(base, index_const(k))])
            scf.YieldOp([])
        with ir.InsertionPoint(branch.else_block):
            base = arith.muli(r, index_const(state_len))
            for k, lane in enumerate(sum(states, [])):
                memref.store(lane, state_buf, [arith.addi(base, index_const(k))])
            scf.YieldOp([])
        scf.YieldOp([])
