"""The README's Python examples run and print what the README says they print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```\n+```\n(.*?)```", re.S)


def _blocks():
    return BLOCK.findall(README.read_text())


def test_readme_has_examples():
    assert len(_blocks()) >= 2


NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:e[-+]?\d+)?")


@pytest.mark.parametrize("code, printed", _blocks())
def test_readme_example(code, printed):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    got = out.getvalue()

    # the words must match exactly, the numbers to 1e-3 (float32 sums depend on their order)
    def shape(text):
        return re.sub(r"\s+", "", NUMBER.sub("#", text))

    assert shape(got) == shape(printed), got
    for g, w in zip(NUMBER.findall(got), NUMBER.findall(printed), strict=True):
        g_num, w_num = float(g), float(w)
        if abs(w_num) < 1e-10:  # a printed round-off error: any round-off will do
            assert abs(g_num) < 1e-10, (g, w)
        else:
            assert abs(g_num - w_num) <= 1e-3 * abs(w_num), (g, w)


def test_formula_reference_is_up_to_date():
    """docs/formulas.md is `keir formulas`: regenerate it when an op or reduction changes."""
    from keir.formula_docs import markdown

    path = README.parent / "docs" / "formulas.md"
    assert path.read_text() == markdown(), "run: keir formulas > docs/formulas.md"


def test_formula_reference_lists_every_op_and_reduction():
    from keir.dialect.ops import OPS
    from keir.dialect.reductions import REDUCTIONS
    from keir.formula_docs import markdown

    text = markdown()
    for name in OPS:
        assert f"`{name}(" in text, name
    for name in REDUCTIONS:
        assert f"| {name} |" in text, name


def test_reliability_doc_names_only_tests_that_exist():
    """docs/reliability.md says which test checks each guarantee: each name must be a test."""
    doc = (README.parent / "docs" / "reliability.md").read_text()
    names = set(re.findall(r"`(test_\w+)`", doc))
    sources = "\n".join(p.read_text() for p in (README.parent / "tests").glob("test_*.py"))
    defined = set(re.findall(r"^def (test_\w+)", sources, re.M))
    assert len(names) > 40 and names <= defined, sorted(names - defined)
