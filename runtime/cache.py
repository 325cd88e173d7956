"""The on-disk kernel cache: one shared object + JSON metadata per key, written atomically.

Key: sha256 of the kernel's keir IR text, its dtype, the target CPU, the keir version and a
fingerprint of keir's compiler sources (so a changed lowering never reuses a stale binary).
Location: $KEIR_CACHE_DIR, else $XDG_CACHE_HOME/keir, else ~/.cache/keir (created 0700).
Entries are built under a temporary name in the same directory and published with os.replace,
so a concurrent reader sees either nothing or a complete file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .. import __version__

_COMPILER_DIRS = ("dialect", "passes", "runtime")


def cache_dir() -> Path:
    root = os.environ.get("KEIR_CACHE_DIR")
    if root:
        path = Path(root)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "keir"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@functools.cache
def compiler_fingerprint() -> str:
    """Hash of the sources that decide what a binary contains."""
    package = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for sub in _COMPILER_DIRS:
        folder = Path(__import__(f"keir.{sub}", fromlist=["_"]).__file__).parent
        for f in sorted(folder.glob("*.py")):
            h.update(f.name.encode() + f.read_bytes())
    h.update(str(package).encode())
    return h.hexdigest()[:16]


def cache_key(ir_text: str, dtype: str, target: str) -> str:
    h = hashlib.sha256()
    for part in (__version__, compiler_fingerprint(), target, dtype, ir_text):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def lookup(key: str) -> tuple[Path, dict] | None:
    """The cached shared object and its metadata, or None."""
    so, meta = cache_dir() / f"{key}.so", cache_dir() / f"{key}.json"
    if not (so.exists() and meta.exists()):
        return None
    try:
        return so, json.loads(meta.read_text())
    except (OSError, ValueError):
        return None


def store(key: str, build: Callable[[Path], None], metadata: dict) -> Path:
    """Runs build(tmp_path) and publishes the result and its metadata atomically."""
    folder = cache_dir()
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".so", dir=folder)
    os.close(fd)
    try:
        build(Path(tmp))
        os.replace(tmp, folder / f"{key}.so")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    fd, tmp = tempfile.mkstemp(prefix=f".{key}-", suffix=".json", dir=folder)
    with os.fdopen(fd, "w") as f:
        json.dump(metadata, f)
    os.replace(tmp, folder / f"{key}.json")
    return folder / f"{key}.so"
