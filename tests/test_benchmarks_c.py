"""The C baseline of the benchmarks computes in the precision it claims (issue 17: the float
loop used to run in double, which made keir look twice as fast against it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "benchmarks" / "gauss_loop.c"
FLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-S", "-o", "-"]


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
@pytest.mark.parametrize("real, vector_exp", [("float", r"v_expf\b"), ("double", r"v_exp\b")])
def test_c_loop_stays_in_its_precision(real, vector_exp):
    asm = subprocess.run(
        ["cc", *FLAGS, f"-DREAL={real}", str(SRC)], capture_output=True, text=True, check=True
    ).stdout
    if real == "float":
        assert "cvtps2pd" not in asm and "cvtpd2ps" not in asm  # no float <-> double round trip
    assert re.search(r"call\s+_ZGV\w*" + vector_exp, asm), "the exp loop is not vectorised"
