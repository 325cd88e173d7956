"""Compiled kernels never read or write out of bounds, for every reduction kind and tail size.

Every buffer the native code sees (inputs as laid out by the launcher, and outputs) is copied
flush against a PROT_NONE guard page (tests/guarded.py), once after the buffer and once before
it, so one element too far faults at once. A fault kills the process, so the cases run in a
subprocess (this file run as a script); the parent reports the case that was running. Sizes
sit around the vector width (16 float32 / 8 float64 lanes on AVX-512) and the row block, on
both axes, including empty sizes, and a fused multi-output kernel. Results are checked against
the reference interpreter too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALIASES = ["x = Vi(3)", "y = Vj(3)", "a = Vi(1)", "b = Vj(1)", "s = Pm(1)"]
WIDE = ["x = Vi(16)", "y = Vj(16)", "a = Vi(1)", "b = Vj(1)", "s = Pm(1)"]
SCALAR = "SqDist(x, y) * s + b - a"  # uses an i, a j and a parameter variable
VECTOR = "(x - y) * b + s"
# (reduction_op, formula, Genred keywords, dtypes, aliases)
CASES = [
    ("Sum", VECTOR, {}, ("float32", "float64"), ALIASES),
    ("Min", VECTOR, {}, ("float32",), ALIASES),
    ("Max", VECTOR, {}, ("float32",), ALIASES),
    ("ArgMin", SCALAR, {}, ("float32",), ALIASES),
    ("ArgMax", VECTOR, {}, ("float32",), ALIASES),
    ("Min_ArgMin", SCALAR, {}, ("float32",), ALIASES),
    ("Max_ArgMax", VECTOR, {}, ("float32",), ALIASES),
    ("KMin", SCALAR, {"opt_arg": 3}, ("float32",), ALIASES),
    ("ArgKMin", VECTOR, {"opt_arg": 2}, ("float32",), ALIASES),
    ("KMin_ArgKMin", SCALAR, {"opt_arg": 3}, ("float32", "float64"), ALIASES),
    ("KMin_ArgKMin", SCALAR, {"opt_arg": 20}, ("float32",), ALIASES),  # the scalar-loop path
    ("LogSumExp", "-" + SCALAR, {}, ("float32",), ALIASES),
    ("LogSumExp", "-" + SCALAR, {"formula2": "y"}, ("float32",), ALIASES),  # LogSumExpWeight
    ("SumSoftMaxWeight", "-" + SCALAR, {"formula2": "y - a"}, ("float32",), ALIASES),
    ("Max_SumShiftExp", "-" + SCALAR, {}, ("float32",), ALIASES),
    ("Max_SumShiftExpWeight", "-" + SCALAR, {"formula2": "b"}, ("float32",), ALIASES),
    ("Sum", VECTOR, {}, ("float32",), WIDE),  # wide variables: blocks of 4 rows
    ("Min_ArgMin", SCALAR, {}, ("float64",), WIDE),
]
ROWS = (0, 1, 5, 17)
REDUCED = (0, 1, 7, 8, 9, 15, 16, 17, 33)


# ---------------------------------------------------------------- the subprocess
def _data(aliases, M, N, dtype, rng, where):
    """Continuous data: no ties, so Arg* indices are unambiguous (ties: test_reliability)."""
    from guarded import guarded_copy

    out = []
    for alias in aliases:
        kind, dim = alias.split("=")[1].strip()[:2], int(alias.split("(")[1].rstrip(")"))
        rows = {"Vi": M, "Vj": N, "Pm": 1}[kind]
        a = rng.uniform(-2, 2, (rows, dim)).astype(dtype)
        out.append(guarded_copy(a.ravel() if kind == "Pm" else a, where))
    return out


def _compare(got, want, dtype, label):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    for g, w in zip(got, want):
        if g.shape != w.shape:
            return f"MISMATCH {label}: shape {g.shape} != {w.shape}"
        rtol = 1e-4 if dtype == "float32" else 1e-10
        if not np.allclose(g, w, rtol=rtol, atol=rtol, equal_nan=True):
            return f"MISMATCH {label}: max diff {np.nanmax(np.abs(g - w))}"
    return None


def _sweep(kernel, aliases, dtype, axis, rng, label, run):
    """Calls run(args, full, case) on guarded data of every size in ROWS x REDUCED, the guard
    page after the buffers and then before them; `full`: non-empty and guarded after (the cases
    the interpreter can check). run returns the problems to print (empty: none)."""
    from guarded import guard_kernel

    native = kernel._fn
    for where in ("end", "start"):
        calls = []
        kernel._fn = native
        guard_kernel(kernel, where, calls)
        for rows in ROWS:
            for reduced in REDUCED:
                M, N = (rows, reduced) if axis == 1 else (reduced, rows)
                case = f"{label} axis={axis} M={M} N={N} guard={where}"
                print("CASE", case, flush=True)
                args = _data(aliases, M, N, dtype, rng, where)
                for problem in run(args, bool(rows and reduced and where == "end"), case):
                    print(problem, flush=True)
        assert len(calls) == len(ROWS) * len(REDUCED), "the guarded entry did not run"


def _run_case(index, rng):
    from keir import Genred
    from keir.dialect.interpreter import evaluate
    from keir.runtime.results import postprocess

    kind, formula, kw, dtypes, aliases = CASES[index]
    for dtype in dtypes:
        for axis in (0, 1):
            g = Genred(formula, aliases, reduction_op=kind, axis=axis, dtype=dtype, **kw)
            module, _ = g._compiled.module(dtype)

            def run(args, full, case, g=g, module=module, dtype=dtype):
                got = g(*args)
                if not full:
                    return []
                want = postprocess(g.kind, evaluate(module, args), g.k)
                return list(filter(None, [_compare(got, want, dtype, case)]))

            label = f"{kind} {kw} {dtype}" + (" wide" if aliases is WIDE else "")
            _sweep(g._compiled.kernel(dtype), aliases, dtype, axis, rng, label, run)


def _run_fused(rng):
    """keir.fuse: one kernel, several outputs; the separate kernels are the oracle."""
    from keir import Genred, fuse

    for axis in (0, 1):
        parts = [
            Genred(VECTOR, ALIASES, reduction_op="Sum", axis=axis, dtype="float32"),
            Genred(SCALAR, ALIASES, reduction_op="Min_ArgMin", axis=axis, dtype="float32"),
        ]
        fused = fuse(*parts)

        def run(args, full, case, fused=fused, parts=parts):
            got = fused(*args)
            problems = [_compare(g, p(*args), "float32", case) for g, p in zip(got, parts)]
            return list(filter(None, problems))

        label = "fused Sum + Min_ArgMin"
        _sweep(fused._kernel("float32"), ALIASES, "float32", axis, rng, label, run)


def _selftest_kernel(shrink: int) -> None:
    """A kernel given an argument one element short must fault on its last row."""
    from guarded import guard_kernel

    from keir import Genred

    g = Genred("x * y", ["x = Vi(1)", "y = Vj(1)"], axis=1, dtype="float32")
    guard_kernel(g._compiled.kernel("float32"), "end", [], shrink=shrink)
    out = g(np.ones((17, 1), np.float32), np.ones((9, 1), np.float32))
    print("ran", float(out.sum()), flush=True)


def _selftest(where: str) -> None:
    """Touches one element past the end (or before the start): must fault."""
    import ctypes

    from guarded import guarded_empty

    a = guarded_empty(10, np.float32, where)
    a[:] = 1.0
    print("inside ok", float(a[0] + a[9]), flush=True)
    outside = a.ctypes.data + (40 if where == "end" else -4)
    print("outside", ctypes.c_float.from_address(outside).value, flush=True)


def main(argv: list[str]) -> None:
    import faulthandler

    faulthandler.enable()
    sys.path.insert(0, str(HERE))
    if argv[0] == "selftest":
        _selftest(argv[1])
        return
    if argv[0] == "selftest-kernel":
        _selftest_kernel(int(argv[1]))
        return
    rng = np.random.default_rng(7)
    for case in argv:
        if case == "fused":
            _run_fused(rng)
        else:
            _run_case(int(case), rng)
    print("DONE", flush=True)


# ---------------------------------------------------------------- the tests
def _child(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
    )


def _last_case(stdout: str) -> str:
    cases = [line for line in stdout.splitlines() if line.startswith("CASE")]
    return cases[-1] if cases else "(before the first case)"


def test_guard_page_catches_one_element_past_the_end():
    proc = _child("selftest", "end", timeout=60)
    assert "inside ok 2.0" in proc.stdout, proc.stderr
    assert proc.returncode in (-11, -7), (proc.returncode, proc.stdout)  # SIGSEGV / SIGBUS
    assert "outside" not in proc.stdout


def test_guard_page_catches_one_element_before_the_start():
    proc = _child("selftest", "start", timeout=60)
    assert "inside ok 2.0" in proc.stdout, proc.stderr
    assert proc.returncode in (-11, -7), (proc.returncode, proc.stdout)
    assert "outside" not in proc.stdout


def test_guarded_kernel_faults_on_a_buffer_one_element_short():
    """End to end: the wrapper really hands the kernel guarded buffers."""
    ok = _child("selftest-kernel", "0", timeout=120)
    assert ok.returncode == 0 and "ran 153.0" in ok.stdout, ok.stderr[-2000:]
    short = _child("selftest-kernel", "1", timeout=120)
    assert short.returncode in (-11, -7), (short.returncode, short.stdout)
    assert "ran" not in short.stdout


def test_every_reduction_stays_in_bounds():
    """One subprocess runs every case (compiles are shared through the disk cache)."""
    proc = _child(*map(str, range(len(CASES))), "fused")
    assert proc.returncode == 0, (
        f"kernel crashed (exit {proc.returncode}) in: {_last_case(proc.stdout)}\n"
        f"{proc.stderr[-3000:]}"
    )
    mismatches = [line for line in proc.stdout.splitlines() if line.startswith("MISMATCH")]
    assert not mismatches, "\n".join(mismatches[:20])
    assert proc.stdout.rstrip().endswith("DONE")


if __name__ == "__main__":
    main(sys.argv[1:])
