"""Runs tests/filecheck/*.mlir: each file's `// RUN:` command piped into FileCheck (the
`filecheck` package) with the file itself as the check file. `keir` runs this Python's keir."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

FILES = sorted((Path(__file__).parent / "filecheck").glob("*.mlir"))


def run_line(path: Path) -> list[str]:
    for line in path.read_text().splitlines():
        if line.startswith("// RUN:"):
            words = shlex.split(line.removeprefix("// RUN:").replace("%s", str(path)))
            assert words[0] == "keir", "RUN lines start with keir"
            return [sys.executable, "-m", "keir", *words[1:]]
    raise AssertionError(f"{path.name} has no RUN line")


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_filecheck(path):
    produced = subprocess.run(run_line(path), capture_output=True, text=True, timeout=120)
    assert produced.returncode == 0, produced.stderr
    filecheck = Path(sys.executable).parent / "filecheck"
    checked = subprocess.run(
        [str(filecheck), str(path)], input=produced.stdout, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr + "\n" + produced.stdout
