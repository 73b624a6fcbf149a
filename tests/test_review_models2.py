"""Follow-ups of the model-layer review, each fixed: GLM per-row scores on CSR X, the Tweedie
KL (so FitResult.check runs for tweedie), the negative binomial deviance and KL at huge
alpha * mu, repr-exact power link names, and no glm <-> logistic import cycle."""
import numpy as np
import pytest
import scipy.sparse as sp

import ngd
from ngd.models import GLM

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
