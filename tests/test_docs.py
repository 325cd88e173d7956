"""The documentation's examples run and print exactly what the pages say they print.

Checked: every ```python block followed by an output block in README.md and docs/autodiff.md
(the printed text, exactly: examples print only digits that are stable across machines), the
README's `keir run` output (all but the timings) and its error example."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = (README, ROOT / "docs" / "autodiff.md")
BLOCK = re.compile(r"```python\n((?:(?!```).)*?)```\n+```\n(.*?)```", re.S)


def _blocks():
    return [
        (page, code, printed) for page in PAGES for code, printed in BLOCK.findall(page.read_text())
    ]


def test_readme_has_examples():
    assert len(BLOCK.findall(README.read_text())) >= 2


@pytest.mark.parametrize(
    "page, code, printed", _blocks(), ids=[f"{p.name}-{k}" for k, (p, _, _) in enumerate(_blocks())]
)
def test_example_prints_what_the_page_says(page, code, printed):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(page), "exec"), {})
    assert out.getvalue() == printed


def _block_after(text: str, marker: str) -> str:
    start = text.index(marker)
    return text[start:].split("```\n", 2)[1]


def test_readme_keir_run_output(capsys):
    """The default `keir run` prints these lines; the timings are the machine's."""
    from keir.cli import main

    shown = _block_after(README.read_text(), "at M = N = 100,000 (10^10 pairs)").splitlines()
    assert shown[0] == "$ keir run"
    assert main(["run"]) == 0
    got = capsys.readouterr().out.splitlines()
    assert len(got) == len(shown) - 1
    timing = {
        "compile": r"compile   \d+\.\d{3} s \((compiled|disk cache hit)\)",
        "run": r"run       \d+\.\d{3} s  \(\d+\.\d{3} G pairs/s\)",
    }
    for want, line in zip(shown[1:], got):
        word = want.split()[0]
        if word in timing:
            assert re.fullmatch(timing[word], want) and re.fullmatch(timing[word], line), line
        else:
            assert line == want


def test_readme_error_example():
    from keir import Genred, KeirError

    formula, aliases = "Exp(-SqDist(x,z))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"]
    call = f"Genred({json.dumps(formula)}, {json.dumps(aliases)})"
    text = README.read_text()
    assert f"(`{call}`):" in text
    with pytest.raises(KeirError) as e:
        Genred(formula, aliases)
    shown = _block_after(text, call).rstrip("\n")
    assert f"{type(e.value).__module__}.{type(e.value).__name__}: {e.value}" == shown


def test_api_reference_is_up_to_date_and_complete():
    """docs/api.md is `python -m keir.apidoc`; every public name has an entry."""
    import keir
    from keir import apidoc

    assert (ROOT / "docs" / "api.md").read_text() == apidoc.markdown(), (
        "run: python -m keir.apidoc > docs/api.md"
    )
    public = {name for name in keir.__all__ if not name.endswith("Error")}
    assert public == apidoc.documented()


def test_formula_reference_is_up_to_date():
    """docs/formulas.md is `keir formulas`: regenerate it when an op or reduction changes."""
    from keir.formula_docs import markdown

    path = ROOT / "docs" / "formulas.md"
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
