"""The scikit-learn-style estimators on CSR X: fitted as CSR (never densified), with the
coefficients, predictions and scores of the same estimator on the dense array."""
import numpy as np
import pytest
import scipy.sparse as sp

from ngd.estimators import GLMRegressor, LogisticRegression
from ngd.estimators_cv import GLMRegressorCV, LogisticRegressionCV


def _data(seed=0, n=1500, p=60):
    rng = np.random.default_rng(seed)
    X = sp.random(n, p, density=0.08, format="csr", random_state=seed, dtype=np.float64)
    beta = rng.standard_normal(p)
    return rng, X, beta


def _same_coefficients(sparse, dense):
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=1e-10)


def test_logistic_regression_on_csr_equals_dense():
    rng, X, beta = _data()
    y = np.where(rng.random(X.shape[0]) < 1 / (1 + np.exp(-(X @ beta))), "a", "b")
    w = rng.uniform(0.5, 2.0, X.shape[0])
    sparse = LogisticRegression(l2=1e-3, tol=1e-12).fit(X, y, sample_weight=w)
    dense = LogisticRegression(l2=1e-3, tol=1e-12).fit(X.toarray(), y, sample_weight=w)
    _same_coefficients(sparse, dense)
    np.testing.assert_array_equal(sparse.predict(X), dense.predict(X.toarray()))
    np.testing.assert_allclose(sparse.predict_proba(X), dense.predict_proba(X.toarray()),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(sparse.decision_function(X.astype(np.float32)),
                               dense.decision_function(X.toarray().astype(np.float32)),
                               rtol=1e-12, atol=1e-12)
    assert sparse.score(X, y) == dense.score(X.toarray(), y)


def test_glm_regressor_on_csc_and_coo_equals_dense():
    rng, X, beta = _data(seed=1)
    offset = 0.1 * rng.standard_normal(X.shape[0])
    y = rng.poisson(np.exp(0.3 * (X @ beta) + offset)).astype(float)
    dense = GLMRegressor(model="poisson", tol=1e-12).fit(X.toarray(), y, offset=offset)
    for matrix in (X.tocsc(), X.tocoo()):
        sparse = GLMRegressor(model="poisson", tol=1e-12).fit(matrix, y, offset=offset)
        _same_coefficients(sparse, dense)
        np.testing.assert_allclose(sparse.predict(matrix), dense.predict(X.toarray()),
                                   rtol=1e-12)
        assert sparse.score(matrix, y) == pytest.approx(dense.score(X.toarray(), y),
                                                        rel=1e-12)


@pytest.mark.parametrize("estimator, kind", [(LogisticRegressionCV, "logistic"),
                                             (GLMRegressorCV, "poisson")])
def test_cross_validated_estimators_on_csr_equal_dense(estimator, kind):
    rng, X, beta = _data(seed=2, n=800, p=40)
    eta = X @ beta
    if kind == "logistic":
        y = (rng.random(X.shape[0]) < 1 / (1 + np.exp(-eta))).astype(int)
        options = {}
    else:
        y = rng.poisson(np.exp(0.3 * eta)).astype(float)
        options = {"model": "poisson"}
    sparse = estimator(n_alphas=8, cv=3, tol=1e-12, **options).fit(X, y)
    dense = estimator(n_alphas=8, cv=3, tol=1e-12, **options).fit(X.toarray(), y)
    assert sparse.alpha_ == pytest.approx(dense.alpha_, rel=1e-12)
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sparse.predict(X), dense.predict(X.toarray()), rtol=1e-9)


def test_bad_sparse_input_is_one_clear_error():
    X = sp.csr_matrix(np.array([[1.0, np.nan], [0.0, 2.0]]))
    with pytest.raises(ValueError, match="X"):
        LogisticRegression().fit(X, [0, 1])
    with pytest.raises(ValueError, match="at least one row and one column"):
        LogisticRegression().fit(sp.csr_matrix((3, 0)), [0, 1, 0])
    model = LogisticRegression().fit(sp.random(40, 3, density=0.5, format="csr",
                                               random_state=0), np.arange(40) % 2)
    with pytest.raises(ValueError, match="3 features"):
        model.predict(sp.csr_matrix((2, 5)))
