"""`keir run`: each flag mistake is one line `keir: error: ...` naming the flag (exit status 2);
the flags work in any order; `-o` saves what the API returns for the same formula."""

from __future__ import annotations

import numpy as np
import pytest

from keir import Genred, __version__
from keir.cli import main
from keir.runtime.cache import CacheWarning

XY = ["--aliases", "x = Vi(3)", "y = Vj(3)"]


@pytest.fixture
def npy(tmp_path):
    """Writes arrays to .npy files; returns their paths."""

    def save(**arrays) -> dict[str, str]:
        paths = {}
        for name, a in arrays.items():
            paths[name] = str(tmp_path / f"{name}.npy")
            np.save(paths[name], a)
        return paths

    return save


MISTAKES = [
    (["--data", "x=nope.npy"], "--data x: cannot read 'nope.npy'"),
    (["-M", "0"], "argument -M: expected a positive integer, got '0'"),
    (["-M", "-5"], "argument -M: expected a positive integer, got '-5'"),
    (["-N", "many"], "argument -N: expected a positive integer"),
    (["--threads", "0"], "argument --threads: expected a positive integer"),
    (["--aliases", "x = Vi(3)"], "--aliases needs a formula"),
    (["SqDist(x,y)", *XY, "--data", "z=a.npy"], "--data z: no such variable"),
    (["SqDist(x,y)", *XY, "--param", "q=1"], "--param q: no such variable"),
    (["--param", "x=1"], "--param x: x is not a parameter"),
    (["--param", "s=abc"], "--param s: expected numbers"),
    (["--param", "s=1,2"], "--param s: expected 1 value, got 2"),
    (["--param", "s=1", "--param", "s=2"], "--param s: given twice"),
    (["SqDist(x,y)", *XY, "--reduction", "ArgKMin"], "--reduction ArgKMin needs -K"),
    (["-K", "3"], "-K applies to --reduction"),
    (["--axis", "0"], "--axis applies to --reduction"),
    (["--axis", "2"], "argument --axis: invalid choice"),
    (["--backend", "TPU"], "--backend: expected one of auto, CPU, GPU"),
    (["--dtype", "float16"], "argument --dtype: invalid choice"),
    (["-o", "out.txt", "-M", "10", "-N", "10"], "-o out.txt: expected a .npy or .npz"),
    (
        ["SqDist(x,y)", *XY, "--reduction", "Min_ArgMin", "-o", "pair.npy"],
        "-o pair.npy: Min_ArgMin returns (values, indices): give a .npz",
    ),
    (["A(x)", "--aliases", "x = Vi(1)", "B(x)"], "two formulas given: 'A(x)' and 'B(x)'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize("argv, message", MISTAKES, ids=[" ".join(m[0]) for m in MISTAKES])
def test_mistake_is_one_line_naming_the_flag(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["run", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keir: error: "), captured.err
    assert message in lines[0]


def test_bad_npy_file_is_refused(tmp_path, capsys):
    (tmp_path / "bad.npy").write_text("not numpy")
    assert main(["run", "--data", f"x={tmp_path / 'bad.npy'}"]) == 2
    assert capsys.readouterr().err.startswith("keir: error: --data x:")


def test_unusable_cache_directory_is_one_warning(tmp_path, monkeypatch, capsys):
    """An unusable cache is not an error (issue 21): one warning, then a private temporary
    cache, and the run goes on."""
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("KEIR_CACHE_DIR", str(tmp_path / "file" / "cache"))
    with pytest.warns(CacheWarning, match="KEIR_CACHE_DIR") as caught:
        assert main(["run", "-M", "10", "-N", "10"]) == 0
    assert len(caught) == 1


def _saved(tmp_path, argv, name="out.npy"):
    out = tmp_path / name
    assert main(["run", *argv, "-o", str(out)]) == 0
    return np.load(out)


def test_formula_after_flags_and_several_data_per_flag(tmp_path, npy, rng):
    x, y = rng.random((40, 3)), rng.random((50, 3))
    p = npy(x=x, y=y)
    before = _saved(tmp_path, ["Min_Reduction(SqDist(x,y),0)", *XY, "--data", f"x={p['x']}"])
    assert before.shape == (40, 1)  # the rows of x from its file, y generated
    after = _saved(
        tmp_path, [*XY, "Min_Reduction(SqDist(x,y),0)", "--data", f"x={p['x']}", f"y={p['y']}"]
    )
    repeated = _saved(
        tmp_path,
        ["--data", f"x={p['x']}", "--data", f"y={p['y']}", *XY, "Min_Reduction(SqDist(x,y),0)"],
    )
    expected = ((x[:, None] - y[None]) ** 2).sum(-1).min(1, keepdims=True)
    np.testing.assert_allclose(after, expected, rtol=1e-12)
    np.testing.assert_array_equal(after, repeated)


def test_dtype_follows_the_data(tmp_path, npy, rng, capsys):
    x, y = rng.random((30, 3)), rng.random((20, 3))
    p = npy(x=x, y=y)
    argv = ["Sum_Reduction(SqDist(x,y),0)", *XY, "--data", f"x={p['x']}", f"y={p['y']}"]
    out = _saved(tmp_path, argv)
    assert out.dtype == np.float64 and "dtype = float64" in capsys.readouterr().out
    np.testing.assert_allclose(out[:, 0], ((x[:, None] - y[None]) ** 2).sum((1, 2)), rtol=1e-12)
    assert _saved(tmp_path, [*argv, "--dtype", "float32"]).dtype == np.float32


def test_param_value(tmp_path, npy, rng):
    x, y, b = rng.random((30, 3)), rng.random((20, 3)), rng.random((20, 1))
    p = npy(x=x, y=y, b=b)
    data = ["--data", f"x={p['x']}", f"y={p['y']}", f"b={p['b']}"]
    out = _saved(tmp_path, [*data, "--param", "s=0.5", "--threads", "1", "--backend", "CPU"])
    K = np.exp(-0.5 * ((x[:, None] - y[None]) ** 2).sum(-1))
    np.testing.assert_allclose(out, K @ b, rtol=1e-12)


def test_argkmin_saves_what_genred_returns(tmp_path, npy, rng):
    x, y = rng.random((30, 3)), rng.random((40, 3))
    p = npy(x=x, y=y)
    argv = ["SqDist(x,y)", *XY, "--reduction", "ArgKMin", "-K", "4", "--data", *p_items(p)]
    out = _saved(tmp_path, argv)
    api = Genred("SqDist(x,y)", XY[1:], reduction_op="ArgKMin", axis=1, opt_arg=4)(x, y)
    assert out.dtype == api.dtype == np.int64
    np.testing.assert_array_equal(out, api)


def test_min_argmin_saves_the_pair(tmp_path, npy, rng):
    x, y = rng.random((30, 3)), rng.random((40, 3))
    p = npy(x=x, y=y)
    argv = ["SqDist(x,y)", *XY, "--reduction", "Min_ArgMin", "--axis", "0", "--data", *p_items(p)]
    saved = _saved(tmp_path, argv, "pair.npz")
    values, indices = Genred("SqDist(x,y)", XY[1:], reduction_op="Min_ArgMin", axis=0)(x, y)
    assert sorted(saved.files) == ["indices", "values"]
    np.testing.assert_array_equal(saved["values"], values)
    assert saved["indices"].dtype == np.int64
    np.testing.assert_array_equal(saved["indices"], indices)


def p_items(paths: dict) -> list[str]:
    return [f"{name}={path}" for name, path in paths.items()]


def test_version_and_top_level_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"keir {__version__}"
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("run", "compile", "opt", "bundle", "formulas"):
        assert f"\n    {command} " in text
    assert text.splitlines()[2].startswith("keir: run, compile, opt, bundle and formulas")
