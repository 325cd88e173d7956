"""Loads shared objects by their content, never by their path.

dlopen returns the handle it already has for a path it loaded before, even if the file there
now holds other bytes (a bundle rebuilt in place, a cache entry rebuilt): the process would run
the old code under the new signature. And a file checked, then loaded by path, may change in
between. So each library is copied into a fresh private directory under its sha256, the copy
is hashed and loaded, then removed (the mapping keeps it alive); libraries with the same bytes
share one handle.
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

from ..errors import KeirError
from . import leftovers

_handles: dict[str, ctypes.CDLL] = {}
_lock = threading.Lock()


class LibraryChangedError(KeirError):
    """A shared object's bytes differ from the sha256 its metadata records."""


def load_library(path: Path, sha256: str | None = None) -> ctypes.CDLL:
    """The library holding the bytes now at `path` (which must hash to `sha256`, if given)."""
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise LibraryChangedError(
            f"{path}: sha256 {digest[:16]}... differs from the recorded {sha256[:16]}...: "
            "the file changed after it was checked"
        )
    with _lock:
        if digest not in _handles:
            _handles[digest] = _load_copy(data, digest)
        return _handles[digest]


def _load_copy(data: bytes, digest: str) -> ctypes.CDLL:
    folder = Path(tempfile.mkdtemp(prefix=leftovers.prefix("load"), dir=_base()))
    try:
        copy = folder / f"{digest}.so"
        copy.write_bytes(data)
        return ctypes.CDLL(str(copy))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _base() -> str | None:
    """The kernel cache (a private directory that may hold code, unlike a noexec /tmp), else
    the system's temporary directory."""
    from . import cache

    try:
        return str(cache.cache_dir())
    except KeirError:
        return None
