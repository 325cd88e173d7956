"""Mutated MLIR through `keir opt`'s whole path to LLVM IR and assembly: never a crash.

The corpus is every .mlir file of tests/filecheck (the keir dialect, loops, GPU stages, LLVM
dialect), mutated by a seeded fuzzer: lines deleted, duplicated or swapped, op names, numbers,
element types and vector sizes replaced, attributes dropped, text truncated. Each mutant is
parsed and emitted as llvm-ir or asm (alternately) in a child process (tests/fuzz_ir_child.py):
a mutant must give a result or a KeirError with a message; a signal killing the child (the
translator's segfaults, D3 of issue 21) or any other exception fails the test and shows the
mutant. Valid mutants are fine. KEIR_FUZZ_SEED=<n> fuzzes with another seed.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

SEED = int(os.environ.get("KEIR_FUZZ_SEED", "0"))
CASES = 600  # about 15 s: most mutants fail to parse or verify, the rest reach opt and llc
HERE = Path(__file__).resolve().parent
CORPUS = sorted((HERE / "filecheck").glob("*.mlir"))
_OP = re.compile(r"\b[a-z_]+\.[a-z_][a-z_.0-9]*\b")
_NUMBER = re.compile(r"\b\d+\b")
_ATTR = re.compile(r"\{[^{}]*\}")

# the inputs of issue 21 (D3) that crashed the translator: ops that have no LLVM translation
REGRESSIONS = [
    """func.func @f() -> tensor<4xf32> {
  %c = arith.constant 1.0 : f32
  %0 = tensor.empty() : tensor<4xf32>
  %1 = linalg.fill ins(%c : f32) outs(%0 : tensor<4xf32>) -> tensor<4xf32>
  return %1 : tensor<4xf32>
}""",
    """func.func @keir_kernel(%x: vector<3xf32>) -> vector<3xf32>
    attributes {keir.arg_cats = array<i64: 0>, keir.arg_dims = array<i64: 3>} {
  %0 = keir.exp %x : vector<3xf32> -> vector<3xf32>
  return %0 : vector<3xf32>
}""",
    """module {
  llvm.func @f() {
    %0 = "test.unknown"() : () -> i32
    llvm.return
  }
}""",
]


def _source(path: Path) -> str:
    """The IR of a FileCheck file: its RUN and CHECK comment lines removed."""
    lines = path.read_text().splitlines()
    return "\n".join(line for line in lines if not line.lstrip().startswith("//"))


def _mutate(text: str, rng: random.Random, ops: list[str]) -> str:
    lines = text.splitlines() or [""]
    k = rng.randrange(len(lines))
    choice = rng.randrange(8)
    if choice == 0:
        del lines[k]
    elif choice == 1:
        lines.insert(k, lines[rng.randrange(len(lines))])
    elif choice == 2:
        j = rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
    elif choice == 3:
        lines[k] = _OP.sub(lambda m: rng.choice(ops) if rng.random() < 0.5 else m[0], lines[k])
    elif choice == 4:
        lines[k] = _NUMBER.sub(lambda m: str(rng.choice([0, 1, 2, 7, 64, 2**31])), lines[k])
    elif choice == 5:
        swap = rng.choice([("f32", "f64"), ("f64", "f32"), ("i64", "i32"), ("index", "i64")])
        lines[k] = lines[k].replace(*swap)
    elif choice == 6:
        lines[k] = _ATTR.sub("", lines[k], count=1)
    else:
        return text[: rng.randrange(len(text) + 1)]
    return "\n".join(lines)


def _cases() -> list[tuple[str, str]]:
    rng = random.Random(SEED)
    sources = [_source(p) for p in CORPUS]
    ops = sorted({m for s in sources for m in _OP.findall(s)})
    cases = [(text, "llvm-ir") for text in REGRESSIONS]
    for n in range(CASES):
        text = rng.choice(sources)
        for _ in range(rng.choice([1, 1, 2, 3])):
            text = _mutate(text, rng, ops)
        cases.append((text, "asm" if n % 2 else "llvm-ir"))
    return cases


def test_mutated_ir_never_crashes_the_process(tmp_path):
    cases = _cases()
    env = dict(os.environ, KEIR_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run(
        [sys.executable, str(HERE / "fuzz_ir_child.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    lines = proc.stdout.splitlines()
    outcomes = dict(zip(lines[0::2], lines[1::2]))
    if proc.returncode != 0:  # a signal (negative) or an uncaught error: show the last case
        last = int(lines[-1].split()[1]) if lines and lines[-1].startswith("case") else None
        shown = cases[last] if last is not None else "?"
        raise AssertionError(f"child died with {proc.returncode} on {shown!r}:\n{proc.stderr}")
    bugs = {case: out for case, out in outcomes.items() if out.startswith("bug")}
    assert not bugs, "\n".join(f"{cases[int(c.split()[1])]!r}: {o}" for c, o in bugs.items())
    assert len(outcomes) == len(cases)
    counts = {kind: sum(o == kind for o in outcomes.values()) for kind in ("ok", "keir")}
    assert counts["ok"] >= 10 and counts["keir"] >= 10, counts  # mutants of both kinds ran
    assert all(outcomes[f"case {n}"] == "keir" for n in range(len(REGRESSIONS)))


def test_a_file_that_is_not_utf8_is_a_keir_error(tmp_path, capsys):
    from keir.cli import main

    path = tmp_path / "binary.mlir"
    path.write_bytes(b"module {\xff\xfe}")
    assert main(["opt", str(path), "--emit", "llvm-ir"]) == 2
    assert f"cannot read {path}: not UTF-8 text (byte 8)" in capsys.readouterr().err


def test_untranslatable_ops_are_named_with_their_location(tmp_path, capsys):
    from keir.cli import main

    path = tmp_path / "tensor.mlir"
    path.write_text(REGRESSIONS[0])
    assert main(["opt", str(path), "--emit", "asm"]) == 2
    err = capsys.readouterr().err
    assert "cannot translate to LLVM IR: tensor.empty at loc(" in err and ":3:" in err
