"""keir-gpu-to-cpu: runs a gpu.launch on the CPU, so the GPU kernel's logic is tested here.

The kernel itself is consumed (not re-emitted from keir IR): each block becomes an iteration of
an scf.parallel, and the threads of a block become loops split at the barriers:

    gpu.launch blocks(g) threads(B) { A; scf.for t { C; gpu.barrier; D; gpu.barrier }; E }
      ->
    scf.parallel b in [0, g)
      workgroup memory -> memref.alloca in the block's frame
      scf.for x in [0, B) { A }
      scf.for t { scf.for x in [0, B) { C }; scf.for x in [0, B) { D } }
      scf.for x in [0, B) { E }

Running every thread of a segment before any thread of the next is what a barrier guarantees.
A value a thread defines in one segment and uses in another lives in a per-thread array
(memref.alloca of B elements): stored where it is defined, loaded where it is used; so are the
loop-carried values of a loop containing barriers. Handled shape (what keir-tile-gpu emits):
1-D blocks of a constant size, barriers at the top level of the launch body or of scf.for
loops with uniform bounds whose body ends with a barrier (so that consecutive iterations never
overlap on a GPU either); anything else is refused with a NotSupportedError. The emulation
runs one legal interleaving of the threads: it shows wrong data flow between segments (a
missing barrier inside the loop, a bad tile index), not every race a GPU could expose.
"""

from __future__ import annotations

from mlir import ir
from mlir.dialects import arith, memref, scf

from ..errors import NotSupportedError
from .lowering.formula import index_const

NAME = "keir-gpu-to-cpu"
DESCRIPTION = "emulate gpu.launch on the CPU: blocks in parallel, threads as loops between barriers"


def run_on(module_op) -> None:
    launches = []
    module_op.walk(lambda op: _collect(op, launches))
    for launch in launches:
        with ir.InsertionPoint(launch), launch.location:
            _Emulation(launch).run()
        launch.erase()


def _collect(op, found: list):
    if op.name == "gpu.launch":
        found.append(op.operation)
    return ir.WalkResult.ADVANCE


def _has_barrier(op) -> bool:
    found = []

    def visit(inner):
        if inner.name == "gpu.barrier":
            found.append(inner)
            return ir.WalkResult.INTERRUPT
        return ir.WalkResult.ADVANCE

    op.walk(visit)
    return bool(found)


def _workgroup_buffers(launch) -> int:
    attrs = launch.attributes
    if "workgroup_attributions" not in attrs:
        return 0
    return ir.IntegerAttr(attrs["workgroup_attributions"]).value


def _constant(value) -> int | None:
    owner = value.owner
    if isinstance(owner, ir.Block) or owner.name != "arith.constant":
        return None
    return ir.IntegerAttr(owner.attributes["value"]).value


class _Emulation:
    """Rewrites one gpu.launch; `segments` maps each thread loop to its thread index."""

    def __init__(self, launch):
        self.launch = launch
        self.body = launch.regions[0].blocks[0]
        operands = list(launch.operands)
        sizes = [_constant(v) for v in operands[1:6]]
        if sizes != [1, 1, sizes[2], 1, 1] or not sizes[2] or len(operands) != 6:
            raise NotSupportedError("keir-gpu-to-cpu: only 1-D launches of a constant block size")
        if len(self.body.arguments) != 12 + _workgroup_buffers(launch):
            raise NotSupportedError("keir-gpu-to-cpu: private memory attributions")
        self.block, self.grid, self.sizes = sizes[2], operands[0], operands
        self.segments: dict = {}  # thread loop (Operation) -> its induction variable
        self.carried: dict = {}  # loop-carried value -> its per-thread array
        self.spills: dict = {}  # value -> per-thread array
        self.loads: dict = {}  # (segment, value) -> the loaded value
        self.dead: list = []  # replaced loops, erased last (after their uses are gone)

    def run(self) -> None:
        par = scf.ParallelOp([], [index_const(0)], [self.grid], [index_const(1)], [])
        frame = par.region.blocks.append(ir.IndexType.get())
        with ir.InsertionPoint(frame):
            zero = index_const(0)
            end = scf.ReduceOp([], 0)
        # block-wide values (constants, arrays) go before `zero`, thread loops after it
        self.uniform = zero.owner
        self.frame = ir.InsertionPoint(self.uniform)
        self._bind_launch_arguments(frame.arguments[0], zero)
        self._lower_block(list(self.body.operations)[:-1], ir.InsertionPoint(end))
        self._resolve_values()
        for op in self.dead:  # inner loops first: an outer loop's erasure would free them
            op.erase()

    def _bind_launch_arguments(self, block_id, zero) -> None:
        """Block ids, sizes and workgroup buffers become values of the block's frame."""
        args = self.body.arguments
        with self.frame:
            for k, value in enumerate((block_id, zero, zero)):
                args[k].replace_all_uses_with(value)
            for k in (4, 5):
                args[k].replace_all_uses_with(zero)
            for k in range(6):
                args[6 + k].replace_all_uses_with(self.sizes[k])
            for arg in list(args)[12:]:
                shape = ir.MemRefType(arg.type)
                local = ir.MemRefType.get(shape.shape, shape.element_type)
                arg.replace_all_uses_with(memref.alloca(local, [], []))
        self.thread = args[3]

    # -------------------------------------------------------------- structure
    def _lower_block(self, ops: list, ip) -> None:
        """Moves `ops` (run by all threads of the block) to thread loops at `ip`."""
        segment = None
        for op in ops:
            op = op.operation
            if op.name == "gpu.barrier":
                op.erase()
                segment = None
            elif op.name == "arith.constant":
                op.move_before(self.uniform)
            elif _has_barrier(op):
                segment = None
                self._lower_loop(op, ip)
            else:
                if segment is None:
                    segment = self._new_segment(ip)
                op.move_before(segment)

    def _new_segment(self, ip):
        """A loop over the threads at `ip`; returns its terminator (ops go before it)."""
        with ip:
            loop = scf.ForOp(index_const(0), index_const(self.block), index_const(1))
            with ir.InsertionPoint(loop.body):
                end = scf.YieldOp([])
        self.segments[loop.operation] = loop.induction_variable
        return end.operation

    def _lower_loop(self, old, ip) -> None:
        """A loop containing barriers runs once for the block; its carried values are arrays."""
        if old.name != "scf.for":
            raise NotSupportedError(f"keir-gpu-to-cpu: gpu.barrier inside {old.name}")
        lower, upper, step, *inits = old.operands
        if any(self._segment_of(v) is not None or v == self.thread for v in (lower, upper, step)):
            raise NotSupportedError("keir-gpu-to-cpu: a loop with barriers needs uniform bounds")
        body = old.regions[0].blocks[0]
        arrays = [self._array(v.type) for v in inits]
        store = self._new_segment(ip)
        with ir.InsertionPoint(store):
            for value, array in zip(inits, arrays):
                _store(value, array, self.thread)
        with ip:
            new = scf.ForOp(lower, upper, step)
            with ir.InsertionPoint(new.body):
                end = scf.YieldOp([])
        body.arguments[0].replace_all_uses_with(new.induction_variable)
        *ops, yield_op = [op.operation for op in body.operations]
        if not ops or ops[-1].name != "gpu.barrier":
            # else iteration t+1's first segment may overlap iteration t's last on a GPU,
            # while the emulation would order them: a race it could not show
            raise NotSupportedError("keir-gpu-to-cpu: a loop with barriers must end with one")
        self._lower_block(ops, ir.InsertionPoint(end))
        store = self._new_segment(ir.InsertionPoint(end))
        with ir.InsertionPoint(store):
            for value, array in zip(yield_op.operands, arrays):
                _store(value, array, self.thread)
        yield_op.erase()
        for value, array in zip([*list(body.arguments)[1:], *old.results], arrays * 2):
            self.carried[value] = array
        self.dead.append(old)

    def _array(self, element: ir.Type):
        """A per-thread array; booleans are stored as bytes (LLVM has no i1 memory access)."""
        if element == ir.IntegerType.get_signless(1):
            element = ir.IntegerType.get_signless(8)
        with self.frame:
            return memref.alloca(ir.MemRefType.get([self.block], element), [], [])

    # -------------------------------------------------------------- values across segments
    def _resolve_values(self) -> None:
        """Thread ids become each loop's index; values crossing segments go through arrays."""
        uses = []
        for segment in self.segments:
            segment.walk(lambda op, s=segment: _operands(op, s, uses))
        for segment, op, value in uses:
            new = self._value_in(segment, value)
            if new is not None:
                op.replace_uses_of_with(value, new)

    def _value_in(self, segment, value):
        """What `value` is inside `segment` (None: the value itself)."""
        if value == self.thread:
            return self.segments[segment]
        array = self.carried.get(value)
        if array is None:
            home = self._segment_of(value)
            if home is None or home == segment:
                return None
            array = self._spill(home, value)
        key = (segment, value)
        if key not in self.loads:
            body = segment.regions[0].blocks[0]
            with ir.InsertionPoint.at_block_begin(body):
                self.loads[key] = _load(array, self.segments[segment], value.type)
        return self.loads[key]

    def _spill(self, home, value):
        if value not in self.spills:
            self.spills[value] = array = self._array(value.type)
            body = home.regions[0].blocks[0]
            with ir.InsertionPoint(body.operations[len(body.operations) - 1]):
                _store(value, array, self.segments[home])
        return self.spills[value]

    def _segment_of(self, value):
        """The thread loop that defines `value`, or None for values uniform over the block."""
        owner = value.owner
        op = owner.owner if isinstance(owner, ir.Block) else owner
        while op is not None:
            op = op.operation
            if op in self.segments:
                return op
            op = op.parent
        return None


def _store(value, array, thread) -> None:
    if value.type != ir.MemRefType(array.type).element_type:
        value = arith.extui(ir.MemRefType(array.type).element_type, value)
    memref.store(value, array, [thread])


def _load(array, thread, element: ir.Type):
    value = memref.load(array, [thread])
    return value if value.type == element else arith.trunci(element, value)


def _operands(op, segment, uses: list):
    for value in op.operands:
        uses.append((segment, op, value))
    return ir.WalkResult.ADVANCE
