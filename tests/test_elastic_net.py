"""ngd.fit(alpha=, l1_ratio=, penalty_factor=): proximal natural gradient on the elastic net

    F = (1/sum w) sum_i w_i nll_i + alpha sum_j f_j [(1 - r)/2 beta_j^2 + r |beta_j|],

checked on real data sets against the KKT conditions (to 1e-8, computed here in numpy) and an
independent scipy solution (to 1e-6, tests/enet_reference.py), against scikit-learn and glum
with the translated penalty, and for every model."""
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris

import ngd
from enet_reference import alpha_max, dataset, kkt, objective, reference
from finite_differences import fd_gradient

KKT_TOL = 1e-8
REF_TOL = 1e-6

CASES = [  # (data set, family, ngd model/link, fractions of alpha_max, l1_ratio)
    ("breast_cancer", "logistic", dict(model="logistic"), 0.3, 1.0),
    ("breast_cancer", "logistic", dict(model="logistic"), 0.02, 0.5),
    ("diabetes", "gaussian", dict(model="gaussian"), 0.1, 1.0),
    ("diabetes", "gaussian", dict(model="gaussian"), 0.02, 0.7),
    ("randhie", "poisson", dict(model="poisson"), 0.2, 1.0),
    ("scotland", "gamma", dict(model="gamma", link="log"), 0.1, 0.8),
]


@pytest.mark.parametrize("name,family,spec,fraction,r", CASES)
def test_kkt_and_scipy_reference(name, family, spec, fraction, r):
    X, y = dataset(name)
    alpha = fraction * alpha_max(X, y, family, r=r)
    res = ngd.fit(X, y, alpha=alpha, l1_ratio=r, **spec)
    assert res.converged, res.message
    assert res.kkt_violation <= KKT_TOL and "KKT violation" in res.message
    assert kkt(X, y, family, res.intercept, res.coef, alpha, r) <= KKT_TOL
    b0, beta = reference(X, y, family, alpha, r)
    assert kkt(X, y, family, b0, beta, alpha, r) <= 1e-10          # the reference is exact
    assert 0 < np.count_nonzero(beta) < X.shape[1]                # a sparse problem
    np.testing.assert_array_equal(res.coef == 0, beta == 0)
    np.testing.assert_allclose(res.coef, beta, rtol=0, atol=REF_TOL)
    assert abs(res.intercept - b0) <= REF_TOL
    ours = objective(X, y, family, res.intercept, res.coef, alpha, r)
    assert ours == pytest.approx(objective(X, y, family, b0, beta, alpha, r), abs=1e-12)
    assert res.n_nonzero == np.count_nonzero(beta)


@pytest.mark.parametrize("alpha,r", [(0.05, 1.0), (0.01, 0.5)])
def test_sklearn_elastic_net_uses_the_same_alpha_for_gaussian(alpha, r):
    # scikit-learn: 1/(2n) ||y - X b - b0||^2 + alpha r ||b||_1 + alpha (1 - r)/2 ||b||^2
    from sklearn.linear_model import ElasticNet
    X, y = dataset("diabetes")
    sk = ElasticNet(alpha=alpha, l1_ratio=r, tol=1e-15, max_iter=100000).fit(X, y)
    res = ngd.fit(X, y, model="gaussian", alpha=alpha, l1_ratio=r)
    np.testing.assert_allclose(res.coef, sk.coef_, rtol=0, atol=REF_TOL)
    assert res.intercept == pytest.approx(sk.intercept_, abs=REF_TOL)


@pytest.mark.parametrize("alpha,r", [(0.05, 1.0), (0.01, 0.5)])
def test_sklearn_logistic_regression_translation_is_c_equal_one_over_alpha_n(alpha, r):
    # scikit-learn: C sum_i nll_i + r ||b||_1 + (1 - r)/2 ||b||^2, i.e. ours / (C n)
    from sklearn.linear_model import LogisticRegression
    X, y = dataset("breast_cancer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = LogisticRegression(C=1.0 / (alpha * len(y)), l1_ratio=r, solver="saga",
                                tol=1e-12, max_iter=100000).fit(X, y)
    res = ngd.fit(X, y, alpha=alpha, l1_ratio=r)
    np.testing.assert_allclose(res.coef, sk.coef_[0], rtol=0, atol=REF_TOL)
    assert res.intercept == pytest.approx(sk.intercept_[0], abs=REF_TOL)


@pytest.mark.parametrize("name,family,link,fraction,r", [
    ("randhie", "poisson", "log", 0.05, 0.5), ("scotland", "gamma", "log", 0.1, 1.0)])
def test_glum_uses_the_same_alpha_and_l1_ratio(name, family, link, fraction, r):
    glum = pytest.importorskip("glum")
    X, y = dataset(name)
    alpha = fraction * alpha_max(X, y, family, r=r)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = glum.GeneralizedLinearRegressor(
            family=family, link=link, alpha=alpha, l1_ratio=r, gradient_tol=1e-12,
            step_size_tol=1e-14, max_iter=1000).fit(X, y)
    res = ngd.fit(X, y, model=family, link=link, alpha=alpha, l1_ratio=r)
    np.testing.assert_allclose(res.coef, peer.coef_, rtol=0, atol=REF_TOL)
    assert res.intercept == pytest.approx(peer.intercept_, abs=REF_TOL)


def test_penalty_factor_zero_leaves_a_feature_unpenalised():
    X, y = dataset("breast_cancer")
    factor = np.ones(X.shape[1])
    factor[[3, 7]] = [0.0, 2.0]
    alpha = 0.02
    res = ngd.fit(X, y, alpha=alpha, l1_ratio=1.0, penalty_factor=factor)
    assert res.kkt_violation <= KKT_TOL
    assert kkt(X, y, "logistic", res.intercept, res.coef, alpha, 1.0, factor) <= KKT_TOL
    b0, beta = reference(X, y, "logistic", alpha, 1.0, factor)
    np.testing.assert_allclose(res.coef, beta, rtol=0, atol=REF_TOL)
    # above every other feature's alpha_max only the unpenalised one is left: the
    # unpenalised fit on that column alone
    big = 1.01 * alpha_max(X, y, "logistic", factor)
    res = ngd.fit(X, y, alpha=big, l1_ratio=1.0, penalty_factor=factor)
    alone = ngd.fit(X[:, [3]], y)
    assert np.flatnonzero(res.coef).tolist() == [3]
    assert res.coef[3] == pytest.approx(alone.coef[0], abs=REF_TOL)
    assert res.intercept == pytest.approx(alone.intercept, abs=REF_TOL)


def test_alpha_with_l1_ratio_zero_is_exactly_the_ridge_fit():
    X, y = dataset("breast_cancer")
    ridge = ngd.fit(X, y, l2=0.01)
    same = ngd.fit(X, y, alpha=0.01, l1_ratio=0.0)
    np.testing.assert_array_equal(same.coef, ridge.coef)
    assert same.intercept == ridge.intercept and same.stderr is not None
    assert same.get("kkt_violation") is None            # the smooth solvers, not proximal


@pytest.mark.parametrize("spec", [
    dict(model="binomial", link="probit"), dict(model="binomial", link="cloglog"),
    dict(model="poisson"), dict(model="gamma", link="log"),
    dict(model="inverse_gaussian", link="log"), dict(model="tweedie", power=1.5),
    dict(model="gaussian", link="log"), dict(model="logistic", fisher="empirical")])
def test_every_single_output_model_reaches_the_kkt_conditions(spec):
    X, y = dataset("breast_cancer")
    X = X[:, :8]
    if spec["model"] not in ("binomial", "logistic"):
        y = np.exp(0.3 * X[:, 0] - 0.2 * X[:, 1]) * (1.0 + y)      # positive responses
    res = ngd.fit(X, y, alpha=0.01, l1_ratio=0.8, **spec)
    assert res.converged and res.kkt_violation <= KKT_TOL, res.message
    assert 0 < res.n_nonzero < 8
    # the minimum-norm subgradient from a finite-difference gradient of the smooth part
    theta = np.r_[res.coef, res.intercept]
    fd = fd_gradient(lambda t: _smooth_loss(X, y, spec, t, 0.01 * 0.2), theta)
    lam = np.r_[np.full(8, 0.01 * 0.8), 0.0]
    v = np.where(theta != 0, fd + lam * np.sign(theta), np.maximum(np.abs(fd) - lam, 0.0))
    assert np.max(np.abs(v)) <= 1e-6


def _smooth_loss(X, y, spec, theta, ridge):
    """L + ridge/2 ||beta||^2 with L the objective of the unpenalised model."""
    from ngd.elastic_net import prepare
    options = dict(link=spec.get("link"), power=spec.get("power"), trials=None,
                   sample_weight=None, offset=None, fit_intercept=True, n_threads=1)
    model = prepare(X, y, model=spec["model"], **options).model
    return model.loss(theta) + 0.5 * ridge * float(theta[:-1] @ theta[:-1])


def test_softmax_elementwise_l1_reaches_the_reference_objective():
    import scipy.optimize
    from scipy.special import logsumexp
    X, codes = load_iris(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    alpha, K, p = 0.02, 3, X.shape[1]
    res = ngd.fit(X, codes, model="softmax", alpha=alpha, l1_ratio=1.0)
    assert res.converged and res.kkt_violation <= KKT_TOL
    onehot = np.eye(K)[codes]

    def split(z):       # W = W+ - W- (K, p) all free, b (K,)
        W = (z[:K * p] - z[K * p:2 * K * p]).reshape(K, p)
        b = z[2 * K * p:]
        eta = X @ W.T + b
        P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
        G = (P - onehot).T @ X / len(codes)
        value = np.mean(logsumexp(eta, axis=1) - np.sum(eta * onehot, axis=1)) \
            + alpha * np.sum(z[:2 * K * p])
        return value, np.r_[G.ravel() + alpha, -G.ravel() + alpha, (P - onehot).mean(0)]

    out = scipy.optimize.minimize(split, np.zeros(2 * K * p + K), jac=True, method="L-BFGS-B",
                                  bounds=[(0, None)] * (2 * K * p) + [(None, None)] * K,
                                  options=dict(ftol=1e-15, gtol=1e-12, maxiter=100000))
    assert res.loss <= out.fun + 1e-12 and res.loss == pytest.approx(out.fun, abs=1e-9)
    assert res.coef.shape == (K, p) and 0 < res.n_nonzero < K * p


def test_bad_arguments_are_one_clear_error():
    X, y = dataset("breast_cancer")
    cases = [(dict(l2=0.1, alpha=0.1), "either l2"), (dict(l1_ratio=0.5), "need alpha"),
             (dict(alpha=0.1, l1_ratio=1.5), "l1_ratio"), (dict(alpha=-1.0), "alpha"),
             (dict(alpha=0.1, l1_ratio=1.0, penalty_factor=[1.0, 2.0]), "one entry per"),
             (dict(alpha=0.1, l1_ratio=1.0, penalty_factor=-np.ones(30)), ">= 0"),
             (dict(alpha=0.1, l1_ratio=1.0, method="sgd"), "proximal"),
             (dict(alpha=0.1, l1_ratio=1.0, fisher="observed"), "proximal")]
    for kwargs, text in cases:
        with pytest.raises(ValueError, match=text):
            ngd.fit(X, y, **kwargs)
