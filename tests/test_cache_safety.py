"""The disk cache never loads a binary it cannot vouch for, and compiles a kernel once.

Concurrent first use from 4 processes; readers racing a slow writer; truncated, corrupted,
half-deleted, foreign-owned and others-writable entries (rebuilt, never loaded); unsafe cache
directories (refused); the lock's timeout. Corruption replaces files (a new inode) instead of
editing them in place: this process may have the old file mapped, and editing mapped code
would crash the test itself.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from keir import KeirError
from keir.compiler import compile_module
from keir.dialect.signature import Signature
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.runtime import cache
from keir.runtime.launcher import Kernel

FORMULA, ALIASES = "Exp(-SqDist(x, y) * 0.37) * b", ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
X = np.linspace(0, 1, 14).reshape(7, 2)
Y, B = np.linspace(1, 2, 10).reshape(5, 2), np.arange(5.0)[:, None]
EXPECTED = (np.exp(-((X[:, None] - Y[None]) ** 2).sum(-1) * 0.37) @ B).sum()
OTHER_UID = 12345


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("KEIR_CACHE_DIR", str(folder))
    return folder


def _compile():
    module, _ = build_kernel(FORMULA, ALIASES, "float64", ReductionSpec("Sum", 1))
    return compile_module(module)


def _entry(folder):
    (so,) = folder.glob("*.so")
    return so, so.with_suffix(".json")


def _works_from(path, meta):
    """Loads a copy of the entry's .so (dlopen would return this process's old mapping for
    the same path) and checks the kernel's result."""
    copy = path.parent.parent / f"copy-{time.monotonic_ns()}.so"
    shutil.copy(path, copy)
    sig = Signature.from_json(json.loads(meta.read_text())["signature"])
    out = Kernel(ctypes.CDLL(str(copy)), sig)(X, Y, B)
    assert out.sum() == pytest.approx(EXPECTED, rel=1e-12)


def _replace(path, data: bytes):
    tmp = path.with_name(path.name + ".new")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- concurrency
CHILD = """
import json, os, sys, time
from keir.compiler import compile_module
from keir.frontend.formula import ReductionSpec, build_kernel
import numpy as np
module, _ = build_kernel({formula!r}, {aliases!r}, "float64", ReductionSpec("Sum", 1))
print("ready", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.002)
kernel, info = compile_module(module)
x = np.linspace(0, 1, 14).reshape(7, 2)
y, b = np.linspace(1, 2, 10).reshape(5, 2), np.arange(5.0)[:, None]
print(json.dumps({{"hit": info.cache_hit, "sum": float(kernel(x, y, b).sum())}}), flush=True)
"""


def test_four_processes_starting_together_compile_once(cache_dir, tmp_path):
    go = tmp_path / "go"
    code = CHILD.format(formula=FORMULA, aliases=ALIASES)
    env = dict(os.environ, KEIR_CACHE_DIR=str(cache_dir))
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(go)], stdout=subprocess.PIPE, env=env)
        for _ in range(4)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == b"ready"
        go.touch()  # all four now race for the same, uncached kernel
        results = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert all(p.returncode == 0 for p in procs)
    assert sorted(r["hit"] for r in results) == [False, True, True, True]  # one compile
    assert all(r["sum"] == pytest.approx(EXPECTED, rel=1e-12) for r in results)
    assert len(list(cache_dir.glob("*.so"))) == 1
    assert not list(cache_dir.glob(".*")), "no temporary file may survive"


def test_readers_never_see_a_half_written_entry(cache_dir):
    full = b"\x7fELF" + bytes(range(256)) * 64
    seen, done = [], threading.Event()

    def slow_build(path):
        with open(path, "wb") as f:
            f.write(full[:100])
            f.flush()
            time.sleep(0.3)
            f.write(full[100:])

    def reader():
        while not done.is_set():
            hit = cache.lookup("k" * 32)
            if hit is not None:
                seen.append(hit[0].read_bytes())

    thread = threading.Thread(target=reader)
    thread.start()
    with cache.locked("k" * 32):
        cache.store("k" * 32, slow_build, {"signature": {}})
    time.sleep(0.05)
    done.set()
    thread.join()
    assert seen and all(data == full for data in seen)


def test_the_lock_excludes_and_times_out(cache_dir, monkeypatch):
    order = []

    def second():
        with cache.locked("a" * 32):
            order.append("second")

    with cache.locked("a" * 32):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append("first done")
    thread.join()
    assert order == ["first done", "second"]
    monkeypatch.setattr(cache, "LOCK_TIMEOUT", 0.1)
    with cache.locked("b" * 32):  # a stuck holder: the waiter goes on instead of hanging
        start = time.monotonic()
        with cache.locked("b" * 32):
            assert 0.05 < time.monotonic() - start < 5


# ---------------------------------------------------------------- damaged entries
def _truncate(so, meta):
    _replace(so, so.read_bytes()[: so.stat().st_size // 2])


def _flip_bytes(so, meta):
    data = bytearray(so.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = bytes(16)
    data[-1] ^= 0xFF
    _replace(so, bytes(data))


def _delete_json(so, meta):
    meta.unlink()


def _garble_json(so, meta):
    _replace(meta, meta.read_bytes()[:20])


def _old_json_without_checksum(so, meta):
    data = json.loads(meta.read_text())
    del data["sha256"]
    _replace(meta, json.dumps(data).encode())


def _writable_by_others(so, meta):
    so.chmod(0o777)


def _symlinked(so, meta):
    real = so.with_name("elsewhere.bin")
    os.replace(so, real)
    so.symlink_to(real)


@pytest.mark.parametrize(
    "damage",
    [
        _truncate,
        _flip_bytes,
        _delete_json,
        _garble_json,
        _old_json_without_checksum,
        _writable_by_others,
        _symlinked,
    ],
)
def test_damaged_entries_are_rebuilt(cache_dir, damage):
    _, info = _compile()
    assert not info.cache_hit
    so, meta = _entry(cache_dir)
    damage(so, meta)
    assert cache.lookup(so.stem) is None  # detected before anything is loaded
    _, info = _compile()
    assert not info.cache_hit  # rebuilt
    hit = cache.lookup(so.stem)
    assert hit is not None and not so.is_symlink()
    _works_from(*_entry(cache_dir))
    assert _compile()[1].cache_hit  # and reused afterwards


def _chown(path):
    try:
        os.chown(path, OTHER_UID, OTHER_UID)
    except PermissionError:
        pytest.skip("changing a file's owner needs root")


@pytest.mark.parametrize("which", ["so", "json"])
def test_entries_owned_by_another_user_are_not_loaded(cache_dir, which):
    _compile()
    so, meta = _entry(cache_dir)
    _chown(so if which == "so" else meta)
    assert cache.lookup(so.stem) is None
    _, info = _compile()
    assert not info.cache_hit
    assert so.stat().st_uid == meta.stat().st_uid == os.getuid()
    _works_from(so, meta)


# ---------------------------------------------------------------- the directory
def test_cache_directory_is_created_private(cache_dir):
    nested = cache_dir / "a" / "b"
    os.environ["KEIR_CACHE_DIR"] = str(nested)  # (restored by the fixture's monkeypatch)
    assert cache.cache_dir() == nested
    assert nested.stat().st_mode & 0o777 == 0o700


def test_world_writable_cache_directory_is_refused(cache_dir):
    cache_dir.mkdir(mode=0o700)
    cache_dir.chmod(0o777)
    with pytest.raises(cache.UnsafeCacheError, match="not be writable by others"):
        cache.cache_dir()
    with pytest.raises(KeirError, match="KEIR_CACHE_DIR"):  # as users meet it
        _compile()


def test_cache_directory_of_another_user_is_refused(cache_dir):
    cache_dir.mkdir(mode=0o700)
    _chown(cache_dir)
    with pytest.raises(cache.UnsafeCacheError, match=f"owned by uid {OTHER_UID}"):
        cache.cache_dir()
