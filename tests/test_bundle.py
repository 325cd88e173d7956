"""`keir bundle` and `keir.load_bundle`: ahead-of-time kernels that run with numpy alone.

One bundle is built per session (three kernels, CPU and, with a CUDA toolkit, PTX); the tests
load it in this process, in a subprocess where importing MLIR or Lark fails, and after
tampering with copies of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import keir
from keir import Genred
from keir.bundle import parse_spec, read_spec
from keir.cli import main
from keir.errors import BundleError, BundleIntegrityError, BundleTargetError
from keir.runtime import bundle as layout
from keir.runtime.cuda_toolkit import toolkit

KERNELS = [
    {
        "name": "gauss",
        "formula": "Exp(-SqDist(x,y))*b",
        "aliases": ["x=Vi(3)", "y=Vj(3)", "b=Vj(1)"],
        "reduction": "Sum",
        "axis": 1,
        "dtype": "float32",
    },
    {
        "name": "nearest",
        "formula": "SqDist(x,y)",
        "aliases": ["x=Vi(2)", "y=Vj(2)"],
        "reduction": "ArgMin",
        "axis": 0,
        "dtype": "float64",
    },
    {
        "name": "kmin",
        "formula": "KMin_Reduction(SqDist(x,y), 3, 0)",
        "aliases": ["x=Vi(2)", "y=Vj(2)"],
    },
]
PTX = toolkit() is not None


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    spec = tmp_path_factory.mktemp("spec") / "kernels.json"
    spec.write_text(json.dumps({"kernels": KERNELS, "targets": ["cpu", "ptx"] if PTX else ["cpu"]}))
    out = tmp_path_factory.mktemp("bundles") / "demo"
    assert main(["bundle", str(spec), "-o", str(out)]) == 0
    return out


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.random((40, 3), dtype=np.float32), rng.random((55, 3), dtype=np.float32)
    b = rng.random((55, 1), dtype=np.float32)
    p, q = rng.random((33, 2)), rng.random((21, 2))
    return x, y, b, p, q


def _numpy_results(x, y, b, p, q) -> dict:
    d = ((p[:, None] - q[None]) ** 2).sum(-1)
    return {
        "gauss": np.exp(-((x[:, None] - y[None]) ** 2).sum(-1)) @ b,
        "nearest": d.argmin(0)[:, None],
        "kmin": np.sort(d, axis=1)[:, :3].astype(np.float32),
    }


# ------------------------------------------------------------------ what the bundle holds
def test_bundle_holds_one_library_ptx_and_a_manifest(bundle_dir):
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    assert manifest["format"] == "keir-bundle" and manifest["abi"] == layout.ABI_VERSION
    assert manifest["keir_version"] == keir.__version__
    assert manifest["target"]["machine"] and manifest["target"]["cpu"]
    assert [k["name"] for k in manifest["kernels"]] == ["gauss", "nearest", "kmin"]
    names = {p.name for p in bundle_dir.iterdir()}
    ptx = (
        {f"{k['name']}.{chip}.ptx" for k in KERNELS for chip in ("sm_80", "sm_90")}
        if PTX
        else set()
    )
    assert names == {"manifest.json", "libkeir_bundle.so", "libiomp5.so", *ptx}
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert layout.sha256(bundle_dir / name) == digest


def test_manifest_describes_arguments_outputs_and_dtypes(bundle_dir):
    kernels = {
        k["name"]: k for k in json.loads((bundle_dir / "manifest.json").read_text())["kernels"]
    }
    gauss, nearest, kmin = kernels["gauss"], kernels["nearest"], kernels["kmin"]
    assert gauss["args"] == [
        {"name": "x", "cat": "i", "dim": 3},
        {"name": "y", "cat": "j", "dim": 3},
        {"name": "b", "cat": "j", "dim": 1},
    ]
    assert gauss["symbol"] == "keir_gauss" and gauss["dtype"] == "float32"
    assert gauss["output"]["returns"] == [{"shape": ["M", 1], "dtype": "float32"}]
    assert nearest["output"]["rows"] == "N" and nearest["output"]["reduces_over"] == "i"
    assert nearest["output"]["returns"] == [{"shape": ["N", 1], "dtype": "int64"}]
    assert kmin["output"]["returns"] == [{"shape": ["M", 3], "dtype": "float32"}]


@pytest.mark.skipif(not PTX, reason="no CUDA toolkit (libdevice) for the GPU lowering")
def test_ptx_files_target_their_chip_and_say_how_to_launch(bundle_dir):
    entry = json.loads((bundle_dir / "manifest.json").read_text())["kernels"][0]["ptx"]
    assert entry["block"] >= 1 and entry["kernel"] and entry["params"]
    for chip, name in entry["files"].items():
        assert f".target {chip}" in (bundle_dir / name).read_text()


# ------------------------------------------------------------------ running it
def test_loaded_kernels_match_numpy_and_genred(bundle_dir):
    kernels = keir.load_bundle(bundle_dir)
    assert list(kernels) == ["gauss", "nearest", "kmin"] and len(kernels) == 3
    x, y, b, p, q = _data()
    expected = _numpy_results(x, y, b, p, q)
    np.testing.assert_allclose(kernels["gauss"](x, y, b), expected["gauss"], rtol=1e-5)
    np.testing.assert_array_equal(kernels["nearest"](p, q), expected["nearest"])
    np.testing.assert_allclose(kernels["kmin"](p.astype(np.float32), q), expected["kmin"], 1e-5)
    same = Genred(KERNELS[0]["formula"], KERNELS[0]["aliases"], "Sum", axis=1, dtype="float32")
    np.testing.assert_array_equal(kernels["gauss"](x, y, b), same(x, y, b))
    with pytest.raises(keir.ArgumentError, match="b: expected inner dimension 1"):
        kernels["gauss"](x, y, y)


BLOCKED = textwrap.dedent(
    """
    import json, sys
    import numpy as np

    class Blocked:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("mlir", "lark") or name.startswith(
                ("keir.frontend", "keir.passes", "keir.compiler", "keir.api", "keir.bundle")
            ):
                raise ImportError(f"{name} is blocked in this process")

    sys.meta_path.insert(0, Blocked())
    try:
        import mlir
    except ImportError:
        pass
    else:
        raise SystemExit("the import blocker does not work")

    import keir
    kernels = keir.load_bundle(sys.argv[1])
    data = np.load(sys.argv[2])
    x, y, b, p, q = (data[k] for k in "xybpq")
    np.savez(sys.argv[3], gauss=kernels["gauss"](x, y, b), nearest=kernels["nearest"](p, q),
             kmin=kernels["kmin"](p, q))
    print(json.dumps(sorted(sys.modules)))
    """
)


def test_bundle_kernels_take_threads_and_progress(bundle_dir):
    gauss = keir.load_bundle(bundle_dir)["gauss"]
    x, y, b, *_ = _data(2)
    seen = []
    out = gauss(x, y, b, threads=1, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (len(x), len(x))
    np.testing.assert_array_equal(out, gauss(x, y, b))


def test_bundle_runs_where_mlir_and_lark_cannot_be_imported(bundle_dir, tmp_path):
    x, y, b, p, q = _data(1)
    np.savez(tmp_path / "in.npz", x=x, y=y, b=b, p=p, q=q)
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKED,
            str(bundle_dir),
            str(tmp_path / "in.npz"),
            str(tmp_path / "out.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout)
    assert not [m for m in modules if m.split(".")[0] in ("mlir", "lark")]
    assert "keir.runtime.bundle" in modules and "keir.frontend" not in modules
    out, expected = np.load(tmp_path / "out.npz"), _numpy_results(x, y, b, p, q)
    np.testing.assert_allclose(out["gauss"], expected["gauss"], rtol=1e-5)
    np.testing.assert_array_equal(out["nearest"], expected["nearest"])
    np.testing.assert_allclose(out["kmin"], expected["kmin"], rtol=1e-5)


# ------------------------------------------------------------------ refusing bad bundles
def _copy(bundle_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(bundle_dir, copy)
    return copy


def _edit_manifest(folder, edit, reseal: bool = True) -> None:
    """Edits the manifest; `reseal` recomputes its sha256, as a consistent rewrite would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    if reseal:
        manifest["manifest_sha256"] = layout.seal(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_modified_library_is_refused_before_loading(bundle_dir, tmp_path):
    copy = _copy(bundle_dir, tmp_path)
    data = bytearray((copy / "libkeir_bundle.so").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "libkeir_bundle.so").write_bytes(bytes(data))
    with pytest.raises(BundleIntegrityError, match="libkeir_bundle.so: sha256 .* differs"):
        keir.load_bundle(copy)


def test_a_missing_or_unlisted_file_is_refused(bundle_dir, tmp_path):
    copy = _copy(bundle_dir, tmp_path)
    (copy / "libiomp5.so").unlink()
    with pytest.raises(BundleIntegrityError, match="'libiomp5.so' of the manifest is missing"):
        keir.load_bundle(copy)
    copy = _copy(bundle_dir, tmp_path / "again")
    _edit_manifest(copy, lambda m: m["files"].pop("libkeir_bundle.so"))
    with pytest.raises(BundleIntegrityError, match="libkeir_bundle.so has no sha256"):
        keir.load_bundle(copy)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m.update(abi=0), "uses keir ABI 0, this keir loads ABI"),
        (lambda m: m["target"].update(machine="aarch64"), "built for Linux/aarch64"),
        (lambda m: m["target"].update(system="Darwin"), "built for Darwin/"),
        (
            lambda m: m["target"]["cpu_flags"].append("avx10_2"),
            "uses avx10_2, which this CPU lacks",
        ),
    ],
)
def test_another_abi_machine_or_cpu_is_refused(bundle_dir, tmp_path, edit, message):
    copy = _copy(bundle_dir, tmp_path)
    _edit_manifest(copy, edit)
    with pytest.raises(BundleTargetError, match=message):
        keir.load_bundle(copy)


def test_a_directory_that_is_not_a_bundle_is_refused(tmp_path):
    with pytest.raises(BundleError, match="has no manifest.json"):
        keir.load_bundle(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="not a readable JSON manifest"):
        keir.load_bundle(tmp_path)


# ------------------------------------------------------------------ specs
@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kernels": []}, "at least one kernel"),
        ({"kernels": [{**KERNELS[0], "reducton": "Sum"}]}, "unknown field 'reducton'"),
        ({"kernels": [{**KERNELS[0], "name": "9lives"}]}, "name must be an identifier"),
        ({"kernels": [KERNELS[0], KERNELS[0]]}, "names must be unique"),
        ({"kernels": [KERNELS[0]], "targets": ["ptx"]}, "targets must include cpu"),
        ({"kernels": [{**KERNELS[0], "axis": 2}]}, "axis must be 0 or 1"),
        ({"kernels": [{**KERNELS[2], "opt_arg": "3"}]}, "opt_arg must be a int, got '3'"),
        ({"kernels": [{**KERNELS[0], "aliases": "x=Vi(3)"}]}, "aliases must be a list"),
        ({"kernels": [{"name": "k", "formula": "x"}]}, "'aliases' is required"),
        ({"kernels": [KERNELS[0]], "cpu": "pentium"}, "cpu must be host or one of"),
    ],
)
def test_bad_specs_are_clear_errors(spec, message):
    with pytest.raises(BundleError, match=message):
        parse_spec(spec)


def test_formula_errors_name_the_kernel(tmp_path):
    spec = {"kernels": [{**KERNELS[0], "formula": "Exp(-SqDist(x,z))"}]}
    with pytest.raises(BundleError, match="kernel gauss: unknown variable 'z'"):
        keir.bundle.build_bundle(parse_spec(spec), tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_toml_specs_are_read(tmp_path):
    path = tmp_path / "kernels.toml"
    path.write_text(
        'targets = ["cpu"]\ncpu = "x86-64-v3"\n[[kernels]]\nname = "sq"\n'
        'formula = "Sum_Reduction(SqDist(x,y), 0)"\naliases = ["x=Vi(2)", "y=Vj(2)"]\n'
    )
    spec = read_spec(path)
    assert spec.cpu == "x86-64-v3" and spec.kernels[0].name == "sq" and spec.kernels[0].axis == 1


def test_building_over_a_bundle_replaces_it_and_spares_other_directories(tmp_path, capsys):
    spec = tmp_path / "one.json"
    spec.write_text(json.dumps({"kernels": [KERNELS[1]], "cpu": "x86-64-v2"}))
    out = tmp_path / "b"
    out.mkdir()
    (out / "stale.ptx").write_text("old")
    (out / "manifest.json").write_text(json.dumps({"format": "keir-bundle"}))
    assert main(["bundle", str(spec), "-o", str(out)]) == 0
    assert not (out / "stale.ptx").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"]["cpu"] == "x86-64-v2" and "sse4_2" in manifest["target"]["cpu_flags"]
    p, q = _data()[3:]
    np.testing.assert_array_equal(
        keir.load_bundle(out)["nearest"](p, q), _numpy_results(*_data())["nearest"]
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["bundle", str(spec), "-o", str(other)]) == 2
    assert "is not a keir bundle: not touched" in capsys.readouterr().err
    assert (other / "notes.txt").read_text() == "mine"


def test_openmp_null_uses_the_runtime_the_process_already_has(bundle_dir, tmp_path):
    from keir.runtime.toolchain import openmp_libdir

    copy = _copy(bundle_dir, tmp_path)
    (copy / "libiomp5.so").unlink()
    _edit_manifest(copy, lambda m: (m["files"].pop("libiomp5.so"), m.update(openmp=None)))
    layout._load_openmp(openmp_libdir() / "libiomp5.so")  # as keir's own kernels do
    x, y, b, p, q = _data()
    out = keir.load_bundle(copy)["gauss"](x, y, b)
    np.testing.assert_allclose(out, _numpy_results(x, y, b, p, q)["gauss"], rtol=1e-5)
