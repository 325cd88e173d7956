"""The tutorials in docs/tutorials run: each ```python block, in order, in one namespace per
tutorial (in a temporary directory, where they may write files). A python block followed by a
plain ``` block must print that text; numbers match to a relative 1e-3."""

from __future__ import annotations

import contextlib
import io
import re
import struct
import zlib
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parent.parent / "docs" / "tutorials"
BLOCK = re.compile(r"```python\n(.*?)```(?:\n+```\n(.*?)```)?", re.S)
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _tutorials():
    return sorted(TUTORIALS.glob("*.md"))


def _same_output(got: str, want: str) -> bool:
    got_words, want_words = got.split(), want.split()
    if len(got_words) != len(want_words):
        return False
    for g, w in zip(got_words, want_words):
        g_nums, w_nums = NUMBER.findall(g), NUMBER.findall(w)
        if NUMBER.sub("#", g) != NUMBER.sub("#", w) or len(g_nums) != len(w_nums):
            return False
        for gn, wn in zip(NUMBER.finditer(g), NUMBER.finditer(w)):
            a, b = float(gn.group()), float(wn.group())
            if abs(a - b) > 1e-3 * abs(b) and not (abs(b) < 1e-10 and abs(a) < 1e-10):
                return False
    return True


def test_the_tutorials_exist():
    names = {p.stem for p in _tutorials()}
    assert {"gaussian_kernel_sum", "knn_classification", "kmeans"} <= names
    assert {"kernel_ridge_regression", "sinkhorn"} <= names
    for path in _tutorials():
        assert BLOCK.search(path.read_text()), path


@pytest.mark.parametrize("path", _tutorials(), ids=lambda p: p.stem)
def test_tutorial_runs(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"tutorial_{path.stem}"}
    for k, (code, printed) in enumerate(BLOCK.findall(path.read_text())):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path.name} (block {k + 1})", "exec"), namespace)
        if printed:
            assert _same_output(out.getvalue(), printed), (
                f"block {k + 1} printed:\n{out.getvalue()}\nthe tutorial says:\n{printed}"
            )
    for png in tmp_path.glob("*.png"):  # pictures the tutorial shows are the ones it makes
        _png_size(png.read_bytes())
        assert png.read_bytes() == (TUTORIALS / png.name).read_bytes(), png.name


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature, chunk CRCs and pixel data."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF, tag
        chunks[tag] = chunks.get(tag, b"") + body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 2)  # 8-bit RGB
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    return width, height


def test_the_knn_tutorial_shows_its_decision_boundary():
    text = (TUTORIALS / "knn_classification.md").read_text()
    (name,) = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert any(f'"{name}"' in code for code, _ in BLOCK.findall(text))  # the code writes it
    width, height = _png_size((TUTORIALS / name).read_bytes())
    assert width >= 100 and height >= 100
