"""The on-disk kernel cache: one shared object + JSON metadata per key, safe to share.

Key: sha256 of the kernel's keir IR text, its dtype, the target CPU, the keir version and a
fingerprint of keir's compiler sources (so a changed lowering never reuses a stale binary).
Location: $KEIR_CACHE_DIR, else $XDG_CACHE_HOME/keir, else ~/.cache/keir (created 0700).

Loading a shared object runs its code, so an entry is loaded only if it is certainly ours and
whole:
- files are built under a temporary name and published with os.replace (never half-written);
- the metadata records the sha256 of the .so, checked before every load, so a truncated or
  corrupted entry is a miss and gets rebuilt;
- an entry not owned by this user, writable by others or not a regular file is a miss;
- a cache directory owned by another user or writable by others is refused (UnsafeCacheError);
- `locked(key)` (flock on `<key>.lock`) serialises compile-and-publish across processes, so
  processes starting together compile a kernel once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..errors import KeirError

# Every module that decides what a binary holds: the dialect (op and reduction rules), the passes,
# the runtime (toolchain flags, ABI) and the drivers that join them. A formula's text is not in
# this list: it reaches the key through the IR.
COMPILER_MODULES = (
    "keir.dialect",
    "keir.passes",
    "keir.runtime",
    "keir.compiler",
    "keir.gpu_compiler",
)
LOCK_TIMEOUT = 600.0  # seconds; past it a waiter compiles too (harmless: publishing is atomic)


class UnsafeCacheError(KeirError):
    """The cache directory could be written by another user, so its binaries cannot be trusted."""


class CacheDirError(KeirError):
    """The cache directory cannot be created or written."""


def cache_dir() -> Path:
    root = os.environ.get("KEIR_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "keir"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise CacheDirError(
            f"cannot create the kernel cache {path}: {e.strerror}; "
            "set KEIR_CACHE_DIR to a directory of yours"
        ) from None
    _check_private(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise CacheDirError(
            f"kernel cache {path} is not writable; set KEIR_CACHE_DIR to a directory of yours"
        )
    return path


def _check_private(path: Path) -> None:
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise UnsafeCacheError(
            f"kernel cache {path} is owned by uid {st.st_uid} with mode "
            f"{stat.filemode(st.st_mode)}: it must belong to you (uid {os.getuid()}) and not "
            "be writable by others; point KEIR_CACHE_DIR to a private directory"
        )


def compiler_sources() -> list[Path]:
    """The source files of COMPILER_MODULES, packages walked recursively, in a stable order."""
    import importlib.util

    files = []
    for name in COMPILER_MODULES:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin)
        files += sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
    return files


@functools.cache
def compiler_fingerprint() -> str:
    """Hash of the sources that decide what a binary contains (names and bytes)."""
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for f in compiler_sources():
        h.update(str(f.resolve()).encode() + b"\0" + f.read_bytes())
    h.update(str(package).encode())
    return h.hexdigest()[:16]


def cache_key(ir_text: str, dtype: str, target: str) -> str:
    h = hashlib.sha256()
    for part in (__version__, compiler_fingerprint(), target, dtype, ir_text):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trusted(path: Path) -> bool:
    """A regular file (not a link) of ours that nobody else can write."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def lookup(key: str) -> tuple[Path, dict] | None:
    """The cached shared object and its metadata, or None if absent, foreign or damaged."""
    folder = cache_dir()
    so, meta = folder / f"{key}.so", folder / f"{key}.json"
    if not (_trusted(so) and _trusted(meta)):
        return None
    try:
        data = json.loads(meta.read_text())
        if not isinstance(data, dict) or data.get("sha256") != _sha256(so):
            return None
    except (OSError, ValueError):
        return None
    return so, data


@contextlib.contextmanager
def locked(key: str):
    """Holds an exclusive lock on `key` across processes (waits at most LOCK_TIMEOUT)."""
    path = cache_dir() / f"{key}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break  # a stuck holder: go on unlocked rather than hang
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock


def store(key: str, build: Callable[[Path], None], metadata: dict) -> Path:
    """Runs build(tmp_path) and publishes the result, then its metadata (with the .so's
    sha256), atomically; call it under `locked(key)`."""
    folder = cache_dir()
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".so", dir=folder)
    os.close(fd)
    try:
        build(Path(tmp))
        os.chmod(tmp, 0o700)
        digest = _sha256(Path(tmp))
        os.replace(tmp, folder / f"{key}.so")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({**metadata, "sha256": digest}, f)
        os.replace(tmp, folder / f"{key}.json")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return folder / f"{key}.so"
