"""keir-verify rejects keir IR that IRDL accepts but whose dimensions are wrong, naming the op.

`keir opt` runs it before any user pipeline (also an empty one), and the driver's pipelines
start with it.
"""

from __future__ import annotations

import pytest

from keir import DimensionError
from keir.cli import main, parse_module
from keir.passes.registry import run_pipeline

BAD = """
module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 3, 2>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %y = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %d = "keir.sqdist"(%x, %y) : (vector<3xf32>, vector<2xf32>) -> vector<1xf32>
    "keir.reduction"(%d) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}
"""


def test_pass_names_the_op_and_the_dims():
    with pytest.raises(DimensionError, match=r"keir\.sqdist at .*dimensions 3 and 2 differ"):
        run_pipeline(parse_module(BAD), ["keir-verify"])


@pytest.mark.parametrize("pipeline", [[], ["--pipeline", "cse"]])
def test_keir_opt_verifies_before_the_pipeline(pipeline, tmp_path, capsys):
    path = tmp_path / "bad.mlir"
    path.write_text(BAD)
    assert main(["opt", str(path), *pipeline]) != 0
    assert "keir.sqdist" in capsys.readouterr().err


def test_driver_pipelines_start_with_it():
    from keir.passes import pipeline

    assert pipeline._STEPS["autodiff"][0] == "keir-verify"
