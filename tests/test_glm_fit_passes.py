"""The GLM fit's shortcuts (issue 15, part 3) give what the long way gives: no curvature
subsample where the curvature is fixed, the separation pre-check, the 0/1 binomial
log-likelihood from the deviance."""
import numpy as np
import pytest

import ngd
from ngd.models import get_model
from ngd.models.separation import binary_certificate


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return rng, X, X @ rng.standard_normal(d) * 0.3


@pytest.mark.parametrize("model, link, curvature, fixed", [
    ("gaussian", "identity", "exact", True), ("gaussian", "identity", "observed", True),
    ("gamma", "log", "exact", True), ("gamma", "log", "observed", False),
    ("poisson", "log", "exact", False), ("gamma", "inverse", "exact", False)])
def test_curvature_is_fixed_means_weights_do_not_move(model, link, curvature, fixed):
    rng, X, eta = _data(500, 3)
    y = {"gaussian": lambda: eta + rng.standard_normal(500),
         "gamma": lambda: rng.gamma(2.0, np.exp(eta) / 2.0) if link == "log"
         else rng.gamma(2.0, 1.0 / (2.0 + np.abs(eta)) / 2.0),
         "poisson": lambda: rng.poisson(np.exp(eta)).astype(float)}[model]()
    glm = get_model(model)(X, y, family=model, link=link)
    assert glm.curvature_is_fixed(curvature) is fixed
    theta = glm.initial_theta()
    other = theta + 0.05 * rng.standard_normal(theta.size)
    a = glm.evaluate(theta, curvature).weights
    b = glm.evaluate(other, curvature).weights
    assert np.allclose(a, b, rtol=1e-12, atol=0) is fixed


@pytest.mark.parametrize("model, link", [("gaussian", "identity"), ("gamma", "log")])
def test_fixed_curvature_uses_every_row_from_the_first_step(model, link):
    rng, X, eta = _data(50_000, 4, seed=1)      # n >= 4 x 10 000: "auto" would subsample
    y = eta + rng.standard_normal(eta.size) if model == "gaussian" else \
        rng.gamma(2.0, np.exp(eta) / 2.0)
    res = ngd.fit(X, y, model=model, link=link, tol=1e-10, stderr=False)
    assert res.converged
    assert np.all(res.history["fisher_rows"][1:] == X.shape[0])
    scoring = ngd.fit(X, y, model=model, link=link, tol=1e-10, stderr=False, subsample=None)
    np.testing.assert_allclose(res.coef, scoring.coef, rtol=0, atol=1e-9)
    if model == "gaussian":                     # least squares: one exact step
        assert res.n_iter == 1
        design = np.column_stack([X, np.ones(X.shape[0])])
        np.testing.assert_allclose(np.append(res.coef, res.intercept),
                                   np.linalg.lstsq(design, y, rcond=None)[0], atol=1e-12)


def test_margin_witness_implies_no_certificate():
    rng, X, eta = _data(2000, 5, seed=2)
    y = (rng.random(2000) < 1 / (1 + np.exp(-eta))).astype(float)
    y[:50] = 0.3                                  # proportions: their margins must be 0
    glm = get_model("binomial")(X, y, family="binomial", link="logit")
    witnessed = 0
    for k in range(200):
        delta = rng.standard_normal(6) * 10.0 ** rng.integers(-12, 2)
        if k % 3 == 0:                            # nearly separating: a few wrong rows
            delta[:5] = 0.0
            delta[5] = 1e-3
        if glm._margin_witness(y, delta):
            witnessed += 1
            assert binary_certificate(X, y, delta, True, glm.sample_weight) is None
    assert witnessed > 100


def test_separation_still_found_with_the_pre_check():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 2))
    y = (X[:, 0] > 0).astype(float)                # complete separation along column 0
    glm = get_model("binomial")(X, y, family="binomial", link="logit")
    delta = np.array([1.0, 0.0, 0.0])
    assert not glm._margin_witness(y, delta)
    rows, columns = glm.separation(delta)
    assert columns == [0] and rows.size == np.count_nonzero(X[:, 0] != 0)


def test_binary_binomial_log_likelihood_is_minus_half_the_deviance():
    rng, X, eta = _data(3000, 4, seed=4)
    y = (rng.random(3000) < 1 / (1 + np.exp(-eta))).astype(float)
    w = rng.uniform(0.5, 2.0, 3000)
    glm = get_model("binomial")(X, y, family="binomial", link="logit", sample_weight=w)
    theta = glm.initial_theta() + 0.1
    mu = glm.mean(theta)
    expected = glm.family.log_likelihood(y, mu, w, 1.0)   # the per-row formula
    assert glm.log_likelihood(theta, 1.0) == pytest.approx(expected, rel=1e-13)
    y[0] = 0.5                                     # a proportion: the general formula
    glm = get_model("binomial")(X, y, family="binomial", link="logit", sample_weight=w)
    assert glm.log_likelihood(theta, 1.0) == pytest.approx(
        glm.family.log_likelihood(y, glm.mean(theta), w, 1.0), rel=1e-13)


@pytest.mark.parametrize("curvature", [None, "exact", "observed", "empirical"])
@pytest.mark.parametrize("dtype, order, trials", [(np.float64, "C", False),
                                                   (np.float32, "F", False),
                                                   (np.float64, "F", True)])
def test_binary_binomial_logit_pass_matches_the_reference(curvature, dtype, order, trials):
    rng, X, eta = _data(3000, 4, seed=5)
    X = np.asarray(X, dtype=dtype, order=order)
    m = rng.integers(1, 4, 3000).astype(float) if trials else None
    y = (rng.random(3000) < 1 / (1 + np.exp(-eta))).astype(float)
    if trials:
        y = y * m                                   # 0 or m successes: 0/1 proportions
    w, offset = rng.uniform(0.5, 2.0, 3000), rng.normal(0.0, 0.1, 3000)
    glm = get_model("binomial")(X, y, family="binomial", link="logit", trials=m,
                                sample_weight=w, offset=offset)
    theta = np.append(rng.normal(0.0, 0.3, 4), 0.2)
    eta_out = np.empty(3000)
    args = (theta, curvature, glm.X, glm.y, glm.sample_weight, glm.offset, glm.weight_sum,
            glm.trials)
    fast = glm._evaluate(*args, eta_out=eta_out)
    assert glm._binary_response(glm.y)
    ref = glm._evaluate_generic(*args)
    assert fast.loss == pytest.approx(ref.loss, rel=1e-12)
    np.testing.assert_allclose(fast.grad, ref.grad, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(eta_out, glm.linear_predictor(theta, offset=glm.offset),
                               rtol=1e-12, atol=1e-12)
    if curvature is None:
        assert fast.weights is None
    else:
        np.testing.assert_allclose(fast.weights, ref.weights, rtol=1e-10, atol=1e-18)
    theta[0] = np.inf                                # out of domain: the loss is +inf
    with np.errstate(all="ignore"):
        assert glm._evaluate(*((theta,) + args[1:])).loss == np.inf


@pytest.mark.parametrize("link", ["identity", "log"])
def test_gaussian_pearson_and_log_likelihood_from_the_deviance(link):
    rng, X, eta = _data(3000, 4, seed=6)
    y = np.exp(eta) + rng.standard_normal(3000)
    w = rng.uniform(0.5, 2.0, 3000)
    glm = get_model("gaussian")(X, y, family="gaussian", link=link, sample_weight=w)
    theta = np.append(0.1 * rng.standard_normal(4), 0.3)
    mu = glm.mean(theta)
    assert glm.pearson_chi2(theta) == pytest.approx(np.sum(w * (y - mu) ** 2), rel=1e-13)
    phi = 0.7 if link == "log" else np.sum(w * (y - mu) ** 2) / w.sum()
    assert glm.log_likelihood(theta, 0.7) == pytest.approx(
        glm.family.log_likelihood(y, mu, w, phi), rel=1e-13)


@pytest.mark.parametrize("options, steps", [
    (dict(), 1), (dict(l2=0.3, sample_weight=True, offset=True), 1),
    (dict(damping=0.1), None), (dict(solver="cg"), None), (dict(step="kl", kl=1e-3), None),
    (dict(fisher="empirical"), None)])
def test_one_exact_step_ends_a_least_squares_fit_only_when_it_is_exact(options, steps):
    """Gaussian-identity: an undamped unit step with a direct solve of the Hessian is the
    minimiser, so the fit stops after it; a damped, CG, KL-limited or empirical-Fisher step
    is not, and the fit goes on to the same optimum."""
    rng, X, eta = _data(3000, 6, seed=3)
    X[:, 1] = X[:, 0] + 0.3 * X[:, 1]                   # correlated columns
    y = eta + rng.standard_normal(eta.size)
    options = dict(options)
    w = rng.uniform(0.5, 2.0, eta.size) if options.pop("sample_weight", False) else None
    offset = 0.3 * rng.standard_normal(eta.size) if options.pop("offset", False) else None
    res = ngd.fit(X, y, model="gaussian", tol=1e-10, stderr=False, sample_weight=w,
                  offset=offset, max_iter=500, **options)
    assert res.converged, res.message
    if steps is not None:
        assert res.n_iter == steps
    else:
        assert res.n_iter > 1
    l2 = options.get("l2", 0.0)
    design = np.column_stack([X, np.ones(eta.size)])
    sw = np.ones(eta.size) if w is None else w
    target = y - (0.0 if offset is None else offset)
    A = design.T @ (sw[:, None] * design) / sw.sum()
    A[:-1, :-1] += l2 * np.eye(X.shape[1])
    exact = np.linalg.solve(A, design.T @ (sw * target) / sw.sum())
    np.testing.assert_allclose(np.append(res.coef, res.intercept), exact,
                               atol=1e-7 * (1 + np.abs(exact).max()))
    assert np.abs(res.grad).max() <= 1e-10 or steps is None


def test_margin_witness_looks_at_a_sample_then_at_every_row():
    """Above 2 x WITNESS_SAMPLE_ROWS rows the witness looks among evenly spaced rows first;
    a lone wrong row between them is still found by the pass over all rows, and a separated
    X has no witness in either (the certificate then names the rows), for the GLM and the
    logistic model alike."""
    from ngd.models.separation import WITNESS_SAMPLE_ROWS, margin_witness
    rng = np.random.default_rng(11)
    n = 3 * WITNESS_SAMPLE_ROWS + 5
    X = rng.standard_normal((n, 2))
    y = (X[:, 0] > 0).astype(float)                # separated along column 0
    w = np.ones(n)
    delta = np.array([1.0, 0.0, 0.0])
    assert not margin_witness(X, y, delta, True, w)
    step = n // WITNESS_SAMPLE_ROWS
    lone = next(i for i in range(1, n) if i % step and abs(X[i, 0]) > 0.5)
    y_lone = y.copy()
    y_lone[lone] = 1.0 - y_lone[lone]               # one row on the wrong side, off the sample
    assert margin_witness(X, y_lone, delta, True, w)
    assert binary_certificate(X, y_lone, delta, True, w) is None
    w_lone = w.copy()
    w_lone[lone] = 0.0                              # ... unless it has no weight
    assert not margin_witness(X, y_lone, delta, True, w_lone)
    for model in (get_model("binomial")(X, y, family="binomial", link="logit"),
                  get_model("logistic")(X, y)):
        rows, columns = model.separation(delta)
        assert columns == [0] and rows.size == np.count_nonzero(X[:, 0] != 0)
    unseparated = (rng.random(n) < 0.5).astype(float)
    assert margin_witness(X, unseparated, delta, True, w)
