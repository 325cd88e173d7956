"""docs/torch.md's Python examples run (they assert their own results against dense torch).
The GeomLoss recipe, which rewires sys.modules, is tests/test_torch_geomloss.py's fixture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("torch")
DOC = Path(__file__).resolve().parent.parent / "docs" / "torch.md"
BLOCKS = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
          if "sys.modules" not in b]  # fmt: skip


def test_doc_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS)
def test_doc_example_runs(code):
    exec(compile(code, str(DOC), "exec"), {})
