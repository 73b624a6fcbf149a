"""Softmax (multinomial) regression: ngd.models.SoftmaxModel and ngd.fit(model="softmax").

The model against finite differences (loss == a numpy objective, gradient, exact Fisher ==
Hessian, canonical link), the Fisher identities by Monte-Carlo draws from the model
(E[s] = 0, E[s s^T] = F), K-FAC exactness where all p_i coincide, the gauges (reference class
without l2, symmetric with l2), and fits against scikit-learn (l2 > 0) and statsmodels MNLogit
(l2 = 0) on iris and wine; weights == duplicated rows; empirical / K-FAC NGD reach the exact
optimum; bad inputs.

Objective (DESIGN.md): L = (1/sum w) sum_i w_i [logsumexp(eta_i) - eta_{i, y_i}] + (l2/2)||W||^2.
"""
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

import ngd
from ngd.models.softmax import SoftmaxModel

from finite_differences import fd_gradient, fd_jacobian


def make_data(n=60, p=3, K=4, weighted=False, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * [1.0, 2.0, 0.5][:p]
    W = rng.normal(scale=0.7, size=(K, p))
    b = rng.normal(scale=0.5, size=K)
    eta = X @ W.T + b
    P = np.exp(eta - logsumexp(eta, axis=1, keepdims=True))
    y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    y = np.minimum(y, K - 1)
    y[:K] = np.arange(K)                     # every class present
    w = rng.uniform(0.2, 3.0, size=n) if weighted else None
    return X, y, w


CONFIGS = [dict(weighted=True, fit_intercept=True, l2=0.3),
           dict(weighted=False, fit_intercept=True, l2=0.0),
           dict(weighted=True, fit_intercept=False, l2=0.0),
           dict(weighted=False, fit_intercept=False, l2=0.1)]


def cfg_id(cfg):
    return "-".join(f"{k}={v}" for k, v in cfg.items())


def build(cfg, n=60, p=3, K=4, seed=0):
    X, y, w = make_data(n, p, K, cfg["weighted"], seed)
    model = SoftmaxModel(X, y, n_classes=K, sample_weight=w, fit_intercept=cfg["fit_intercept"],
                         l2=cfg["l2"])
    theta = np.random.default_rng(seed + 1).normal(scale=0.6, size=model.n_params)
    return model, theta, (X, y, w)


def full_params(model, theta, K, p):
    """(W (K, p), b (K,)) from the free theta: [vec(W) class-major, b] with pinned zeros."""
    full = model.expand(theta)
    W = full[:K * p].reshape(K, p)
    b = full[K * p:] if model.fit_intercept else np.zeros(K)
    return W, b


def ref_loss(W, b, X, y, w, l2):
    eta = X @ W.T + b
    w = np.ones(len(y)) if w is None else w
    nll = logsumexp(eta, axis=1) - eta[np.arange(len(y)), y]
    return float(w @ nll / w.sum() + 0.5 * l2 * np.sum(W * W))


# --- model level ------------------------------------------------------------------------------
@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_gauge_and_loss_match_numpy_objective(cfg):
    K, p = 4, 3
    model, theta, (X, y, w) = build(cfg)
    ic = cfg["fit_intercept"]
    if cfg["l2"] == 0:   # reference class: W_0 = 0 and b_0 = 0 are pinned
        assert model.n_params == (K - 1) * (p + ic)
    else:                # l2 pins W; only b_0 is pinned (the intercepts are unpenalised)
        assert model.n_params == K * p + (K - 1) * ic
    W, b = full_params(model, theta, K, p)
    if cfg["l2"] == 0:
        assert np.all(W[0] == 0)
    if ic:
        assert b[0] == 0
    assert model.loss(theta) == pytest.approx(ref_loss(W, b, X, y, w, cfg["l2"]), rel=1e-13)
    P = model.predict_proba(theta)
    eta = X @ W.T + b
    np.testing.assert_allclose(P, np.exp(eta - logsumexp(eta, axis=1, keepdims=True)),
                               rtol=1e-13)
    assert model.deviance(theta) == pytest.approx(
        2 * ref_loss(W, b, X, y, w, 0.0) * (len(y) if w is None else w.sum()), rel=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_gradient_matches_finite_differences(cfg):
    model, theta, _ = build(cfg)
    np.testing.assert_allclose(model.gradient(theta), fd_gradient(model.loss, theta),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_exact_fisher_is_the_fd_hessian(cfg):
    """Canonical link: the exact Fisher is the Hessian of the objective."""
    model, theta, _ = build(cfg)
    fd = fd_jacobian(model.gradient, theta)
    F = model.exact_fisher(theta)
    np.testing.assert_allclose(F, F.T, atol=1e-14)
    np.testing.assert_allclose(F, 0.5 * (fd + fd.T), rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(model.hessian(theta), F)
    if cfg["l2"] == 0:   # the reference gauge removes the null space: F is positive definite
        assert np.linalg.eigvalsh(F)[0] > 1e-6


MC_REPLICATES = 3000


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_score_mean_zero_and_fisher_is_score_covariance(cfg):
    """With y ~ Cat(p(x, theta)) (sample_response): E[s] = 0, E[(1/sum w) sum w s s^T] = F - l2
    and the empirical Fisher averages to it; -E[Hessian] = F holds trivially (the Hessian does
    not depend on y), checked on the sampled model."""
    K = 4
    model, theta, (X, _, w) = build(cfg)
    n, R, k = model.n_samples, MC_REPLICATES, model.n_params
    rng = np.random.default_rng(3)
    tiled_w = None if w is None else np.tile(w, R)
    big0 = SoftmaxModel(np.tile(X, (R, 1)), np.tile(model.codes, R), n_classes=K,
                        sample_weight=tiled_w, fit_intercept=model.fit_intercept, l2=model.l2)
    codes = big0.sample_response(theta, rng)
    assert codes.min() >= 0 and codes.max() < K
    big = SoftmaxModel(np.tile(X, (R, 1)), codes, n_classes=K, sample_weight=tiled_w,
                       fit_intercept=model.fit_intercept, l2=model.l2)
    S = big.scores(theta).reshape(R, n, k)
    wn = model.sample_weight / model.weight_sum
    sums = np.einsum("i,rij->rj", wn, S)
    outer = np.einsum("i,rij,rik->rjk", wn, S, S).reshape(R, -1)
    F = model.exact_fisher(theta)
    penalty = np.diag(model.l2 * model.penalty_mask.astype(float))
    target = (F - penalty).ravel()
    se = outer.std(axis=0, ddof=1) / np.sqrt(R)
    assert se.max() < 0.05 * np.abs(target).max()
    assert np.all(np.abs(outer.mean(axis=0) - target) <= 5 * se + 1e-12)
    se_s = sums.std(axis=0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(sums.mean(axis=0)) <= 5 * se_s)
    np.testing.assert_allclose(big.empirical_fisher(theta) - penalty,
                               outer.mean(axis=0).reshape(k, k), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(big.hessian(theta), F, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_kfac_is_exact_when_all_probabilities_coincide(cfg):
    """K-FAC E[A] (x) E[x~ x~^T] equals the exact Fisher at W = 0, b = 0 (every p_i = 1/K)
    and only approximates it elsewhere."""
    model, theta, _ = build(cfg)
    zero = np.zeros(model.n_params)
    kfac = lambda t: model.curvature_matrix(model.evaluate(t, "kfac").weights)   # noqa: E731
    np.testing.assert_allclose(kfac(zero), model.exact_fisher(zero), rtol=1e-12, atol=1e-14)
    F = model.exact_fisher(theta)
    assert np.abs(kfac(theta) - F).max() > 1e-3 * np.abs(F).max()


# --- fits -------------------------------------------------------------------------------------
def test_newton_and_exact_ngd_take_the_same_steps():
    """Canonical link: Fisher scoring is Newton, iterate by iterate."""
    X, y, w = make_data(n=200, seed=4, weighted=True)
    for k in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = ngd.fit(X, y, model="softmax", sample_weight=w, max_iter=k)
            b = ngd.fit(X, y, model="softmax", sample_weight=w, method="newton", max_iter=k)
        assert a.n_iter == b.n_iter == k
        np.testing.assert_allclose(a.x, b.x, rtol=1e-12, atol=1e-14)


def standardized(loader):
    X, y = loader(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


@pytest.mark.parametrize("dataset", ["iris", "wine"])
def test_l2_matches_sklearn_logistic_regression(dataset):
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.linear_model import LogisticRegression
    X, y = standardized(getattr(datasets, f"load_{dataset}"))
    l2 = 0.01
    result = ngd.fit(X, y, model="softmax", l2=l2)
    assert result.converged
    ref = LogisticRegression(C=1.0 / (l2 * len(y)), tol=1e-12, max_iter=1000,
                             solver="newton-cholesky").fit(X, y)
    assert result.coef.shape == ref.coef_.shape == (3, X.shape[1])
    np.testing.assert_allclose(result.coef, ref.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.intercept, ref.intercept_ - ref.intercept_.mean(),
                               rtol=1e-5, atol=1e-7)
    # the symmetric gauge: coefficients and intercepts sum to zero over classes
    np.testing.assert_allclose(result.coef.sum(axis=0), 0.0, atol=1e-10)
    assert abs(result.intercept.sum()) < 1e-10
    assert result.stderr.shape == result.coef.shape and np.all(result.stderr > 0)


MNLOGIT = [("iris", [0]), ("wine", [0, 1, 4])]


@pytest.mark.parametrize("dataset,cols", MNLOGIT, ids=[m[0] for m in MNLOGIT])
def test_reference_gauge_matches_statsmodels_mnlogit(dataset, cols):
    """l2 = 0: the first class is the reference (zero coefficients, nan standard errors), as
    MNLogit. (The full iris / wine designs are separable, so a subset of columns is used.)"""
    sm = pytest.importorskip("statsmodels.api")
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    X = X[:, cols]
    result = ngd.fit(X, y, model="softmax")
    assert result.converged
    ref = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, maxiter=100,
                                                 disp=0)
    assert ref.mle_retvals["converged"]
    P, B = np.asarray(ref.params), np.asarray(ref.bse)   # (1 + p, K - 1), constant first
    assert np.all(result.coef[0] == 0) and result.intercept[0] == 0
    assert np.all(np.isnan(result.stderr[0])) and np.isnan(result.intercept_stderr[0])
    np.testing.assert_allclose(result.coef[1:], P[1:].T, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(result.intercept[1:], P[0], rtol=1e-6)
    np.testing.assert_allclose(result.stderr[1:], B[1:].T, rtol=1e-6)
    np.testing.assert_allclose(result.intercept_stderr[1:], B[0], rtol=1e-6)
    assert result.llf == pytest.approx(ref.llf, rel=1e-10)
    assert result.aic == pytest.approx(ref.aic, rel=1e-10)
    assert result.bic == pytest.approx(ref.bic, rel=1e-10)
    assert result.deviance == pytest.approx(-2 * ref.llf, rel=1e-10)
    counts = np.bincount(y)
    assert result.null_deviance == pytest.approx(
        -2 * np.sum(counts * np.log(counts / len(y))), rel=1e-12)
    assert result.null_deviance == pytest.approx(-2 * ref.llnull, rel=1e-8)
    assert result.dispersion == 1.0
    # sandwich standard errors: the row score (onehot - p) (x) x~, as MNLogit's HC0
    robust = ngd.fit(X, y, model="softmax", cov_type="robust")
    ref_hc0 = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, maxiter=100,
                                                     disp=0, cov_type="HC0")
    B0 = np.asarray(ref_hc0.bse)
    np.testing.assert_allclose(robust.stderr[1:], B0[1:].T, rtol=1e-6)
    np.testing.assert_allclose(robust.intercept_stderr[1:], B0[0], rtol=1e-6)
    assert np.max(np.abs(robust.stderr[1:] / result.stderr[1:] - 1)) > 1e-3


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_integer_weights_equal_duplicated_rows(l2):
    X, y, _ = make_data(n=80, seed=5)
    counts = np.random.default_rng(6).integers(0, 4, size=len(y))
    counts[:4] = [1, 2, 3, 1]                 # keeps every class
    rows = np.repeat(np.arange(len(y)), counts)
    weighted = ngd.fit(X, y, model="softmax", l2=l2, sample_weight=counts.astype(float))
    repeated = ngd.fit(X[rows], y[rows], model="softmax", l2=l2)
    assert weighted.converged and repeated.converged
    for attr in ("coef", "intercept", "stderr", "intercept_stderr"):
        np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr),
                                   rtol=1e-8, atol=1e-10)
    for attr in ("loss", "deviance", "null_deviance", "llf", "aic", "bic"):
        assert getattr(weighted, attr) == pytest.approx(getattr(repeated, attr), rel=1e-10)


@pytest.mark.parametrize("l2", [0.0, 0.02])
@pytest.mark.parametrize("fisher", ["empirical", "kfac"])
def test_empirical_and_kfac_reach_the_exact_optimum(fisher, l2):
    X, y, w = make_data(n=150, p=3, K=3, weighted=True, seed=7)
    exact = ngd.fit(X, y, model="softmax", l2=l2, sample_weight=w, tol=1e-10)
    other = ngd.fit(X, y, model="softmax", l2=l2, sample_weight=w, fisher=fisher,
                    max_iter=2000, tol=1e-10)
    assert exact.converged and other.converged, other.message
    assert abs(other.loss - exact.loss) <= 1e-10 * max(1.0, abs(exact.loss))
    np.testing.assert_allclose(other.coef, exact.coef, rtol=1e-4, atol=1e-5)
    assert other.fisher == fisher
    assert other.n_iter > exact.n_iter        # first-order curvature models converge slower


# --- bad inputs ---------------------------------------------------------------------------------
X_BAD = np.random.default_rng(8).normal(size=(6, 2))


def test_offset_is_rejected():
    with pytest.raises(ValueError, match="offset"):
        ngd.fit(X_BAD, [0, 1, 2, 0, 1, 2], model="softmax", offset=np.zeros(6))
    with pytest.raises(ValueError, match="offset"):
        SoftmaxModel(X_BAD, np.array([0, 1, 2, 0, 1, 2]), n_classes=3, offset=np.zeros(6))


def test_one_class_is_rejected():
    with pytest.raises(ValueError, match="one class"):
        ngd.fit(X_BAD, [2, 2, 2, 2, 2, 2], model="softmax")


@pytest.mark.parametrize("kwargs", [dict(link="logit"), dict(trials=np.ones(6)),
                                    dict(power=1.5)], ids=["link", "trials", "power"])
def test_glm_only_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError, match="softmax|tweedie"):
        ngd.fit(X_BAD, [0, 1, 2, 0, 1, 2], model="softmax", **kwargs)


def test_bad_labels_shape_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        ngd.fit(X_BAD, [0, 1, 2, 0, 1], model="softmax")
