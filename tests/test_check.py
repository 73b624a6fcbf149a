"""ngd.check: every proposition row passes on well-specified fits (canonical and
non-canonical links, softmax, penalised), and each row fails when its proposition is violated:
a sampler at the wrong theta, a wrong Fisher, a Hessian taken at the observed response,
the natural gradient from the empirical Fisher, and overdispersed counts."""
import copy
import pickle

import numpy as np
import pytest
from scipy.stats import norm

import ngd
from ngd.check import CheckRow, check_fit, check_model

ROWS = ("mean score", "E[s s^T]", "-E[Hessian]", "eps = 0.1", "eps = 0.01", "eps = 0.001",
        "natural gradient", "empirical vs exact")


def data(kind, n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    eta = X @ [0.8, -0.5, 0.3] + 0.2
    if kind == "logistic":
        return X, (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    if kind == "probit":
        return X, (rng.random(n) < norm.cdf(eta)).astype(float)
    if kind == "poisson":
        return X, rng.poisson(np.exp(0.5 * eta)).astype(float)
    if kind == "overdispersed":                        # negative binomial, variance mu + mu^2
        mu = np.exp(0.5 * eta + 1.0)
        return X, rng.negative_binomial(1.0, 1.0 / (1.0 + mu)).astype(float)
    if kind == "softmax":
        return X, np.argmax(np.column_stack([eta, -eta, 0 * eta]) + rng.gumbel(size=(n, 3)), 1)
    raise KeyError(kind)


def fitted(kind, **options):
    X, y = data(kind)
    model = {"probit": "binomial", "overdispersed": "poisson"}.get(kind, kind)
    if kind == "probit":
        options["link"] = "probit"
    return ngd.fit(X, y, model=model, n_threads=1, **options)


def row(rows, name):
    (found,) = [r for r in rows if name in r.quantity]
    return found


def failing(rows):
    return [r.quantity for r in rows if not r.passed]


@pytest.mark.parametrize("kind, options", [("logistic", {}), ("probit", {}), ("poisson", {}),
                                           ("softmax", {}), ("logistic", {"l2": 0.05}),
                                           ("softmax", {"l2": 0.05})])
def test_every_row_passes_on_a_well_specified_fit(kind, options):
    rows = fitted(kind, **options).check(n_draws=100)
    assert len(rows) == len(ROWS)
    for name, found in zip(ROWS, rows):
        assert name in found.quantity
    assert not failing(rows), [(r.quantity, r.value, r.tolerance) for r in rows]


def test_non_canonical_link_hessian_differs_per_draw_but_not_in_expectation():
    result = fitted("probit")
    model = vars(result)["_model"]
    H, F = model.hessian(result.x), model.exact_fisher(result.x)
    assert np.abs(H - F).max() > 1e-3 * np.abs(F).max()           # observed != expected
    hessian_row = row(result.check(n_draws=100), "-E[Hessian]")
    assert hessian_row.passed and hessian_row.value > 1e-6         # Monte-Carlo, not exact


def broken(result, **methods):
    """A copy of the fit's model with some methods replaced (each gets the copy's original)."""
    model = copy.copy(vars(result)["_model"])
    for name, make in methods.items():
        setattr(model, name, make(getattr(model, name)))
    return model


def test_mean_score_row_fails_when_the_draws_come_from_another_theta():
    result = fitted("logistic")
    shift = np.r_[0.0, 0.0, 0.0, 0.3]                   # intercept off by 0.3
    model = broken(result, sample_response=lambda draw: lambda theta, rng:
                   draw(theta + shift, rng))
    rows = check_model(model, result.x, n_draws=100)
    assert "mean score" in failing(rows)[0]
    assert row(rows, "mean score").value > 5


def test_fisher_rows_fail_for_a_wrong_fisher():
    result = fitted("poisson")
    model = broken(result, exact_fisher=lambda exact: lambda theta: 1.5 * exact(theta))
    rows = check_model(model, result.x, n_draws=100)
    for name in ("E[s s^T]", "-E[Hessian]", "eps = 0.01", "eps = 0.001"):
        assert not row(rows, name).passed, name
    assert row(rows, "eps = 0.1").passed                # a 1/1.5 ratio is within 5 eps there
    assert row(rows, "eps = 0.001").value == pytest.approx(1 / 1.5, rel=1e-2)


def test_hessian_row_fails_for_the_hessian_at_the_observed_response():
    # non-canonical link: the observed Hessian equals the Fisher only on average over y
    result = fitted("probit")
    observed = vars(result)["_model"].hessian
    model = broken(result, hessian=lambda own: lambda theta: observed(theta))
    rows = check_model(model, result.x, n_draws=100)
    assert failing(rows) == [row(rows, "-E[Hessian]").quantity]


def test_natural_gradient_row_fails_for_a_diagonal_fisher_on_correlated_columns():
    X, y = data("logistic")
    X[:, 1] = X[:, 0] + 0.3 * X[:, 1]
    result = ngd.fit(X, y, n_threads=1)
    assert row(result.check(n_draws=20), "natural gradient").passed
    model = broken(result, exact_fisher=lambda exact: lambda theta:
                   np.diag(np.diag(exact(theta))))
    ng = row(check_model(model, result.x, n_draws=20), "natural gradient")
    assert not ng.passed and ng.value < 0.99


def test_empirical_fisher_row_fails_on_overdispersed_counts():
    rows = fitted("overdispersed").check(n_draws=100)
    assert failing(rows) == [row(rows, "empirical vs exact").quantity]
    assert "at theta0" in row(rows, "empirical vs exact").note


def test_empirical_fisher_row_compares_with_the_dispersion_scaled_fisher():
    X, _ = data("poisson")
    y = X @ [1.0, 2.0, -1.0] + 3.0 * np.random.default_rng(1).normal(size=len(X))  # sigma 3
    result = ngd.fit(X, y, model="gaussian", n_threads=1)
    assert result.dispersion == pytest.approx(9.0, rel=0.2)
    assert row(result.check(n_draws=100), "empirical vs exact").passed
    model = vars(result)["_model"]
    unscaled = row(check_model(model, result.x, n_draws=100), "empirical vs exact")
    assert not unscaled.passed                          # EF ~ phi F, not F


def test_check_fit_fits_from_a_model_name_and_is_seeded():
    X, y = data("logistic")
    rows = check_fit("logistic", X, y, n_draws=50, seed=3, l2=0.01, n_threads=1)
    again = ngd.fit(X, y, l2=0.01, n_threads=1).check(n_draws=50, seed=3)
    assert [r.value for r in rows] == [r.value for r in again]
    other = check_fit("logistic", X, y, n_draws=50, seed=4, l2=0.01, n_threads=1)
    assert other[0].value != rows[0].value
    assert rows[0].as_dict().keys() == {"quantity", "value", "target", "tolerance", "passed",
                                        "note"}


def test_check_errors():
    result = fitted("logistic")
    with pytest.raises(ValueError, match="no model"):
        pickle.loads(pickle.dumps(result)).check()
    with pytest.raises(TypeError):
        check_fit(result, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="n_draws"):
        result.check(n_draws=1)
    with pytest.raises(ValueError, match="kl_budget"):
        result.check(kl_budget=0.0)
    assert "_model" not in result and "_model" not in repr(result)
    assert "_model" not in result.to_dict()


def test_row_passes_within_the_tolerance_and_fails_on_nan():
    assert CheckRow("q", 1.04, 1.0, 0.05).passed
    assert not CheckRow("q", 1.06, 1.0, 0.05).passed
    assert not CheckRow("q", float("nan"), 0.0, 1.0).passed
