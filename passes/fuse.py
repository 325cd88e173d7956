"""keir-fuse: kernels that reduce over the same axis become one kernel with several outputs.

    func @a() {... "keir.reduction"(%f) {axis = 1, kind = "Sum"}}
    func @b() {... "keir.reduction"(%g) {axis = 1, kind = "LogSumExp"}}
      ->  func @a() {... %f ... %g ... "keir.reduction"(%f) ... "keir.reduction"(%g) ...}

The fused kernel reads the union of the arguments (kernels must agree on every position they
share) and evaluates all formulas once per (i, j) pair; keir-cse, run next, then computes their
common subexpressions once. Outputs keep the order of the functions in the module.
"""

from __future__ import annotations

from mlir import ir

from ..dialect.kernel import find_reductions, int_attr, kernel_funcs, operations
from ..errors import CompileError

NAME = "keir-fuse"
DESCRIPTION = "merge kernels reducing over the same axis into one multi-output kernel"


def _args(func) -> list[tuple[int, int]]:
    cats = ir.DenseI64ArrayAttr(func.attributes["keir.arg_cats"])
    dims = ir.DenseI64ArrayAttr(func.attributes["keir.arg_dims"])
    return list(zip(cats, dims))


def _union(a: list, b: list) -> list:
    for pos, (x, y) in enumerate(zip(a, b)):
        if x != y:
            raise CompileError(f"cannot fuse: argument {pos} differs (category, dim) {x} vs {y}")
    return a if len(a) >= len(b) else b


def _merge(target, other) -> None:
    block, ret = target.regions[0].blocks[0], None
    ret = operations(block)[-1]
    for op in operations(other.regions[0].blocks[0])[:-1]:  # all but func.return
        op.move_before(ret)
    args = _union(_args(target), _args(other))
    target.attributes["keir.arg_cats"] = ir.DenseI64ArrayAttr.get([c for c, _ in args])
    target.attributes["keir.arg_dims"] = ir.DenseI64ArrayAttr.get([d for _, d in args])
    other.erase()


def run_on(module_op) -> None:
    first_by_axis = {}
    for func in kernel_funcs(module_op):
        axis = int_attr(find_reductions(func)[0], "axis")
        if axis in first_by_axis:
            _merge(first_by_axis[axis], func)
        else:
            first_by_axis[axis] = func
