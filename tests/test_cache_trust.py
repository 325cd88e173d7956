"""The cache trusts nothing it reads back, and an unusable cache is a warning, not a failure.

Issue 21: every field of an entry's metadata, edited alone, is a miss and a rebuild (an edited
`out_dim` segfaulted, an edited `lanes` gave wrong numbers); metadata that is consistent but
does not fit the kernel's IR is a miss too; a library rebuilt under the same path is loaded
anew; an unusable cache directory (not a directory, read-only, a lock that cannot be opened,
a full disk, no home) falls back to a private temporary cache with one CacheWarning; a killed
compile's temporary files are removed by the next process, a running one's are not.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from json_edits import edited, leaves, set_at

from keir.compiler import compile_module
from keir.dialect.signature import Signature
from keir.frontend.formula import ReductionSpec, build_kernel
from keir.runtime import cache, leftovers

ALIASES = ["x = Vi(2)", "y = Vj(2)", "b = Vj(1)"]
X = np.linspace(0, 1, 14).reshape(7, 2)
Y, B = np.linspace(1, 2, 10).reshape(5, 2), np.arange(5.0)[:, None]


def _expected(scale: float) -> np.ndarray:
    return np.exp(-((X[:, None] - Y[None]) ** 2).sum(-1) * scale) @ B


def _compile(scale: float = 0.37):
    module, _ = build_kernel(
        f"Exp(-SqDist(x, y) * {scale}) * b", ALIASES, "float64", ReductionSpec("Sum", 1)
    )
    return compile_module(module)


def _check(scale: float = 0.37):
    kernel, info = _compile(scale)
    np.testing.assert_allclose(kernel(X, Y, B), _expected(scale), rtol=1e-12)
    return info


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("KEIR_CACHE_DIR", str(folder))
    monkeypatch.setattr(cache, "_fallbacks", {})
    monkeypatch.setattr(cache, "_cleaned", set())
    return folder


def _meta(folder):
    (meta,) = folder.glob("*.json")
    return meta


# ---------------------------------------------------------------- every field, edited alone
def test_every_metadata_field_edited_alone_is_a_miss_and_a_rebuild(cache_dir):
    assert not _check().cache_hit
    meta = _meta(cache_dir)
    original = json.loads(meta.read_text())
    paths = [p for p, _ in leaves(original)]
    assert ("signature", "lanes") in paths and ("signature", "outputs", 0, "out_dim") in paths
    for path, value in leaves(original):
        data = json.loads(json.dumps(original))
        set_at(data, path, edited(value))
        meta.write_text(json.dumps(data))
        assert cache.lookup(meta.stem) is None, path  # refused before anything is loaded
        assert not _check().cache_hit, path  # rebuilt, and right
        assert cache.lookup(meta.stem) is not None
    for partial in ({"sha256": original["sha256"]}, {}, [], original["signature"]):
        meta.write_text(json.dumps(partial))  # ... or whole parts missing
        assert not _check().cache_hit
    assert _check().cache_hit


def test_a_consistent_entry_that_does_not_fit_the_ir_is_a_miss(cache_dir):
    """A whole entry rewritten with valid checksums, but another kernel's signature: the
    signature the IR implies (arguments, dims, outputs) decides."""
    _check()
    meta = _meta(cache_dir)
    so = meta.with_suffix(".so")
    data = json.loads(meta.read_text())
    sig = data["signature"]
    for edit in (
        lambda s: s["outputs"][0].update(out_dim=2),
        lambda s: s.update(arg_dims=[2, 2, 2]),
        lambda s: s.update(axis=0),
        lambda s: s.update(dtype="float32"),
    ):
        edited = json.loads(json.dumps(sig))
        edit(edited)
        cache.store(meta.stem, lambda p: p.write_bytes(so.read_bytes()), {"signature": edited})
        assert cache.lookup(meta.stem) is not None  # its checksums are right ...
        assert not _check().cache_hit  # ... but it is not this kernel's: rebuilt


def test_a_library_rebuilt_under_the_same_path_is_loaded_anew(cache_dir):
    """dlopen of a path loaded before returns the old code: keir loads by content."""
    _check(0.37)
    meta = _meta(cache_dir)
    key, so = meta.stem, meta.with_suffix(".so")
    other_kernel, _ = _compile(0.5)
    other = next(p for p in cache_dir.glob("*.so") if p != so)
    data = json.loads(other.with_suffix(".json").read_text())
    cache.store(key, lambda p: p.write_bytes(other.read_bytes()), {"signature": data["signature"]})
    kernel, info = _compile(0.37)  # the entry at this path now holds the 0.5 kernel
    assert info.cache_hit
    np.testing.assert_allclose(kernel(X, Y, B), _expected(0.5), rtol=1e-12)


# ---------------------------------------------------------------- unusable caches
def _one_warning(caught) -> str:
    found = [w for w in caught if issubclass(w.category, cache.CacheWarning)]
    assert len(found) == 1, [str(w.message) for w in caught]
    return str(found[0].message)


def _works_with_one_warning(configured):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not _check(0.37).cache_hit
        assert not _check(0.5).cache_hit  # a second kernel: no second warning
        assert _check(0.5).cache_hit  # the temporary cache serves hits
    message = _one_warning(caught)
    assert str(configured) in message and "temporary cache" in message
    return message


def test_a_cache_path_that_is_a_file_falls_back(cache_dir):
    cache_dir.parent.mkdir(exist_ok=True)
    cache_dir.write_text("not a directory")
    assert "cannot create it" in _works_with_one_warning(cache_dir)
    assert cache_dir.read_text() == "not a directory"


def test_a_read_only_cache_falls_back(cache_dir, monkeypatch):
    cache_dir.mkdir(mode=0o700)
    if os.getuid() == 0:  # root writes anyway: make os.access answer as for a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, m: str(p) != str(cache_dir) and real(p, m))
    cache_dir.chmod(0o500)
    try:
        assert "not writable" in _works_with_one_warning(cache_dir)
    finally:
        cache_dir.chmod(0o700)
    assert not list(cache_dir.iterdir())


def test_a_lock_that_cannot_be_opened_falls_back(cache_dir):
    _check(0.37)
    key = _meta(cache_dir).stem
    for f in cache_dir.glob(f"{key}.*"):
        f.unlink()  # a miss, and its lock is ...
    (cache_dir / f"{key}.lock").symlink_to(cache_dir / "elsewhere")  # ... a symlink (ELOOP)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not _check(0.37).cache_hit  # compiled into the temporary cache
        assert _check(0.37).cache_hit
    assert f"cannot open {key}.lock" in _one_warning(caught)
    assert not (cache_dir / "elsewhere").exists()


def test_a_full_disk_falls_back(cache_dir, monkeypatch):
    real = cache._write_json

    def full(path, data):
        if path.parent == cache_dir:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data)

    monkeypatch.setattr(cache, "_write_json", full)
    assert "No space left on device" in _works_with_one_warning(cache_dir)
    assert not list(cache_dir.glob("*.so")) and not list(cache_dir.glob(".*"))


def test_the_fallback_itself_failing_is_a_keir_error(cache_dir, monkeypatch):
    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache, "_write_json", full)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        with pytest.raises(cache.CacheError, match="temporary kernel cache .* is unusable too"):
            _compile()


@pytest.mark.parametrize("home, xdg", [("", ""), ("relative/home", ""), ("", "relative/xdg")])
def test_no_absolute_home_or_xdg_is_not_the_working_directory(monkeypatch, home, xdg):
    monkeypatch.delenv("KEIR_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", home)
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    home = pwd.getpwuid(os.getuid()).pw_dir
    assert str(cache.configured_dir()) == os.path.join(home, ".cache", "keir")
    monkeypatch.setenv("XDG_CACHE_HOME", "/abs/xdg")
    assert str(cache.configured_dir()) == "/abs/xdg/keir"


# ---------------------------------------------------------------- leftovers
def _leftover(folder, pid: int, age: float, kind="tmp", directory=False):
    name = leftovers.prefix(kind).replace(f"-{os.getpid()}-", f"-{pid}-") + f"{age}.so"
    path = folder / name
    path.mkdir() if directory else path.write_bytes(b"\x7fELF")
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_leftovers_of_dead_compiles_are_removed_and_running_ones_kept(cache_dir):
    cache_dir.mkdir(mode=0o700)
    dead = _dead_pid()
    gone = [
        _leftover(cache_dir, dead, 120),
        _leftover(cache_dir, dead, 120, "build", directory=True),
        _leftover(cache_dir, os.getpid(), 2 * leftovers.ANY_AGE),  # alive, but a day old
    ]
    kept = [
        _leftover(cache_dir, dead, 5),  # too recent: its owner may be publishing right now
        _leftover(cache_dir, os.getpid(), 120),  # a compile still running
    ]
    (cache_dir / "user-notes.txt").write_text("not ours")
    os.utime(cache_dir / "user-notes.txt", (0, 0))
    cache.cache_dir()
    assert not any(p.exists() for p in gone)
    assert all(p.exists() for p in kept) and (cache_dir / "user-notes.txt").exists()


def test_a_compile_killed_midway_leaves_nothing_after_the_next_start(cache_dir, monkeypatch):
    code = (
        "from keir.compiler import compile_module\n"
        "from keir.frontend.formula import ReductionSpec, build_kernel\n"
        "m, _ = build_kernel('Exp(-SqDist(x,y))*x', ['x=Vi(200)', 'y=Vj(200)'], 'float32',"
        " ReductionSpec('Sum', 1))\n"
        "compile_module(m)\n"
    )
    env = dict(os.environ, KEIR_CACHE_DIR=str(cache_dir))
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    deadline = time.monotonic() + 120
    while not list(cache_dir.glob(".keir-*")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    left = list(cache_dir.glob(".keir-*"))
    if not left:
        pytest.skip("the child finished before it could be killed")
    monkeypatch.setattr(leftovers, "DEAD_AGE", 0.0)
    cache.cache_dir()
    assert not list(cache_dir.glob(".keir-*")), left


# ---------------------------------------------------------------- strict signatures
def test_signature_from_json_refuses_what_to_json_cannot_write():
    module, _ = build_kernel("SqDist(x, y)", ALIASES[:2], "float32", ReductionSpec("Sum", 1))
    good = compile_module(module)[0].sig.to_json()
    assert Signature.from_json(good).to_json() == good
    for path, value in leaves(good):
        bad = json.loads(json.dumps(good))
        set_at(bad, path, "1" if not isinstance(value, str) else 5)
        with pytest.raises(ValueError, match="signature"):
            Signature.from_json(bad)
