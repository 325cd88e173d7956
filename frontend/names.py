"""Every name of the KeOps formula language (keopscore 2.3), lowered by keir or not yet.

The list is keopscore 2.3's formula scope (`vars(keopscore.formulas.GetReduction)` less its code
generation helpers) plus the RKeOps aliases Vi/Vj/Pm. The builder looks names up here only after
keir's own op table: a name listed here but absent from keir.dialect.ops is a valid KeOps
operation that keir does not lower yet.
"""

from __future__ import annotations

MATH_OPS = tuple(
    """
    IntCst RatCst IntInv Zero Add Subtract Mult Divide Minus Pow Powf Square Sqrt Rsqrt Inv
    Equal NotEqual LessThan LessOrEqual
    Exp Log XLogX Cos Sin SinXDivX Acos Asin Atan Atan2 Abs Sign Step ReLU Clamp ClampInt
    DiffClampInt IfElse Mod Round Floor
    Sum SumT Max Min ArgMax ArgMin Norm2 SqNorm2 Normalize SqDist WeightedSqNorm WeightedSqDist
    SqNormDiag SqNormIso SymSqNorm Scalprod Elem ElemT Extract ExtractT Concat OneHot BSpline
    MatVecMult VecMatMult TensorProd TensorDot Kron SoftDTW_SqDist
    ComplexReal ComplexImag Real2Complex Imag2Complex Conj ComplexAbs ComplexSquareAbs
    ComplexAngle ComplexSum ComplexSumT ComplexAdd ComplexSubtract ComplexMult ComplexRealScal
    ComplexDivide ComplexExp ComplexExp1j
    Grad Diff GradMatrix Divergence Laplacian Grad_WithSavedForward Diff_WithSavedForward
    TraceOperator AdjointOperator SumLinOperator Factorize AutoFactorize
    """.split()
)

VARIABLES = ("Var", "Vi", "Vj", "Pm")

# Usable as `<name>_Reduction(...)` in formulas and (most) as Genred's reduction_op.
REDUCTIONS = tuple(
    """
    Sum Max Min ArgMax ArgMin Max_ArgMax Min_ArgMin KMin ArgKMin KMin_ArgKMin LogSumExp
    Max_SumShiftExp Max_SumShiftExpWeight SumSoftMaxWeight LogSumExpWeight Zero
    """.split()
)

REDUCTION_SUFFIX = "_Reduction"

ALL_NAMES = frozenset(MATH_OPS + VARIABLES + tuple(r + REDUCTION_SUFFIX for r in REDUCTIONS))
