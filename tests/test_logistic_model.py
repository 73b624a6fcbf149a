"""ngd.models.LogisticModel: loss, gradient and Fisher matrices against finite differences,
the Fisher identities (E[s] = 0, E[s s^T] = F = Hessian of the NLL), the empirical Fisher as
an outer-product average of per-sample scores, and KL ~ 1/2 d^T F d."""
import itertools

import numpy as np
import pytest
from scipy.special import expit

from ngd.models import LogisticModel, get_model

from finite_differences import fd_gradient, fd_jacobian


def make_data(n=60, p=3, weighted=False, offset=False, seed=0):
    rng = np.random.default_rng(seed)
    X = np.ascontiguousarray(rng.standard_normal((n, p)) * [1.0, 2.0, 0.5, 1.5, 3.0][:p]
                             if p <= 5 else rng.standard_normal((n, p)))
    beta = rng.normal(size=p)
    eta = X @ beta + 0.4
    y = (rng.random(n) < expit(eta)).astype(np.float64)
    w = rng.uniform(0.2, 3.0, size=n) if weighted else None
    off = rng.normal(scale=0.5, size=n) if offset else None
    return X, y, w, off


def ref_loss(theta, X, y, w, off, fit_intercept, l2):
    """DESIGN.md objective in plain numpy."""
    p = X.shape[1]
    coef = theta[:p]
    b = theta[p] if fit_intercept else 0.0
    eta = X @ coef + b + (0.0 if off is None else off)
    w = np.ones(len(y)) if w is None else w
    return np.sum(w * (np.logaddexp(0, eta) - y * eta)) / w.sum() + 0.5 * l2 * coef @ coef


CONFIGS = [dict(weighted=w, offset=o, fit_intercept=i, l2=l2)
           for w, o, i, l2 in itertools.product([False, True], [False, True], [True, False],
                                                [0.0, 0.3])]


def build(cfg, n=60, p=3, seed=0):
    X, y, w, off = make_data(n, p, cfg["weighted"], cfg["offset"], seed)
    model = LogisticModel(X, y, sample_weight=w, offset=off,
                          fit_intercept=cfg["fit_intercept"], l2=cfg["l2"], n_threads=1)
    rng = np.random.default_rng(seed + 1)
    theta = rng.normal(scale=0.7, size=model.n_params)
    return model, theta, (X, y, w, off)


def cfg_id(cfg):
    return "-".join(k if v is True else (f"{k}={v}" if not isinstance(v, bool) else f"no_{k}")
                    for k, v in cfg.items())


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_loss_matches_numpy_objective(cfg):
    model, theta, (X, y, w, off) = build(cfg)
    assert model.n_params == 3 + cfg["fit_intercept"]
    expected = ref_loss(theta, X, y, w, off, cfg["fit_intercept"], cfg["l2"])
    assert model.loss(theta) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_gradient_matches_finite_differences(cfg):
    model, theta, _ = build(cfg)
    g = model.gradient(theta)
    g_fd = fd_gradient(model.loss, theta)
    assert g.shape == (model.n_params,)
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-8 * np.abs(g).max())
    ev = model.evaluate(theta)
    assert ev.grad_norm == pytest.approx(np.abs(g).max(), rel=0, abs=0)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_exact_fisher_is_finite_difference_hessian(cfg):
    """Canonical logit link: the expected Fisher of the objective equals its Hessian."""
    model, theta, _ = build(cfg)
    F = model.exact_fisher(theta)
    H_fd = fd_jacobian(model.gradient, theta)
    H_fd = 0.5 * (H_fd + H_fd.T)
    assert F.shape == (model.n_params, model.n_params)
    np.testing.assert_allclose(F, F.T, rtol=0, atol=0)
    np.testing.assert_allclose(F, H_fd, rtol=1e-6, atol=1e-8 * np.abs(F).max())
    np.testing.assert_array_equal(model.hessian(theta), F)
    assert np.linalg.eigvalsh(F)[0] > 0


def test_intercept_is_not_penalised():
    cfg = dict(weighted=True, offset=False, fit_intercept=True, l2=0.0)
    m0, theta, (X, y, w, off) = build(cfg)
    m1 = LogisticModel(X, y, sample_weight=w, fit_intercept=True, l2=2.5)
    p = X.shape[1]
    assert m1.loss(theta) - m0.loss(theta) == pytest.approx(1.25 * theta[:p] @ theta[:p],
                                                            rel=1e-12)
    dg = m1.gradient(theta) - m0.gradient(theta)
    np.testing.assert_allclose(dg[:p], 2.5 * theta[:p], rtol=1e-12)
    assert abs(dg[p]) < 1e-15
    dF = m1.exact_fisher(theta) - m0.exact_fisher(theta)
    np.testing.assert_allclose(dF, np.diag([2.5] * p + [0.0]), atol=1e-14)


def _bernoulli_expectations(model, theta):
    """Exact E_y[s_i] and E_y[s_i s_i^T] per row for y_i ~ Bernoulli(p_i), using the model's own
    scores at y = 0 and y = 1 (s_i is linear in y_i)."""
    X, w, off = model.X, model.sample_weight, model.offset
    kw = dict(sample_weight=w, offset=off, fit_intercept=model.fit_intercept, l2=model.l2)
    s0 = LogisticModel(X, np.zeros(model.n_samples), **kw).scores(theta)
    s1 = LogisticModel(X, np.ones(model.n_samples), **kw).scores(theta)
    p = model.predict_proba(theta, offset=off)
    mean = (1 - p)[:, None] * s0 + p[:, None] * s1
    outer = ((1 - p)[:, None, None] * s0[:, :, None] * s0[:, None, :]
             + p[:, None, None] * s1[:, :, None] * s1[:, None, :])
    return mean, outer


@pytest.mark.parametrize("cfg", [c for c in CONFIGS if c["l2"] == 0.0], ids=cfg_id)
def test_fisher_identities_exact_expectation(cfg):
    """E_y[s_i] = 0 and (1/sum w) sum_i w_i E_y[s_i s_i^T] = exact Fisher = Hessian of NLL."""
    model, theta, _ = build(cfg, n=25)
    mean, outer = _bernoulli_expectations(model, theta)
    assert np.abs(mean).max() < 1e-15
    w = np.ones(model.n_samples) if model.sample_weight is None else model.sample_weight
    F_expected = np.einsum("i,ijk->jk", w, outer) / w.sum()
    F = model.exact_fisher(theta)
    np.testing.assert_allclose(F, F_expected, rtol=1e-12, atol=1e-15)
    H_fd = fd_jacobian(model.gradient, theta)
    np.testing.assert_allclose(F, 0.5 * (H_fd + H_fd.T), rtol=1e-6, atol=1e-9)


def test_fisher_identities_full_enumeration():
    """Enumerate all 2^n responses of a tiny model: the total score S(y) = sum_i s_i has
    E[S] = 0 and E[S S^T] = n F = -E[Hessian of the log-likelihood]."""
    X, _, _, off = make_data(n=8, p=2, offset=True, seed=4)
    theta = np.array([0.8, -0.6, 0.3])
    base = LogisticModel(X, np.zeros(8), offset=off)
    prob = base.predict_proba(theta, offset=off)
    ES = np.zeros(3)
    ESS = np.zeros((3, 3))
    total = 0.0
    for bits in itertools.product([0.0, 1.0], repeat=8):
        y = np.array(bits)
        py = np.prod(np.where(y == 1, prob, 1 - prob))
        S = LogisticModel(X, y, offset=off).scores(theta).sum(axis=0)
        ES += py * S
        ESS += py * np.outer(S, S)
        total += py
    assert total == pytest.approx(1.0, abs=1e-14)
    assert np.abs(ES).max() < 1e-14
    F = base.exact_fisher(theta)
    np.testing.assert_allclose(ESS, 8 * F, rtol=1e-12)
    # the Hessian of the NLL (= n L) does not depend on y for the canonical link
    y_obs = (prob > 0.5).astype(float)
    H_fd = fd_jacobian(LogisticModel(X, y_obs, offset=off).gradient, theta)
    np.testing.assert_allclose(ESS / 8, 0.5 * (H_fd + H_fd.T), rtol=1e-6)


def test_fisher_identities_monte_carlo():
    X, _, w, off = make_data(n=40, p=2, weighted=True, offset=True, seed=5)
    theta = np.array([0.5, -1.0, 0.2])
    model = LogisticModel(X, np.zeros(40), sample_weight=w, offset=off)
    rng = np.random.default_rng(12345)
    n_draws = 3000
    S = np.empty((n_draws, 3))
    Ys = np.empty((n_draws, 40))
    for k in range(n_draws):
        y = model.sample_response(theta, rng)
        assert set(np.unique(y)) <= {0.0, 1.0}
        Ys[k] = y
        s = LogisticModel(X, y, sample_weight=w, offset=off).scores(theta)
        S[k] = (w[:, None] * s).sum(axis=0) / w.sum()
    mean = S.mean(axis=0)
    se = S.std(axis=0, ddof=1) / np.sqrt(n_draws)
    assert np.all(np.abs(mean) <= 4.5 * se), (mean, se)
    # the draws really follow the model probabilities
    prob = model.predict_proba(theta, offset=off)
    se_p = np.sqrt(prob * (1 - prob) / n_draws)
    assert np.all(np.abs(Ys.mean(axis=0) - prob) <= 4.5 * se_p + 1e-12)
    # Cov of the weighted mean score = (1/(sum w)^2) sum_i w_i^2 p_i (1 - p_i) [x_i,1][x_i,1]^T
    A = np.column_stack([X, np.ones(40)])
    cov = (A.T * (w ** 2 * prob * (1 - prob))) @ A / w.sum() ** 2
    np.testing.assert_allclose(np.cov(S.T), cov, rtol=0.15, atol=0.1 * np.abs(cov).max())
    # reproducible with a seeded generator, different with another seed
    a = model.sample_response(theta, np.random.default_rng(7))
    b = model.sample_response(theta, np.random.default_rng(7))
    c = model.sample_response(theta, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_empirical_fisher_is_score_outer_product_average(cfg):
    model, theta, (X, y, w, off) = build(cfg)
    S = model.scores(theta)
    assert S.shape == (model.n_samples, model.n_params)
    ww = np.ones(len(y)) if w is None else w
    expected = (S.T * ww) @ S / ww.sum()
    p = X.shape[1]
    expected[np.arange(p), np.arange(p)] += cfg["l2"]
    F_hat = model.empirical_fisher(theta)
    np.testing.assert_allclose(F_hat, expected, rtol=1e-12, atol=1e-14)
    # the scores are the per-row gradients of the log-likelihood: their weighted mean is
    # -(gradient of the unpenalised loss)
    g = model.gradient(theta)
    g_unpen = g.copy()
    g_unpen[:p] -= cfg["l2"] * theta[:p]
    np.testing.assert_allclose((ww @ S) / ww.sum(), -g_unpen, rtol=1e-12, atol=1e-14)


def test_empirical_fisher_differs_from_exact_away_from_model():
    model, theta, _ = build(dict(weighted=False, offset=False, fit_intercept=True, l2=0.0))
    assert np.abs(model.empirical_fisher(theta) - model.exact_fisher(theta)).max() > 1e-3


@pytest.mark.parametrize("cfg", CONFIGS, ids=cfg_id)
def test_mean_kl_is_half_fisher_quadratic_form(cfg):
    model, theta, (X, y, w, off) = build(cfg, seed=3)
    # F of the likelihood alone: the exact Fisher without the l2 term
    F = LogisticModel(X, y, sample_weight=w, offset=off, fit_intercept=cfg["fit_intercept"],
                      l2=0.0).exact_fisher(theta)
    d = np.random.default_rng(9).normal(size=model.n_params)
    quad = 0.5 * d @ F @ d
    assert model.mean_kl(theta, theta) == 0.0
    errs = []
    for eps in (1e-1, 1e-2, 1e-3):
        kl = model.mean_kl(theta, theta + eps * d)
        assert kl > 0
        rel = abs(kl / (eps ** 2 * quad) - 1)
        errs.append(rel)
        assert rel <= 3.0 * eps, (eps, rel)
    assert errs[2] < errs[1] < errs[0]
    # KL is not symmetric at finite eps, but both directions agree to second order
    kl_rev = model.mean_kl(theta + 1e-3 * d, theta)
    assert kl_rev == pytest.approx(1e-6 * quad, rel=3e-3)


def test_initial_theta_is_null_model_mle():
    X, y, w, off = make_data(n=80, p=2, weighted=True)
    model = LogisticModel(X, y, sample_weight=w)
    theta0 = model.initial_theta()
    assert np.all(theta0[:2] == 0)
    ybar = np.sum(w * y) / w.sum()
    assert theta0[2] == pytest.approx(np.log(ybar / (1 - ybar)), rel=1e-13)
    assert abs(model.gradient(theta0)[2]) < 1e-14       # intercept score vanishes there
    assert np.all(LogisticModel(X, y, fit_intercept=False).initial_theta() == 0)


def test_evaluate_curvature_weights_are_normalised():
    X, y, w, off = make_data(n=50, p=3, weighted=True, offset=True)
    model = LogisticModel(X, y, sample_weight=w, offset=off)
    theta = np.array([0.2, -0.1, 0.3, 0.05])
    ev = model.evaluate(theta, "exact")
    prob = expit(X @ theta[:3] + theta[3] + off)
    np.testing.assert_allclose(ev.weights, w * prob * (1 - prob) / w.sum(), rtol=1e-13)
    ev = model.evaluate(theta, "empirical")
    np.testing.assert_allclose(ev.weights, w * (prob - y) ** 2 / w.sum(), rtol=1e-12)
    assert model.evaluate(theta).weights is None
    with pytest.raises(ValueError):
        model.evaluate(theta, "bogus")


def test_evaluate_rows_is_subset_objective():
    X, y, w, off = make_data(n=50, p=3, weighted=True, offset=True)
    model = LogisticModel(X, y, sample_weight=w, offset=off, l2=0.1)
    theta = np.array([0.2, -0.1, 0.3, 0.05])
    rows = np.array([1, 4, 7, 30, 49])
    sub = LogisticModel(np.ascontiguousarray(X[rows]), y[rows], sample_weight=w[rows],
                        offset=off[rows], l2=0.1)
    ev = model.evaluate_rows(theta, rows)
    assert ev.loss == pytest.approx(sub.loss(theta), rel=1e-14)
    np.testing.assert_allclose(ev.grad, sub.gradient(theta), rtol=1e-13, atol=1e-16)


def test_model_threads_and_float32_agree():
    X, y, w, off = make_data(n=9000, p=4, weighted=True, offset=True, seed=8)
    theta = np.array([0.3, -0.2, 0.1, 0.5, -0.4])
    m1 = LogisticModel(X, y, sample_weight=w, offset=off, l2=0.01, n_threads=1)
    m2 = LogisticModel(X, y, sample_weight=w, offset=off, l2=0.01, n_threads=2)
    e1, e2 = m1.evaluate(theta, "exact"), m2.evaluate(theta, "exact")
    assert e1.loss == e2.loss and np.array_equal(e1.grad, e2.grad)
    np.testing.assert_array_equal(m1.exact_fisher(theta), m2.exact_fisher(theta))
    X32 = X.astype(np.float32)
    m32 = LogisticModel(X32, y, sample_weight=w, offset=off, l2=0.01)
    m64 = LogisticModel(X32.astype(np.float64), y, sample_weight=w, offset=off, l2=0.01)
    assert m32.loss(theta) == pytest.approx(m64.loss(theta), rel=1e-13)
    np.testing.assert_allclose(m32.gradient(theta), m64.gradient(theta), rtol=1e-11,
                               atol=1e-14)
    np.testing.assert_allclose(m32.exact_fisher(theta), m64.exact_fisher(theta), rtol=1e-12)


def test_gradient_lipschitz_bounds_curvature():
    X, y, w, off = make_data(n=60, p=3, weighted=True)
    model = LogisticModel(X, y, sample_weight=w, l2=0.2)
    L = model.gradient_lipschitz()
    rng = np.random.default_rng(0)
    for _ in range(5):
        theta = rng.normal(size=4)
        assert np.linalg.eigvalsh(model.exact_fisher(theta))[-1] <= L * (1 + 1e-12)
    # tight: attained by the p = 1/2 curvature at theta = 0
    assert np.linalg.eigvalsh(model.exact_fisher(np.zeros(4)))[-1] == pytest.approx(L,
                                                                                   rel=1e-12)


def test_registry():
    assert get_model("logistic") is LogisticModel
    assert get_model(" Logistic ") is LogisticModel
    from ngd.models import GLM
    assert get_model("inverse-gaussian") is GLM and get_model("poisson") is GLM
    with pytest.raises(ValueError):
        get_model("no_such_model")
    with pytest.raises(TypeError):
        get_model(3)
