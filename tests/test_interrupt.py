"""Long calls stop on Ctrl-C and report progress; `threads=` sets the OpenMP thread count.

The SIGINT tests run a kernel of about 10^11 pairs (tens of seconds here) in a child process,
interrupt it after a second, and check how long the child took to raise KeyboardInterrupt and
that its next call gives the right numbers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from keir import Genred
from keir.runtime import threads as omp

GAUSS = ("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"])

CHILD = textwrap.dedent(
    """
    import sys, time, numpy as np
    from keir import Genred
    f = Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"],
               reduction_op="Sum", axis=1, dtype="float32")
    rng = np.random.default_rng(0)
    x, y, b = (rng.random(s, dtype=np.float32) for s in ((400_000, 3), (400_000, 3), (400_000, 1)))
    f(x[:10], y[:10], b[:10])  # compiled before the long call
    print("ready", flush=True)
    start = time.time()
    try:
        f(x, y, b)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", time.time(), time.time() - start, flush=True)
    xs, ys, bs = x[:300], y[:500], b[:500]
    ref = (np.exp(-((xs[:, None] - ys[None]) ** 2).sum(-1)) * bs[:, 0]).sum(1)
    print("next", np.abs(f(xs, ys, bs)[:, 0] - ref).max() / ref.max(), flush=True)
    """
)


def _interrupt(cmd: list[str], wait_for: str | None) -> tuple[subprocess.Popen, float]:
    """Starts cmd, sends SIGINT a second after it printed `wait_for` (or after 2 s)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    if wait_for is not None:
        assert child.stdout.readline().startswith(wait_for)
    time.sleep(1.0 if wait_for else 2.0)
    sent = time.time()
    child.send_signal(signal.SIGINT)
    return child, sent


def test_sigint_stops_a_long_call_and_the_next_call_works():
    child, sent = _interrupt([sys.executable, "-c", CHILD], "ready")
    out, err = child.communicate(timeout=60)
    lines = dict(line.split(" ", 1) for line in out.splitlines())
    assert "interrupted" in lines, out + err
    at, ran = map(float, lines["interrupted"].split())
    assert ran > 0.5  # the long call had been running
    assert at - sent < 0.4, f"KeyboardInterrupt {at - sent:.3f} s after SIGINT"
    assert float(lines["next"]) < 1e-5
    assert child.returncode == 0, err


def test_sigint_stops_keir_run():
    cmd = [sys.executable, "-m", "keir", "run", "-M", "1000000", "-N", "1000000"]
    child, sent = _interrupt(cmd, None)
    out, err = child.communicate(timeout=60)
    stopped = time.time() - sent
    assert child.returncode == 130, err
    assert err.strip().splitlines()[-1] == "keir: interrupted"
    assert "Traceback" not in err
    assert stopped < 5.0  # the process exits (Python start-up and teardown included)


def _gauss_data(rng, M, N):
    x, y = rng.random((M, 3)), rng.random((N, 3))
    b = rng.random((N, 1))
    return x, y, b


@pytest.mark.parametrize("axis", (0, 1))
def test_progress_hook_counts_output_rows(rng, axis):
    b_cat = "Vj" if axis == 1 else "Vi"
    f = Genred(GAUSS[0], ["x = Vi(3)", "y = Vj(3)", f"b = {b_cat}(1)"], "Sum", axis=axis)
    M, N = 3000, 2000
    x, y = rng.random((M, 3)), rng.random((N, 3))
    b = rng.random((N if axis == 1 else M, 1))
    seen = []
    out = f(x, y, b, progress=lambda done, total: seen.append((done, total)))
    rows = M if axis == 1 else N
    assert seen and seen[-1] == (rows, rows)
    assert all(t == rows and 0 <= d <= rows for d, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    np.testing.assert_allclose(out, f(x, y, b), rtol=1e-12)


@pytest.mark.parametrize("axis", (0, 1))
def test_the_kernel_counts_its_finished_rows(rng, monkeypatch, axis):
    """control[1] after a call: every output row counted once (the last block of R rows may
    count up to R - 1 missing rows)."""
    from keir.runtime import launcher

    counts = []
    real = launcher.run_interruptible

    def spy(call, control, total, progress=None):
        real(call, control, total, progress)
        counts.append((int(control[1]), total))

    monkeypatch.setattr(launcher, "run_interruptible", spy)
    b_cat = "Vj" if axis == 1 else "Vi"
    f = Genred(GAUSS[0], ["x = Vi(3)", "y = Vj(3)", f"b = {b_cat}(1)"], "Sum", axis=axis)
    x, y = rng.random((1001, 3)), rng.random((999, 3))
    b = rng.random((999 if axis == 1 else 1001, 1))
    f(x, y, b, progress=lambda done, total: None)
    ((done, total),) = counts
    assert total == (1001 if axis == 1 else 999)
    assert total <= done < total + 64


def test_progress_bar_writes_to_stderr(rng, capsys):
    f = Genred(*GAUSS, reduction_op="Sum", axis=1)
    f(*_gauss_data(rng, 500, 400), progress=True)
    assert "rows" in capsys.readouterr().err


def test_progress_refuses_a_wrong_value(rng):
    from keir import ArgumentError

    f = Genred(*GAUSS, reduction_op="Sum", axis=1)
    with pytest.raises(ArgumentError, match="progress"):
        f(*_gauss_data(rng, 50, 40), progress="yes")


def _recorded_threads(f, args, **options) -> list[int]:
    """The OpenMP thread count each native call of `f` ran with (the kernel replaced by a
    probe in the calling thread, which is what OpenMP's ICV is per)."""
    kernel = f._compiled.kernel("float64")
    get, _ = kernel._threads
    real, seen = kernel._fn, []
    kernel._fn = lambda *fields: seen.append(get())
    try:
        f(*args, **options)
    finally:
        kernel._fn = real
    return seen


def test_threads_per_call_and_global(rng):
    f = Genred(*GAUSS, reduction_op="Sum", axis=1)
    args = _gauss_data(rng, 3000, 3000)  # 9e6 pairs: run by the worker thread
    small = _gauss_data(rng, 300, 300)  # 9e4 pairs: run inline
    get, _ = f._compiled.kernel("float64")._threads
    before = get()
    assert _recorded_threads(f, args, threads=1) == [1]
    assert _recorded_threads(f, small, threads=3) == [3]
    try:
        omp.set_threads(2)
        assert _recorded_threads(f, args) == [2]
        assert _recorded_threads(f, small, threads=1) == [1]  # the call's count wins
    finally:
        omp.set_threads(None)
    assert get() == before  # the caller's ICV is restored
    np.testing.assert_allclose(f(*args, threads=1), f(*args), rtol=1e-12)


@pytest.mark.parametrize("bad", (0, -2, 1.5, True, "4"))
def test_threads_refuses_a_wrong_count(rng, bad):
    from keir import ArgumentError

    f = Genred(*GAUSS, reduction_op="Sum", axis=1)
    with pytest.raises(ArgumentError, match="threads"):
        f(*_gauss_data(rng, 50, 40), threads=bad)
    with pytest.raises(ArgumentError, match="set_threads"):
        omp.set_threads(bad)


def test_worker_threads_end_with_their_callers(rng):
    import gc
    import threading

    def workers() -> set:
        return {t for t in threading.enumerate() if t.name == "keir-kernel"}

    before = workers()  # (this thread's own worker may exist)
    f = Genred(*GAUSS, reduction_op="Sum", axis=1)
    args = _gauss_data(rng, 300, 200)
    results = []
    callers = [
        threading.Thread(target=lambda: results.append(f(*args, progress=lambda d, t: None)))
        for _ in range(3)
    ]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert len(results) == 3 and all(np.array_equal(r, results[0]) for r in results)
    gc.collect()
    deadline = time.time() + 5
    while time.time() < deadline and workers() - before:
        time.sleep(0.01)
    assert not workers() - before


def test_the_worker_keeps_nothing_of_a_finished_call():
    """The worker thread drops a call (and the arrays it holds) before waking its caller: an
    array freed later on that daemon thread, at interpreter exit, aborted the process when it
    held a torch tensor (pthread_exit unwinding through torch's deallocator)."""
    import gc
    import weakref

    from keir.runtime.background import run_interruptible

    class Held:
        pass

    held = Held()
    alive = weakref.ref(held)
    call = (lambda h: lambda: h)(held)
    run_interruptible(call, np.zeros(2, np.int64), 1)
    del held, call
    gc.collect()
    assert alive() is None


def test_an_error_in_the_worker_reaches_the_caller_and_the_worker_goes_on():
    from keir.runtime.background import run_interruptible

    def fails():
        raise ValueError("native call failed")

    with pytest.raises(ValueError, match="native call failed"):
        run_interruptible(fails, np.zeros(2, np.int64), 1)
    ran = []
    run_interruptible(lambda: ran.append(1), np.zeros(2, np.int64), 1)
    assert ran == [1]


def test_a_torch_process_exits_cleanly_after_background_calls():
    """The exit abort above, end to end: large calls on torch tensors (background worker),
    then interpreter shutdown (it struck about one exit in ten: a smoke test; the test above
    is the deterministic one)."""
    pytest.importorskip("torch")
    code = textwrap.dedent(
        """
        import torch, keir.torch as kt
        f = kt.Genred("Exp(-SqDist(x,y))*b", ["x = Vi(3)", "y = Vj(3)", "b = Vj(1)"], axis=1)
        x, y, b = torch.rand(2100, 3), torch.rand(2100, 3), torch.rand(2100, 1)
        for _ in range(3):
            f(x, y, b)
        """
    )
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
