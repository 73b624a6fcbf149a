"""Memory-mapped .npy input and scipy.sparse NPZ input with companion target files."""
import json

import numpy as np
import pytest
import scipy.sparse
from click.testing import CliRunner

import ngd
from ngd.cli.main import cli
from ngd.io import read_data


def problem(n=300, p=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + 0.5 * X[:, 1]))).astype(float)
    return X, y


def fit_loss(path):
    result = CliRunner().invoke(cli, ["fit", str(path), "--no-compare", "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_npy_is_memory_mapped_and_fits_like_npz(tmp_path):
    X, y = problem()
    w = np.linspace(0.5, 2.0, len(y))
    np.save(tmp_path / "data.npy", X)
    np.save(tmp_path / "data.y.npy", y)
    np.save(tmp_path / "data.w.npy", w)
    np.savez(tmp_path / "dense.npz", X=X, y=y, w=w)
    data = read_data(tmp_path / "data.npy")
    assert isinstance(data.X, np.memmap) and data.X.flags.c_contiguous
    np.testing.assert_array_equal(data.sample_weight, w)
    from_npy, from_npz = fit_loss(tmp_path / "data.npy"), fit_loss(tmp_path / "dense.npz")
    assert from_npy["loss"] == pytest.approx(from_npz["loss"], rel=1e-14)
    assert from_npy["data"]["weights"] == "w"


def test_sparse_npz_with_companion_target_matches_dense(tmp_path):
    X, y = problem(seed=1)
    X[np.abs(X) < 0.8] = 0.0
    scipy.sparse.save_npz(tmp_path / "sp.npz", scipy.sparse.csr_matrix(X))
    np.save(tmp_path / "sp.y.npy", y)
    data = read_data(tmp_path / "sp.npz")
    assert scipy.sparse.issparse(data.X)
    sparse_fit = fit_loss(tmp_path / "sp.npz")
    dense = ngd.fit(X, y)
    assert sparse_fit["loss"] == pytest.approx(dense.loss, rel=1e-14)


@pytest.mark.parametrize("setup, expected", [
    (lambda d: np.save(d / "a.npy", np.ones((5, 2))), "companion file a.y.npy"),
    (lambda d: (np.save(d / "a.npy", np.ones(5)), np.save(d / "a.y.npy", np.ones(5))),
     "must be 2-D"),
    (lambda d: (np.save(d / "a.npy", np.ones((5, 2))), np.save(d / "a.y.npy", np.ones(4))),
     "must have shape (5,)"),
    (lambda d: (d / "a.npy").write_text("not numpy"), "cannot read .npy"),
    (lambda d: (scipy.sparse.save_npz(d / "a.npz", scipy.sparse.eye(5, format="csr")),),
     "companion file a.y.npy"),
])
def test_bad_npy_inputs_are_one_line_errors(tmp_path, setup, expected):
    setup(tmp_path)
    target = tmp_path / ("a.npz" if (tmp_path / "a.npz").exists() else "a.npy")
    result = CliRunner().invoke(cli, ["fit", str(target)])
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
