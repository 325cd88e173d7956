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


@pytest.mark.parametrize("code, printed", _blocks())
def test_readme_example(code, printed):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    got, want = out.getvalue().split(), printed.split()
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if re.fullmatch(r"[-+\d.e\[\]]+", w) and any(c.isdigit() for c in w):
            g_num, w_num = float(g.strip("[]")), float(w.strip("[]"))
            if abs(w_num) < 1e-10:  # a printed round-off error: any round-off will do
                assert abs(g_num) < 1e-10, (g, w)
            else:
                assert abs(g_num - w_num) <= 1e-3 * abs(w_num), (g, w)
        else:
            assert g == w


def test_formula_reference_is_up_to_date():
    """docs/formulas.md is `keir formulas`: regenerate it when an op or reduction changes."""
    from keir.reference import markdown

    path = README.parent / "docs" / "formulas.md"
    assert path.read_text() == markdown(), "run: keir formulas > docs/formulas.md"


def test_formula_reference_lists_every_op_and_reduction():
    from keir.dialect.ops import OPS
    from keir.dialect.reductions import REDUCTIONS
    from keir.reference import markdown

    text = markdown()
    for name in OPS:
        assert f"`{name}(" in text, name
    for name in REDUCTIONS:
        assert f"| {name} |" in text, name
