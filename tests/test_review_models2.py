"""Follow-ups of the model-layer review, each fixed: GLM per-row scores on CSR X, the Tweedie
KL (so FitResult.check runs for tweedie), the negative binomial deviance and KL at huge
alpha * mu, repr-exact power link names, and no glm <-> logistic import cycle."""
from decimal import Decimal, localcontext

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate, stats
from scipy.special import logsumexp, xlogy

import ngd
from ngd.check import CheckRow
from ngd.models import GLM
from ngd.models.families import (NB_LARGE, Gamma, InverseGaussian, NegativeBinomial, Poisson,
                                 Tweedie)
from ngd.models.links import get_link
from ngd.statistics import cluster_covariance

N = 200


# --- 1. GLM scores on CSR X --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse_type", [sp.csr_matrix, sp.csr_array])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("family, link", [("poisson", "log"), ("gamma", "log"),
                                          ("binomial", "probit")])
def test_glm_scores_on_csr_equal_the_dense_scores(dtype, sparse_type, fit_intercept, family,
                                                  link):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((N, 4)).astype(dtype)
    X[rng.random(X.shape) < 0.6] = 0.0
    y = {"poisson": lambda: rng.poisson(1.5, N).astype(float),
         "gamma": lambda: rng.gamma(2.0, 1.0, N),
         "binomial": lambda: (rng.random(N) < 0.4).astype(float)}[family]()
    options = dict(sample_weight=rng.uniform(0.5, 2.0, N), offset=0.1 * rng.standard_normal(N),
                   fit_intercept=fit_intercept, n_threads=1)
    csr = GLM(sparse_type(X), y, family, link, **options)
    dense = GLM(X.astype(np.float64), y, family, link, **options)
    theta = 0.2 * rng.standard_normal(csr.n_params)
    found = csr.scores(theta)
    assert isinstance(found, np.ndarray) and found.shape == (N, csr.n_params)
    np.testing.assert_allclose(found, dense.scores(theta), rtol=1e-12, atol=1e-14)


def test_cluster_covariance_of_a_csr_glm_equals_the_dense_one():
    rng = np.random.default_rng(16)
    X = rng.standard_normal((N, 3))
    X[rng.random(X.shape) < 0.5] = 0.0
    y = rng.poisson(np.exp(0.3 * X[:, 0])).astype(float)
    groups = [rng.integers(0, 12, N)]
    w = rng.uniform(0.5, 2.0, N)
    dense = GLM(X, y, "poisson", sample_weight=w, n_threads=1)
    csr = GLM(sp.csr_matrix(X), y, "poisson", sample_weight=w, n_threads=1)
    theta = 0.1 * rng.standard_normal(dense.n_params)
    bread = np.linalg.inv(dense.exact_fisher(theta) * dense.weight_sum)
    np.testing.assert_allclose(cluster_covariance(csr, theta, bread, groups),
                               cluster_covariance(dense, theta, bread, groups), rtol=1e-12)

# --- 2. Tweedie KL and check -------------------------------------------------------------------
def _compound_poisson_log_density(y, mu, p, n_max=400):
    """log of the Tweedie(mu, phi = 1) density at y > 0 for 1 < p < 2, summed over the
    Poisson number of gamma jumps."""
    lam, shape, scale = mu ** (2 - p) / (2 - p), (2 - p) / (p - 1), (p - 1) * mu ** (p - 1)
    n = np.arange(1, n_max)
    return logsumexp(stats.poisson.logpmf(n, lam) + stats.gamma.logpdf(y, n * shape,
                                                                        scale=scale))


def _quadrature_kl(mu0, mu1, p):
    """KL(p_mu0 || p_mu1) by quadrature of the compound Poisson-gamma densities."""
    lam0, lam1 = mu0 ** (2 - p) / (2 - p), mu1 ** (2 - p) / (2 - p)
    at_zero = np.exp(-lam0) * (lam1 - lam0)          # P0(0) log(P0(0) / P1(0))

    def integrand(y):
        log0 = _compound_poisson_log_density(y, mu0, p)
        return np.exp(log0) * (log0 - _compound_poisson_log_density(y, mu1, p))

    positive, _ = integrate.quad(integrand, 0, 80, limit=400, epsabs=1e-13, epsrel=1e-11)
    return at_zero + positive


@pytest.mark.parametrize("p", [1.2, 1.5, 1.8])
def test_tweedie_kl_equals_the_quadrature_kl(p):
    mu0, mu1 = np.array([1.0, 0.7, 2.0]), np.array([1.5, 0.4, 3.0])
    found = Tweedie(p).mean_kl(mu0, mu1)
    expected = [_quadrature_kl(a, b, p) for a, b in zip(mu0, mu1)]
    np.testing.assert_allclose(found, expected, rtol=1e-7)


@pytest.mark.parametrize("special, p", [(Poisson, 1.0), (Gamma, 2.0), (InverseGaussian, 3.0)])
def test_tweedie_kl_meets_the_closed_forms_at_powers_1_2_3(special, p):
    mu0, mu1 = np.array([0.3, 1.0, 4.0]), np.array([0.5, 2.5, 3.0])
    np.testing.assert_allclose(Tweedie(p).mean_kl(mu0, mu1), special().mean_kl(mu0, mu1),
                               rtol=1e-12)
    for near in (p - 1e-6, p + 1e-6) if p > 1 else (p + 1e-6,):
        np.testing.assert_allclose(Tweedie(near).mean_kl(mu0, mu1),
                                   special().mean_kl(mu0, mu1), rtol=1e-4)


@pytest.mark.parametrize("p", [1.2, 1.5, 1.8])
def test_tweedie_fit_check_runs(p):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((300, 3))
    y = Tweedie(p).sample(np.exp(0.3 * X[:, 0] + 0.2), rng)
    rows = ngd.fit(X, y, model="tweedie", power=p, n_threads=1).check(n_draws=40)
    assert len(rows) == 8 and all(isinstance(row, CheckRow) for row in rows)
    assert all(np.isfinite(row.value) for row in rows)


# --- 3. negative binomial deviance and KL at huge alpha * mu -----------------------------------
def _nb_half_deviance_reference(y, mu, alpha):
    """y log(y/mu) - (y + r) log((r + y)/(r + mu)), r = 1/alpha, in 500-digit decimals of the
    exact float inputs."""
    with localcontext() as context:
        context.prec = 500
        y, mu, r = Decimal(float(y)), Decimal(float(mu)), 1 / Decimal(float(alpha))
        fit = y * (y / mu).ln() if y > 0 else Decimal(0)
        return float(fit - (y + r) * ((r + y) / (r + mu)).ln())


def _relative_error(found, expected):
    expected = np.asarray(expected)
    return np.abs(found - expected) / np.abs(expected)


@pytest.mark.parametrize("alpha_mu", [1e10, 1e16, 1e17, 1e50, 1e200])
def test_nb_half_deviance_and_kl_at_huge_alpha_mu(alpha_mu):
    mu = np.array([0.3, 1.0, 2.0, 7.5, 40.0])
    y = np.array([0.0, 0.0, 3.0, 1.0, 45.0])
    family = NegativeBinomial(alpha_mu / mu[1])
    found = family.half_deviance(y, None, mu, None)
    expected = [_nb_half_deviance_reference(*row, family.alpha) for row in zip(y, mu)]
    assert np.all(np.isfinite(found)) and np.all(found > 0)
    assert np.max(_relative_error(found, expected)) < 1e-13
    mu1 = np.roll(mu, 1)
    kl = family.mean_kl(mu, mu1)
    expected = [_nb_half_deviance_reference(*row, family.alpha) for row in zip(mu, mu1)]
    assert np.max(_relative_error(kl, expected)) < 1e-13


@pytest.mark.parametrize("alpha", [1e-6, 0.01, 0.7, 4.0])
def test_nb_half_deviance_and_kl_for_ordinary_alpha_are_unchanged(alpha):
    """Below NB_LARGE the direct forms (those of the fused kernel) are kept, value for value."""
    rng = np.random.default_rng(13)
    mu = rng.uniform(0.1, 30.0, 500)
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu)).astype(float)
    assert np.max(alpha * np.maximum(y, mu)) <= NB_LARGE
    family = NegativeBinomial(alpha)
    direct = (xlogy(y, y) - np.where(y > 0, y * np.log(mu), 0.0)
              - (y + 1 / alpha) * np.log1p(alpha * (y - mu) / (1 + alpha * mu)))
    found = family.half_deviance(y, np.log(mu), mu, get_link("log"))
    np.testing.assert_allclose(found, direct, rtol=1e-14, atol=0)
    mu1 = mu[::-1]
    direct_kl = xlogy(mu, mu / mu1) - (mu + 1 / alpha) * np.log1p(alpha * (mu - mu1)
                                                                  / (1 + alpha * mu1))
    np.testing.assert_allclose(family.mean_kl(mu, mu1), direct_kl, rtol=1e-14, atol=0)


def test_nb_large_form_agrees_with_the_direct_form_near_the_switch():
    """Either side of NB_LARGE both forms give the high-precision value (no jump in the
    loss where the form changes)."""
    mu = np.array([0.5, 2.0, 9.0])
    y = np.array([0.0, 1.0, 12.0])
    for alpha in (0.5 * NB_LARGE / mu.max(), 2.0 * NB_LARGE / mu.max()):
        expected = [_nb_half_deviance_reference(*row, alpha) for row in zip(y, mu)]
        found = NegativeBinomial(alpha).half_deviance(y, None, mu, None)
        assert np.max(_relative_error(found, expected)) < 1e-9


def test_nb_fit_at_huge_alpha_has_a_valid_start():
    rng = np.random.default_rng(14)
    X = rng.standard_normal((200, 2))
    y = rng.poisson(2.0, 200).astype(float)
    fit = ngd.fit(X, y, model="negative_binomial", nb_alpha=1e17, n_threads=1)
    assert fit.converged and np.all(np.isfinite(fit.x))


# --- 4. power link names keep the exponent exactly ---------------------------------------------
@pytest.mark.parametrize("power", [1 / 3, 0.123456789])
def test_power_link_name_round_trips_bit_for_bit(power):
    link = get_link(f"power({power!r})")
    assert link.power == power
    assert get_link(link.name).power == power


@pytest.mark.parametrize("power", [1 / 3, 0.123456789])
def test_saved_power_link_model_loads_the_same_exponent(tmp_path, power):
    rng = np.random.default_rng(15)
    X = rng.uniform(0.5, 1.5, (150, 2))
    y = rng.gamma(4.0, np.exp(0.2 * X[:, 0] + 0.5) / 4.0)
    fit = ngd.fit(X, y, model="gamma", link=f"power({power!r})", n_threads=1)
    ngd.save_model(fit, tmp_path / "model.json")
    loaded = ngd.load_model(tmp_path / "model.json")
    assert get_link(loaded.link).power == power
    mean = np.power(X @ fit.coef + fit.intercept, 1 / power)
    np.testing.assert_allclose(loaded.predict(X), mean, rtol=1e-13)


@pytest.mark.parametrize("power", [-0.5, 1e-05, -1.5e-3, 2.5])
def test_power_link_with_a_sign_or_exponent_parses(power):
    link = get_link(f"power({power!r})")
    assert link.power == power
    assert get_link(link.name).power == power


@pytest.mark.parametrize("name, expected", [("Inverse-Squared", "inverse_squared"),
                                            ("power(-1)", "inverse"), ("POWER(0.5)", "sqrt")])
def test_link_names_are_case_and_dash_insensitive(name, expected):
    assert get_link(name).name == expected
