"""Nothing in keir evaluates user text: formulas and aliases go through the Lark grammar only,
metadata (cache entries, bundle manifests) is JSON, and no module can unpickle.

An AST walk over every source file of the package (not a regex: `.evaluate(` methods and
`re.compile` are fine) looks for calls of the eval/exec/compile builtins, imports of
pickle-like modules, yaml loaders, np.load(allow_pickle=True) and subprocess shell=True.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from keir import Genred, KeirError, keops_kernel

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("keir", "frontend", "dialect", "passes", "runtime")
BUILTINS = {"eval", "exec", "compile", "execfile", "input"}
MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}
YAML_LOADERS = {"load", "unsafe_load", "full_load", "load_all"}


def _sources() -> list[Path]:
    files = [f for d in PACKAGE_DIRS for f in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 30, "the package sources were not found"
    return files


def _findings(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in MODULES:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Call):
            found += _call_findings(node)
    return found


def _call_findings(node: ast.Call) -> list[str]:
    found = []
    func = node.func
    if isinstance(func, ast.Name) and func.id in BUILTINS:
        found.append(f"{func.id}(...)")
    if isinstance(func, ast.Attribute) and func.attr in YAML_LOADERS:
        if isinstance(func.value, ast.Name) and func.value.id == "yaml":
            found.append(f"yaml.{func.attr}(...)")
    for kw in node.keywords:
        risky = kw.arg in ("allow_pickle", "shell")
        if risky and isinstance(kw.value, ast.Constant) and kw.value.value is True:
            found.append(f"{kw.arg}=True")
    return found


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_code_evaluation_or_unpickling(path):
    findings = _findings(ast.parse(path.read_text(), filename=str(path)))
    assert not findings, f"{path.relative_to(ROOT)}: {findings}"


def test_the_checker_finds_what_it_looks_for():
    bad = (
        "import pickle\nfrom marshal import loads\neval('1')\nexec(s)\ncompile(s, 'f', 'exec')\n"
        "yaml.load(t)\nnp.load(p, allow_pickle=True)\nsubprocess.run(c, shell=True)\n"
    )
    assert len(_findings(ast.parse(bad))) == 8
    fine = "re.compile('x')\nm.evaluate(a)\nnp.load(p)\njson.loads(t)\nkeir.compile_module(m)\n"
    assert _findings(ast.parse(fine)) == []


@pytest.mark.parametrize(
    "formula, aliases",
    [
        ("__import__('os').system('touch {mark}')", ["x = Vi(1)"]),
        ("x", ["x = __import__('os').system('touch {mark}')"]),
        ("Sum_Reduction(x, 0); open('{mark}', 'w')", ["x = Vi(1)"]),
        ("x if open('{mark}', 'w') else x", ["x = Vi(1)"]),
    ],
)
def test_python_in_a_formula_is_a_syntax_error_not_code(formula, aliases, tmp_path):
    mark = tmp_path / "executed"
    formula = formula.format(mark=mark)
    aliases = [a.format(mark=mark) for a in aliases]
    with pytest.raises(KeirError):
        if "_Reduction" in formula:
            keops_kernel(formula, aliases)
        else:
            Genred(formula, aliases, axis=1)
    assert not mark.exists()
