"""Adam / RMSprop (ngd.optim.adam) and NGD with the exact Fisher's diagonal
(ngd.optim.diagonal): the second moment is the EMA of g*g (g^2 on a constant stream, after
bias correction), the diagonal equals the diagonal of the models' exact Fisher, diagonal NGD
equals full NGD when the Fisher is diagonal and is invariant to rescaling columns (Adam is
not), and the wiring through ngd.fit and ngd fit."""
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import expit

import ngd
from ngd.cli.main import cli
from ngd.models import GLM, LogisticModel
from ngd.models.softmax import SoftmaxModel
from ngd.optim.adam import AdamStepper
from ngd.optim.diagonal import DiagonalStepper


class ConstantGradient:
    """A model whose every mini-batch gradient is the same vector g."""

    def __init__(self, g, n_samples=40):
        self.g, self.n_samples, self.n_params, self.n_threads = g, n_samples, g.size, 1

    def evaluate_rows(self, theta, rows):
        return type("E", (), {"grad": self.g.copy()})()

    def evaluate(self, theta):
        return self.evaluate_rows(theta, None)


def logistic_data(n=800, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < expit(X @ rng.normal(size=d) + 0.3)).astype(float)
    return X, y


def quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngd.ConvergenceWarning)
        return function(*args, **kwargs)


def test_adam_second_moment_of_a_constant_gradient_stream_is_g_squared():
    g = np.array([0.5, -2.0, 3e-3])
    stepper = AdamStepper(ConstantGradient(g), batch_size=4, learning_rate=0.1)
    theta = np.zeros(3)
    outcome = stepper.step(theta, None)                     # 10 updates
    t = stepper.t
    assert t == 10
    np.testing.assert_allclose(stepper.v / (1 - 0.999 ** t), g * g, rtol=1e-12)
    np.testing.assert_allclose(stepper.m / (1 - 0.9 ** t), g, rtol=1e-12)
    # mhat / sqrt(vhat) = sign(g): every update moves each coordinate by alpha
    np.testing.assert_allclose(outcome.theta, -t * 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_rmsprop_has_no_momentum_and_no_bias_correction():
    g = np.array([2.0, -1.0])
    stepper = AdamStepper(ConstantGradient(g, n_samples=3), "rmsprop", batch_size=1,
                          learning_rate=0.01)
    theta = stepper.step(np.zeros(2), None).theta
    expected = np.zeros(2)
    v = np.zeros(2)
    for _ in range(3):
        v = 0.9 * v + 0.1 * g * g
        expected -= 0.01 * g / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(stepper.v, v, rtol=1e-12)
    np.testing.assert_allclose(theta, expected, rtol=1e-12)


def models():
    X, y = logistic_data(n=300, d=3)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.5, 2.0, 300)
    counts = rng.poisson(np.exp(0.2 + X @ [0.3, -0.2, 0.1])).astype(float)
    classes = np.argmax(X + rng.gumbel(size=(300, 3)), axis=1)
    return {
        "logistic": LogisticModel(X, y, sample_weight=w, l2=0.1, n_threads=1),
        "poisson": GLM(X, counts, "poisson", sample_weight=w, n_threads=1),
        "gamma-log": GLM(X, counts + 1.0, "gamma", "log", n_threads=1, fit_intercept=False),
        "softmax-reference": SoftmaxModel(X, classes, 3, n_threads=1),
        "softmax-l2": SoftmaxModel(X, classes, 3, l2=0.05, n_threads=1),
        "softmax-no-intercept": SoftmaxModel(X, classes, 3, l2=0.05, fit_intercept=False,
                                             n_threads=1),
    }


@pytest.mark.parametrize("name", list(models()))
def test_exact_fisher_diagonal_is_the_diagonal_of_the_exact_fisher(name):
    model = models()[name]
    theta = 0.2 * np.random.default_rng(4).normal(size=model.n_params)
    weights = model.evaluate(theta, "exact").weights
    np.testing.assert_allclose(model.curvature_diagonal(weights),
                               np.diag(model.exact_fisher(theta)), rtol=1e-12)


def orthogonal_design(n=500, d=4, seed=5):
    """Centred columns, orthogonal to each other, with sum of squares n: X~^T X~ / n = I."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, d)) - rng.standard_normal((n, d)).mean(0))
    Q -= Q.mean(axis=0)
    Q, _ = np.linalg.qr(Q)
    return np.sqrt(n) * Q


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_diagonal_ngd_is_full_ngd_when_the_fisher_is_diagonal(l2):
    X = orthogonal_design()
    y = X @ [1.0, -2.0, 0.5, 0.0] + 3.0 + np.random.default_rng(6).standard_normal(500)
    model = GLM(X, y, "gaussian", n_threads=1, l2=l2)
    F = model.exact_fisher(model.initial_theta())
    assert np.abs(F - np.diag(np.diag(F))).max() < 1e-12        # the Fisher is diagonal
    diagonal = ngd.fit(X, y, model="gaussian", fisher="diagonal", l2=l2, n_threads=1)
    full = ngd.fit(X, y, model="gaussian", l2=l2, n_threads=1)
    assert diagonal.fisher == "diagonal" and diagonal.converged and diagonal.n_iter <= 2
    np.testing.assert_allclose(diagonal.x, full.x, rtol=1e-10, atol=1e-12)
    steps = len(full.history["loss"])           # full NGD knows its one step is exact and
    np.testing.assert_allclose(diagonal.history["loss"][:steps], full.history["loss"],
                               rtol=1e-12)      # stops; the diagonal one confirms it
    np.testing.assert_allclose(diagonal.history["loss"][steps:], full.loss, rtol=1e-12)


def test_diagonal_ngd_differs_from_full_ngd_with_correlated_columns():
    X, y = logistic_data()
    X = X @ np.array([[1, 0.8, 0, 0], [0, 1, 0.8, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    diagonal = quiet(ngd.fit, X, y, fisher="diagonal", max_iter=3, n_threads=1)
    full = quiet(ngd.fit, X, y, max_iter=3, n_threads=1)
    assert diagonal.loss > full.loss + 1e-6


def test_diagonal_ngd_is_invariant_to_column_scales_and_adam_is_not():
    X, y = logistic_data(n=2000)
    scales = np.array([1e-2, 1e-1, 10.0, 1e2])
    runs = {}
    for name, design in (("unit", X), ("scaled", X * scales)):
        runs[name, "diagonal"] = ngd.fit(design, y, fisher="diagonal", n_threads=1)
        runs[name, "adam"] = quiet(ngd.fit, design, y, method="adam", n_threads=1)
    best = runs["unit", "diagonal"].loss
    np.testing.assert_allclose(runs["scaled", "diagonal"].history["loss"],
                               runs["unit", "diagonal"].history["loss"], rtol=1e-10)
    np.testing.assert_allclose(runs["scaled", "diagonal"].coef * scales,
                               runs["unit", "diagonal"].coef, rtol=1e-7)
    assert runs["unit", "adam"].loss - best < 1e-3               # Adam works when well scaled
    assert runs["scaled", "adam"].loss - best > 10 * (runs["unit", "adam"].loss - best)


def test_diagonal_kl_step_starts_within_the_budget_and_zero_columns_are_damped():
    X, y = logistic_data()
    first = quiet(ngd.fit, X, y, fisher="diagonal", step="kl", kl=1e-3, max_iter=1,
                  n_threads=1)
    row = first.history
    assert row["step_size"][1] <= np.sqrt(2e-3 / -row["dir_deriv"][1]) * (1 + 1e-12)
    X0 = np.column_stack([X, np.zeros(len(y))])
    with pytest.warns(ngd.DampingWarning):
        result = quiet(ngd.fit, X0, y, fisher="diagonal", n_threads=1)
    assert np.all(np.isfinite(result.x)) and result.coef[-1] == 0
    with pytest.raises(ValueError, match="step"):
        DiagonalStepper(LogisticModel(X, y), step_rule="lm")


@pytest.mark.parametrize("method", ["adam", "rmsprop"])
def test_fit_with_adam_and_rmsprop(method):
    X, y = logistic_data(n=1500)
    result = quiet(ngd.fit, X, y, method=method, batch_size=64, n_threads=1)
    best = ngd.fit(X, y, n_threads=1).loss
    assert result.method == method and result.step_rule == method and result.n_iter == 30
    assert result.history["n_updates"][-1] == 30 * 24
    assert 0 <= result.loss - best < 1e-3
    with pytest.raises(ValueError, match="learning_rate"):
        ngd.fit(X, y, method=method, learning_rate=0.0)


def test_cli_diagonal_fisher_and_adam_method():
    runner = CliRunner()
    diagonal = runner.invoke(cli, ["fit", "examples/spector.csv", "--target", "GRADE",
                                   "--fisher", "diagonal", "--no-compare", "--json"])
    assert diagonal.exit_code == 0, diagonal.stderr
    report = json.loads(diagonal.stdout)
    assert report["fisher"] == "diagonal" and report["convergence"][0]["method"] == "ngd"
    adam = runner.invoke(cli, ["fit", "examples/spector.csv", "--target", "GRADE",
                               "--method", "adam", "--compare", "ngd,rmsprop", "--json"])
    assert adam.exit_code == 0, adam.stderr
    assert [r["method"] for r in json.loads(adam.stdout)["convergence"]] == \
        ["adam", "ngd", "rmsprop"]
