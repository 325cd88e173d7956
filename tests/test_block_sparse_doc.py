"""docs/block-sparse.md runs: each ```python block, in order, in one namespace, printing what the
page says it prints (numbers to a relative 1e-3, as in the tutorials' test)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from test_tutorials import BLOCK, _same_output

DOC = Path(__file__).resolve().parent.parent / "docs" / "block-sparse.md"


def test_block_sparse_doc_examples():
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 6
    namespace = {"__name__": "block_sparse_doc"}
    for k, (code, printed) in enumerate(blocks):
        if "import torch" in code:
            pytest.importorskip("torch")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{DOC.name} (block {k + 1})", "exec"), namespace)
        assert _same_output(out.getvalue(), printed), (
            f"block {k + 1} printed:\n{out.getvalue()}\nthe page says:\n{printed}"
        )
