"""The formula grammar, argument specs and the errors a user sees."""

from __future__ import annotations

import json

import pytest

from keir import (
    DimensionError,
    FormulaSyntaxError,
    KeirError,
    NotSupportedError,
    UnknownOpError,
)
from keir.dialect.ops import OPS
from keir.frontend import names
from keir.frontend.aliases import parse_alias, parse_aliases
from keir.frontend.formula import ReductionSpec, build_kernel, split_reduction
from keir.frontend.parser import parse

ALIASES = ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)", "s = Pm(1)"]
SUM = ReductionSpec("Sum", 1)


def ops_of(formula, aliases=ALIASES):
    module, _ = build_kernel(formula, aliases, "float32", SUM)
    body = module.body.operations[0].regions[0].blocks[0]
    return [op.operation.name for op in body.operations]


@pytest.mark.parametrize(
    "formula, expected",
    [
        ("x + y * b", ["keir.var", "keir.var", "keir.var", "keir.mult", "keir.add"]),
        ("(x + y) * b", ["keir.var", "keir.var", "keir.add", "keir.var", "keir.mult"]),
        ("-x ^ 2", ["keir.var", "keir.pow", "keir.minus"]),
        ("x - y - b", ["keir.var", "keir.var", "keir.subtract", "keir.var", "keir.subtract"]),
        ("x / y / b", ["keir.var", "keir.var", "keir.divide", "keir.var", "keir.divide"]),
        ("(x|y)", ["keir.var", "keir.var", "keir.scalprod"]),
        ("x ** -1", ["keir.var", "keir.pow"]),
        ("x ^ s", ["keir.var", "keir.var", "keir.powf"]),
        ("x ^ 0.5", ["keir.var", "keir.cst", "keir.powf"]),
        ("IntCst(7) * x", ["keir.intcst", "keir.var", "keir.mult"]),
        ("Var(0, 3, 0) + Vj(1, 3)", ["keir.var", "keir.var", "keir.add"]),
        ("+x", ["keir.var"]),
    ],
)
def test_precedence_and_ops(formula, expected):
    assert ops_of(formula)[:-2] == expected  # then keir.reduction, func.return


def test_repeated_variable_is_one_value():
    assert ops_of("x * x + x").count("keir.var") == 1


def test_pow_keeps_its_integer_exponent():
    module, _ = build_kernel("Pow(x, 3)", ALIASES, "float32", SUM)
    assert "n = 3 : i64" in str(module)


def test_float_literal_keeps_its_value():
    module, _ = build_kernel("x * 2.5e-3", ALIASES, "float64", SUM)
    assert "2.500000e-03 : f64" in str(module)


@pytest.mark.parametrize(
    "text, cat, dim, pos",
    [
        ("x = Vi(3)", 0, 3, 5),
        ("y=Vj(2)", 1, 2, 5),
        ("s = Pm(1)", 2, 1, 5),
        ("x = Vi(0, 3)", 0, 3, 0),
        ("v = Var(2, 4, 1)", 1, 4, 2),
        ("p = Var(1, 2, 2)", 2, 2, 1),
        ("Vj(2)", 1, 2, 5),
    ],
)
def test_alias(text, cat, dim, pos):
    a = parse_alias(text, 5)
    assert (a.cat, a.dim, a.pos) == (cat, dim, pos)


@pytest.mark.parametrize(
    "text", ["x = Vk(3)", "x = Vi()", "x = Vi(3, 2, 1)", "x Vi(3)", "x = Var(0, 3, 5)", "x = Vi(0)"]
)
def test_bad_alias(text):
    with pytest.raises(FormulaSyntaxError):
        parse_alias(text, 0)


def test_unnamed_aliases_are_used_through_var():
    module, args = build_kernel("Var(0, 3, 0) - Var(1, 3, 1)", ["Vi(3)", "Vj(3)"], "float32", SUM)
    assert [(a.cat, a.dim) for a in args] == [(0, 3), (1, 3)]


def test_duplicate_alias_name():
    with pytest.raises(FormulaSyntaxError, match="declared twice"):
        parse_aliases(["x = Vi(3)", "x = Vj(3)"])


def test_positions_must_not_leave_gaps():
    with pytest.raises(FormulaSyntaxError, match="without gaps"):
        build_kernel("x + y", ["x = Vi(0, 3)", "y = Vj(2, 3)"], "float32", SUM)


def test_inline_var_conflicting_with_alias():
    with pytest.raises(FormulaSyntaxError, match="position 0"):
        build_kernel("x + Var(0, 2, 1)", ALIASES, "float32", SUM)


def test_inline_reduction_axis_tag():
    tree = parse("Sum_Reduction(x, 0)")
    _, spec = split_reduction(tree, "Sum_Reduction(x, 0)")
    assert spec == ReductionSpec("Sum", 1)  # output indexed by i: reduce over j
    _, spec = split_reduction(parse("ArgMin_Reduction(x, 1)"), "")
    assert spec == ReductionSpec("ArgMin", 0)


# ---------------------------------------------------------------- errors
def test_syntax_error_shows_a_caret():
    with pytest.raises(FormulaSyntaxError) as e:
        build_kernel("Exp(x) $ y", ALIASES, "float32", SUM)
    assert str(e.value).splitlines()[1:] == ["  Exp(x) $ y", "         ^"]


def test_unfinished_formula():
    with pytest.raises(FormulaSyntaxError, match="ends too early") as e:
        build_kernel("Exp(x + ", ALIASES, "float32", SUM)
    assert e.value.column == len("Exp(x + ")


def test_unknown_op_suggests_the_nearest():
    with pytest.raises(UnknownOpError, match="did you mean SqDist") as e:
        build_kernel("SqDst(x, y)", ALIASES, "float32", SUM)
    assert e.value.column == 0


def test_unknown_variable_suggests_aliases():
    with pytest.raises(UnknownOpError, match="unknown variable 'z'"):
        build_kernel("x + z", ALIASES, "float32", SUM)


def test_dimension_error_names_op_dims_and_place():
    with pytest.raises(DimensionError) as e:
        build_kernel("Exp(s) + SqDist(x, Var(4, 2, 1))", ALIASES, "float32", SUM)
    message = str(e.value)
    assert "SqDist" in message and "3" in message and "2" in message
    assert e.value.column == len("Exp(s) + ")


def test_scalar_product_needs_equal_dims():
    with pytest.raises(DimensionError, match="Scalprod"):
        build_kernel("(x | b)", ALIASES, "float32", SUM)


def test_wrong_arity():
    with pytest.raises(FormulaSyntaxError, match="SqDist takes 2"):
        build_kernel("SqDist(x)", ALIASES, "float32", SUM)


def test_integer_parameter_must_be_a_literal():
    with pytest.raises(FormulaSyntaxError, match="Pow: parameter n must be an integer literal"):
        build_kernel("Pow(x, s)", ALIASES, "float32", SUM)


def test_nested_reduction_is_rejected():
    with pytest.raises(FormulaSyntaxError, match="outermost"):
        build_kernel("Exp(Sum_Reduction(x, 0))", ALIASES, "float32", SUM)


def test_missing_reduction():
    with pytest.raises(FormulaSyntaxError, match="no reduction"):
        build_kernel("x", ALIASES, "float32")


@pytest.mark.parametrize("name", sorted(names.MATH_OPS))
def test_every_keops_name_parses_and_is_known(name):
    """Every op of the KeOps language is recognised: it builds, or says 'not supported yet'."""
    args = (
        ", ".join(["x"] * (OPS[name].arity) + ["2"] * len(OPS[name].params)) if name in OPS else "x"
    )
    try:
        build_kernel(f"{name}({args})", ALIASES, "float32", SUM)
    except NotSupportedError as e:
        assert name in str(e) and "not supported yet" in str(e)
    except KeirError as e:  # a known op may still reject these particular operands
        assert not isinstance(e, UnknownOpError), e


@pytest.mark.parametrize("red", names.REDUCTIONS)
def test_every_keops_reduction_is_known(red):
    try:
        build_kernel(f"{red}_Reduction(x, 0)", ALIASES, "float32")
    except NotSupportedError as e:
        assert red in str(e)
    except KeirError as e:
        assert not isinstance(e, UnknownOpError), e


def test_all_errors_are_keir_errors():
    for bad in ["", "(", "x +* y", "1e", "Exp(x,)", "x = 3", "Sum_Reduction(x)"]:
        with pytest.raises(KeirError):
            build_kernel(bad, ALIASES, "float32", SUM if "Reduction" not in bad else None)


def test_names_cover_keopscore_scope():
    """names.py lists every formula name of the installed keopscore (pykeops' formula scope)."""
    getred = pytest.importorskip("keopscore.formulas.GetReduction")
    helpers = {
        "GetReduction",
        "KeOps_Print",
        "Reduction",
        "Sum_Scheme",
        "block_sum",
        "c_array",
        "c_if",
        "c_variable",
        "direct_sum",
        "get_hash_name",
        "kahan_scheme",
    }
    scope = {k for k, v in vars(getred).items() if not k.startswith("_") and callable(v)}
    assert scope - helpers <= names.ALL_NAMES


def test_stored_parse_tables_match_the_grammar():
    """frontend/keops_tables.json must be regenerated (python -m keir.frontend.parser) whenever
    keops.lark changes; loaded, it parses every op example like a parser built from the grammar,
    positions and errors included."""
    from lark.exceptions import UnexpectedInput

    from keir.frontend import parser

    stored = json.loads(parser._TABLES.read_text())
    assert stored["fingerprint"] == parser._fingerprint(), "regenerate keops_tables.json"
    loaded, built = parser._parser(), parser._built()
    assert loaded is not built and not hasattr(loaded, "grammar")  # came from the tables
    texts = [op.example for op in OPS.values() if op.example]
    texts += ["Sum_Reduction(Exp(-s*SqDist(x,y))*b, 0)", "x)", "Exp(", "1 2", "a $ b", "Var(0,3,"]
    for text in texts:
        results = []
        for p in (loaded, built):
            try:
                tree = p.parse(text, start="formula")
                spans = [(t.meta.column, t.meta.end_column) for t in tree.iter_subtrees()]
                results.append((tree, spans))
            except UnexpectedInput as e:
                results.append((type(e).__name__, e.pos_in_stream))
        assert results[0] == results[1], text
    assert loaded.parse("x = Vi(3)", start="alias") == built.parse("x = Vi(3)", start="alias")
