"""Python builders for keir kernels: one `KernelBuilder` per kernel, dims checked as ops are added.

Every op gets an MLIR location `formula:1:<column>` so later errors can point into the formula.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DimensionError, FormulaError
from .definition import context
from .ops import OPS, DimRuleError
from .reductions import RedShape, check_shape, reduction_def

CATEGORIES = {"i": 0, "j": 1, "p": 2}
DTYPES = ("float32", "float64")
# Function attribute: sum each cache tile into fresh states (sum_scheme="block_sum")
BLOCK_SUM = "keir.block_sum"


@dataclass(frozen=True)
class ArgSpec:
    """One declared kernel argument: category 0 (i-indexed), 1 (j-indexed) or 2 (parameter)."""

    name: str
    cat: int
    dim: int


def element_type(dtype: str):
    from mlir import ir

    if dtype not in DTYPES:
        raise FormulaError(f"unsupported dtype {dtype!r}: expected one of {', '.join(DTYPES)}")
    return ir.F32Type.get() if dtype == "float32" else ir.F64Type.get()


def dim_of(value) -> int:
    from mlir import ir

    return ir.VectorType(value.type).shape[0]


class OpFactory:
    """Creates keir ops of one float type at an insertion point, checking each op's dims.

    The frontend uses it (through KernelBuilder) with formula positions; passes use it with
    `location` set, e.g. autodiff creating the ops of a derivative before a keir.grad op.
    """

    def __init__(self, elem, ip, formula: str | None = None, location=None):
        self.elem, self._ip, self.formula, self.location = elem, ip, formula, location

    # ------------------------------------------------------------ helpers
    def _loc(self, column: int | None):
        from mlir import ir

        if self.location is not None:
            return self.location
        return ir.Location.file("formula", 1, (column or 0) + 1)

    def _vec(self, dim: int):
        from mlir import ir

        return ir.VectorType.get([dim], self.elem)

    def _create(self, mnemonic: str, operands, dim: int, attrs: dict, column):
        from mlir import ir

        op = ir.Operation.create(
            f"keir.{mnemonic}",
            results=[self._vec(dim)] if dim else [],
            operands=list(operands),
            attributes=attrs,
            loc=self._loc(column),
            ip=self._ip,
        )
        return op.result if dim else op

    def _i64(self, v: int):
        from mlir import ir

        return ir.IntegerAttr.get(ir.IntegerType.get_signless(64), int(v))

    # ------------------------------------------------------------ leaves
    def var(self, cat: int, pos: int, dim: int, column: int | None = None):
        attrs = {"cat": self._i64(cat), "pos": self._i64(pos), "dim": self._i64(dim)}
        return self._create("var", [], dim, attrs, column)

    def intcst(self, n: int, column: int | None = None):
        return self._create("intcst", [], 1, {"value": self._i64(n)}, column)

    def cst(self, x: float, column: int | None = None):
        from mlir import ir

        return self._create("cst", [], 1, {"value": ir.FloatAttr.get_f64(float(x))}, column)

    # ------------------------------------------------------------ operations
    def op(self, name: str, operands, params: dict | None = None, column: int | None = None):
        d = OPS[name]
        params = params or {}
        dims = [dim_of(v) for v in operands]
        try:
            out = d.dim(*dims, **params)
        except DimRuleError as e:
            raise DimensionError(
                f"{name}: {e} (operand dims {dims})", self.formula, column
            ) from None
        attrs = {k: self._param(v) for k, v in params.items()}
        return self._create(d.mnemonic, operands, out, attrs, column)

    def _param(self, value):
        from mlir import ir

        if isinstance(value, (tuple, list)):
            return ir.DenseI64ArrayAttr.get([int(v) for v in value])
        return self._i64(value)

    def grad(self, f, pos: int, dim: int, gradin, column: int | None = None):
        """Grad(f, v, gradin) for the variable at position `pos` (of dimension `dim`)."""
        if dim_of(gradin) != dim_of(f):
            raise DimensionError(
                f"Grad: the gradient input has dim {dim_of(gradin)}, the formula dim "
                f"{dim_of(f)}; they must be equal",
                self.formula,
                column,
            )
        return self._create("grad", [f, gradin], dim, {"pos": self._i64(pos)}, column)


class KernelBuilder(OpFactory):
    """Builds `func.func @name` holding a formula and its reduction; use as a context manager.
    With `module`, the function is appended to that module (several kernels, one module)."""

    def __init__(
        self, dtype: str, name: str = "keir_kernel", formula: str | None = None, module=None
    ):
        from mlir import ir
        from mlir.dialects import func

        self._ctx = context()
        self._scope = [self._ctx, ir.Location.unknown(self._ctx)]
        for s in self._scope:
            s.__enter__()
        self.module = module if module is not None else ir.Module.create()
        with ir.InsertionPoint(self.module.body):
            self.func = func.FuncOp(name, ir.FunctionType.get([], []))
        self.block = self.func.add_entry_block()
        super().__init__(element_type(dtype), ir.InsertionPoint(self.block), formula)

    def close(self) -> None:
        for s in reversed(self._scope):
            s.__exit__(None, None, None)
        self._scope = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def reduction(self, kind: str, operands, axis: int, k: int = 0, column: int | None = None):
        """Ends the formula: reduce operands[0] (weighted by operands[1], if given)."""
        from mlir import ir

        dims = [dim_of(v) for v in operands]
        shape = RedShape(dims[0], dims[1] if len(dims) > 1 else 0, k)
        try:
            check_shape(reduction_def(kind), shape)
        except DimRuleError as e:
            raise DimensionError(f"{kind} reduction: {e}", self.formula, column) from None
        attrs = {"kind": ir.StringAttr.get(kind), "axis": self._i64(axis), "k": self._i64(k)}
        return self._create("reduction", operands, 0, attrs, column)

    def block_sum(self) -> None:
        """Marks the kernel for pykeops' sum_scheme="block_sum": keir-tile-cpu sums each cache
        tile of the reduced index into fresh states and merges them into the running ones."""
        from mlir import ir

        self.func.attributes[BLOCK_SUM] = ir.UnitAttr.get()

    def finish(self, args: list[ArgSpec]):
        """Records the argument list, closes the function and verifies the module."""
        from mlir import ir
        from mlir.dialects import func

        self.func.attributes["keir.arg_cats"] = ir.DenseI64ArrayAttr.get([a.cat for a in args])
        self.func.attributes["keir.arg_dims"] = ir.DenseI64ArrayAttr.get([a.dim for a in args])
        with self._ip:
            func.ReturnOp([])
        if not self.module.operation.verify():
            raise FormulaError("internal error: the keir module does not verify")
        return self.module
