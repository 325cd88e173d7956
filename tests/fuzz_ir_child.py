"""Child of tests/test_fuzz_ir.py: runs mutated MLIR texts through `keir opt`'s whole path.

Reads a JSON list of texts on stdin; for each prints `case N` before it starts, then `ok`,
`keir` (a KeirError) or `bug <exception>` (anything else). A crash of the process (a signal)
leaves the last `case N` without its outcome: the parent reports that text.
"""

from __future__ import annotations

import json
import sys

from keir.cli import parse_module
from keir.errors import KeirError
from keir.output_forms import emit


def run(text: str, form: str) -> str:
    try:
        emit(parse_module(text), form)
    except KeirError as e:
        return "keir" if str(e) else "bug KeirError without a message"
    except Exception as e:  # noqa: BLE001 (the point: any other exception is a bug)
        return f"bug {type(e).__name__}: {e}"[:300]
    return "ok"


def main() -> None:
    for n, (text, form) in enumerate(json.load(sys.stdin)):
        print(f"case {n}", flush=True)
        print(run(text, form), flush=True)


if __name__ == "__main__":
    main()
