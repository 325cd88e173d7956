"""pykeops' own test files, run against keir: each file of pykeops/test in the pykeops wheel,
with pykeops.torch / pykeops.numpy replaced by keir.torch / keir.numpy (tests/pykeops_suite.py),
must pass, except the tests in UNSUPPORTED; those needing a GPU or float16 skip themselves.

The rewritten files run once, in a subprocess (they set module-level state such as seeds), and
each pykeops file is one test here that reports its failures.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from pykeops_suite import pykeops_test_dir, rewrite

pytest.importorskip("torch")
SOURCE = pykeops_test_dir()
FILES = sorted(p.name for p in SOURCE.glob("test_*.py")) if SOURCE else []
UNSUPPORTED: dict[str, str] = {}  # every test pykeops ships runs (ranges included)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict:
    """{file: [(test, outcome, message)]} from one pytest run over the rewritten files."""
    root = tmp_path_factory.mktemp("pykeops_tests")
    for name in FILES + ["conv2d.py"]:
        if (SOURCE / name).exists():
            (root / name).write_text(rewrite((SOURCE / name).read_text()))
    xml = root / "results.xml"
    deselect = [f"--deselect={t}" for t in UNSUPPORTED]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root),
           f"--junitxml={xml}", *deselect, *FILES]  # fmt: skip
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=3000)
    if not xml.exists():
        pytest.fail(f"pykeops' tests did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    found: dict = {}
    for case in ET.parse(xml).iter("testcase"):
        file = case.get("classname").split(".")[0] + ".py"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
        found.setdefault(file, []).append((case.get("name"), outcome, message))
    return found


@pytest.mark.skipif(SOURCE is None, reason="pykeops (a dev dependency) is not installed")
@pytest.mark.parametrize("file", FILES)
def test_pykeops_file_passes_on_keir(results, file):
    cases = results.get(file, [])
    deselected = [t for t in UNSUPPORTED if t.startswith(file + "::")]
    assert cases or deselected, f"{file}: no test ran"
    failed = [f"{name}: {outcome}: {message[:300]}" for name, outcome, message in cases
              if outcome in ("failure", "error")]  # fmt: skip
    assert not failed, "\n".join(failed)
    for name, outcome, message in cases:
        if outcome == "skipped":  # only what needs hardware keir has not here
            assert "GPU" in message or "cuda" in message.lower(), f"{name} skipped: {message}"
