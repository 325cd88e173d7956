"""The on-disk kernel cache: one shared object + JSON metadata per key, safe to share.

Key: sha256 of the kernel's keir IR text, its dtype, the target CPU, the keir version and a
fingerprint of keir's compiler sources (so a changed lowering never reuses a stale binary).
Location: $KEIR_CACHE_DIR, else $XDG_CACHE_HOME/keir (if absolute), else ~/.cache/keir (from
$HOME if absolute, else the password database), created 0700.

Loading a shared object runs its code, so an entry is loaded only if it is certainly ours and
whole, and certainly the kernel the caller asked for:
- files are built under a temporary name and published with os.replace (never half-written);
- the metadata records the .so's sha256 and a sha256 of the key, the metadata (signature
  included) and that checksum, checked before every load: a truncated or corrupted .so, an
  edited field or an entry copied under another key is a miss and gets rebuilt;
- the caller checks the metadata against what it knows of the kernel (`lookup(key, accept)`:
  compile_module compares the signature with the one the keir IR implies);
- an entry not owned by this user, writable by others or not a regular file is a miss;
- a cache directory owned by another user or writable by others is refused (UnsafeCacheError);
- an unusable one (not a directory, read-only, a lock that cannot be opened, a full disk) is
  replaced, for the rest of the process, by a private temporary cache, with one CacheWarning;
- `locked(key)` (flock on `<key>.lock`) serialises compile-and-publish across processes, so
  processes starting together compile a kernel once;
- temporary files of a killed compile are removed by the next process (runtime.leftovers).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from .. import __version__
from ..dialect.signature import Signature
from ..errors import KeirError
from . import leftovers

# Every module that decides what a binary holds: the dialect (op and reduction rules), the passes,
# the runtime (toolchain flags, ABI) and the drivers that join them. A formula's text is not in
# this list: it reaches the key through the IR.
COMPILER_MODULES = (
    "keir.dialect",
    "keir.passes",
    "keir.runtime",
    "keir.backends",
    "keir.target",
    "keir.compiler",
    "keir.gpu_compiler",
)
LOCK_TIMEOUT = 600.0  # seconds; past it a waiter compiles too (harmless: publishing is atomic)


class UnsafeCacheError(KeirError):
    """The cache directory could be written by another user, so its binaries cannot be trusted."""


class CacheError(KeirError):
    """Neither the configured cache nor a private temporary one can be used."""


class CacheWarning(UserWarning):
    """The configured cache is unusable: this process uses a private temporary one instead."""


_fallbacks: dict[Path, Path] = {}  # configured directory -> the temporary cache replacing it
_cleaned: set[Path] = set()
_fallback_lock = threading.Lock()


def configured_dir() -> Path:
    """The directory the environment names (not created, not checked)."""
    root = os.environ.get("KEIR_CACHE_DIR")
    if root:
        return Path(root).absolute()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec: a relative path is to be ignored
        return Path(xdg) / "keir"
    return _home() / ".cache" / "keir"


def _home() -> Path:
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):  # HOME="" or relative: ask the password database
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
    if not os.path.isabs(home):
        raise CacheError("no home directory (HOME is unset or relative): set KEIR_CACHE_DIR")
    return Path(home)


def cache_dir() -> Path:
    """The cache directory to use: the configured one, created private, or its fallback."""
    try:
        path = configured_dir()
    except CacheError as e:
        return _fall_back(Path("~/.cache/keir"), str(e))
    if path in _fallbacks:
        return _fallbacks[path]
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory")
    except OSError as e:
        return _fall_back(path, f"cannot create it: {e.strerror or e}")
    _check_private(path)
    if not os.access(path, os.W_OK | os.X_OK):
        return _fall_back(path, "it is not writable")
    if path not in _cleaned:  # once per process: a killed compile's temporary files
        _cleaned.add(path)
        leftovers.clean(path)
    return path


def _fall_back(path: Path, reason: str) -> Path:
    """Replaces the configured cache `path` by a private temporary one, warning once."""
    with _fallback_lock:
        return _fall_back_locked(path, reason)


def _fall_back_locked(path: Path, reason: str) -> Path:
    configured = next((c for c, t in _fallbacks.items() if t == path), path)
    if configured in _fallbacks and _fallbacks[configured] == path:  # the fallback failed too
        raise CacheError(f"the temporary kernel cache {path} is unusable too: {reason}")
    if configured not in _fallbacks:
        try:
            temp = Path(tempfile.mkdtemp(prefix="keir-cache-"))
        except OSError as e:
            raise CacheError(
                f"the kernel cache {configured} is unusable ({reason}), and no "
                f"temporary one can be made: {e}"
            ) from None
        atexit.register(shutil.rmtree, temp, True)
        _fallbacks[configured] = temp
        warnings.warn(
            f"keir: the kernel cache {configured} is unusable ({reason}); this process uses "
            f"the temporary cache {temp} instead (point KEIR_CACHE_DIR to a writable private "
            "directory to keep compiled kernels)",
            CacheWarning,
            stacklevel=3,
        )
    return _fallbacks[configured]


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


def _digest(key: str, data: dict) -> str:
    """sha256 of the key and every metadata field but this digest (the .so's sha256 included)."""
    fields = {k: v for k, v in data.items() if k != "sha256"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{key}\0{text}".encode()).hexdigest()


def _trusted(path: Path) -> bool:
    """A regular file (not a link) of ours that nobody else can write."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022


def lookup(key: str, accept: Callable[[dict], bool] | None = None) -> tuple[Path, dict] | None:
    """The cached shared object and its metadata, or None if absent, foreign, damaged, or
    refused by `accept(metadata)` (which may also raise KeyError, TypeError or ValueError)."""
    folder = cache_dir()
    so, meta = folder / f"{key}.so", folder / f"{key}.json"
    if not (_trusted(so) and _trusted(meta)):
        return None
    try:
        data = json.loads(meta.read_text())
        if not isinstance(data, dict) or data.get("sha256") != _digest(key, data):
            return None
        if data.get("so_sha256") != _sha256(so) or (accept is not None and not accept(data)):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return so, data


def expects(sig: Signature, *path: str) -> Callable[[dict], bool]:
    """A `lookup` check: the entry's signature (metadata["signature"], or at `path`) is valid
    and calls like `sig`, the one the caller derived from the kernel's IR."""

    def accept(data: dict) -> bool:
        for name in path or ("signature",):
            data = data[name]
        return Signature.from_json(data).same_call(sig)

    return accept


@contextlib.contextmanager
def locked(key: str):
    """Holds an exclusive lock on `key` across processes (waits at most LOCK_TIMEOUT)."""
    fd = _open_lock(key)
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


def _open_lock(key: str) -> int:
    folder = cache_dir()
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
    try:
        return os.open(folder / f"{key}.lock", flags, 0o600)
    except OSError as e:  # read-only, another user's, a symlink (ELOOP), ...
        folder = _fall_back(folder, f"cannot open {key}.lock: {e.strerror}")
        with _unusable_too(folder):
            return os.open(folder / f"{key}.lock", flags, 0o600)


def store(key: str, build: Callable[[Path], None], metadata: dict) -> Path:
    """Runs build(tmp_path) and publishes the result and its metadata (with checksums),
    atomically; call it under `locked(key)`. If the cache cannot take the files, they go to
    the temporary cache instead (build runs once)."""
    folder = cache_dir()
    try:
        tmp = _temp_file(folder, ".so")
    except OSError as e:
        folder = _fall_back(folder, f"cannot write to it: {e.strerror}")
        with _unusable_too(folder):
            tmp = _temp_file(folder, ".so")
    try:
        build(tmp)
        os.chmod(tmp, 0o700)
        try:
            return _publish(folder, key, tmp, metadata)
        except OSError as e:  # e.g. ENOSPC
            folder = _fall_back(folder, f"cannot write {key}: {e.strerror}")
            with _unusable_too(folder):
                moved = _temp_file(folder, ".so")
                shutil.copy(tmp, moved)
                return _publish(folder, key, moved, metadata)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def _unusable_too(folder: Path):
    """OSErrors in the temporary cache become a CacheError: nothing is left to fall back to."""
    try:
        yield
    except OSError as e:
        raise CacheError(f"the temporary kernel cache {folder} is unusable too: {e}") from None


def _temp_file(folder: Path, suffix: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=leftovers.prefix("tmp"), suffix=suffix, dir=folder)
    os.close(fd)
    return Path(tmp)


def _write_json(path: Path, data: dict) -> None:
    with open(path, "w") as f:
        json.dump(data, f)


def _publish(folder: Path, key: str, so_tmp: Path, metadata: dict) -> Path:
    """Writes the metadata first (a full disk fails here, before anything is replaced), then
    renames the .so and the metadata into place."""
    data = {**metadata, "so_sha256": _sha256(so_tmp)}
    data["sha256"] = _digest(key, data)
    meta_tmp = _temp_file(folder, ".json")
    try:
        _write_json(meta_tmp, data)
        os.replace(so_tmp, folder / f"{key}.so")
        os.replace(meta_tmp, folder / f"{key}.json")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(meta_tmp)
    return folder / f"{key}.so"
