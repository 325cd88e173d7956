"""The pass registry, textual pipelines, `keir opt`, and docs/passes.md (every example in it is
run, the "writing a new pass" example pass included)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest

import keir.passes
from keir.cli import main, parse_module
from keir.dialect.interpreter import evaluate
from keir.errors import CompileError, KeirError
from keir.passes import Option, all_passes, lookup, run_pipeline

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "passes.md"
GAUSS = ROOT / "tests" / "filecheck" / "lower_cpu_sum.mlir"


def _keir(capsys, *argv) -> str:
    assert main(list(argv)) == 0, capsys.readouterr().err
    return capsys.readouterr().out


# ------------------------------------------------------------------ options
def test_options_are_declared_with_type_and_default():
    tile = {o.name: o for o in lookup("keir-tile-cpu").options}
    assert tile["lanes"].type is int and tile["lanes"].default is None
    gpu = {o.name: o for o in lookup("keir-tile-gpu").options}
    assert gpu["block"] == Option("block", int, 128)
    assert lookup("keir-simplify").options == ()


@pytest.mark.parametrize(
    "text, expected",
    [("lanes=8", {"lanes": 8}), ("lanes=8 rows=1", {"lanes": 8, "rows": 1}), ("", {})],
)
def test_option_text_is_parsed_and_typed(text, expected):
    assert lookup("keir-tile-cpu").parse_options(text) == expected


@pytest.mark.parametrize(
    "pipeline, message",
    [
        ("keir-tile-cpu{blocks=256}", "keir-tile-cpu: unknown option 'blocks' (options: lanes"),
        ("keir-tile-cpu{lanes=eight}", "option lanes expects int, got 'eight'"),
        ("keir-tile-cpu{lanes}", "option lanes needs a value"),
        ("keir-simplify{x=1}", "unknown option 'x' (options: none)"),
        ("keir-tile-cpu{lanes=8", "unbalanced braces"),
        ("no-such-pass", "does not refer to a registered pass"),
        ("canonicalize{no-such-option=1}", "unknown pass or bad options"),
    ],
)
def test_bad_pipelines_are_clear_compile_errors(pipeline, message):
    module = parse_module(GAUSS.read_text())
    with pytest.raises(CompileError, match=re.escape(message)):
        run_pipeline(module, pipeline)


# ------------------------------------------------------------------ registering passes
def test_user_pass_in_a_few_lines_mixes_with_upstream_passes():
    seen = []

    @keir.passes.register("test-count-keir-ops", "count keir ops")
    def count(module_op, scale: float = 1.0, verbose: bool = False, tag: str = "x"):
        seen.append((sum(1 for _ in module_op.regions[0].blocks[0].operations), scale, verbose))

    info = lookup("test-count-keir-ops")
    assert [(o.name, o.type, o.default) for o in info.options] == [
        ("scale", float, 1.0),
        ("verbose", bool, False),
        ("tag", str, "x"),
    ]
    module = parse_module(GAUSS.read_text())
    run_pipeline(module, "test-count-keir-ops{scale=2.5 verbose},keir-lower-cpu,canonicalize")
    assert seen == [(1, 2.5, True)]
    assert "scf.parallel" in str(module) and info in all_passes()


def test_pass_failures_name_the_pass_and_keep_keir_errors():
    def broken(module_op):
        raise ValueError("boom")

    def refusing(module_op):
        raise KeirError("this kernel is not for me")

    keir.passes.register("test-broken", "fails", broken)
    keir.passes.register("test-refusing", "refuses", refusing)
    with pytest.raises(CompileError, match="pass test-broken failed: boom"):
        run_pipeline(parse_module(GAUSS.read_text()), "test-broken")
    with pytest.raises(KeirError, match="this kernel is not for me"):
        run_pipeline(parse_module(GAUSS.read_text()), "canonicalize,test-refusing")


@pytest.mark.parametrize(
    "name, fn, options, message",
    [
        ("Bad_Name", lambda m: None, None, "lowercase words"),
        ("test-no-default", lambda m, n: None, None, "needs a default"),
        ("test-bad-type", lambda m, n=[]: None, None, "is not one of int"),
        ("test-undeclared", lambda m: None, [Option("n", int, 1)], "not a parameter"),
    ],
)
def test_register_fails_fast(name, fn, options, message):
    with pytest.raises(KeirError, match=message):
        keir.passes.register(name, "d", fn, options)


# ------------------------------------------------------------------ keir opt
def test_list_passes_shows_every_pass_and_its_options(capsys):
    out = _keir(capsys, "opt", "--list-passes")
    for info in all_passes():
        assert info.name in out and info.description in out
    assert "lanes=<int>" in out and "block=<int> (default 128)" in out
    assert "upstream MLIR pass" in out


def test_print_ir_after_all_prints_keir_and_upstream_passes_to_stderr(capfd):
    pipeline = "keir-simplify,keir-lower-cpu,canonicalize"
    assert main(["opt", str(GAUSS), "--pipeline", pipeline, "--print-ir-after-all"]) == 0
    out, err = capfd.readouterr()
    dumps = re.findall(r"IR Dump After (\S+)", err)
    assert dumps == ["keir-simplify", "keir-lower-cpu", "Canonicalizer"]
    assert "IR Dump" not in out and "scf.parallel" in out


@pytest.mark.parametrize(
    "form, expected",
    [
        ("keir", '"keir.reduction"'),
        ("llvm-dialect", "llvm.func @gauss("),
        ("llvm-ir", "define void @gauss("),
        ("asm", "gauss:"),
    ],
)
def test_opt_emits_every_form(capsys, form, expected):
    assert expected in _keir(capsys, "opt", str(GAUSS), "--emit", form)


def test_opt_emits_ptx(capsys):
    from keir.runtime.cuda_toolkit import toolkit

    if toolkit() is None:
        pytest.skip("no CUDA toolkit (libdevice) for the GPU lowering")
    out = _keir(capsys, "opt", str(GAUSS), "--pipeline", "keir-tile-gpu{block=64}", "--emit=ptx")
    assert ".target sm_80" in out and ".maxntid 64, 1, 1" in out


def test_compile_emits_assembly(capsys):
    out = _keir(
        capsys,
        "compile",
        "SqDist(x,y)",
        "--aliases",
        "x=Vi(2)",
        "y=Vj(2)",
        "--reduction",
        "Min",
        "--emit",
        "asm",
    )
    assert "keir_kernel:" in out and ".text" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["opt", str(GAUSS), "--pipeline", "keir-tile-cpu{lanes=x}"], "option lanes expects"),
        (["opt", "/no/such.mlir"], "cannot read /no/such.mlir"),
        (["opt", str(GAUSS), "--load", "/no/such.py"], "--load expects a Python file"),
        (["opt", str(DOC)], "cannot parse the input"),
    ],
)
def test_cli_errors_are_one_line_not_tracebacks(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("keir: error: ") and message in err and "Traceback" not in err


# ------------------------------------------------------------------ docs/passes.md
RUN = re.compile(r"Run: `(keir opt [^`]+)`\n\n```mlir\n(.*?)```\n\n```mlir\n(.*?)```", re.S)


def _examples():
    return RUN.findall(DOC.read_text())


def _example_pass_code() -> str:
    guide = DOC.read_text().split("## Writing a new pass", 1)[1]
    return re.search(r"```python\n(.*?)```", guide, re.S).group(1)


def _same_line(expected: str, actual: str) -> bool:
    if expected.endswith("...") and expected.strip() != "...":
        return actual.startswith(expected[:-3])
    return expected == actual


def matches(expected: str, actual: str) -> bool:
    """Lines in order; a line `...` skips any number of lines, a trailing `...` ends a line."""
    got = [line.rstrip() for line in actual.strip("\n").splitlines()]
    k, gap = 0, False
    for line in (line.rstrip() for line in expected.strip("\n").splitlines()):
        if line.strip() == "...":
            gap = True
            continue
        while k < len(got) and not _same_line(line, got[k]):
            if not gap:
                return False
            k += 1
        if k == len(got):
            return False
        k, gap = k + 1, False
    return gap or k == len(got)


def test_matches_is_strict_where_it_should_be():
    assert matches("a\n...\nd", "a\nb\nc\nd") and matches("a\nb...\n...", "a\nbcd\ne")
    assert not matches("a\nd", "a\nb\nd") and not matches("a\nb", "a\nb\nc")


def test_every_pass_has_a_section_and_an_example():
    text = DOC.read_text()
    run_passes = " ".join(cmd for cmd, _, _ in _examples())
    for info in all_passes():
        if info.name.startswith("keir-"):
            assert info.name in text, f"docs/passes.md does not document {info.name}"
    for name in (
        "keir-autodiff",
        "keir-simplify",
        "keir-fuse",
        "keir-cse",
        "keir-lower-cpu",
        "keir-tile-cpu",
        "keir-expand",
        "keir-tile-gpu",
    ):
        assert name in run_passes, f"docs/passes.md has no example for {name}"


@pytest.mark.parametrize("command, before, after", _examples(), ids=[e[0] for e in _examples()])
def test_doc_example_is_the_real_output(tmp_path, capsys, command, before, after):
    argv = shlex.split(command)[1:]
    for k, word in enumerate(argv):
        if word.endswith(".mlir"):
            (tmp_path / word).write_text(before)
        elif word.endswith(".py"):
            (tmp_path / word).write_text(_example_pass_code())
        else:
            continue
        argv[k] = str(tmp_path / word)
    out = _keir(capsys, *argv)
    assert matches(after, out), f"docs/passes.md is stale for `{command}`; the output is:\n{out}"


def test_example_pass_keeps_the_kernels_values():
    namespace = {}
    exec(compile(_example_pass_code(), str(DOC), "exec"), namespace)
    info = lookup("expand-sqdist")
    assert info.run_on is namespace["expand_sqdist"] and info.options[0].name == "min_dim"
    text = next(before for cmd, before, _ in _examples() if "expand-sqdist" in cmd)
    module, rng = parse_module(text), np.random.default_rng(0)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.normal(size=(30, 3)).astype(np.float32)
    expected = evaluate(module, [x, y])
    run_pipeline(module, "expand-sqdist{min_dim=4}")  # dim 3 < 4: nothing to do
    assert "keir.sqdist" in str(module)
    run_pipeline(module, "expand-sqdist")
    assert "keir.sqdist" not in str(module) and "keir.sqnorm2" in str(module)
    np.testing.assert_allclose(evaluate(module, [x, y]), expected, rtol=1e-6)
