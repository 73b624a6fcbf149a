"""Elastic net, regularisation paths and cross-validation on CSR X: every result equals the
dense fit of the same data to 1e-10 in the coefficients (the dense fits are checked here
against the KKT conditions, computed in numpy, and in tests/test_elastic_net.py against an
independent solver), and no n x p dense array is formed on the way (tracemalloc)."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit

import ngd
from ngd.elastic_net import Penalty, fit_prepared, prepare
from ngd.optim.proximal import CurvatureCache, column_subset

TOL = 1e-12         # KKT tolerance of every fit here: converged to rounding, so that CSR and
EQUAL = 1e-10       # dense fits agree (coefficients, intercepts) however their rounding differs
KKT_TOL = 1e-8      # the dense fits against the numpy KKT check
FACTOR = np.r_[0.0, 0.0, 2.0, np.ones(22)]      # two unpenalised features, one penalised twice
CASES = [(dtype, index) for dtype in (np.float64, np.float32) for index in (np.int32, np.int64)]


def sparse_problem(family, dtype=np.float64, index=np.int32, n=600, p=25, density=0.2, seed=0):
    """(X CSR, dense X of the same values, y, fit options): a seeded sparse design (a few
    empty rows) and a response from a sparse coefficient vector; poisson-log gets an offset
    and sample weights."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng,
                  data_rvs=lambda k: 2.0 * rng.standard_normal(k)).astype(dtype)
    X.indices, X.indptr = X.indices.astype(index), X.indptr.astype(index)
    beta = np.where(rng.random(p) < 0.4, 0.5 * rng.standard_normal(p), 0.0)
    eta = X.astype(np.float64) @ beta
    if family == "logistic":
        return X, X.toarray(), (rng.random(n) < expit(eta)).astype(np.float64), \
            dict(model="logistic")
    offset = 0.3 * rng.standard_normal(n)
    y = rng.poisson(np.exp(0.5 * eta + offset - 0.5)).astype(np.float64)
    return X, X.toarray(), y, dict(model="poisson", link="log", offset=offset,
                                   sample_weight=rng.uniform(0.5, 2.0, n))


def kkt_violation(X, y, spec, coef, intercept, alpha, r, factor):
    """Inf-norm of the minimum-norm subgradient of the elastic net, in numpy (logistic:
    mean = expit(eta); poisson-log: exp(eta + offset); both have d nll / d eta = mean - y)."""
    X = np.asarray(X, dtype=np.float64)
    w = spec.get("sample_weight", np.ones(len(y)))
    eta = X @ coef + intercept
    mean = expit(eta) if spec["model"] == "logistic" else np.exp(eta + spec["offset"])
    r_i = w * (mean - y) / w.sum()
    g = X.T @ r_i + alpha * (1 - r) * factor * coef
    lam = alpha * r * factor
    v = np.where(coef != 0, g + lam * np.sign(coef), np.maximum(np.abs(g) - lam, 0.0))
    return max(float(np.max(np.abs(v))), abs(float(r_i.sum())))


def alpha_max(D, y, spec, r, factor=FACTOR):
    """alpha_max of the dense data (the fit with every penalised coefficient at 0)."""
    return ngd.fit_path(D, y, l1_ratio=r, n_alphas=1, penalty_factor=factor, **spec).alpha_max


def assert_same_fit(a, b):
    """CSR result a equals dense result b: coefficients, intercept, support."""
    np.testing.assert_allclose(a.coef, b.coef, rtol=0, atol=EQUAL)
    np.testing.assert_allclose(a.intercept, b.intercept, rtol=0, atol=EQUAL)
    np.testing.assert_array_equal(a.coef == 0, b.coef == 0)


@pytest.mark.parametrize("dtype,index", CASES)
@pytest.mark.parametrize("family", ["logistic", "poisson"])
@pytest.mark.parametrize("r", [1.0, 0.5])
def test_fit_on_csr_equals_the_dense_fit(family, r, dtype, index):
    X, D, y, spec = sparse_problem(family, dtype, index)
    assert X.indices.dtype == index and X.dtype == dtype and X.getnnz(axis=1).min() == 0
    alpha = 0.1 * alpha_max(D, y, spec, r)
    options = dict(alpha=alpha, l1_ratio=r, penalty_factor=FACTOR, tol=TOL, **spec)
    dense, sparse = ngd.fit(D, y, **options), ngd.fit(X, y, **options)
    assert dense.converged and sparse.converged, (dense.message, sparse.message)
    assert kkt_violation(D, y, spec, dense.coef, dense.intercept, alpha, r, FACTOR) <= KKT_TOL
    assert 2 < dense.n_nonzero < X.shape[1] and np.all(dense.coef[:2] != 0)
    assert_same_fit(sparse, dense)
    assert sparse.n_nonzero == dense.n_nonzero and sparse.dtype == dense.dtype
    assert sparse.loss == pytest.approx(dense.loss, rel=1e-12)
    assert sparse.deviance == pytest.approx(dense.deviance, rel=1e-10)


@pytest.mark.parametrize("dtype,index", [(np.float64, np.int32), (np.float32, np.int64)])
@pytest.mark.parametrize("family,r", [("logistic", 1.0), ("poisson", 0.7)])
def test_path_on_csr_equals_the_dense_path_at_every_alpha(family, r, dtype, index):
    X, D, y, spec = sparse_problem(family, dtype, index, seed=1)
    options = dict(l1_ratio=r, n_alphas=15, alpha_min_ratio=1e-2, penalty_factor=FACTOR,
                   tol=TOL, **spec)
    dense, sparse = ngd.fit_path(D, y, **options), ngd.fit_path(X, y, **options)
    assert dense.converged.all() and sparse.converged.all()
    assert sparse.alpha_max == pytest.approx(dense.alpha_max, rel=1e-10)
    np.testing.assert_allclose(sparse.alphas, dense.alphas, rtol=1e-10)
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=0, atol=EQUAL)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, rtol=0, atol=EQUAL)
    np.testing.assert_array_equal(sparse.n_nonzero[1:], dense.n_nonzero[1:])
    np.testing.assert_allclose(sparse.deviance, dense.deviance, rtol=1e-10)
    assert np.abs(dense.coef[0, FACTOR > 0]).max() <= EQUAL         # alpha_max: the null fit
    assert np.all(dense.coef[0, :2] != 0) and dense.n_nonzero[-1] > 10
    for k in (0, 7, 14):
        assert kkt_violation(D, y, spec, dense.coef[k], dense.intercept[k], dense.alphas[k], r,
                             FACTOR) <= KKT_TOL


@pytest.mark.parametrize("dtype,index", [(np.float64, np.int64), (np.float32, np.int32)])
@pytest.mark.parametrize("family", ["logistic", "poisson"])
def test_cross_validation_on_csr_equals_the_dense_one(family, dtype, index):
    X, D, y, spec = sparse_problem(family, dtype, index, seed=2)
    options = dict(l1_ratio=1.0, n_alphas=12, alpha_min_ratio=1e-2, cv=4, tol=TOL,
                   penalty_factor=FACTOR, **spec)
    dense, sparse = ngd.cross_validate(D, y, **options), ngd.cross_validate(X, y, **options)
    np.testing.assert_array_equal(sparse.folds, dense.folds)
    np.testing.assert_allclose(sparse.cv_scores, dense.cv_scores, rtol=1e-10, atol=0)
    assert (sparse.index_best, sparse.index_1se) == (dense.index_best, dense.index_1se)
    assert sparse.alpha == pytest.approx(dense.alpha, rel=1e-10) and 0 < dense.index_best < 11
    np.testing.assert_allclose(sparse.path.coef, dense.path.coef, rtol=0, atol=EQUAL)
    assert_same_fit(sparse.fit, dense.fit)


def test_held_out_scores_on_csr_equal_fits_on_the_training_rows_alone():
    # the folds' models keep every row of X (held-out weights 0): check one fold's path
    # against a path on the training rows of X alone (X[rows] stays CSR)
    X, D, y, spec = sparse_problem("logistic", seed=3)
    cv = ngd.cross_validate(X, y, l1_ratio=1.0, n_alphas=6, cv=3, tol=TOL)
    train = np.flatnonzero(cv.folds != 0)
    assert sp.issparse(X[train])
    path = ngd.fit_path(X[train], y[train], l1_ratio=1.0, alphas=cv.alphas, tol=TOL)
    test = cv.folds == 0
    eta = D[test] @ path.coef.T + path.intercept
    deviance = 2.0 * (np.logaddexp(0.0, eta) - y[test, None] * eta).mean(axis=0)
    np.testing.assert_allclose(cv.cv_scores[0], deviance, rtol=1e-8)


def test_column_subset_of_csr_stays_csr():
    X, D, _, _ = sparse_problem("logistic", np.float32, np.int64)
    features = np.array([0, 3, 4, 17, 24])
    sub = column_subset(X, features)
    assert sp.issparse(sub) and sub.format == "csr" and sub.dtype == np.float32
    assert sub.indices.dtype == sub.indptr.dtype
    np.testing.assert_array_equal(sub.toarray(), D[:, features])
    np.testing.assert_array_equal(column_subset(D, features), D[:, features])


def test_cold_fit_at_a_small_alpha_builds_only_working_set_curvatures():
    # a single fit screens by the KKT conditions: at alpha = alpha_max / 3 the basic strong
    # rule would keep every feature, and the curvature would be the full (p + 1)^2 matrix
    X, D, y, spec = sparse_problem("logistic", n=2000, p=200, density=0.05, seed=4)
    prepared = prepare(X, y, link=None, power=None, trials=None, sample_weight=None,
                       offset=None, fit_intercept=True, n_threads=1, **spec)
    alpha = alpha_max(D, y, spec, 1.0, None) / 3
    cache = CurvatureCache(prepared.model)
    res = fit_prepared(prepared, Penalty(alpha, 1.0), tol=TOL, cache=cache)
    assert res.converged and 10 < res.n_nonzero < 50
    assert cache.n_cells < 2000 * 201 ** 2 / 2       # all builds: under half of one full one
    dense = ngd.fit(D, y, alpha=alpha, l1_ratio=1.0, tol=TOL)
    assert_same_fit(res, dense)


def test_softmax_with_l1_on_csr_is_one_clear_error():
    X, _, y, _ = sparse_problem("logistic")
    labels = (np.arange(X.shape[0]) % 3).astype(float)
    match = "model='softmax' need dense X"
    with pytest.raises(TypeError, match=match):
        ngd.fit(X, labels, model="softmax", alpha=0.01, l1_ratio=1.0)
    with pytest.raises(TypeError, match=match):
        ngd.fit_path(X, labels, model="softmax", n_alphas=3)
    with pytest.raises(TypeError, match=match):
        ngd.cross_validate(X, labels, model="softmax", n_alphas=3)
    assert ngd.fit_path(X, y, n_alphas=3).coef.shape == (3, X.shape[1])     # logistic: fine


def traced(fn):
    """(fn(), the peak of the memory tracemalloc traced while it ran)."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_no_dense_n_by_p_temporary():
    rng = np.random.default_rng(5)
    n, p = 50_000, 1000
    X = sp.random(n, p, density=0.008, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal)
    y = (rng.random(n) < expit(X @ np.where(rng.random(p) < 0.05, 1.0, 0.0))).astype(float)
    dense_bytes = 8 * n * p                                      # 400 MB
    assert traced(X.toarray)[1] >= dense_bytes                   # tracemalloc sees numpy
    grid = dict(l1_ratio=1.0, n_alphas=6, alpha_min_ratio=0.2)
    fit, peak = traced(lambda: ngd.fit(X, y, alpha=0.001, l1_ratio=0.9))
    assert peak < dense_bytes / 10 and fit.n_nonzero > 20
    path, peak = traced(lambda: ngd.fit_path(X, y, **grid))
    assert peak < dense_bytes / 10 and path.n_nonzero[-1] > 20
    cv, peak = traced(lambda: ngd.cross_validate(X, y, cv=3, n_jobs=2, **grid))
    assert peak < dense_bytes / 10
    np.testing.assert_array_equal(cv.path.n_nonzero, path.n_nonzero)
