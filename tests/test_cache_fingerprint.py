"""The cache key covers every source file that decides a binary, at any depth of the packages.

A stale binary is the worst cache bug (old numbers, no error): editing a lowering rule in
dialect/ops/ or a reduction in dialect/reductions/ must change the key, as must the drivers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import keir
from keir.runtime import cache

ROOT = Path(keir.__file__).resolve().parent.parent


def _walked(folder: str) -> set[Path]:
    """An independent walk of one source folder of the checkout (os.walk, not rglob)."""
    found = set()
    for top, _, files in os.walk(ROOT / folder):
        found |= {Path(top, f).resolve() for f in files if f.endswith(".py")}
    return found


def test_sources_cover_every_compiler_module_recursively():
    sources = {f.resolve() for f in cache.compiler_sources()}
    for folder in ("dialect", "passes", "runtime"):
        assert _walked(folder) <= sources, folder
    assert ROOT / "dialect/ops/arithmetic.py" in sources
    assert ROOT / "dialect/reductions/kmin.py" in sources
    assert (ROOT / "keir/compiler.py").resolve() in sources


@pytest.mark.parametrize("index", range(len(cache.compiler_sources())))
def test_changing_any_source_changes_the_key(index, monkeypatch):
    target = cache.compiler_sources()[index]
    cache.compiler_fingerprint.cache_clear()
    before = cache.cache_key("ir", "float32", "cpu")
    real = Path.read_bytes

    def edited(path):
        data = real(path)
        return data + b"\n# edited\n" if path == target else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    cache.compiler_fingerprint.cache_clear()
    try:
        assert cache.cache_key("ir", "float32", "cpu") != before, target
    finally:
        monkeypatch.undo()
        cache.compiler_fingerprint.cache_clear()
    assert cache.cache_key("ir", "float32", "cpu") == before
