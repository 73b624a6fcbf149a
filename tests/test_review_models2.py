"""Follow-ups of the model-layer review, each fixed: GLM per-row scores on CSR X, the Tweedie
KL (so FitResult.check runs for tweedie), the negative binomial deviance and KL at huge
alpha * mu, repr-exact power link names, and no glm <-> logistic import cycle."""
import numpy as np
import pytest
import scipy.sparse as sp
from scipy import integrate, stats
from scipy.special import logsumexp

import ngd
from ngd.check import CheckRow
from ngd.models import GLM
from ngd.models.families import Gamma, InverseGaussian, Poisson, Tweedie

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
