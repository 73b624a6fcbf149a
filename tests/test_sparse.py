"""CSR input: the sparse kernels against dense references, ``ngd.fit`` on CSR against the dense
fit on the same data, and clear errors for malformed CSR."""
import numpy as np
import pytest
import scipy.sparse as sp

import ngd
from ngd import kernels
from ngd.exceptions import DataError


def random_csr(n, p, density, dtype=np.float64, index=np.int32, seed=0, empty_rows=True):
    """A seeded CSR with distinct columns per row, normal values and (optionally) a few empty
    rows."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal).astype(dtype)
    if empty_rows:
        X = X.tolil()
        X[::7] = 0
        X = X.tocsr()
        X.eliminate_zeros()
    X.indices = X.indices.astype(index)
    X.indptr = X.indptr.astype(index)
    return X


def augmented(X, intercept):
    A = X.toarray().astype(np.float64)
    return np.hstack([A, np.ones((A.shape[0], 1))]) if intercept else A


KERNEL_CASES = [(dtype, index, intercept) for dtype in (np.float32, np.float64)
                for index in (np.int32, np.int64) for intercept in (False, True)]


@pytest.mark.parametrize("dtype,index,intercept", KERNEL_CASES)
def test_kernels_match_dense_references(dtype, index, intercept):
    X = random_csr(3000, 37, 0.1, dtype, index)
    assert X.indices.dtype == index and X.getnnz(axis=1).min() == 0
    rng = np.random.default_rng(1)
    A = augmented(X, intercept)
    v = rng.random(X.shape[0])
    u = rng.standard_normal(A.shape[1])
    rtol = 1e-12
    np.testing.assert_allclose(kernels.sparse_weighted_gram(X, v, intercept=intercept),
                               A.T @ (v[:, None] * A), rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(kernels.sparse_fisher_vector(X, v, u, intercept=intercept),
                               A.T @ (v * (A @ u)), rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(kernels.sparse_fisher_diagonal(X, v, intercept=intercept),
                               (v[:, None] * A ** 2).sum(axis=0), rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(kernels.sparse_rmatvec(X, v, intercept=intercept), A.T @ v,
                               rtol=rtol, atol=1e-10)
    p = X.shape[1]
    np.testing.assert_allclose(kernels.sparse_matvec(X, u[:p]), A[:, :p] @ u[:p], rtol=rtol,
                               atol=1e-10)


@pytest.mark.parametrize("name", ["gram", "vector", "diagonal", "rmatvec", "matvec"])
def test_kernels_bit_identical_across_threads(name):
    X = random_csr(40000, 100, 0.05, seed=3)     # enough work for two threads (200k nnz)
    rng = np.random.default_rng(2)
    v, u = rng.random(X.shape[0]), rng.standard_normal(101)
    call = {"gram": lambda t: kernels.sparse_weighted_gram(X, v, intercept=True, n_threads=t),
            "vector": lambda t: kernels.sparse_fisher_vector(X, v, u, intercept=True,
                                                             n_threads=t),
            "diagonal": lambda t: kernels.sparse_fisher_diagonal(X, v, n_threads=t),
            "rmatvec": lambda t: kernels.sparse_rmatvec(X, v, n_threads=t),
            "matvec": lambda t: kernels.sparse_matvec(X, u[:100], n_threads=t)}[name]
    assert np.array_equal(call(1), call(2))


def test_gram_sums_duplicate_entries_and_accepts_other_formats():
    rows, cols = np.array([0, 0, 1, 2, 2]), np.array([1, 1, 0, 2, 0])
    vals = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    coo = sp.coo_matrix((vals, (rows, cols)), shape=(3, 3))
    X = sp.csr_matrix((vals, cols, np.array([0, 2, 3, 5])), shape=(3, 3))   # repeated column
    A = coo.toarray()
    v = np.array([1.0, 2.0, 3.0])
    for given in (X, coo, coo.tocsc(), sp.csr_array(X)):
        np.testing.assert_allclose(kernels.sparse_weighted_gram(given, v), A.T @ (v[:, None] * A))


def test_kernels_on_all_empty_rows():
    X = sp.csr_matrix((4, 3))
    v = np.ones(4)
    np.testing.assert_array_equal(kernels.sparse_weighted_gram(X, v, intercept=True),
                                  np.diag([0.0, 0.0, 0.0, 4.0]))
    np.testing.assert_array_equal(kernels.sparse_matvec(X, np.ones(3)), np.zeros(4))


def _broken(indices=None, indptr=None, data=None, shape=(3, 4)):
    X = sp.csr_matrix(np.arange(12.0).reshape(3, 4))
    X.indices = X.indices if indices is None else np.asarray(indices, dtype=np.int32)
    X.indptr = X.indptr if indptr is None else np.asarray(indptr, dtype=np.int32)
    X.data = X.data if data is None else data
    X._shape = shape
    return X


@pytest.mark.parametrize("X,match", [
    (_broken(indices=[0, 1, 2, 3, 0, 1, 2, 9, 0, 1, 2]), r"X\.indices must lie in \[0, 4\)"),
    (_broken(indices=[0, 1, 2, 3, 0, -1, 2, 3, 0, 1, 2]), r"X\.indices must lie"),
    (_broken(indptr=[0, 3, 2, 11]), r"X\.indptr must start at 0 and never decrease"),
    (_broken(indptr=[0, 3, 7]), r"X\.indptr must have n_rows \+ 1 = 4"),
    (_broken(indptr=[0, 3, 7, 40]), r"X\.indptr ends at 40"),
    (_broken(data=np.array([1.0, np.nan] + [1.0] * 9)), r"non-finite value \(nan\) at row 0, "
                                                        r"column 2"),
])
def test_bad_csr_gives_clear_errors(X, match):
    v = np.ones(3)
    with pytest.raises(DataError, match=match):
        kernels.sparse_weighted_gram(X, v)
    with pytest.raises(DataError, match=match):
        ngd.fit(X, np.array([0.0, 1.0, 1.0]))


def test_bad_dtypes_and_models():
    X = sp.csr_matrix(np.eye(3, dtype=np.complex128))
    with pytest.raises(TypeError, match="X must be real and numeric"):
        kernels.sparse_fisher_diagonal(X, np.ones(3))
    with pytest.raises(TypeError, match="X must be a scipy.sparse matrix"):
        kernels.sparse_fisher_diagonal(np.eye(3), np.ones(3))
    X = random_csr(30, 4, 0.5)
    with pytest.raises(DataError, match="v must have shape"):
        kernels.sparse_weighted_gram(X, np.ones(29))
    with pytest.raises(DataError, match="u must have shape"):
        kernels.sparse_fisher_vector(X, np.ones(30), np.ones(4), intercept=True)


# ---------------------------------------------------------------- fits: CSR = dense --

def _problem(seed=0, n=1500, p=30):
    X = random_csr(n, p, 0.15, seed=seed)
    rng = np.random.default_rng(seed)
    eta = X @ (0.5 * rng.standard_normal(p))
    return X, eta, rng


def _assert_same_fit(X, y, **options):
    sparse = ngd.fit(X, y, tol=1e-12, **options)
    dense = ngd.fit(X.toarray(), y, tol=1e-12, **options)
    assert sparse.converged and dense.converged
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.loss, dense.loss, rtol=1e-12)
    np.testing.assert_allclose(sparse.stderr, dense.stderr, rtol=1e-8)
    np.testing.assert_allclose(sparse.deviance, dense.deviance, rtol=1e-10)
    np.testing.assert_allclose(sparse.null_deviance, dense.null_deviance, rtol=1e-10)
    np.testing.assert_allclose(sparse.llf, dense.llf, rtol=1e-10)
    return sparse


SOLVES = [("ngd", "cholesky"), ("ngd", "cg"), ("newton", "cholesky"), ("newton", "cg")]


@pytest.mark.parametrize("method,solver", SOLVES + [("ngd", "woodbury")])
def test_logistic_weights_offset_l2(method, solver):
    X, eta, rng = _problem(1)
    y = (rng.random(X.shape[0]) < 1 / (1 + np.exp(-eta))).astype(float)
    _assert_same_fit(X, y, method=method, solver=solver, l2=1e-3,
                     sample_weight=rng.random(X.shape[0]) + 0.5,
                     offset=0.2 * rng.standard_normal(X.shape[0]))


GLMS = {
    "poisson-log-offset": lambda eta, rng, off: dict(
        model="poisson", y=rng.poisson(np.exp(0.3 * eta + off)), offset=off),
    "gamma-log": lambda eta, rng, off: dict(
        model="gamma", link="log", y=rng.gamma(2.0, np.exp(0.2 * eta) / 2.0)),
    "binomial-probit": lambda eta, rng, off: dict(
        model="binomial", link="probit", y=(rng.random(eta.size) < 0.5 + 0.3 * np.tanh(eta))
        .astype(float)),
    "gaussian": lambda eta, rng, off: dict(model="gaussian", y=eta + rng.standard_normal(
        eta.size)),
}


@pytest.mark.parametrize("glm", sorted(GLMS))
@pytest.mark.parametrize("method,solver", SOLVES)
def test_glm_families(glm, method, solver):
    X, eta, rng = _problem(2)
    spec = GLMS[glm](eta, rng, 0.1 * rng.standard_normal(X.shape[0]))
    y = spec.pop("y")
    _assert_same_fit(X, y, method=method, solver=solver, **spec)


def test_float32_csr_matches_float32_dense_glm():
    X, eta, rng = _problem(3)
    X = X.astype(np.float32)
    y = rng.poisson(np.exp(0.3 * eta))
    result = _assert_same_fit(X, y, model="poisson")
    assert result.dtype == "float32"


def test_subsampled_curvature_and_no_intercept():
    X, eta, rng = _problem(4, n=30000, p=20)
    y = (rng.random(X.shape[0]) < 1 / (1 + np.exp(-eta))).astype(float)
    _assert_same_fit(X, y, subsample=5000, fit_intercept=False)


def test_glm_start_by_sparse_least_squares():
    X, eta, rng = _problem(5, n=400, p=5)
    y = rng.gamma(2.0, 1.0, X.shape[0])
    # inverse link without an intercept: coef = 0 is outside the domain, LSQR gives the start
    X = sp.hstack([X, sp.csr_matrix(np.ones((X.shape[0], 1)))], format="csr")
    result = _assert_same_fit(X, y, model="gamma", link="inverse", fit_intercept=False)
    assert np.all(X @ result.coef > 0)


def test_separated_sparse_data_is_reported():
    X = sp.csr_matrix(np.array([[1.0, 0.0], [2.0, 0.0], [0.0, -1.0], [0.0, -2.0]]))
    y = np.array([1.0, 1.0, 0.0, 0.0])
    sparse = ngd.fit(X, y, fit_intercept=False, max_iter=60)
    dense = ngd.fit(X.toarray(), y, fit_intercept=False, max_iter=60)
    assert sparse.status == dense.status == 6
    assert sparse.message == dense.message
