"""GLMs (ngd.models.GLM and ngd.fit with a family): every family x link pair ngd allows.

1. Model level, against finite differences and Monte-Carlo draws from the model itself:
   loss == an independent numpy objective (half unit deviances written out here), gradient ==
   FD gradient, observed Hessian == FD Jacobian of the gradient for every link, exact Fisher ==
   that Jacobian only for canonical links, E[score] = 0, E[s s^T] = Fisher and
   -E[Hessian] = Fisher under y ~ p(. | theta) (phi = 1, as ``family.sample`` draws).
2. Fisher scoring (method="ngd", fisher="exact") vs Newton: different first steps for
   non-canonical links, the same MLE, both equal to a scipy.optimize reference; unit-step exact
   NGD == hand-written IRLS for canonical links.
3. Real data shipped with statsmodels (scotland, cpunish, star98, spector) against statsmodels
   GLM: coefficients, standard errors, dispersion, deviance, null deviance, llf, AIC.
4. Offsets / exposure, integer weights == duplicated rows, no intercept, l2 > 0, binomial
   trials == Bernoulli expansion, robust (sandwich) standard errors vs statsmodels HC0.
5. Bad inputs: clear ValueError / TypeError.

Objective (DESIGN.md): L = (1/sum w) sum_i w_i d(y_i, mu_i)/2 + (l2/2) ||coef||^2.
"""
import warnings

import numpy as np
import pytest
import scipy.optimize
from scipy.special import expit, logit, ndtr, ndtri, xlogy

import ngd
from ngd.exceptions import DataError
from ngd.models import GLM

from finite_differences import fd_gradient, fd_jacobian

# (family, link, power) for every pair ngd allows
PAIRS = [
    ("gaussian", "identity", None), ("gaussian", "log", None), ("gaussian", "inverse", None),
    ("binomial", "logit", None), ("binomial", "probit", None), ("binomial", "cloglog", None),
    ("binomial", "log", None),
    ("poisson", "log", None), ("poisson", "identity", None), ("poisson", "sqrt", None),
    ("gamma", "inverse", None), ("gamma", "log", None), ("gamma", "identity", None),
    ("inverse_gaussian", "inverse_squared", None), ("inverse_gaussian", "inverse", None),
    ("inverse_gaussian", "log", None),
    ("tweedie", "log", 1.5), ("tweedie", "log", 3.0),
]
CANONICAL = {("gaussian", "identity"), ("binomial", "logit"), ("poisson", "log"),
             ("gamma", "inverse"), ("inverse_gaussian", "inverse_squared")}
NON_CANONICAL = [pair for pair in PAIRS if pair[:2] not in CANONICAL]


def pair_id(pair):
    family, link, power = pair
    return f"{family}-{link}" + ("" if power is None else f"-p{power:g}")


# --- independent formulas ---------------------------------------------------------------
MEAN = {  # h(eta)
    "identity": lambda e: e,
    "log": np.exp,
    "logit": expit,
    "probit": ndtr,
    "cloglog": lambda e: 1.0 - np.exp(-np.exp(e)),
    "inverse": lambda e: 1.0 / e,
    "inverse_squared": lambda e: 1.0 / np.sqrt(e),
    "sqrt": lambda e: e * e,
}
LINK = {  # g(mu)
    "identity": lambda m: m,
    "log": np.log,
    "logit": logit,
    "probit": ndtri,
    "cloglog": lambda m: np.log(-np.log(1.0 - m)),
    "inverse": lambda m: 1.0 / m,
    "inverse_squared": lambda m: m ** -2.0,
    "sqrt": np.sqrt,
}


def half_deviance(family, power, y, mu):
    """d(y, mu) / 2 per row, written from the textbook unit deviances."""
    if family == "gaussian":
        return 0.5 * (y - mu) ** 2
    if family == "binomial":
        return xlogy(y, y / mu) + xlogy(1 - y, (1 - y) / (1 - mu))
    if family == "poisson":
        return xlogy(y, y / mu) - (y - mu)
    if family == "gamma":
        return -np.log(y / mu) + (y - mu) / mu
    if family == "inverse_gaussian":
        return (y - mu) ** 2 / (2 * y * mu ** 2)
    p = power
    return (np.where(y > 0, np.abs(y) ** (2 - p), 0.0) / ((1 - p) * (2 - p))
            - y * mu ** (1 - p) / (1 - p) + mu ** (2 - p) / (2 - p))


def ref_objective(theta, X, y, family, link, power, w=None, off=None, fit_intercept=True,
                  l2=0.0):
    """L(theta) in plain numpy (y = proportions for binomial, w includes trials); inf where
    the mean leaves the family's domain."""
    p = X.shape[1]
    coef = theta[:p]
    eta = X @ coef + (theta[p] if fit_intercept else 0.0) + (0.0 if off is None else off)
    w = np.ones(len(y)) if w is None else w
    with np.errstate(all="ignore"):
        mu = MEAN[link](eta)
        if link in ("inverse", "inverse_squared", "sqrt") and np.any(eta <= 0):
            return np.inf
        if family == "binomial" and np.any((mu <= 0) | (mu >= 1)):
            return np.inf
        if family not in ("gaussian", "binomial") and np.any(mu <= 0):
            return np.inf
        d = half_deviance(family, power, y, mu)
    value = np.sum(w * d) / np.sum(w) + 0.5 * l2 * coef @ coef
    return float(value) if np.isfinite(value) else np.inf


def quiet_fit(*args, **kwargs):
    """ngd.fit with ConvergenceWarning / DampingWarning silenced (max_iter=1 fits)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ngd.fit(*args, **kwargs)


# --- synthetic problems ---------------------------------------------------------------------
# centre of the linear predictor, and its spread (|X coef| <= spread): the mean stays valid
CENTRE_MEAN = {"binomial": 0.3}
SPREAD = {"identity": 0.8, "log": 0.5, "logit": 1.0, "probit": 0.6, "cloglog": 0.8,
          "inverse": 0.2, "inverse_squared": 0.1, "sqrt": 0.4}
DIRECTION = np.array([0.5, -0.3, 0.2])          # |x . DIRECTION| <= 1 for x in [-1, 1]^3


def draw_response(family, power, mu, rng, trials=None):
    """y with mean mu (an independent sampler; dispersion 1/4 for the continuous families)."""
    if family == "gaussian":
        return mu + 0.5 * rng.standard_normal(mu.shape)
    if family == "binomial":
        return rng.binomial(trials.astype(np.int64), mu).astype(float) if trials is not None \
            else (rng.random(mu.shape) < mu).astype(float)
    if family == "poisson":
        return rng.poisson(mu).astype(float)
    if family == "gamma":
        return rng.gamma(4.0, mu / 4.0)
    if family == "inverse_gaussian" or power == 3:
        return rng.wald(mu, 4.0)
    return rng.gamma(2.0, mu / 1.6) * (rng.random(mu.shape) < 0.8)   # tweedie 1.5: zeros


def make_problem(family, link, power, n=40, seed=0, weighted=False, offset=False,
                 fit_intercept=True, trials=False):
    """X in [-1, 1]^3 (a constant first column without intercept), the true theta, y, w, o."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 3))
    centre = LINK[link](np.array(CENTRE_MEAN.get(family, 2.0)))
    spread = SPREAD[link]
    coef = spread * DIRECTION
    if fit_intercept:
        theta = np.r_[coef, centre]
    else:
        X[:, 0] = 1.0
        theta = np.r_[centre, coef[1:]]
    off = rng.uniform(-0.1, 0.1, size=n) * spread if offset else None
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    m = rng.integers(1, 8, size=n).astype(float) if trials else None
    eta = X @ theta[:3] + (theta[3] if fit_intercept else 0.0) + (0.0 if off is None else off)
    y = draw_response(family, power, MEAN[link](eta), rng, m)
    return X, y, w, off, m, theta


CONFIGS = {
    "weights-offset-intercept-l2": dict(weighted=True, offset=True, fit_intercept=True,
                                        l2=0.3),
    "plain-no_intercept": dict(weighted=False, offset=False, fit_intercept=False, l2=0.0),
}
CASES = [(pair, name) for pair in PAIRS for name in CONFIGS] + \
        [(pair, "trials") for pair in PAIRS if pair[0] == "binomial"]


def case_id(case):
    return f"{pair_id(case[0])}-{case[1]}"


def build(case, seed=0, n=40):
    """(model, theta at which to evaluate, raw arrays)."""
    (family, link, power), name = case
    cfg = dict(CONFIGS.get(name, dict(weighted=True, offset=True, fit_intercept=True, l2=0.1)))
    l2 = cfg.pop("l2")
    X, y, w, off, m, truth = make_problem(family, link, power, n=n, seed=seed,
                                          trials=name == "trials", **cfg)
    model = GLM(X, y, family=family, link=link, power=power, trials=m, sample_weight=w,
                offset=off, fit_intercept=cfg["fit_intercept"], l2=l2)
    rng = np.random.default_rng(seed + 100)
    theta = truth + 0.05 * SPREAD[link] * rng.uniform(-1, 1, size=truth.size)
    return model, theta, (X, y, w, off, m, cfg["fit_intercept"], l2)


# =============================================================================================
# 1. derivatives and Fisher identities
# =============================================================================================
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_loss_matches_independent_objective(case):
    (family, link, power), _ = case
    model, theta, (X, y, w, off, m, fit_intercept, l2) = build(case)
    yp = y if m is None else y / m
    wt = (np.ones(len(y)) if w is None else w) * (1.0 if m is None else m)
    expected = ref_objective(theta, X, yp, family, link, power, wt, off, fit_intercept, l2)
    assert np.isfinite(expected)
    assert model.loss(theta) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    # deviance is twice the weighted half deviances (l2 excluded)
    coef = theta[:X.shape[1]]
    dev = 2 * (expected - 0.5 * l2 * coef @ coef) * wt.sum()
    assert model.deviance(theta) == pytest.approx(dev, rel=1e-11)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_gradient_matches_finite_differences(case):
    model, theta, _ = build(case)
    g = model.gradient(theta)
    assert np.all(np.isfinite(g))
    fd = fd_gradient(model.loss, theta)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8 * max(1.0, np.abs(fd).max()))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_hessian_and_fisher_against_fd_jacobian(case):
    (family, link, _), _ = case
    model, theta, _ = build(case)
    fd = fd_jacobian(model.gradient, theta)
    fd = 0.5 * (fd + fd.T)
    scale = np.abs(fd).max()
    H = model.hessian(theta)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-7 * scale)
    F = model.exact_fisher(theta)
    if (family, link) in CANONICAL:
        np.testing.assert_allclose(F, fd, rtol=1e-6, atol=1e-7 * scale)
    else:   # the residual term (y - mu) d/deta[h'/V] makes them differ away from y = mu
        assert np.abs(F - fd).max() > 1e-3 * scale


MC_REPLICATES = 3000


def sampled_model(model, theta, rng, replicates=MC_REPLICATES):
    """The model on `replicates` stacked copies of its rows with y drawn by sample_response."""
    tiled = lambda a: None if a is None else np.tile(a, replicates)      # noqa: E731
    X = np.tile(model.X, (replicates, 1))
    m = tiled(model.trials)
    w_raw = model.sample_weight if m is None else model.sample_weight / model.trials
    big0 = GLM(X, tiled(model.y * (1 if m is None else model.trials)), family=model.family,
               link=model.link, trials=m, sample_weight=tiled(w_raw),
               offset=tiled(model.offset), fit_intercept=model.fit_intercept, l2=model.l2)
    y = big0.sample_response(theta, rng)
    if m is not None:   # proportions -> successes
        y = np.rint(y * m)
    return GLM(X, y, family=model.family, link=model.link, trials=m, sample_weight=tiled(w_raw),
               offset=tiled(model.offset), fit_intercept=model.fit_intercept, l2=model.l2)


def assert_within_se(samples, expected, n_se=5.0, max_rel_se=0.05):
    """mean of samples (axis 0) == expected within n_se standard errors of the mean, and the
    standard errors small enough for the check to mean something."""
    mean = samples.mean(axis=0)
    se = samples.std(axis=0, ddof=1) / np.sqrt(samples.shape[0])
    scale = np.abs(expected).max()
    assert se.max() < max_rel_se * scale, (se.max(), scale)
    excess = np.abs(mean - expected) - n_se * se - 1e-12 * scale
    assert excess.max() <= 0, (mean, expected, se)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_score_mean_zero_and_fisher_is_score_covariance(case):
    """Under y ~ p(. | theta) at phi = 1: E[s] = 0 and E[(1/sum w m) sum w s s^T] = F - l2 (the
    exact Fisher of the objective without its penalty): E[(y - mu)^2] = V(mu) / m, so with the
    row score s = m (y - mu) h'/V x, E[s s^T] = m h'^2 / V x x^T for every family, the
    continuous ones included (m = trials, else 1). E[empirical Fisher] = exact Fisher too."""
    model, theta, _ = build(case)
    n, R = model.n_samples, MC_REPLICATES
    big = sampled_model(model, theta, np.random.default_rng(1))
    S = big.scores(theta).reshape(R, n, model.n_params)
    # frequency weights w (sample_weight holds w * trials for binomial counts)
    w = model.sample_weight if model.trials is None else model.sample_weight / model.trials
    wn = w / model.weight_sum
    score_sums = np.einsum("i,rij->rj", wn, S)
    outer = np.einsum("i,rij,rik->rjk", wn, S, S)
    F = model.exact_fisher(theta)
    penalty = np.diag(model.l2 * model.penalty_mask.astype(float))
    # the empirical Fisher of the stacked model is the replicate average of the outer products
    np.testing.assert_allclose(big.empirical_fisher(theta) - penalty, outer.mean(axis=0),
                               rtol=1e-10, atol=1e-13 * np.abs(F).max())
    assert_within_se(outer.reshape(R, -1), (F - penalty).ravel())
    # E[s] = 0: compare with the scale of a single replicate's score sum
    mean = score_sums.mean(axis=0)
    se = score_sums.std(axis=0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(mean) <= 5 * se)
    assert se.max() < 0.05 * np.sqrt(np.abs(np.diag(F - penalty)).max())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fisher_is_minus_expected_hessian(case):
    """The observed Hessian averaged over y ~ p(. | theta) is the exact Fisher."""
    model, theta, _ = build(case)
    (family, link, _), _ = case
    n, R = model.n_samples, MC_REPLICATES
    big = sampled_model(model, theta, np.random.default_rng(2))
    v = big.evaluate(theta, "observed").weights.reshape(R, n) * R   # per-replicate weights
    Xt = np.asarray(model.X, dtype=float)
    if model.fit_intercept:
        Xt = np.hstack([Xt, np.ones((n, 1))])
    penalty = np.diag(model.l2 * model.penalty_mask.astype(float))
    H = np.einsum("ri,ij,ik->rjk", v, Xt, Xt) + penalty
    # the stacked model's Hessian is the replicate average (ties this to model.hessian)
    np.testing.assert_allclose(big.hessian(theta), H.mean(axis=0), rtol=1e-10,
                               atol=1e-12 * np.abs(H).max())
    F = model.exact_fisher(theta)
    if (family, link) in CANONICAL:   # no residual term: every replicate equals F
        np.testing.assert_allclose(H, np.broadcast_to(F, H.shape), rtol=1e-10,
                                   atol=1e-12 * np.abs(F).max())
    else:
        assert np.abs(H - F).max() > 1e-3 * np.abs(F).max()   # replicates do vary
        assert_within_se(H.reshape(R, -1), F.ravel())


def test_tweedie_sampler_moments():
    """Tweedie draws at phi = 1: mean mu and variance mu^p (the 1 < p < 2 compound
    Poisson-gamma sampler, and p = 3 as the inverse Gaussian)."""
    rng = np.random.default_rng(5)
    mu = np.full(200_000, 1.7)
    for power in (1.5, 3.0):
        y = ngd.models.get_family("tweedie", power=power).sample(mu, rng)
        assert np.all(y >= 0)
        se_mean = np.sqrt(mu[0] ** power / mu.size)
        assert abs(y.mean() - mu[0]) < 5 * se_mean
        assert y.var() == pytest.approx(mu[0] ** power, rel=0.05)
        if power == 1.5:   # a point mass at zero: P(N = 0) = exp(-mu^(2-p)/(2-p))
            p0 = np.exp(-mu[0] ** 0.5 / 0.5)
            assert np.mean(y == 0) == pytest.approx(p0, abs=5 * np.sqrt(p0 / mu.size))


# =============================================================================================
# 2. Fisher scoring vs Newton; IRLS; scipy reference
# =============================================================================================
def fit_problem(pair, seed=3, n=300, l2=0.0, weighted=True, offset=True):
    family, link, power = pair
    X, y, w, off, m, truth = make_problem(family, link, power, n=n, seed=seed,
                                          weighted=weighted, offset=offset)
    return dict(X=X, y=y, sample_weight=w, offset=off, model=family, link=link, power=power,
                l2=l2), truth


def scipy_reference(data, truth):
    """Minimise the independent numpy objective with BFGS from the true parameters."""
    f = lambda t: ref_objective(t, data["X"], data["y"], data["model"], data["link"],   # noqa
                                data["power"], data["sample_weight"], data["offset"], True,
                                data["l2"])
    res = scipy.optimize.minimize(f, truth, jac=lambda t: fd_gradient(f, t, 1e-6),
                                  method="BFGS", options=dict(gtol=1e-10, maxiter=2000))
    return f, res.x


@pytest.mark.parametrize("pair", NON_CANONICAL, ids=pair_id)
def test_scoring_and_newton_first_steps_differ(pair):
    data, _ = fit_problem(pair)
    x0 = GLM(data["X"], data["y"], family=pair[0], link=pair[1], power=pair[2],
             sample_weight=data["sample_weight"], offset=data["offset"]).initial_theta()
    scoring = quiet_fit(**data, method="ngd", fisher="exact", max_iter=1)
    newton = quiet_fit(**data, method="newton", max_iter=1)
    assert scoring.n_iter == newton.n_iter == 1
    assert scoring.loss < scoring.history["loss"][0]
    assert newton.loss < newton.history["loss"][0]
    step = np.linalg.norm(scoring.x - x0)
    assert step > 0
    assert np.linalg.norm(scoring.x - newton.x) > 1e-3 * step


@pytest.mark.parametrize("l2", [0.0, 0.05], ids=["l2=0", "l2=0.05"])
@pytest.mark.parametrize("pair", NON_CANONICAL, ids=pair_id)
def test_scoring_and_newton_reach_the_scipy_optimum(pair, l2):
    data, truth = fit_problem(pair, l2=l2)
    scoring = quiet_fit(**data, method="ngd", fisher="exact", max_iter=300)
    newton = quiet_fit(**data, method="newton", max_iter=300)
    assert scoring.converged and newton.converged, (scoring.message, newton.message)
    scale = 1.0 + np.abs(scoring.x).max()
    np.testing.assert_allclose(newton.x, scoring.x, rtol=0, atol=1e-8 * scale)
    f, x_ref = scipy_reference(data, truth)
    for result in (scoring, newton):
        assert f(result.x) == pytest.approx(result.loss, rel=1e-12, abs=1e-15)
        assert abs(f(result.x) - f(x_ref)) <= 1e-8 * max(1.0, abs(f(x_ref)))
        assert f(result.x) <= f(x_ref) + 1e-12 * max(1.0, abs(f(x_ref)))
    # Fisher scoring needs more iterations than Newton near the optimum (linear vs quadratic)
    assert scoring.n_iter >= newton.n_iter


IRLS_PAIRS = [("poisson", "log", None), ("gamma", "inverse", None),
              ("gaussian", "identity", None)]


def irls(X, y, w, off, link, family, n_iter):
    """Textbook IRLS from coef = 0, intercept = g(weighted mean y) - weighted mean offset:
    beta <- (X~^T W X~)^{-1} X~^T W z, W = w h'^2 / V, z = eta - o + (y - mu) / h'."""
    Xt = np.hstack([X, np.ones((len(y), 1))])
    beta = np.zeros(Xt.shape[1])
    beta[-1] = LINK[link](np.sum(w * y) / w.sum()) - np.sum(w * off) / w.sum()
    variance = {"poisson": lambda m: m, "gamma": lambda m: m * m,
                "gaussian": lambda m: np.ones_like(m)}[family]
    dmu = {"log": np.exp, "inverse": lambda e: -1.0 / e ** 2,
           "identity": lambda e: np.ones_like(e)}[link]
    iterates = [beta]
    for _ in range(n_iter):
        eta = Xt @ beta + off
        mu, h1 = MEAN[link](eta), dmu(eta)
        W = w * h1 ** 2 / variance(mu)
        z = eta - off + (y - mu) / h1
        beta = np.linalg.solve(Xt.T @ (W[:, None] * Xt), Xt.T @ (W * z))
        iterates.append(beta)
    return iterates


@pytest.mark.parametrize("pair", IRLS_PAIRS, ids=pair_id)
def test_unit_step_exact_ngd_is_irls(pair):
    data, _ = fit_problem(pair, seed=4, n=200)
    iterates = irls(data["X"], data["y"], data["sample_weight"], data["offset"], pair[1],
                    pair[0], 3)
    for k in (1, 2, 3):
        result = quiet_fit(**data, method="ngd", fisher="exact", max_iter=k)
        assert np.all(result.history["step_size"][1:] == 1.0)
        expected = iterates[result.n_iter]
        if pair[0] != "gaussian":
            assert result.n_iter == k
            # the iterates move: the comparison is not between two fixed points
            assert np.linalg.norm(iterates[k] - iterates[k - 1]) > 1e-6
        np.testing.assert_allclose(result.x, expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max())
    # canonical link: Newton takes the same steps
    newton = quiet_fit(**data, method="newton", max_iter=2)
    np.testing.assert_allclose(newton.x, iterates[newton.n_iter], rtol=1e-10,
                               atol=1e-12 * np.abs(iterates[2]).max())


# =============================================================================================
# 3. real data shipped with statsmodels
# =============================================================================================
def _sm():
    return pytest.importorskip("statsmodels.api")


def real_problem(name):
    """(X, y, ngd kwargs, statsmodels endog, statsmodels family)."""
    sm = _sm()
    links = sm.families.links
    if name.startswith("scotland"):
        d = sm.datasets.scotland.load()
        X, y = np.asarray(d.exog, float), np.asarray(d.endog, float)
        if name == "scotland-gamma-inverse":
            return X, y, dict(model="gamma"), y, sm.families.Gamma()
        return X, y, dict(model="gamma", link="log"), y, sm.families.Gamma(links.Log())
    if name == "cpunish-poisson-log":
        d = sm.datasets.cpunish.load()
        X, y = np.asarray(d.exog, float), np.asarray(d.endog, float)
        X[:, 0] = np.log(X[:, 0])                    # log income
        return X, y, dict(model="poisson"), y, sm.families.Poisson()
    if name == "star98-binomial-logit":
        d = sm.datasets.star98.load()
        X, Y = np.asarray(d.exog, float), np.asarray(d.endog, float)   # successes, failures
        return X, Y[:, 0], dict(model="binomial", trials=Y.sum(axis=1)), Y, \
            sm.families.Binomial()
    d = sm.datasets.spector.load()
    X, y = np.asarray(d.exog, float), np.asarray(d.endog, float)
    link = name.rsplit("-", 1)[1]
    sm_link = {"probit": links.Probit(), "cloglog": links.CLogLog(), "logit": links.Logit()}
    return X, y, dict(model="binomial", link=link), y, sm.families.Binomial(sm_link[link])


REAL = ["scotland-gamma-inverse", "scotland-gamma-log", "cpunish-poisson-log",
        "star98-binomial-logit", "spector-binomial-probit", "spector-binomial-cloglog",
        "spector-binomial-logit"]


def sm_fit(sm, endog, exog, family, offset=None, cov_type="nonrobust"):
    """statsmodels GLM by IRLS, run to tol=1e-14 (its default 1e-8 stops early for
    non-canonical links)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # DomainWarning for gamma-inverse
        return sm.GLM(endog, exog, family=family, offset=offset).fit(
            tol=1e-14, maxiter=1000, cov_type=cov_type)


def as_sm_order(result):
    """ngd's [coef, intercept] -> statsmodels' [const, coef]."""
    return (np.r_[result.intercept, result.coef],
            np.r_[result.intercept_stderr, result.stderr])


@pytest.mark.parametrize("name", REAL)
def test_real_data_matches_statsmodels(name):
    sm = _sm()
    X, y, kwargs, endog, family = real_problem(name)
    result = ngd.fit(X, y, **kwargs)
    assert result.converged, result.message
    ref = sm_fit(sm, endog, sm.add_constant(X), family)
    params, bse = as_sm_order(result)
    np.testing.assert_allclose(params, ref.params, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(bse, ref.bse, rtol=1e-6)
    assert result.dispersion == pytest.approx(ref.scale, rel=1e-8)
    assert result.deviance == pytest.approx(ref.deviance, rel=1e-8)
    assert result.null_deviance == pytest.approx(ref.null_deviance, rel=1e-8)
    assert result.llf == pytest.approx(ref.llf, rel=1e-8)
    assert result.aic == pytest.approx(ref.aic, rel=1e-8)
    if name.startswith("scotland"):
        assert result.pearson_chi2 == pytest.approx(ref.pearson_chi2, rel=1e-8)
    if name.startswith("spector") and not name.endswith("logit"):
        # statsmodels' IRLS may stop early for non-canonical links: the scipy reference
        f = lambda t: ref_objective(t, X, y, "binomial", kwargs["link"], None)   # noqa: E731
        res = scipy.optimize.minimize(f, result.x, method="BFGS",
                                      jac=lambda t: fd_gradient(f, t, 1e-6),
                                      options=dict(gtol=1e-10))
        assert f(result.x) <= f(res.x) + 1e-12


# =============================================================================================
# 4. offsets, weights, intercept, l2, trials, robust covariance
# =============================================================================================
def exposure_problem(seed=6, n=150):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = rng.uniform(0.5, 5.0, size=n)
    y = rng.poisson(t * np.exp(X @ [0.3, -0.2, 0.1] + 0.2)).astype(float)
    return X, y, t


def test_poisson_exposure_offset_equals_weighted_rate():
    """offset = log t is the same model as the rate y/t with weights t: the unit deviance
    scales, d(y, t mu) = t d(y/t, mu), and the Fisher weights are t mu in both."""
    X, y, t = exposure_problem()
    with_offset = ngd.fit(X, y, model="poisson", offset=np.log(t))
    as_rate = ngd.fit(X, y / t, model="poisson", sample_weight=t)
    assert with_offset.converged and as_rate.converged
    np.testing.assert_allclose(with_offset.coef, as_rate.coef, rtol=1e-8, atol=1e-10)
    assert with_offset.intercept == pytest.approx(as_rate.intercept, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(with_offset.stderr, as_rate.stderr, rtol=1e-8)
    assert with_offset.deviance == pytest.approx(as_rate.deviance, rel=1e-8)
    # a constant offset c moves only the intercept, by -c
    shifted = ngd.fit(X, y, model="poisson", offset=np.log(t) + 0.7)
    np.testing.assert_allclose(shifted.coef, with_offset.coef, rtol=1e-8, atol=1e-10)
    assert shifted.intercept == pytest.approx(with_offset.intercept - 0.7, abs=1e-8)


def test_poisson_exposure_offset_matches_statsmodels():
    sm = _sm()
    X, y, t = exposure_problem()
    with_offset = ngd.fit(X, y, model="poisson", offset=np.log(t))
    ref = sm_fit(sm, y, sm.add_constant(X), sm.families.Poisson(), offset=np.log(t))
    params, bse = as_sm_order(with_offset)
    np.testing.assert_allclose(params, ref.params, rtol=1e-6)
    np.testing.assert_allclose(bse, ref.bse, rtol=1e-6)
    assert with_offset.deviance == pytest.approx(ref.deviance, rel=1e-8)
    assert with_offset.null_deviance == pytest.approx(ref.null_deviance, rel=1e-8)
    assert with_offset.llf == pytest.approx(ref.llf, rel=1e-8)


@pytest.mark.parametrize("pair", [("poisson", "log", None), ("gamma", "log", None),
                                  ("binomial", "probit", None),
                                  ("inverse_gaussian", "inverse_squared", None)], ids=pair_id)
def test_integer_weights_equal_duplicated_rows(pair):
    family, link, power = pair
    X, y, _, off, _, _ = make_problem(family, link, power, n=80, seed=7, offset=True)
    counts = np.random.default_rng(8).integers(0, 4, size=len(y))
    counts[:3] = [1, 2, 3]
    rows = np.repeat(np.arange(len(y)), counts)
    weighted = ngd.fit(X, y, model=family, link=link, sample_weight=counts.astype(float),
                       offset=off)
    repeated = ngd.fit(X[rows], y[rows], model=family, link=link, offset=off[rows])
    assert weighted.converged and repeated.converged
    for attr in ("coef", "stderr"):
        np.testing.assert_allclose(getattr(weighted, attr), getattr(repeated, attr),
                                   rtol=1e-8, atol=1e-10)
    for attr in ("intercept", "intercept_stderr", "dispersion", "deviance", "null_deviance",
                 "llf", "aic", "loss"):
        assert getattr(weighted, attr) == pytest.approx(getattr(repeated, attr), rel=1e-8), attr


@pytest.mark.parametrize("pair", [("poisson", "log", None), ("gamma", "identity", None),
                                  ("binomial", "cloglog", None)], ids=pair_id)
def test_no_intercept_matches_statsmodels_without_constant(pair):
    sm = _sm()
    family, link, power = pair
    X, y, _, _, _, _ = make_problem(family, link, power, n=120, seed=9, fit_intercept=False)
    result = ngd.fit(X, y, model=family, link=link, fit_intercept=False)
    assert result.converged
    assert result.intercept == 0.0 and result.intercept_stderr is None
    assert result.coef.shape == (3,)
    sm_family = {"poisson": sm.families.Poisson(),
                 "gamma": sm.families.Gamma(sm.families.links.Identity()),
                 "binomial": sm.families.Binomial(sm.families.links.CLogLog())}[family]
    ref = sm_fit(sm, y, X, sm_family)
    np.testing.assert_allclose(result.coef, ref.params, rtol=1e-6)
    np.testing.assert_allclose(result.stderr, ref.bse, rtol=1e-6)
    assert result.deviance == pytest.approx(ref.deviance, rel=1e-8)
    # the null model without an intercept is eta = offset (= 0 here), as R's glm; statsmodels
    # instead always fits a constant for its null deviance, so that is not compared
    null = 2 * len(y) * ref_objective(np.zeros(3), X, y, family, link, power,
                                      fit_intercept=False)
    if np.isfinite(null):
        assert result.null_deviance == pytest.approx(null, rel=1e-10)
    else:   # gamma-identity: mu = 0 is outside the family's domain
        assert np.isnan(result.null_deviance)
    f = lambda t: ref_objective(t, X, y, family, link, power, fit_intercept=False)  # noqa
    assert f(result.x) == pytest.approx(result.loss, rel=1e-12)


@pytest.mark.parametrize("pair", [("poisson", "log", None), ("gamma", "inverse", None),
                                  ("binomial", "logit", None)], ids=pair_id)
def test_l2_penalty_matches_scipy_reference(pair):
    data, truth = fit_problem(pair, seed=10, n=100, l2=0.2)
    result = ngd.fit(**data)
    assert result.converged
    f, x_ref = scipy_reference(data, truth)
    assert f(result.x) == pytest.approx(result.loss, rel=1e-12)
    assert abs(f(result.x) - f(x_ref)) <= 1e-10
    np.testing.assert_allclose(result.x, x_ref, rtol=1e-4, atol=1e-5)
    # the penalty shrinks the coefficients, never the intercept
    free = ngd.fit(**dict(data, l2=0.0))
    assert np.linalg.norm(result.coef) < np.linalg.norm(free.coef)


@pytest.mark.parametrize("link", ["logit", "probit", "cloglog", "log"])
def test_binomial_trials_equal_weighted_bernoulli_rows(link):
    """k successes in m trials == a row y = 1 with weight k and a row y = 0 with weight
    m - k: same coefficients and standard errors (the losses differ by a constant)."""
    X, k, _, off, m, _ = make_problem("binomial", link, None, n=60, seed=11, offset=True,
                                      trials=True)
    counts = ngd.fit(X, k, model="binomial", link=link, trials=m, offset=off)
    Xb = np.vstack([X, X])
    yb = np.r_[np.ones(len(k)), np.zeros(len(k))]
    wb = np.r_[k, m - k]
    keep = wb > 0
    bern = ngd.fit(Xb[keep], yb[keep], model="binomial", link=link, sample_weight=wb[keep],
                   offset=np.r_[off, off][keep])
    assert counts.converged and bern.converged
    np.testing.assert_allclose(counts.coef, bern.coef, rtol=1e-8, atol=1e-10)
    assert counts.intercept == pytest.approx(bern.intercept, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(counts.stderr, bern.stderr, rtol=1e-8)
    assert counts.intercept_stderr == pytest.approx(bern.intercept_stderr, rel=1e-8)
    assert counts.dispersion == bern.dispersion == 1.0


ROBUST = [("cpunish-poisson-log", True), ("scotland-gamma-inverse", True),
          ("star98-binomial-logit", True), ("scotland-gamma-log", False),
          ("spector-binomial-probit", False)]


@pytest.mark.parametrize("name,canonical", ROBUST, ids=[r[0] for r in ROBUST])
def test_robust_stderr_against_statsmodels_hc0(name, canonical):
    """cov_type="robust" is the sandwich A^{-1} B A^{-1} with the *expected* information A
    (X^T W X, as R's sandwich::vcovHC for glm) and B = sum s_i s_i^T; it does not depend on
    the dispersion.  statsmodels' HC0 uses the *observed* Hessian as bread: the two agree for
    canonical links and differ otherwise, where ngd equals the HC0 sandwich built from
    statsmodels' own scores with its expected information (hessian(observed=False)).
    Binomial counts (star98): the row's score is m (y - mu) s x, as statsmodels and R."""
    sm = _sm()
    X, y, kwargs, endog, family = real_problem(name)
    robust = ngd.fit(X, y, cov_type="robust", **kwargs)
    model_based = ngd.fit(X, y, **kwargs)
    assert robust.cov_type == "robust"
    np.testing.assert_array_equal(robust.coef, model_based.coef)
    Xc = sm.add_constant(X)
    ref = sm_fit(sm, endog, Xc, family, cov_type="HC0")
    params, bse = as_sm_order(robust)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # DomainWarning for gamma-inverse
        sm_model = sm.GLM(endog, Xc, family=family)
    bread = np.linalg.inv(sm_model.hessian(ref.params, observed=False))
    scores = sm_model.score_obs(ref.params)
    eim_sandwich = np.sqrt(np.diag(bread @ scores.T @ scores @ bread))
    np.testing.assert_allclose(bse, eim_sandwich, rtol=1e-6)
    if canonical:
        np.testing.assert_allclose(bse, ref.bse, rtol=1e-6)
    else:
        assert np.max(np.abs(bse / ref.bse - 1)) > 1e-3
    # and robust != model-based standard errors (the model is not exactly right)
    assert np.max(np.abs(robust.stderr / model_based.stderr - 1)) > 1e-3


# =============================================================================================
# 5. bad inputs
# =============================================================================================
X5 = np.random.default_rng(12).normal(size=(6, 2))
BAD = [
    (dict(y=[0, 1, -2, 3, 0, 1], model="poisson"), ValueError, "poisson.*>= 0"),
    (dict(y=[1, 2, 0, 3, 1, 1], model="gamma"), ValueError, "gamma.*> 0"),
    (dict(y=[1, 2, -1, 3, 1, 1], model="inverse_gaussian"), ValueError,
     "inverse_gaussian.*> 0"),
    (dict(y=[0, 1, 1.5, 0, 1, 0], model="binomial"), ValueError, r"\[0, 1\]"),
    (dict(y=[0, 1, -0.5, 0, 1, 0], model="binomial", link="probit"), ValueError, r"\[0, 1\]"),
    (dict(y=[0, 1, 4, 0, 1, 0], model="binomial", trials=[1, 2, 3, 1, 1, 1]), ValueError,
     "successes.*trials"),
    (dict(y=[0, 1, 2, 0, 1, 0], model="binomial", trials=[1, 2, 0, 1, 1, 1]), ValueError,
     "trials"),
    (dict(y=[0, 1, 2, 0, 1, 0], model="poisson", link="logit"), ValueError,
     "logit.*binomial"),
    (dict(y=[0, 1, 1, 0, 1, 0], model="binomial", link="identity"), ValueError,
     "binomial.*identity"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="gamma", link="cubic"), ValueError, "unknown link"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="gamma", link=3), TypeError, "link"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="tweedie"), ValueError, "tweedie.*power"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="tweedie", power=0.5), ValueError, "power"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="gamma", power=1.5), ValueError, "power.*tweedie"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="poisson", trials=[3] * 6), ValueError, "trials"),
    (dict(y=[1, 2, 3, 1, 1, 1], model="gumbel"), ValueError, "unknown model"),
]


@pytest.mark.parametrize("kwargs,exc,match", BAD, ids=[f"{i}-{b[0]['model']}"
                                                        for i, b in enumerate(BAD)])
def test_bad_inputs_raise_clear_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ngd.fit(X5, **kwargs)


def test_bad_model_level_inputs():
    y = np.array([0.0, 1, 2, 0, 1, 0])
    with pytest.raises(ValueError, match="tweedie power must be 0 or >= 1"):
        GLM(X5, y, family="tweedie", power=0.5)
    with pytest.raises(ValueError, match="logit.*binomial"):
        GLM(X5, y, family="poisson", link="logit")
    with pytest.raises(DataError, match="poisson"):
        GLM(X5, -y - 1, family="poisson")
    with pytest.raises(ValueError, match="unknown family"):
        GLM(X5, y, family="gumbel")


@pytest.mark.parametrize("family,link", [("poisson", "log"), ("poisson", "sqrt"),
                                         ("gamma", "log"), ("binomial", "logit")])
def test_null_deviance_with_offset_equals_an_intercept_only_fit(family, link):
    rng = np.random.default_rng(5)
    n = 2000
    off = rng.normal(0.0, 0.3, n)
    w = rng.uniform(0.5, 2.0, n)
    mu = np.exp(0.2 + off) if link != "logit" else 1 / (1 + np.exp(-(0.2 + off)))
    y = {"poisson": lambda: rng.poisson(mu).astype(float),
         "gamma": lambda: rng.gamma(2.0, mu / 2.0),
         "binomial": lambda: (rng.random(n) < mu).astype(float)}[family]()
    if link == "sqrt":
        off = np.abs(off)       # the sqrt link needs eta = b + offset > 0
    X = rng.standard_normal((n, 2))
    fit = ngd.fit(X, y, model=family, link=link, offset=off, sample_weight=w, tol=1e-10)
    null = ngd.fit(np.zeros((n, 1)), y, model=family, link=link, offset=off, sample_weight=w,
                   tol=1e-12, damping=1e-12)
    assert fit.null_deviance == pytest.approx(null.deviance, rel=1e-10)


@pytest.mark.parametrize("family,link", [("poisson", "log"), ("gamma", "log"),
                                         ("binomial", "probit"), ("gaussian", "identity")])
def test_statistics_in_row_blocks_equal_one_block(family, link, monkeypatch):
    import ngd.models.glm as glm_module
    rng = np.random.default_rng(9)
    n = 500
    X = rng.standard_normal((n, 3))
    off = rng.normal(0.0, 0.2, n)
    mu = np.exp(0.3 + 0.2 * X[:, 0] + off)
    y = {"poisson": lambda: rng.poisson(mu).astype(float),
         "gamma": lambda: rng.gamma(2.0, mu / 2.0),
         "binomial": lambda: (rng.random(n) < 0.4).astype(float),
         "gaussian": lambda: mu + rng.standard_normal(n)}[family]()
    model = GLM(X, y, family, link, offset=off, sample_weight=rng.uniform(0.5, 2.0, n))
    theta = model.initial_theta() + 0.01
    whole = (model.pearson_chi2(theta), model.log_likelihood(theta, 1.3))
    monkeypatch.setattr(glm_module, "STATISTICS_BLOCK_ROWS", 7)
    blocked = (model.pearson_chi2(theta), model.log_likelihood(theta, 1.3))
    np.testing.assert_allclose(blocked, whole, rtol=1e-12)
