"""Stochastic quasi-Newton (ngd.optim.sqn): the two-loop recursion against the explicit BFGS
matrices, the subsampled Hessian-vector product against the Fisher-vector kernel, the beta/k
schedule and the pair bookkeeping, the paper's qualitative result (SQN beats SGD on an
ill-conditioned logistic regression), and the wiring through ngd.fit and ngd fit."""
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import expit

import ngd
from ngd.cli.main import cli
from ngd.kernels import fisher_vector
from ngd.models import LogisticModel
from ngd.optim.sqn import SQNStepper, two_loop


def logistic(n=600, d=6, scales=None, seed=0, l2=1e-3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < expit(X @ rng.normal(size=d) + 0.2)).astype(float)
    if scales is not None:
        X = X * scales
    return X, y, LogisticModel(X, y, l2=l2, n_threads=1)


def epochs(stepper, model, count):
    theta = model.initial_theta()
    current = stepper.evaluate(theta)
    for _ in range(count):
        outcome = stepper.step(theta, current)
        theta, current = outcome.theta, outcome.evaluation
    return theta, current.loss


def test_two_loop_applies_the_bfgs_inverse_hessian_update():
    rng = np.random.default_rng(1)
    p = 7
    A = rng.normal(size=(p, p))
    A = A @ A.T + p * np.eye(p)
    pairs = []
    for _ in range(4):
        s = rng.normal(size=p)
        y = A @ s
        pairs.append((s, y, 1.0 / (s @ y)))
    s, y, _ = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(p)                    # initial matrix of the newest pair
    for s, y, rho in pairs:                              # H <- V^T H V + rho s s^T
        V = np.eye(p) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    g = rng.normal(size=p)
    np.testing.assert_allclose(two_loop(g, pairs), H @ g, rtol=1e-12)
    for s, y, _ in pairs[-1:]:                           # the secant equation of the last pair
        np.testing.assert_allclose(two_loop(y, pairs), s, rtol=1e-10)


def test_hessian_vector_product_is_the_subsample_fisher_vector_product():
    X, y, model = logistic()
    stepper = SQNStepper(model)
    rng = np.random.default_rng(2)
    theta = rng.normal(size=model.n_params) * 0.3
    s = rng.normal(size=model.n_params)
    rows = np.sort(rng.choice(model.n_samples, 300, replace=False))
    p = expit(X[rows] @ theta[:-1] + theta[-1])
    exact = fisher_vector(X[rows], p * (1 - p) / len(rows), s, intercept=True)
    exact[:-1] += model.l2 * s[:-1]
    np.testing.assert_allclose(stepper.hessian_vector(theta, s, rows), exact, rtol=1e-7)


def test_without_memory_it_is_sgd_with_step_beta_over_k_lipschitz():
    X, y, model = logistic(n=230)
    stepper = SQNStepper(model, batch_size=50, memory=0, learning_rate=3.0, seed=5)
    theta, _ = epochs(stepper, model, 2)
    expected = model.initial_theta()
    rng = np.random.default_rng(5)
    k = 0
    for _ in range(2):
        order = rng.permutation(model.n_samples)
        for start in range(0, model.n_samples, 50):
            k += 1
            rows = np.sort(order[start:start + 50])
            expected = expected - 3.0 / k / model.gradient_lipschitz() \
                * model.evaluate_rows(expected, rows).grad
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-15)
    assert stepper.k == 10 and stepper.accessed == 2 * 230 and not stepper.pairs


def test_pairs_every_l_updates_from_the_second_average_and_accessed_points():
    X, y, model = logistic(n=1000)
    stepper = SQNStepper(model, batch_size=50, hessian_batch_size=200, update_interval=4,
                         memory=3, seed=0)
    epochs(stepper, model, 2)                      # 40 updates: averages at 4, 8, ..., 40
    assert stepper.k == 40
    assert stepper.n_pairs == 40 // 4 - 1          # the first average only starts the chain
    assert len(stepper.pairs) == 3                 # memory M keeps the newest pairs
    assert stepper.accessed == 2 * 1000 + stepper.n_pairs * 200
    for s, y, rho in stepper.pairs:                # convex objective: positive curvature
        assert s @ y > 0 and rho == pytest.approx(1 / (s @ y))


def test_pairs_without_positive_curvature_are_skipped():
    class Concave:                                 # L = -|theta|^2 / 2 on every batch
        n_samples, n_params = 100, 3

        def gradient_lipschitz(self):
            return 1.0

        def evaluate_rows(self, theta, rows):
            return type("E", (), {"grad": -theta})()

    stepper = SQNStepper(Concave(), batch_size=10, update_interval=2, seed=0)
    for k in range(3):
        stepper._new_pair(np.full(3, float(k + 1)))
    assert stepper.n_pairs == 2 and not stepper.pairs


def test_sqn_beats_sgd_on_an_ill_conditioned_logistic_regression():
    # Byrd et al.'s qualitative result: after the warm-up, SQN's objective falls well below
    # SGD's under the same beta/k schedule, beta tuned on a grid for each (as in the paper).
    # Binary features from 0.5 % to 50 % frequency, rare ones informative: ill-conditioned.
    rng = np.random.default_rng(0)
    n, d = 3000, 20
    frequency = np.logspace(-2.3, -0.3, d)
    X = (rng.random((n, d)) < frequency).astype(float)
    y = (rng.random(n) < expit(X @ (rng.normal(size=d) / np.sqrt(d * frequency / 2)) - 0.5)
         ).astype(float)
    model = LogisticModel(X, y, l2=1 / n, n_threads=1)
    best = ngd.fit(X, y, l2=1 / n, n_threads=1).loss
    gaps = {0: [], 10: []}
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)     # beta = 100 diverges for SQN
        for memory in gaps:
            for beta in (1.0, 10.0, 100.0):
                stepper = SQNStepper(model, memory=memory, learning_rate=beta, seed=0)
                gaps[memory].append(epochs(stepper, model, 8)[1] - best)
    assert np.nanmin(gaps[10]) < 0.2 * np.nanmin(gaps[0])


def test_fit_method_sqn_reaches_the_optimum_region():
    X, y, _ = logistic(n=2000, d=5, l2=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ngd.ConvergenceWarning)
        result = ngd.fit(X, y, method="sqn", batch_size=50, n_threads=1)
    best = ngd.fit(X, y, n_threads=1)
    assert result.method == "sqn" and result.n_iter == 30 and result.fisher is None
    assert 0 <= result.loss - best.loss < 1e-4
    assert result.history["n_updates"][-1] == 30 * 40
    assert result.stderr is not None                    # statistics from the exact Fisher


@pytest.mark.parametrize("option", [dict(batch_size=0), dict(memory=-1),
                                    dict(update_interval=0), dict(hessian_batch_size=0),
                                    dict(learning_rate=-1.0)])
def test_invalid_settings_are_rejected(option):
    _, _, model = logistic(n=50)
    with pytest.raises(ValueError):
        SQNStepper(model, **option)


def test_cli_compare_runs_the_requested_methods():
    runner = CliRunner()
    result = runner.invoke(cli, ["fit", "examples/spector.csv", "--target", "GRADE",
                                 "--compare", "ngd,sqn,adam", "--json", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["convergence"]
    assert [row["method"] for row in rows] == ["ngd", "sqn", "adam"]
    default = runner.invoke(cli, ["fit", "examples/spector.csv", "--target", "GRADE", "--json"])
    assert [row["method"] for row in json.loads(default.stdout)["convergence"]] == \
        ["ngd", "newton", "sgd"]
    primary = runner.invoke(cli, ["fit", "examples/spector.csv", "--target", "GRADE",
                                  "--method", "sqn", "--compare", "ngd", "--json"])
    assert [row["method"] for row in json.loads(primary.stdout)["convergence"]] == \
        ["sqn", "ngd"]
    bad = runner.invoke(cli, ["fit", "examples/spector.csv", "--compare", "ngd,lbfgs"])
    assert bad.exit_code == 2 and "--compare" in bad.stderr
