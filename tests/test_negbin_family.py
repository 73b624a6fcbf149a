"""The NB2 family at a fixed alpha (ngd.models.families.NegativeBinomial) and its fused kernel
row terms.

Formulas against independent references: log p(y) against scipy.stats.nbinom (and, at tiny
alpha, the Poisson limit), the unit deviance against statsmodels' NegativeBinomial family,
V and V' by their definitions, the KL against the sum over the support, the sampler's mean
and variance. The fused dense (glm_pass) and CSR (csr_glm_pass) passes against the numpy
reference GLM._evaluate_generic for the log, identity and sqrt links: loss, gradient and every
curvature's weights to 1e-12 relative, float32/float64, C/F order, weights, offset, l2, with
and without an intercept, bitwise identical for 1 and 2 threads; the out-of-domain flag; a bad
alpha reaching the kernel is a code error. The Fisher identities (E[score] = 0,
F = E[s s^T] = -E[Hessian], KL ~ 1/2 d^T F d) by ngd.check on a fitted model.
"""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import gammaln, xlogy

import ngd
from ngd._kernels import fused, sparse_fused
from ngd.models import GLM, get_family, get_link
from ngd.models.families import NegativeBinomial

RTOL = 1e-12
LINKS = ("log", "identity", "sqrt")
CURVATURES = (None, "exact", "empirical", "observed")
N_ROWS = 20_000          # several row blocks, so two threads both work


def nb_sample(mu, alpha, rng):
    """An independent NB2 sampler: Poisson(mu * Gamma(1/alpha, alpha))."""
    return rng.poisson(mu * rng.gamma(1.0 / alpha, alpha, size=mu.shape)).astype(float)


def problem(link, n=N_ROWS, alpha=0.7, weighted=True, offset=True, fit_intercept=True,
            seed=0):
    """X in [-1, 1]^3, the true theta (mean about 3), y, w, offset."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n, 3))
    centre = {"log": np.log(3.0), "identity": 3.0, "sqrt": np.sqrt(3.0)}[link]
    coef = {"log": 0.4, "identity": 1.5, "sqrt": 0.5}[link] * np.array([0.5, -0.3, 0.2])
    if fit_intercept:
        theta = np.r_[coef, centre]
        eta = X @ coef + centre
    else:
        X[:, 0] = 1.0
        theta = np.r_[centre, coef[1:]]
        eta = X @ theta
    off = rng.uniform(-0.05, 0.05, size=n) if offset else None
    if off is not None:
        eta = eta + off
    mu = {"log": np.exp, "identity": lambda e: e, "sqrt": lambda e: e * e}[link](eta)
    y = nb_sample(mu, alpha, rng)
    w = rng.uniform(0.5, 2.0, size=n) if weighted else None
    return X, y, w, off, theta


CONFIGS = {
    "weights-offset-intercept-l2": dict(weighted=True, offset=True, fit_intercept=True, l2=0.3),
    "plain-no_intercept": dict(weighted=False, offset=False, fit_intercept=False, l2=0.0),
}


def build(link, config, dtype=np.float64, order="C", n=N_ROWS, alpha=0.7):
    cfg = dict(CONFIGS[config])
    l2 = cfg.pop("l2")
    X, y, w, off, theta = problem(link, n=n, alpha=alpha, **cfg)
    X = np.asarray(X, dtype=dtype, order=order)
    model = GLM(X, y, family="negative_binomial", nb_alpha=alpha, link=link, sample_weight=w,
                offset=off, fit_intercept=cfg["fit_intercept"], l2=l2, n_threads=1)
    rng = np.random.default_rng(5)
    return model, theta * (1 + 0.05 * rng.uniform(-1, 1, size=theta.size))


def generic(model, theta, curvature, X=None):
    return model._evaluate_generic(theta, curvature, model.X if X is None else X, model.y,
                                   model.sample_weight, model.offset, model.weight_sum)


def assert_close(actual, expected):
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=RTOL,
                               atol=RTOL * float(np.abs(expected).max()))


# --- formulas --------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.05, 0.7, 4.0])
def test_log_likelihood_matches_scipy_nbinom(alpha):
    rng = np.random.default_rng(1)
    mu = rng.uniform(0.1, 30.0, size=400)
    y = nb_sample(mu, alpha, rng)
    w = rng.uniform(0.5, 2.0, size=400)
    r = 1.0 / alpha
    expected = np.sum(w * stats.nbinom.logpmf(y, r, r / (r + mu)))
    got = NegativeBinomial(alpha).log_likelihood(y, mu, w, 1.0)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("alpha", [1e-10, 1e-6, 1e-3, 0.3])
def test_log_likelihood_for_small_alpha(alpha):
    """Integer y: log Gamma(y + r) - log Gamma(r) + y log alpha = sum_{k < y} log1p(k alpha),
    so log p = that - log y! + y log mu - (y + r) log1p(alpha mu), free of cancellation."""
    rng = np.random.default_rng(2)
    mu = rng.uniform(0.1, 10.0, size=200)
    y = rng.poisson(mu).astype(float)
    w = rng.uniform(0.5, 2.0, size=200)
    rows = [sum(np.log1p(k * alpha) for k in range(int(v))) for v in y]
    expected = np.sum(w * (np.array(rows) - gammaln(y + 1) + xlogy(y, mu)
                           - (y + 1 / alpha) * np.log1p(alpha * mu)))
    got = NegativeBinomial(alpha).log_likelihood(y, mu, w, 1.0)
    assert got == pytest.approx(expected, rel=1e-12)
    poisson = get_family("poisson").log_likelihood(y, mu, w, 1.0)
    assert abs(got - poisson) <= 10 * alpha * np.sum(w * ((y - mu) ** 2 + y))


@pytest.mark.parametrize("alpha", [0.01, 0.7, 4.0])
def test_deviance_variance_and_kl(alpha):
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.1, 30.0, size=300)
    y = nb_sample(mu, alpha, rng)
    family = NegativeBinomial(alpha)
    link = get_link("log")
    reference = sm.families.NegativeBinomial(alpha=alpha)
    np.testing.assert_allclose(2 * family.half_deviance(y, np.log(mu), mu, link),
                               reference.resid_dev(y, mu) ** 2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(family.variance(mu), mu + alpha * mu ** 2, rtol=1e-15)
    h = 1e-6 * mu
    np.testing.assert_allclose(family.variance_derivative(mu),
                               (family.variance(mu + h) - family.variance(mu - h)) / (2 * h),
                               rtol=1e-8)
    # KL(p(.|mu0) || p(.|mu1)) = sum_y p0(y) log(p0(y) / p1(y)) over the support
    r = 1.0 / alpha
    support = np.arange(0, 2000)
    for mu0, mu1 in [(2.0, 3.0), (10.0, 4.0), (0.3, 0.5)]:
        p0 = stats.nbinom.pmf(support, r, r / (r + mu0))
        log_ratio = (stats.nbinom.logpmf(support, r, r / (r + mu0))
                     - stats.nbinom.logpmf(support, r, r / (r + mu1)))
        exact = float(np.sum(np.where(p0 > 0, p0 * log_ratio, 0.0)))
        kl = float(family.mean_kl(np.array([mu0]), np.array([mu1]))[0])
        assert kl == pytest.approx(exact, rel=1e-9)
    assert family.has_dispersion is False and family.canonical_link == "log"
    assert xlogy(0, 0) == 0      # (deviance at y = 0 relies on it)


def test_sampler_moments():
    rng = np.random.default_rng(4)
    mu = np.full(400_000, 3.0)
    y = NegativeBinomial(0.5).sample(mu, rng)
    assert np.all(y == np.round(y)) and y.min() >= 0
    # mean 3, variance 3 + 0.5 * 9 = 7.5; standard errors about 0.0043 and 0.04
    assert y.mean() == pytest.approx(3.0, abs=0.03)
    assert y.var() == pytest.approx(7.5, abs=0.25)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan])
def test_bad_alpha_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="nb_alpha must be a finite number > 0"):
        NegativeBinomial(bad)
    with pytest.raises(TypeError, match="nb_alpha must be a number"):
        NegativeBinomial("1")
    with pytest.raises(ValueError, match="needs nb_alpha"):
        get_family("negative_binomial")
    with pytest.raises(ValueError, match="nb_alpha= applies to the negative_binomial"):
        get_family("poisson", nb_alpha=1.0)
    assert get_family("negbin", nb_alpha=2.0).alpha == 2.0
    assert get_family("NB2", nb_alpha=2.0).name == "negative_binomial"


def test_negative_counts_are_refused():
    X = np.ones((3, 1))
    with pytest.raises(ValueError, match="negative_binomial responses must be counts >= 0"):
        GLM(X, np.array([1.0, -1.0, 2.0]), family="negative_binomial", nb_alpha=1.0)


# --- the fused kernels -----------------------------------------------------------------------
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("link", LINKS)
def test_dense_kernel_matches_generic(link, config, dtype, order):
    model, theta = build(link, config, dtype, order)
    assert model._kernel_codes is not None
    assert model._kernel_codes[0] == fused.GLM_FAMILIES["negative_binomial"]
    assert model._kernel_codes[2] == 0.7
    for curvature in CURVATURES:
        ref = generic(model, theta, curvature)
        assert np.isfinite(ref.loss)
        model.n_threads = 1
        one = model.evaluate(theta, curvature)
        model.n_threads = 2
        two = model.evaluate(theta, curvature)
        assert one.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(one.grad, ref.grad)
        assert one.loss == two.loss
        np.testing.assert_array_equal(one.grad, two.grad)
        if curvature is not None:
            assert_close(one.weights, ref.weights)
            np.testing.assert_array_equal(one.weights, two.weights)


@pytest.mark.parametrize("index", [np.int32, np.int64])
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("link", LINKS)
def test_csr_kernel_matches_dense(link, config, index):
    dense, theta = build(link, config)
    rng = np.random.default_rng(6)
    X = dense.X.copy()
    X[rng.random(X.shape) < 0.4] = 0.0
    if not dense.fit_intercept:
        X[:, 0] = 1.0
    A = sp.csr_matrix(X)
    A.indices, A.indptr = A.indices.astype(index), A.indptr.astype(index)
    csr = GLM(A, dense.y, family="negative_binomial", nb_alpha=0.7, link=link,
              sample_weight=dense.sample_weight, offset=dense.offset,
              fit_intercept=dense.fit_intercept, l2=dense.l2)
    dense = GLM(X, dense.y, family="negative_binomial", nb_alpha=0.7, link=link,
                sample_weight=dense.sample_weight, offset=dense.offset,
                fit_intercept=dense.fit_intercept, l2=dense.l2)
    for curvature in CURVATURES:
        ref = dense.evaluate(theta, curvature)
        csr.n_threads = 1
        one = csr.evaluate(theta, curvature)
        csr.n_threads = 2
        two = csr.evaluate(theta, curvature)
        assert one.loss == pytest.approx(ref.loss, rel=RTOL, abs=0)
        assert_close(one.grad, ref.grad)
        assert one.loss == two.loss
        if curvature is not None:
            assert_close(one.weights, ref.weights)
            np.testing.assert_array_equal(one.weights, two.weights)


@pytest.mark.parametrize("link", LINKS)
def test_out_of_domain_flag_matches_generic(link):
    model, theta = build(link, "weights-offset-intercept-l2", n=300)
    n_invalid = 0
    for shift in (0.0, -1e3, -40.0, -5.0, 5.0, 40.0, 1e3, np.nan):
        trial = theta.copy()
        trial[-1] += shift
        ref = generic(model, trial, "observed")
        ev = model.evaluate(trial, "observed")
        assert np.isfinite(ev.loss) == np.isfinite(ref.loss)
        if np.isfinite(ref.loss):
            assert ev.loss == pytest.approx(ref.loss, rel=1e-10)
        else:
            n_invalid += 1
            assert ev.loss == np.inf and ev.weights is None
    assert n_invalid >= 2


def test_kernel_rejects_a_bad_alpha_code():
    X = np.ones((4, 2))
    code = fused.GLM_FAMILIES["negative_binomial"]
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="bad family"):
            fused._glm_pass(X, np.zeros(2), 0.0, np.ones(4), None, None, None, code,
                            fused.GLM_LINKS["log"], bad, 1.0, 0, np.empty(3), None, 1)
        A = sp.csr_matrix(X)
        with pytest.raises(ValueError, match="bad family"):
            sparse_fused._csr_glm_pass(A.data, A.indices, A.indptr, 2, np.zeros(2), 0.0,
                                       np.ones(4), None, None, None, code,
                                       fused.GLM_LINKS["log"], bad, 1.0, 0, np.empty(3), None,
                                       1)


# --- Fisher identities by simulation (ngd.check) ---------------------------------------------
@pytest.mark.parametrize("link", ["log", "sqrt"])
def test_fisher_identities_by_simulation(link):
    X, y, w, off, _ = problem(link, n=1500, seed=7)
    result = ngd.fit(X, y, model="negative_binomial", nb_alpha=0.7, link=link,
                     sample_weight=w, offset=off)
    rows = result.check(n_draws=200, seed=3)
    assert len(rows) >= 6
    failed = [row for row in rows if not row.passed]
    assert not failed, failed
