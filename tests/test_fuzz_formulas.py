"""Fuzzed formulas and argument specs: every malformed or ill-typed string ends in a KeirError.

14,000 strings per run (10,000 from the mutation fuzzers alone), each only parsed and built
into keir IR (Genred construction: the grammar, name resolution, arity, integer parameters and
every dimension rule), never compiled:
- a seeded mutation fuzzer over valid formulas (op examples, reductions, the docs' formulas):
  token deletion, duplication, swaps, insertion of op names, punctuation and huge numbers,
  truncation, character edits and nesting;
- mutated argument specs (dims and positions changed, broken text);
- hypothesis strings: arbitrary text and soups of grammar tokens (derandomized when CI=true);
- pathological inputs (10,000 nested parentheses, 10^5 characters, 5,000-digit numbers...) in a
  subprocess with a timeout, so a hang or a crash fails the test instead of the run.
Valid mutants are fine; any exception other than a KeirError with a message is a bug.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keir import DimensionError, FormulaSyntaxError, Genred, KeirError, keops_kernel
from keir.dialect.check import check_module
from keir.dialect.ops import OPS
from keir.frontend import names
from keir.frontend.formula import ReductionSpec, build_kernel

from formulas import ALIASES

SEED = int(os.environ.get("KEIR_FUZZ_SEED", "0"))  # fixed by default: CI is deterministic
SLOW_CASE = 5.0  # seconds: one string taking longer counts as a hang
DOCS = Path(__file__).resolve().parent.parent / "docs"


def _docs_formulas() -> list[str]:
    """Quoted strings of the docs and README holding a call, e.g. "Exp(-SqDist(x,y))*b"."""
    paths = sorted(DOCS.rglob("*.md")) + [DOCS.parent / "README.md"]
    text = "\n".join(p.read_text() for p in paths)
    return sorted(set(re.findall(r'"([^"\n]*[A-Z]\w*\([^"\n]*)"', text)))


SEEDS = (
    [d.example for d in OPS.values()]
    + [
        "Sum_Reduction(Exp(-s * SqNorm2(x - y)) * b, 0)",
        "KMin_ArgKMin_Reduction(SqDist(x, y), 3, 1)",
        "LogSumExp_Reduction(-SqDist(x, y), 0, b)",
        "SumSoftMaxWeight_Reduction(-SqDist(x, y), 1, y)",
        "Grad(Exp(-SqDist(x, y)) * b, x, a)",
        "Laplacian(Exp(-SqDist(x, y)), x)",
        "Var(0, 3, 0) - Var(1, 3, 1)",
        "TensorDot(u, v, (2, 3), (3, 2), (1,), (0,), (1, 0))",
    ]
    + _docs_formulas()
)
REDUCTION_OPS = ["Sum", "Min", "ArgKMin", "LogSumExp", "SumSoftMaxWeight", "Max_ArgMax"]
TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\*\*|<=|>=|\s+|.", re.S)
NUMBERS = ["0", "1", "-1", "2", "256", "257", "10001", "99999999999", "9" * 25, "1e999", ".5"]
INSERTS = (
    sorted(names.ALL_NAMES)
    + list("()[],|+-*/^<>=.")
    + ["**", "()", "(1,)", "(2, -3)", "[]", "x", "y", "b", "s", "A", "Vi(0, 3)", "Var(1, 3, 1)"]
    + NUMBERS
    + ["\x00", "é", "\n", "'", '"', "#", "$"]
)
NESTINGS = [("(", ")"), ("Exp(", ")"), ("-", ""), ("x+", ""), ("2^", ""), ("Concat(x,", ")")]


# ---------------------------------------------------------------- mutations
def mutate(rng: random.Random, text: str) -> str:
    """1 to 3 random token- or character-level edits of `text`."""
    toks = TOKEN.findall(text) or [""]
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(toks))
        op = rng.choices(range(9), weights=[3, 2, 2, 3, 3, 2, 2, 1, 1])[0]
        if op == 0:
            del toks[k]
        elif op == 1:
            toks.insert(k, toks[k])
        elif op == 2:
            j = rng.randrange(len(toks))
            toks[k], toks[j] = toks[j], toks[k]
        elif op == 3:
            toks.insert(k, rng.choice(INSERTS))
        elif op == 4:
            toks[k] = rng.choice(INSERTS)
        elif op == 5:
            numbers = [i for i, t in enumerate(toks) if t[:1].isdigit()] or [k]
            toks[rng.choice(numbers)] = rng.choice(NUMBERS)
        elif op == 6:
            s = "".join(toks)
            c, char = rng.randrange(len(s) + 1), rng.choice(["", chr(rng.randrange(1, 0x3000))])
            toks = TOKEN.findall(s[:c] + char + s[c + 1 :])
        elif op == 7:
            s = "".join(toks)
            toks = [s[: rng.randrange(len(s) + 1)]]
        else:
            depth = rng.choice([2, 3, 10, 10, 40, 40, 40, 40, 40, 300])  # 300: past the limit
            left, right = rng.choice(NESTINGS)
            toks = [left * depth + "".join(toks) + right * depth]
        toks = toks or [""]
    return "".join(toks)


def mutate_aliases(rng: random.Random, aliases: list[str]) -> list[str]:
    out = list(aliases)
    k = rng.randrange(len(out))
    op = rng.randrange(5)
    if op == 0:  # another dimension or position
        out[k] = re.sub(r"\d+", lambda m: rng.choice(NUMBERS + ["10000", "65537"]), out[k])
    elif op == 1:
        out[k] = mutate(rng, out[k])
    elif op == 2:
        del out[k]
    elif op == 3:
        out.insert(k, out[k])
    else:
        out[k] = rng.choice(["x = Vi(0, 3)", "Vi(3)", "q = Var(50, 2, 1)", "x=Vk(3)", "", "="])
    return out


# ---------------------------------------------------------------- the check
class Outcome:
    """Counts the strings tried; records anything that is not a KeirError or success."""

    def __init__(self):
        self.count, self.valid, self.bugs, self.slowest = 0, 0, [], (0.0, "")

    def run(self, formula, aliases=ALIASES, reduction_op="Sum", **kw):
        self.count += 1
        start = time.perf_counter()
        try:
            if isinstance(formula, str) and "_Reduction" in formula:  # RKeOps style
                kernel = keops_kernel(formula, aliases)._compiled
            else:
                kernel = Genred(formula, aliases, reduction_op=reduction_op, **kw)._compiled
            check_module(kernel.module("float32")[0])  # a built module is consistent
            self.valid += 1
        except KeirError as e:
            if not str(e).strip():
                self.bugs.append((formula, aliases, "KeirError without a message"))
        except Exception as e:  # the point: anything else is a bug
            self.bugs.append((formula, aliases, f"{type(e).__name__}: {e}"[:300]))
        elapsed = time.perf_counter() - start
        if elapsed > self.slowest[0]:
            self.slowest = (elapsed, str(formula)[:80])

    def check(self, expected_count: int) -> None:
        shown = "\n".join(f"{f!r:.200} {a!r:.100}: {e}" for f, a, e in self.bugs[:10])
        assert not self.bugs, f"{len(self.bugs)} non-KeirError outcomes (seed {SEED}):\n{shown}"
        assert self.count >= expected_count
        assert self.slowest[0] < SLOW_CASE, f"slow case (hang?): {self.slowest}"


def test_mutated_formulas():
    rng, out = random.Random(SEED), Outcome()
    for _ in range(8000):
        formula = mutate(rng, rng.choice(SEEDS))
        kind = rng.choice(REDUCTION_OPS)
        if rng.random() < 0.05:
            kind = mutate(rng, kind)
        kw = {"axis": rng.choice([0, 1])}
        if kind in ("ArgKMin",):
            kw["opt_arg"] = rng.choice([1, 3, 300])
        if kind in ("LogSumExp", "SumSoftMaxWeight") and rng.random() < 0.5:
            kw["formula2"] = mutate(rng, "y - a") if rng.random() < 0.5 else "y"
        out.run(formula, ALIASES, kind, **kw)
    out.check(8000)
    assert out.valid > 200, "the mutants should still include valid formulas"


def test_mutated_argument_specs():
    rng, out = random.Random(SEED + 1), Outcome()
    for _ in range(2000):
        formula = rng.choice(SEEDS)
        out.run(formula, mutate_aliases(rng, ALIASES), "Sum", axis=1)
    out.check(2000)


FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=os.environ.get("CI") == "true",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
GRAMMAR_TOKENS = st.sampled_from(
    sorted(names.ALL_NAMES)
    + list("()[],|+-*/^<>=")
    + ["**", " ", "x", "y", "b", "s", "0", "1", "3", "-1", "99999999999", "2.5e3"]
)


@FUZZ
@given(text=st.text(max_size=60))
def test_arbitrary_text(text):
    out = Outcome()
    out.run(text)
    out.run("x + " + text)
    out.run("x", [f"x = {text}"])
    out.check(3)


@FUZZ
@given(tokens=st.lists(GRAMMAR_TOKENS, max_size=25))
def test_grammar_token_soup(tokens):
    out = Outcome()
    out.run("".join(tokens))
    out.check(1)


def test_non_string_inputs():
    out = Outcome()
    for formula in (None, b"x", 5, ["x"]):
        out.run(formula)
    out.run("x", [None])
    out.run("x", [b"x = Vi(3)"])
    out.run("x", ALIASES, None)
    out.run("x", ALIASES, 5)
    out.run("-SqDist(x, y)", ALIASES, "LogSumExp", formula2=5)
    out.check(9)
    assert out.valid == 0


# ---------------------------------------------------------------- the limits the fuzzers found
def _build(formula, aliases=ALIASES):
    return build_kernel(formula, aliases, "float32", ReductionSpec("Sum", 1))[0]


def test_deep_nesting_is_a_syntax_error_not_a_recursion_error():
    with pytest.raises(FormulaSyntaxError, match="nested too deeply"):
        _build("Exp(" * 2000 + "x" + ")" * 2000)
    _build("+".join(["x"] * 300))  # long sums, as LazyTensor code writes them, still build
    _build("(" * 10_000 + "x" + ")" * 10_000)  # redundant parentheses cost no depth


def test_integers_are_64_bit():
    assert "1.000000e+20" in str(_build("x * 100000000000000000000"))  # a float constant
    for formula in ("Pow(x, 9223372036854775808)", "IntCst(9223372036854775808)"):
        with pytest.raises(FormulaSyntaxError, match="int64"):
            _build(formula)
    with pytest.raises(FormulaSyntaxError, match="out of range"):
        _build("x", ["x = Vi(" + "9" * 5000 + ")"])


def test_dimensions_are_bounded():
    with pytest.raises(FormulaSyntaxError, match="between 1 and 10000"):
        _build("x", ["x = Vi(10001)"])
    with pytest.raises(FormulaSyntaxError, match="between 1 and 10000"):
        _build("Vi(0, 99999999999)")
    with pytest.raises(DimensionError, match="more than 10000"):
        _build("TensorProd(TensorProd(TensorProd(u, u), u), TensorProd(TensorProd(u, u), u))")


# ---------------------------------------------------------------- pathological inputs
PATHOLOGICAL = [
    "(" * 10_000 + "x" + ")" * 10_000,
    "-" * 10_000 + "x",
    "Exp(" * 10_000 + "x" + ")" * 10_000,
    "x^" * 10_000 + "2",
    "+".join(["x"] * 10_000),
    "Concat(x," * 3_000 + "x" + ")" * 3_000,
    "x * " + "9" * 5_000,
    "Pow(x, " + "9" * 5_000 + ")",
    "Elem(x, 99999999999)",
    "Vi(0, 99999999999)",
    "Var(99999999999, 3, 0)",
    "IntCst(9223372036854775808)",
    "ElemT(b, 99999999999, 0)",
    "TensorProd(TensorProd(TensorProd(x, x), TensorProd(x, x)), TensorProd(x, x))",
    "KMin_Reduction(x, 99999999999, 0)",
    "Sum_Reduction(x, " + "1" * 5_000 + ")",
    "x" * 100_000,
    "x +" * 30_000,
    "\x00" * 100,
    "(" * 100_000,
]
PATHOLOGICAL_ALIASES = [["x = Vi(99999999999)"], ["x = Vi(" + "9" * 5_000 + ")"], ["x = Vi(3)"] * 3]


def _run_pathological() -> None:
    results = []
    cases = [(f, ALIASES) for f in PATHOLOGICAL] + [("x", a) for a in PATHOLOGICAL_ALIASES]
    for formula, aliases in cases:
        out, start = Outcome(), time.perf_counter()
        out.run(formula, aliases)
        results.append([formula[:40], out.bugs, time.perf_counter() - start])
    print(json.dumps(results))


def test_pathological_inputs_neither_hang_nor_crash():
    code = "import sys; sys.path.insert(0, sys.argv[1]); import test_fuzz_formulas as t; "
    code += "t._run_pathological()"
    here = str(Path(__file__).resolve().parent)
    proc = subprocess.run(
        [sys.executable, "-c", code, here], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(results) == len(PATHOLOGICAL) + len(PATHOLOGICAL_ALIASES)
    for formula, bugs, seconds in results:
        assert not bugs, (formula, bugs)
        assert seconds < SLOW_CASE, (formula, seconds)
