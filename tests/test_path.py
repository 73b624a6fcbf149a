"""ngd.fit_path: the log grid from alpha_max (exactly the smallest alpha zeroing every
penalised coefficient), warm-started solves that meet the KKT conditions at every alpha and
agree with single fits, scikit-learn's enet_path and the scipy reference, penalty factors,
and the curvature reuse (fewer Fisher builds, the same solutions)."""
import pathlib

import numpy as np
import pytest

import ngd
from enet_reference import alpha_max, dataset, kkt, reference


@pytest.fixture(scope="module")
def breast_path():
    X, y = dataset("breast_cancer")
    return X, y, ngd.fit_path(X, y, n_alphas=30, tol=1e-10)   # collinear: |error| ~ KKT / 1e-5


def test_grid_starts_at_alpha_max_which_zeroes_everything_exactly(breast_path):
    X, y, path = breast_path
    assert path.alpha_max == pytest.approx(alpha_max(X, y, "logistic"), rel=1e-12)
    np.testing.assert_allclose(path.alphas, path.alpha_max * 1e-3 ** np.linspace(0, 1, 30),
                               rtol=1e-14)
    assert np.all(path.coef[0] == 0.0) and path.n_nonzero[0] == 0
    assert path.n_nonzero[1] > 0                      # the next alpha lets one in
    assert path.intercept[0] == pytest.approx(np.log(y.mean() / (1 - y.mean())), abs=1e-9)
    assert path.deviance[0] == pytest.approx(path.null_deviance, rel=1e-12)
    assert np.all(np.diff(path.deviance) <= 1e-9)     # less penalty, better fit
    # just above alpha_max is still all zero, just below is not
    for scale, zero in ((1.0 + 1e-9, True), (1.0 - 1e-6, False)):
        res = ngd.fit(X, y, alpha=scale * path.alpha_max, l1_ratio=1.0)
        assert np.all(res.coef == 0) == zero


def test_every_alpha_meets_kkt_and_matches_single_fits_and_scipy(breast_path):
    X, y, path = breast_path
    assert path.converged.all() and np.all(path.kkt_violation <= 1e-8)
    for i, alpha in enumerate(path.alphas):
        assert kkt(X, y, "logistic", path.intercept[i], path.coef[i], alpha, 1.0) <= 1e-8
    for i in (5, 15, 29):
        single = ngd.fit(X, y, alpha=path.alphas[i], l1_ratio=1.0, tol=1e-10)
        np.testing.assert_allclose(path.coef[i], single.coef, rtol=0, atol=1e-6)
    for i in (5, 15):                   # (scipy's L-BFGS-B is slow at the smallest alphas)
        b0, beta = reference(X, y, "logistic", path.alphas[i], 1.0)
        np.testing.assert_allclose(path.coef[i], beta, rtol=0, atol=1e-6)
        assert path.intercept[i] == pytest.approx(b0, abs=1e-6)


def test_curvature_reuse_saves_fisher_builds_and_keeps_the_solutions(breast_path):
    X, y, path = breast_path
    fresh = ngd.fit_path(X, y, n_alphas=30, tol=1e-10, curvature_reuse=0.0)
    assert fresh.n_gram_reused == 0 and fresh.n_gram == int(fresh.n_iter.sum())
    assert path.n_gram < fresh.n_gram / 3
    assert np.all(fresh.kkt_violation <= 1e-8)
    np.testing.assert_allclose(path.coef, fresh.coef, rtol=0, atol=1e-6)


def test_gaussian_path_matches_scikit_learn_enet_path():
    from sklearn.linear_model import enet_path
    X, y = dataset("diabetes")
    path = ngd.fit_path(X, y, model="gaussian", l1_ratio=0.5, n_alphas=20)
    # centred data: the intercept is the mean, the coefficients those of enet_path
    alphas, coefs, _ = enet_path(X - X.mean(0), y - y.mean(), l1_ratio=0.5,
                                 alphas=path.alphas, tol=1e-14, max_iter=100000)
    np.testing.assert_allclose(alphas, path.alphas)
    np.testing.assert_allclose(path.coef, coefs.T, rtol=0, atol=1e-6)
    # scikit-learn's alpha_max for the same objective: max |X^T (y - ybar)| / (n l1_ratio)
    assert path.alpha_max == pytest.approx(
        np.max(np.abs(X.T @ (y - y.mean()))) / (len(y) * 0.5), rel=1e-12)


def test_penalty_factors_enter_alpha_max_and_keep_unpenalised_features():
    X, y = dataset("breast_cancer")
    factor = np.ones(X.shape[1])
    factor[[0, 5]] = [0.0, 3.0]
    path = ngd.fit_path(X, y, penalty_factor=factor, n_alphas=10)
    assert path.alpha_max == pytest.approx(alpha_max_with_free_feature(X, y, factor, 0),
                                           rel=1e-8)
    assert np.flatnonzero(path.coef[0]).tolist() == [0]
    assert np.all(path.coef[:, 0] != 0)
    assert np.all(path.kkt_violation <= 1e-8)


def alpha_max_with_free_feature(X, y, factor, j):
    """alpha_max when feature j is unpenalised: the gradient at the fit on [1, x_j]."""
    free = ngd.fit(X[:, [j]], y)
    p = 1.0 / (1.0 + np.exp(-(X[:, j] * free.coef[0] + free.intercept)))
    g = X.T @ (p - y) / len(y)
    keep = factor > 0
    return np.max(np.abs(g[keep]) / factor[keep])


def test_softmax_and_explicit_alphas():
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    path = ngd.fit_path(X, y, model="softmax", alphas=[0.01, 0.1, 0.001])
    np.testing.assert_array_equal(path.alphas, [0.1, 0.01, 0.001])
    assert path.coef.shape == (3, 3, 4) and path.intercept.shape == (3, 3)
    assert np.all(path.kkt_violation <= 1e-8)
    assert list(path.n_nonzero) == [np.count_nonzero(c) for c in path.coef]


def test_plot_writes_a_png(tmp_path, breast_path):
    pytest.importorskip("matplotlib")
    figure = breast_path[2].plot(path=tmp_path / "path.png")
    assert (tmp_path / "path.png").read_bytes()[:4] == b"\x89PNG"
    assert figure.axes


def test_bad_grid_arguments():
    X, y = dataset("breast_cancer")
    for kwargs, text in ((dict(n_alphas=0), "n_alphas"), (dict(alpha_min_ratio=1.5), "ratio"),
                         (dict(alphas=[]), "alphas"), (dict(l1_ratio=0.0), "ridge path"),
                         (dict(penalty_factor=np.zeros(30)), "penalty factor 0")):
        with pytest.raises(ValueError, match=text):
            ngd.fit_path(X, y, **kwargs)


def test_alpha_max_with_offset_and_weights_needs_a_fitted_null_model():
    X, y = dataset("randhie")
    rng = np.random.default_rng(0)
    offset, weights = 0.3 * rng.standard_normal(y.size), rng.uniform(0.5, 2.0, y.size)
    spec = dict(model="poisson", offset=offset, sample_weight=weights)
    path = ngd.fit_path(X, y, n_alphas=3, **spec)
    assert np.all(path.coef[0] == 0) and np.all(path.kkt_violation <= 1e-8)
    above = ngd.fit(X, y, alpha=path.alpha_max * (1 + 1e-7), l1_ratio=1.0, **spec)
    below = ngd.fit(X, y, alpha=path.alpha_max * (1 - 1e-4), l1_ratio=1.0, **spec)
    assert np.all(above.coef == 0) and np.count_nonzero(below.coef) == 1
    assert above.intercept == pytest.approx(path.intercept[0], abs=1e-8)


def test_path_on_unscaled_data_meets_kkt_at_every_alpha():
    # raw breast-cancer columns span 1e-2 .. 1e3: a reused curvature used to stall at a
    # rounding-level loss change with the KKT violation still ~1e-6
    from ngd.io import read_data
    data = read_data(str(pathlib.Path(__file__).resolve().parents[1] / "examples"
                         / "breast_cancer.csv"))
    path = ngd.fit_path(data.X, data.y, model="logistic", n_alphas=10, tol=1e-8)
    assert np.all(path.converged)
    assert np.all(path.kkt_violation <= 1e-8), path.kkt_violation
