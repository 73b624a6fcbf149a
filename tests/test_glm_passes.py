"""Passes over X in a GLM fit (issue 15, part 3): the start, the deviance, the null deviance and
a Tweedie log-likelihood read no X; every full pass of a fit is one of the loop's evaluations.
And the stopping rule: a step predicted small from the contraction of the last unit steps
settles the fit one iteration early, at the same optimum.

Passes are counted by wrapping the fused kernel's Python entry and the matvec the statistics
use; the values are checked against formulas written out here or against a fresh model.
"""
import copy
import warnings

import numpy as np
import pytest
import scipy.optimize

import ngd
from ngd.models import GLM
from ngd.models import glm as glm_module
from ngd.optim import _loop


@pytest.fixture
def passes(monkeypatch):
    """{number of columns: passes} of ``_fused._glm_pass`` and of the statistics' matvec."""
    counts = {"pass": {}, "matvec": 0}
    kernel, matvec = glm_module._fused._glm_pass, glm_module.matvec

    def counted_pass(X, *args, **kwargs):
        counts["pass"][X.shape[1]] = counts["pass"].get(X.shape[1], 0) + 1
        return kernel(X, *args, **kwargs)

    def counted_matvec(X, *args, **kwargs):
        counts["matvec"] += 1
        return matvec(X, *args, **kwargs)
    monkeypatch.setattr(glm_module._fused, "_glm_pass", counted_pass)
    monkeypatch.setattr(glm_module, "matvec", counted_matvec)
    return counts


def problem(family, n=3000, d=6, seed=0, offset=False):
    """(X, y, offset) with log-link means exp(0.3 + X beta (+ offset))."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    off = 0.2 * rng.standard_normal(n) if offset else None
    mu = np.exp(0.3 + X @ (0.2 * rng.standard_normal(d)) + (0 if off is None else off))
    if family == "gamma":
        y = rng.gamma(2.0, mu / 2.0)
    elif family == "poisson":
        y = rng.poisson(mu).astype(float)
    else:                                               # tweedie 1.5, compound Poisson-gamma
        counts = rng.poisson(mu ** 0.5 / 0.5)
        y = np.where(counts > 0, rng.gamma(np.maximum(counts, 1), 0.5 * mu ** 0.5), 0.0)
    return X, y, off


def gamma_half_deviance(y, mu):
    return -np.log(y / mu) + (y - mu) / mu


def test_initial_theta_reads_no_X(passes):
    X, y, _ = problem("gamma")
    model = GLM(X, y, "gamma", "log")
    theta = model.initial_theta()
    assert passes["pass"].get(X.shape[1], 0) == 0 and passes["matvec"] == 0
    assert theta[-1] == pytest.approx(np.log(y.mean()), rel=1e-14)
    assert np.all(theta[:-1] == 0)


def test_initial_theta_still_falls_back_when_coef_zero_is_invalid():
    # no intercept, inverse link: eta = 0 is outside the domain, least squares gives a start
    rng = np.random.default_rng(1)
    X = np.abs(rng.standard_normal((200, 3))) + 0.5
    y = rng.gamma(2.0, 1.0 / (X @ np.array([0.5, 0.3, 0.2])) / 2.0)
    model = GLM(X, y, "gamma", "inverse", fit_intercept=False)
    theta = model.initial_theta()
    assert np.any(theta != 0) and np.isfinite(model.loss(theta))


@pytest.mark.parametrize("offset", [False, True])
def test_null_deviance_reads_no_X(passes, offset):
    X, y, off = problem("gamma", offset=offset)
    model = GLM(X, y, "gamma", "log", offset=off)
    value = model.null_deviance()
    assert passes["pass"].get(X.shape[1], 0) == 0 and passes["matvec"] == 0
    if off is None:
        expected = 2 * np.sum(gamma_half_deviance(y, y.mean()))
    else:      # the intercept-only MLE with the offset, by a scalar minimisation
        res = scipy.optimize.minimize_scalar(
            lambda b: np.sum(gamma_half_deviance(y, np.exp(b + off))),
            bracket=(0.0, 1.0), tol=1e-12)
        expected = 2 * res.fun
    assert value == pytest.approx(expected, rel=1e-10)


def test_null_deviance_without_intercept_is_the_deviance_at_the_offset(passes):
    X, y, off = problem("poisson", offset=True)
    model = GLM(X, y, "poisson", "log", offset=off, fit_intercept=False)
    value = model.null_deviance()
    assert passes["pass"].get(X.shape[1], 0) == 0
    mu = np.exp(off)
    expected = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - (y - mu))
    assert value == pytest.approx(expected, rel=1e-12)


def test_deviance_at_the_last_evaluation_reuses_its_loss(passes):
    X, y, _ = problem("gamma")
    model = GLM(X, y, "gamma", "log", l2=0.01)
    theta = model.initial_theta()
    theta[:-1] = 0.05
    model.evaluate(theta, "exact")
    before = dict(passes["pass"])
    value = model.deviance(theta.copy())                   # equal values, another array
    assert passes["pass"] == before
    mu = np.exp(X @ theta[:-1] + theta[-1])
    assert value == pytest.approx(2 * np.sum(gamma_half_deviance(y, mu)), rel=1e-12)
    other = theta.copy()
    other[0] += 1e-3                                        # another theta: a new pass
    model.deviance(other)
    assert passes["pass"][X.shape[1]] == before[X.shape[1]] + 1


def test_remembered_loss_is_not_used_on_other_data(passes):
    X, y, off = problem("poisson", offset=True)
    model = GLM(X, y, "poisson", "log", offset=off)
    theta = model.initial_theta()
    model.evaluate(theta)
    view = copy.copy(model)                 # as CategoricalModel's views: a new offset
    view.offset = 2.0 * off
    shifted = view.deviance(theta)
    fresh_model = GLM(X, y, "poisson", "log", offset=2.0 * off)
    assert shifted == pytest.approx(fresh_model.deviance(theta), rel=1e-13)
    assert view.null_deviance() == pytest.approx(fresh_model.null_deviance(), rel=1e-12)
    assert view.null_deviance() != pytest.approx(model.null_deviance(), rel=1e-6)
    assert shifted != pytest.approx(model.deviance(theta), rel=1e-6)
    model.l2 = 1.0                          # the penalty is part of the remembered loss
    assert model.deviance(theta) == pytest.approx(
        GLM(X, y, "poisson", "log", offset=off).deviance(theta), rel=1e-13)


def test_tweedie_log_likelihood_reads_no_X(passes):
    X, y, _ = problem("tweedie")
    model = GLM(X, y, "tweedie", "log", power=1.5)
    assert np.isnan(model.log_likelihood(model.initial_theta(), 1.0))
    assert passes["matvec"] == 0
    gamma = GLM(X, y + 1.0, "tweedie", "log", power=2.0)    # a special power: closed form
    assert np.isfinite(gamma.log_likelihood(gamma.initial_theta(), 1.0))


@pytest.mark.parametrize("family,power", [("tweedie", 1.5), ("gamma", None),
                                          ("poisson", None)])
def test_every_full_pass_of_a_fit_is_a_loop_evaluation(passes, family, power):
    X, y, _ = problem(family, n=20000, d=8)
    result = ngd.fit(X, y, model=family, power=power, link="log", stderr=False)
    assert result.converged
    assert passes["pass"][X.shape[1]] == result.n_fev and passes["matvec"] == 0
    assert passes["pass"][0] == 1       # the start check; the null deviance reuses its loss
    fresh = GLM(X, y, family, "log", power=power)
    assert result.deviance == pytest.approx(fresh.deviance(result.x), rel=1e-13)
    assert result.null_deviance == pytest.approx(fresh.null_deviance(), rel=1e-12)
    mu = np.exp(X @ result.coef + result.intercept)
    if family != "poisson":
        pearson = np.sum((y - mu) ** 2 / mu ** (2.0 if power is None else power))
        assert result.pearson_chi2 == pytest.approx(pearson, rel=1e-12)
    if family != "tweedie":
        phi = result.dispersion
        assert result.llf == pytest.approx(fresh.family.log_likelihood(y, mu, 1.0, phi),
                                           rel=1e-12)


def test_statistics_from_the_remembered_eta_match_a_fresh_model(passes):
    X, y, off = problem("gamma", offset=True)
    model = GLM(X, y, "gamma", "log", offset=off)
    theta = model.initial_theta()
    theta[:-1] = 0.03
    model.evaluate(theta)
    before = passes["matvec"]
    pearson, llf = model.pearson_chi2(theta), model.log_likelihood(theta, 0.7)
    assert passes["matvec"] == before
    fresh = GLM(X, y, "gamma", "log", offset=off)
    assert pearson == pytest.approx(fresh.pearson_chi2(theta), rel=1e-13)
    assert llf == pytest.approx(fresh.log_likelihood(theta, 0.7), rel=1e-13)
    assert passes["matvec"] > before                    # the fresh model computed its means
    other = theta.copy()
    other[-1] += 0.1                                    # another theta: means from X
    assert model.pearson_chi2(other) == pytest.approx(fresh.pearson_chi2(other), rel=1e-13)
    assert model.pearson_chi2(other) != pytest.approx(pearson, rel=1e-6)


# --- stopping rule -----------------------------------------------------------------------
class Outcome:
    def __init__(self, step_max, step_size=1.0, damping=0.0, escalated=False):
        self.step_max, self.step_size = step_max, step_size
        self.damping, self.escalated = damping, escalated


def steps_of(outcomes):
    steps, previous = [], None
    for outcome in outcomes:
        steps = _loop._unit_steps(steps, outcome, previous)
        previous = outcome
    return steps


def test_settled_predicts_the_next_step_of_contracting_unit_steps():
    steps = steps_of([Outcome(1e-2), Outcome(1e-3), Outcome(1e-4)])
    assert steps == [1e-2, 1e-3, 1e-4]
    assert _loop._settled(steps, 1e-4, 2e-5)              # next ~ 1e-5
    assert not _loop._settled(steps, 1e-4, 5e-6)
    assert _loop._settled([], 1e-6, 2e-6)                 # the last step itself


@pytest.mark.parametrize("outcomes", [
    [Outcome(1e-2), Outcome(6e-3), Outcome(1e-4)],                  # one slow contraction
    [Outcome(1e-2), Outcome(1e-3, step_size=0.5), Outcome(1e-4)],   # a shortened step
    [Outcome(1e-2), Outcome(1e-3, damping=1.0), Outcome(1e-4, damping=1.0)],  # damping moved
    [Outcome(1e-3), Outcome(1e-4)],                                 # too few steps
])
def test_settled_does_not_predict_from_irregular_steps(outcomes):
    steps = steps_of(outcomes)
    assert not _loop._settled(steps, outcomes[-1].step_max, 2e-5)


def test_predicted_stop_reaches_the_tight_optimum():
    X, y, _ = problem("tweedie", n=20000, d=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loose = ngd.fit(X, y, model="tweedie", power=1.5, link="log", tol=1e-6, stderr=False)
        tight = ngd.fit(X, y, model="tweedie", power=1.5, link="log", tol=1e-13,
                        stderr=False)
    xtol = max(_loop.XTOL, _loop.XTOL_PER_TOL * 1e-6)
    bound = xtol * (1 + np.abs(loose.x).max())
    assert loose.converged
    # the distance to the optimum is of the order of the (predicted) next step
    assert np.abs(loose.x - tight.x).max() <= 10 * bound
    assert loose.loss - tight.loss <= 1e-12 * max(1.0, abs(tight.loss))


@pytest.mark.parametrize("dtype,order", [(np.float64, "C"), (np.float32, "F")])
def test_glm_pass_eta_out_is_the_linear_predictor_and_changes_nothing_else(dtype, order):
    X, y, off = problem("poisson", n=5000, offset=True)
    X = np.asarray(X, dtype=dtype, order=order)
    model = GLM(X, y, "poisson", "log", offset=off)
    family, link, param, link_power = model._kernel_codes
    coef = np.linspace(-0.1, 0.1, X.shape[1])
    fused = glm_module._fused

    def run(eta_out):
        grad, weights = np.empty(X.shape[1] + 1), np.empty(X.shape[0])
        loss, valid = fused._glm_pass(X, coef, 0.3, y, None, off, None, family, link, param,
                                      link_power, fused.GLM_CURVATURES["exact"], grad,
                                      weights, 1, None, eta_out)
        return loss, valid, grad, weights
    eta = np.full(X.shape[0], np.nan)
    with_eta, without = run(eta), run(None)
    assert with_eta[:2] == without[:2]
    np.testing.assert_array_equal(with_eta[2], without[2])
    np.testing.assert_array_equal(with_eta[3], without[3])
    expected = X.astype(np.float64) @ coef + 0.3 + off
    np.testing.assert_allclose(eta, expected, rtol=1e-12, atol=1e-12)
