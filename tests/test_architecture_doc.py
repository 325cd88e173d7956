"""docs/architecture.md shows real output: its `--emit keir` block is what keir prints now."""

from __future__ import annotations

import re
from pathlib import Path

from keir.cli import main

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"


def test_emit_keir_block_is_the_real_output(capsys):
    block = re.search(
        r"--emit keir` \(checked by tests/test_architecture_doc.py\):\n\n```mlir\n(.*?)```",
        DOC.read_text(),
        re.S,
    )
    assert block, "architecture.md lost its --emit keir example"
    formula = "Sum_Reduction(Exp(-SqDist(x,y))*b, 0)"
    args = ["compile", formula, "--aliases", "x=Vi(3)", "y=Vj(3)", "b=Vj(1)", "--emit", "keir"]
    assert main(args) == 0
    assert capsys.readouterr().out.strip() == block.group(1).strip()


def test_named_files_exist():
    root = DOC.parent.parent
    for path in re.findall(
        r"`((?:frontend|dialect|passes|backends|runtime|keir|tests)/[\w/.]+\.\w+)`", DOC.read_text()
    ):
        assert (root / path).exists(), path
