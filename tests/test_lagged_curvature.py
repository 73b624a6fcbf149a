"""Lagged curvature (ngd.optim.curvature): on a row subsample, a fast-converging step lets the
next one reuse C; the optimum is the same, fewer matrices are formed, and a curvature on all
rows is formed every iteration (exact NGD stays Newton / Fisher scoring)."""
import numpy as np
import pytest

import ngd
from ngd.models import GLM, LogisticModel
from ngd.models.softmax import SoftmaxModel
from ngd.optim import CurvatureStepper, run


def _problem(model, n=20_000, p=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    eta = X @ (rng.standard_normal(p) * 0.4) + 0.2
    if model == "logistic":
        y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    elif model == "softmax":
        logits = np.column_stack([np.zeros(n), eta, -0.5 * eta])
        P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        y = (rng.random(n)[:, None] > np.cumsum(P, axis=1)).sum(axis=1)
    else:
        y = rng.poisson(np.exp(eta)).astype(float)
    return X, y


def _counted_fit(model_name, subsample, tol=1e-10):
    X, y = _problem(model_name)
    if model_name == "logistic":
        model = LogisticModel(X, y)
    elif model_name == "softmax":
        model = SoftmaxModel(X, y, 3)
    else:
        model = GLM(X, y, family="poisson", link="log")
    formed = []
    original = model.curvature_matrix

    def counting(weights, rows=None):
        formed.append(rows)
        return original(weights, rows)

    model.curvature_matrix = counting
    stepper = CurvatureStepper(model, "exact", solver="cholesky", subsample=subsample)
    result = run(stepper, model.initial_theta(), tol=tol, ftol=1e-14, max_iter=100,
                 method="ngd")
    return result, formed, model


@pytest.mark.parametrize("model_name", ["logistic", "poisson", "softmax"])
def test_subsampled_curvature_is_lagged_and_reaches_the_full_data_optimum(model_name):
    lagged, formed, model = _counted_fit(model_name, subsample=2000)
    full, formed_full, _ = _counted_fit(model_name, subsample=None)
    assert lagged.converged and full.converged
    assert len(formed) < lagged.n_iter              # some steps reused the last C
    assert all(rows is not None for rows in formed)
    np.testing.assert_allclose(lagged.x, full.x, rtol=0, atol=1e-8)
    assert lagged.loss == pytest.approx(full.loss, rel=1e-13)


@pytest.mark.parametrize("model_name", ["logistic", "poisson", "softmax"])
def test_curvature_on_all_rows_is_formed_every_iteration(model_name):
    result, formed, _ = _counted_fit(model_name, subsample=None)
    assert result.n_iter >= 3
    assert len(formed) == result.n_iter


def test_a_lagged_matrix_is_at_most_one_iteration_old():
    result, formed, _ = _counted_fit("logistic", subsample=2000)
    # every iteration forms C or reuses the previous one: never two lagged steps in a row
    assert len(formed) >= (result.n_iter + 1) // 2


def test_fit_with_the_auto_subsample_reports_the_same_optimum():
    X, y = _problem("logistic", n=60_000, p=5, seed=3)
    auto = ngd.fit(X, y, tol=1e-10)
    exact = ngd.fit(X, y, tol=1e-10, subsample=None)
    assert auto.history["fisher_rows"][1] < X.shape[0]    # the curvature was subsampled
    np.testing.assert_allclose(auto.coef, exact.coef, rtol=0, atol=1e-8)
