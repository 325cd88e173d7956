"""A bundle's manifest is verified as a whole, and a bundle rebuilt in place loads anew.

Issue 21: a manifest with one edited signature field (out_dim 0, lanes halved) segfaulted or
gave wrong values (D4); a bundle rebuilt in place and loaded again in the same process ran the
old library (D2). Every field of the manifest, edited alone, is now refused before any code is
loaded; a consistent rewrite whose entries contradict themselves is refused too; what is not
caught (a whole bundle rewritten consistently: nothing is signed with a key) is documented in
docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from json_edits import edited, leaves, set_at

import keir
from keir.bundle import build_bundle, parse_spec
from keir.errors import BundleError, BundleIntegrityError
from keir.runtime import bundle as layout
from keir.runtime import leftovers


def _spec(formula: str, dim: int = 3):
    kernel = {
        "name": "k",
        "formula": formula,
        "aliases": [f"x=Vi({dim})", f"y=Vj({dim})", "b=Vj(1)"],
        "reduction": "Sum",
        "dtype": "float64",
    }
    return parse_spec({"kernels": [kernel, {**kernel, "name": "m", "reduction": "Min"}]})


def _data(dim: int = 3):
    rng = np.random.default_rng(0)
    return rng.random((9, dim)), rng.random((11, dim)), rng.random((11, 1))


def _gauss(x, y, b):
    return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) @ b


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "b"
    build_bundle(_spec("Exp(-SqDist(x,y))*b"), out)
    return out


def _write(folder, manifest, reseal=False):
    if reseal:
        manifest["manifest_sha256"] = layout.seal(manifest)
    (folder / layout.MANIFEST).write_text(json.dumps(manifest))


def test_every_manifest_field_edited_alone_is_refused(bundle, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    original = json.loads((bundle / layout.MANIFEST).read_text())
    paths = [p for p, _ in leaves(original)]
    assert ("kernels", 0, "signature", "lanes") in paths
    assert ("kernels", 0, "signature", "outputs", 0, "out_dim") in paths
    for path, value in leaves(original):
        manifest = json.loads(json.dumps(original))
        set_at(manifest, path, edited(value))
        _write(copy, manifest)
        expected = (
            BundleIntegrityError if path[0] not in ("format", "abi", "target") else BundleError
        )
        with pytest.raises(expected):  # (format, abi, target: refused as another bundle's)
            keir.load_bundle(copy)
    _write(copy, original)
    np.testing.assert_allclose(keir.load_bundle(copy)["k"](*_data()), _gauss(*_data()))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda k: k["signature"].update(arg_dims=[3, 4, 1]), "arguments differ"),
        (lambda k: k["args"][0].update(dim=4), "arguments differ"),
        (lambda k: k["signature"]["outputs"][0].update(out_dim=0), "dims at least 1"),
        (lambda k: k["signature"].update(lanes="8"), "lanes"),
        (lambda k: k.update(symbol="keir_m"), "symbol"),
        (lambda k: k.pop("signature"), "signature"),
        (lambda k: k["signature"].update(layout="columns"), "layout"),
    ],
)
def test_a_resealed_manifest_whose_entries_contradict_themselves_is_refused(
    bundle, tmp_path, edit, message
):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    manifest = json.loads((bundle / layout.MANIFEST).read_text())
    edit(manifest["kernels"][0])
    _write(copy, manifest, reseal=True)
    with pytest.raises(BundleIntegrityError, match=message):
        keir.load_bundle(copy)


@pytest.mark.parametrize("field, value", [("kernels", {}), ("files", []), ("target", "x86")])
def test_a_resealed_manifest_of_the_wrong_shape_is_refused(bundle, tmp_path, field, value):
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    manifest = json.loads((bundle / layout.MANIFEST).read_text())
    manifest[field] = value
    _write(copy, manifest, reseal=True)
    with pytest.raises(BundleIntegrityError, match=field):
        keir.load_bundle(copy)


def test_a_bundle_rebuilt_in_place_is_loaded_anew(tmp_path):
    out = tmp_path / "b"
    x, y, b = _data()
    build_bundle(_spec("Exp(-SqDist(x,y))*b"), out)
    np.testing.assert_allclose(keir.load_bundle(out)["k"](x, y, b), _gauss(x, y, b))
    build_bundle(_spec("SqDist(x,y)*b"), out)  # same path, same signature, other code
    expected = ((x[:, None] - y[None]) ** 2).sum(-1) @ b
    np.testing.assert_allclose(keir.load_bundle(out)["k"](x, y, b), expected)
    build_bundle(_spec("SqDist(x,y)*b", dim=5), out)  # and another signature
    x, y, b = _data(5)
    expected = ((x[:, None] - y[None]) ** 2).sum(-1) @ b
    np.testing.assert_allclose(keir.load_bundle(out)["k"](x, y, b), expected)


def test_a_killed_build_leaves_nothing_after_the_next_build(tmp_path, monkeypatch):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that is certainly dead
    name = leftovers.prefix("bundle").replace(f"-{os.getpid()}-", f"-{proc.pid}-")
    staging = tmp_path / f"{name}abc"
    staging.mkdir()
    (staging / "libkeir_bundle.so").write_bytes(b"half")
    os.utime(staging, (0, 0))
    mine = tmp_path / "notes.txt"
    mine.write_text("not keir's")
    build_bundle(_spec("SqDist(x,y)*b"), tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "notes.txt"]
