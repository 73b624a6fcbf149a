"""Softmax regression on CSR X: the multi-output sparse kernels against dense references, the
model's evaluation and curvatures on CSR against the same model on the densified X (the dense
path is tested on its own in test_softmax.py), ``ngd.fit`` on CSR against the dense fit, and
results that do not depend on the thread count."""
import numpy as np
import pytest
import scipy.sparse as sp

import ngd
from ngd import _sparse
from ngd.models import RowSample
from ngd.models.softmax import SoftmaxModel


def random_csr(n, p, density, dtype=np.float64, index=np.int32, seed=0):
    """A seeded canonical CSR with normal values, every 7th row empty, indices of type index."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=density, format="csr", random_state=rng,
                  data_rvs=rng.standard_normal).astype(dtype).tolil()
    X[::7] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    X.indices = X.indices.astype(index)
    X.indptr = X.indptr.astype(index)
    return X


def class_codes(X, K, seed):
    """Codes drawn from a softmax model on X (every class present)."""
    rng = np.random.default_rng(seed)
    eta = X @ rng.normal(scale=0.8, size=(X.shape[1], K)) + rng.normal(scale=0.3, size=K)
    P = np.exp(eta - eta.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = np.minimum((rng.random(X.shape[0])[:, None] > np.cumsum(P, axis=1)).sum(axis=1), K - 1)
    y[:K] = np.arange(K)
    return y


def augmented(X, intercept):
    A = X.toarray().astype(np.float64)
    return np.column_stack([A, np.ones(A.shape[0])]) if intercept else A


def assert_close(actual, desired, rtol=1e-12):
    """Equal to rtol relative to the largest entry of desired."""
    scale = max(float(np.max(np.abs(desired))), 1e-300)
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=rtol * scale)


# --------------------------------------------------------------------------- kernels --

KERNEL_CASES = [(dtype, index, intercept) for dtype in (np.float32, np.float64)
                for index in (np.int32, np.int64) for intercept in (False, True)]


@pytest.mark.parametrize("dtype,index,intercept", KERNEL_CASES)
def test_multi_output_kernels_match_dense_references(dtype, index, intercept):
    X = random_csr(800, 11, 0.3, dtype, index)      # canonical: the kernels take it as is
    assert X.indices.dtype == index and X.getnnz(axis=1).min() == 0
    rng = np.random.default_rng(1)
    K = 4
    A = augmented(X, intercept)
    B, shift = rng.standard_normal((11, K)), rng.standard_normal(K)
    R = rng.standard_normal((800, K))
    np.testing.assert_allclose(_sparse.matmat(X, B, shift), A[:, :11] @ B + shift, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(_sparse.matmat(X, B), A[:, :11] @ B, rtol=1e-12, atol=1e-12)
    assert_close(_sparse.rmatvec(X, R, intercept), A.T @ R)
    assert_close(_sparse.fisher_diagonal(X, R, intercept), (A * A).T @ R)
    V = rng.standard_normal((800, K, K))
    V = V + V.transpose(0, 2, 1)
    k, l = np.triu_indices(K)
    gram = _sparse.multi_output_gram(X, V[:, k, l], intercept)
    assert_close(gram, np.einsum("ikl,ij,im->kjlm", V, A, A).reshape(gram.shape))


def test_multi_output_gram_in_several_passes():
    # p = 1500: one class pair per pass over X (the accumulators of all 10 would not fit the
    # per-pass budget), each scattered into its blocks and their mirrors
    X = _sparse.as_csr(random_csr(300, 1500, 0.01, seed=4))
    rng = np.random.default_rng(4)
    K = 4
    V = rng.standard_normal((300, K * (K + 1) // 2))
    gram = _sparse.multi_output_gram(X, V, True)
    A = augmented(X, True)
    full = np.zeros((300, K, K))
    k, l = np.triu_indices(K)
    full[:, k, l] = V
    full[:, l, k] = V
    assert_close(gram, np.einsum("ikl,ij,im->kjlm", full, A, A).reshape(gram.shape))


def test_multi_output_gram_rejects_unpacked_weights():
    X = _sparse.as_csr(random_csr(20, 3, 0.5))
    with pytest.raises(ValueError, match=r"V must have K\(K\+1\)/2 columns"):
        _sparse.multi_output_gram(X, np.ones((20, 4)))


@pytest.mark.parametrize("name", ["matmat", "rmatmat", "diagonal", "gram"])
def test_multi_output_kernels_bit_identical_across_threads(name):
    X = _sparse.as_csr(random_csr(40000, 30, 0.2, seed=3))     # ~200k nnz: two threads' work
    rng = np.random.default_rng(2)
    K = 3
    R = rng.random((X.shape[0], K))
    V = rng.random((X.shape[0], K * (K + 1) // 2))
    B = rng.standard_normal((30, K))
    call = {"matmat": lambda t: _sparse.matmat(X, B, B[0], n_threads=t),
            "rmatmat": lambda t: _sparse.rmatvec(X, R, True, n_threads=t),
            "diagonal": lambda t: _sparse.fisher_diagonal(X, R, True, n_threads=t),
            "gram": lambda t: _sparse.multi_output_gram(X, V, True, n_threads=t)}[name]
    assert np.array_equal(call(1), call(2))


# ----------------------------------------------------------- model: CSR == dense X --

MODEL_CASES = [dict(weighted=True, fit_intercept=True, l2=0.3),
               dict(weighted=False, fit_intercept=True, l2=0.0),
               dict(weighted=True, fit_intercept=False, l2=0.0),
               dict(weighted=False, fit_intercept=False, l2=0.1)]


def case_id(case):
    return "-".join(f"{k}={v}" for k, v in case.items())


def model_pair(case, n=600, p=9, K=4, seed=0, n_threads=1):
    """(model on CSR X, the same model on X.toarray(), theta)."""
    X = _sparse.as_csr(random_csr(n, p, 0.35, seed=seed))
    y = class_codes(X, K, seed)
    rng = np.random.default_rng(seed + 1)
    w = rng.uniform(0.2, 3.0, n) if case["weighted"] else None
    options = dict(n_classes=K, sample_weight=w, fit_intercept=case["fit_intercept"],
                   l2=case["l2"], n_threads=n_threads)
    sparse = SoftmaxModel(X, y, **options)
    dense = SoftmaxModel(X.toarray(), y, **options)
    return sparse, dense, rng.normal(scale=0.6, size=sparse.n_params)


@pytest.mark.parametrize("case", MODEL_CASES, ids=case_id)
def test_evaluation_and_predictions(case):
    sparse, dense, theta = model_pair(case)
    a, b = sparse.evaluate(theta), dense.evaluate(theta)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-13)
    assert_close(a.grad, b.grad)
    assert_close(sparse.predict_proba(theta), dense.predict_proba(theta))
    assert_close(sparse.scores(theta), dense.scores(theta))
    rows = np.arange(5, 305, 3)
    assert_close(sparse.evaluate_rows(theta, rows).grad, dense.evaluate_rows(theta, rows).grad)
    np.testing.assert_allclose(sparse.mean_kl(theta, 0.9 * theta),
                               dense.mean_kl(theta, 0.9 * theta), rtol=1e-12)
    np.testing.assert_allclose(sparse.gradient_lipschitz(), dense.gradient_lipschitz(),
                               rtol=1e-12)


@pytest.mark.parametrize("curvature", ["exact", "empirical", "observed", "kfac"])
@pytest.mark.parametrize("case", MODEL_CASES, ids=case_id)
def test_curvatures_match_dense(case, curvature):
    sparse, dense, theta = model_pair(case)
    weights = sparse.evaluate(theta, curvature).weights
    dense_weights = dense.evaluate(theta, curvature).weights
    index = np.random.default_rng(7).choice(sparse.n_samples, 200, replace=False)
    u = np.random.default_rng(8).standard_normal(sparse.n_params)
    for rows, dense_rows in ((None, None), (RowSample(sparse, index), RowSample(dense, index))):
        C = sparse.curvature_matrix(weights, rows)
        assert_close(C, dense.curvature_matrix(dense_weights, dense_rows))
        if curvature == "kfac":
            with pytest.raises(ValueError, match="kfac"):
                sparse.curvature_vector(weights, u, rows)
            continue
        assert_close(sparse.curvature_vector(weights, u, rows),
                     dense.curvature_vector(dense_weights, u, dense_rows))
        assert_close(sparse.curvature_vector(weights, u, rows), C @ u)
        assert_close(sparse.curvature_diagonal(weights, rows),
                     dense.curvature_diagonal(dense_weights, dense_rows))


def test_model_results_bit_identical_across_threads():
    case = dict(weighted=True, fit_intercept=True, l2=0.1)
    one, _, theta = model_pair(case, n=40000, p=30, n_threads=1)
    two, _, _ = model_pair(case, n=40000, p=30, n_threads=2)
    a, b = one.evaluate(theta, "exact"), two.evaluate(theta, "exact")
    assert a.loss == b.loss and np.array_equal(a.grad, b.grad)
    u = np.random.default_rng(9).standard_normal(one.n_params)
    assert np.array_equal(one.curvature_matrix(a.weights), two.curvature_matrix(b.weights))
    assert np.array_equal(one.curvature_vector(a.weights, u), two.curvature_vector(b.weights, u))
    assert np.array_equal(one.curvature_diagonal(a.weights), two.curvature_diagonal(b.weights))


# -------------------------------------------------------------- fits: CSR == dense X --

FIT_CASES = [
    dict(dtype=np.float64, index=np.int32, weighted=True, fit_intercept=True, l2=1e-3),
    dict(dtype=np.float64, index=np.int64, weighted=False, fit_intercept=False, l2=0.0),
    dict(dtype=np.float32, index=np.int64, weighted=True, fit_intercept=True, l2=0.0),
    dict(dtype=np.float32, index=np.int32, weighted=False, fit_intercept=False, l2=0.05),
]
SOLVES = [("ngd", "cholesky"), ("ngd", "cg"), ("newton", "cholesky"), ("newton", "cg")]


def fit_id(case):
    return "-".join(f"{k}={getattr(v, '__name__', v)}" for k, v in case.items())


@pytest.mark.parametrize("method,solver", SOLVES)
@pytest.mark.parametrize("case", FIT_CASES, ids=fit_id)
def test_fit_matches_dense_fit(case, method, solver):
    X = random_csr(1200, 15, 0.3, case["dtype"], case["index"], seed=5)
    y = class_codes(X, 3, seed=5)
    w = np.random.default_rng(6).uniform(0.2, 3.0, X.shape[0]) if case["weighted"] else None
    options = dict(model="softmax", method=method, solver=solver, l2=case["l2"],
                   fit_intercept=case["fit_intercept"], sample_weight=w, tol=1e-12)
    sparse, dense = ngd.fit(X, y, **options), ngd.fit(X.toarray(), y, **options)
    assert sparse.converged and dense.converged
    assert sparse.dtype == dense.dtype == np.dtype(case["dtype"]).name
    np.testing.assert_allclose(sparse.coef, dense.coef, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.intercept, dense.intercept, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.loss, dense.loss, rtol=1e-12)
    np.testing.assert_allclose(sparse.stderr, dense.stderr, rtol=1e-9)
    if case["fit_intercept"]:
        np.testing.assert_allclose(sparse.intercept_stderr, dense.intercept_stderr, rtol=1e-9)
    np.testing.assert_allclose(sparse.deviance, dense.deviance, rtol=1e-10)
    np.testing.assert_allclose(sparse.llf, dense.llf, rtol=1e-10)


@pytest.mark.filterwarnings("ignore::ngd.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("options", [dict(fisher="empirical"), dict(fisher="kfac"),
                                     dict(fisher="diagonal"), dict(subsample=400),
                                     dict(cov_type="robust"), dict(method="sgd")],
                         ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_other_curvatures_and_methods_match_dense(options):
    X = random_csr(1200, 15, 0.3, seed=6)
    y = class_codes(X, 3, seed=6)
    sparse = ngd.fit(X, y, model="softmax", l2=1e-3, **options)
    dense = ngd.fit(X.toarray(), y, model="softmax", l2=1e-3, **options)
    if options.get("fisher") != "kfac":
        assert sparse.n_iter == dense.n_iter
        np.testing.assert_allclose(sparse.coef, dense.coef, rtol=0, atol=1e-10)
        np.testing.assert_allclose(sparse.stderr, dense.stderr, rtol=1e-9)
        return
    # kfac converges linearly and stops on a rounding-level loss change: both fits end about
    # 1e-6 from the optimum, one iteration apart at most, as the CSR and dense passes round
    # differently
    optimum = ngd.fit(X.toarray(), y, model="softmax", l2=1e-3, tol=1e-12)
    assert abs(sparse.n_iter - dense.n_iter) <= 1
    for fit in (sparse, dense):
        np.testing.assert_allclose(fit.coef, optimum.coef, rtol=0, atol=2e-6)
        np.testing.assert_allclose(fit.stderr, optimum.stderr, rtol=1e-5)


def test_separation_is_reported_as_for_dense_x():
    X = sp.csr_matrix(np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0], [0, 2.0, 0],
                                [0, 0, 1.0], [0, 0, 3.0]]))
    y = np.array([0, 0, 1, 1, 2, 2])
    sparse = ngd.fit(X, y, model="softmax", fit_intercept=False, max_iter=60)
    dense = ngd.fit(X.toarray(), y, model="softmax", fit_intercept=False, max_iter=60)
    assert sparse.status == dense.status == 6
    assert sparse.message == dense.message


def test_offset_is_refused_as_for_dense_x():
    X = random_csr(30, 4, 0.5)
    y = np.arange(30) % 3
    with pytest.raises(ValueError, match="offset= is not supported by the softmax model"):
        ngd.fit(X, y, model="softmax", offset=np.zeros(30))
