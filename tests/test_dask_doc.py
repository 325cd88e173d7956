"""docs/dask.md's example runs and prints what the page says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

pytest.importorskip("distributed")

DOC = Path(__file__).resolve().parent.parent / "docs" / "dask.md"


def test_dask_doc_example():
    code, printed = re.search(
        r"```python\n(.*?)```\n+```\n(.*?)```", DOC.read_text(), re.S
    ).groups()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    assert out.getvalue() == printed
