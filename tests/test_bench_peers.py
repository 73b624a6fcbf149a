"""The peer benchmark's translations: every peer, given DESIGN.md's objective through its own
parametrisation (C, alpha, exposure weights, offset), must land on ngd's coefficients; and the
numpy objective of bench/problems.py must be ngd's. Tiny problems only (quick sizes)."""
import dataclasses
import importlib.util
import math
import pathlib
import signal
import sys
import time

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if not (ROOT / "bench" / "bench_peers.py").exists():
    pytest.skip("bench/ is not part of this checkout", allow_module_level=True)
sys.path.insert(0, str(ROOT))

import ngd  # noqa: E402
from bench import bench_peers  # noqa: E402
from bench.problems import SPECS, Problem, make_problem, objective  # noqa: E402

TIGHT = 1e-10
PENALTIES = [0.0, 1e-2]


def quick_problem(name, l2=None):
    """The quick-size problem ``name``, optionally with another l2."""
    problem = make_problem(name, quick=True)
    if l2 is None:
        return problem
    return Problem(dataclasses.replace(problem.spec, l2=l2), problem.X, problem.y,
                   problem.offset)


def needs(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is None,
                              reason=f"{module} is not installed")


def fitted(name, problem):
    return bench_peers.make_fit(name, problem)(TIGHT)


def assert_same_coefficients(peer, ref, atol=1e-6):
    """Coefficients (and intercepts) agree to atol relative to the largest of ngd's."""
    scale = max(1.0, float(np.max(np.abs(ref.coef))))
    np.testing.assert_allclose(np.ravel(peer.coef), np.ravel(ref.coef), rtol=0,
                               atol=atol * scale)
    np.testing.assert_allclose(np.ravel(peer.intercept), np.ravel(ref.intercept), rtol=0,
                               atol=atol * scale)


def gauge_free(fit):
    """Softmax coefficients and intercepts relative to class 0 (invariant to the gauge)."""
    coef, intercept = np.asarray(fit.coef), np.asarray(fit.intercept)
    return bench_peers.Fit(coef - coef[0], intercept - intercept[0], fit.n_iter, fit.converged)


# ------------------------------------------------------------------------------ objective --

@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("l2", PENALTIES)
def test_objective_is_ngds_loss(name, l2):
    if SPECS[name].l2 > 0 and l2 == 0:
        pytest.skip("no unpenalised optimum (n < d)")
    problem = quick_problem(name, l2)
    res = ngd.fit(problem.X, problem.y, model=problem.model, l2=l2, link=problem.link,
                  offset=problem.offset, tol=TIGHT)
    value = objective(problem, res.coef, res.intercept)
    assert value == pytest.approx(res.loss, rel=1e-12, abs=1e-12)


def test_problems_are_deterministic_and_float32_is_rounded_float64():
    a = make_problem("poisson-log", quick=True)
    b = make_problem("poisson-log", quick=True, dtype=np.float32)
    assert b.X.dtype == np.float32
    np.testing.assert_array_equal(a.X.astype(np.float32), b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.offset, b.offset)


def test_badly_scaled_columns_span_six_decades():
    X = make_problem("logistic-badly-scaled", quick=True).X
    spread = np.log10(X.std(axis=0))
    assert spread.max() - spread.min() > 5.5


# -------------------------------------------------------------------------- scikit-learn --

@needs("sklearn")
@pytest.mark.parametrize("solver", ["sklearn-lbfgs", "sklearn-newton-cholesky"])
@pytest.mark.parametrize("name", ["logistic-dense", "poisson-log", "gamma-log"])
@pytest.mark.parametrize("l2", PENALTIES)
def test_sklearn_translation(solver, name, l2):
    problem = quick_problem(name, l2)
    assert_same_coefficients(fitted(solver, problem), fitted("ngd", problem))


@needs("sklearn")
@pytest.mark.parametrize("solver", ["sklearn-lbfgs", "sklearn-newton-cholesky"])
@pytest.mark.parametrize("l2", PENALTIES)
def test_sklearn_multinomial_translation(solver, l2):
    problem = quick_problem("softmax", l2)
    peer, ref = fitted(solver, problem), fitted("ngd", problem)
    if l2 > 0:                          # both symmetric: W pinned by the penalty
        np.testing.assert_allclose(peer.coef, ref.coef, rtol=0, atol=1e-6)
    assert_same_coefficients(gauge_free(peer), gauge_free(ref))


def test_sklearn_logistic_penalty_is_one_over_l2_sum_w():
    assert bench_peers.sklearn_logistic_penalty(1e-3, 2000.0) == {"C": 0.5}
    assert bench_peers.sklearn_glm_alpha(1e-3) == 1e-3


def test_exposure_form():
    y, offset = np.array([0.0, 2.0, 5.0]), np.log([0.5, 1.0, 2.0])
    target, weight, alpha = bench_peers.exposure_form(y, offset, l2=0.1)
    np.testing.assert_allclose(target, [0.0, 2.0, 2.5])
    np.testing.assert_allclose(weight, [0.5, 1.0, 2.0])
    assert alpha == pytest.approx(0.1 * 3 / 3.5)


# ----------------------------------------------------------------------------------- glum --

@needs("glum")
@pytest.mark.parametrize("solver", ["glum", "glum-irls-cd", "glum-lbfgs"])
@pytest.mark.parametrize("name", ["logistic-dense", "poisson-log", "gamma-log"])
@pytest.mark.parametrize("l2", PENALTIES)
def test_glum_translation(solver, name, l2):
    problem = quick_problem(name, l2)
    assert_same_coefficients(fitted(solver, problem), fitted("ngd", problem))


def test_glum_has_no_softmax():
    with pytest.raises(bench_peers.Skip, match="multinomial"):
        bench_peers.make_fit("glum", quick_problem("softmax"))


# ---------------------------------------------------------------------------- statsmodels --

@needs("statsmodels")
@pytest.mark.parametrize("name", ["logistic-dense", "poisson-log", "gamma-log",
                                  "logistic-badly-scaled"])
def test_statsmodels_glm_translation(name):
    problem = quick_problem(name, 0.0)
    assert_same_coefficients(fitted("statsmodels", problem), fitted("ngd", problem))


@needs("statsmodels")
def test_statsmodels_mnlogit_translation():
    problem = quick_problem("softmax", 0.0)
    peer, ref = fitted("statsmodels", problem), fitted("ngd", problem)
    assert_same_coefficients(gauge_free(peer), gauge_free(ref))


def test_hessian_peers_skip_many_parameters(monkeypatch):
    monkeypatch.setattr(bench_peers, "HESSIAN_MAX_DIM", 100)
    problem = quick_problem("logistic-wide")
    for name in bench_peers.HESSIAN_PEERS:
        with pytest.raises(bench_peers.Skip, match="Hessian"):
            bench_peers.make_fit(name, problem)
    bench_peers.make_fit("sklearn-lbfgs", problem)
    assert bench_peers.n_params(quick_problem("softmax")) == 10 * 6


def test_statsmodels_skips_penalised_and_large_problems(monkeypatch):
    assert "unpenalised" in bench_peers.statsmodels_reason(quick_problem("logistic-wide"))
    monkeypatch.setattr(bench_peers, "STATSMODELS_MAX_ENTRIES", 100)
    assert "n d" in bench_peers.statsmodels_reason(quick_problem("logistic-dense"))


# ---------------------------------------------------------------------------- ngd, ladder --

def test_ngd_newton_only_where_it_differs():
    with pytest.raises(bench_peers.Skip, match="canonical"):
        bench_peers.make_fit("ngd-newton", quick_problem("logistic-dense"))
    problem = quick_problem("gamma-log")
    assert_same_coefficients(fitted("ngd-newton", problem), fitted("ngd", problem))


def test_ladder_stops_at_the_first_rung_meeting_the_target(monkeypatch):
    # a solver whose objective is L* + tol^2 meets 1e-8 first at tol = 1e-4
    monkeypatch.setattr(bench_peers, "timed_run",
                        lambda fit, tol, problem, budget: dict(tol=tol, time=1.0, converged=True,
                                                         objective=1.0 + tol**2))
    runs = []
    bench_peers.climb(None, None, runs, lambda: 1.0, None)
    assert [r["tol"] for r in runs] == [1e-4]
    monkeypatch.setattr(bench_peers, "timed_run",
                        lambda fit, tol, problem, budget: dict(tol=tol, time=1.0, converged=True,
                                                         objective=1.0 + tol))
    runs = []
    bench_peers.climb(None, None, runs, lambda: 1.0, None)
    assert [r["tol"] for r in runs] == [1e-4, 1e-6, 1e-8]
    assert bench_peers.select(runs, 1.0) == (runs[2], True)
    assert bench_peers.select(runs, 0.5) == (runs[2], False)     # none meets: tightest


def test_ladder_climbs_on_when_the_best_drops(monkeypatch):
    monkeypatch.setattr(bench_peers, "timed_run",
                        lambda fit, tol, problem, budget: dict(tol=tol, time=1.0, converged=True,
                                                         objective=1.0 + tol))
    runs = []
    bench_peers.climb(None, None, runs, lambda: 1.0 + 1e-6, None)
    assert [r["tol"] for r in runs] == [1e-4, 1e-6]
    bench_peers.climb(None, None, runs, lambda: 1.0, None)
    assert [r["tol"] for r in runs] == [1e-4, 1e-6, 1e-8]


@pytest.mark.skipif(not hasattr(signal, "SIGALRM"), reason="no SIGALRM on this platform")
def test_a_run_past_its_budget_is_stopped_and_reported():
    def slow(tol):
        time.sleep(5)

    start = time.perf_counter()
    run = bench_peers.timed_run(slow, 1e-4, None, budget=0.1)
    assert time.perf_counter() - start < 2
    assert run["error"].startswith("Timeout") and math.isnan(run["objective"])
    finished = dict(tol=1e-4, time=1.0, converged=True, objective=2.0)
    assert bench_peers.select([finished, dict(run, tol=1e-6)], 1.0) == (finished, False)


def test_relative_gap():
    assert bench_peers.rel_gap(0.5 + 1e-9, 0.5) == pytest.approx(1e-9)
    assert bench_peers.rel_gap(-200.0 + 2e-6, -200.0) == pytest.approx(1e-8)


def test_ladder_stops_when_a_solver_stops_short_of_its_tolerance(monkeypatch):
    # at the iteration cap a tighter tolerance reaches the same iterate: no further rungs
    monkeypatch.setattr(bench_peers, "timed_run",
                        lambda fit, tol, problem, budget: dict(tol=tol, time=1.0, converged=False,
                                                       objective=2.0))
    runs = []
    bench_peers.climb(None, None, runs, lambda: 1.0, None)
    assert [r["tol"] for r in runs] == [1e-4]
    assert bench_peers.select(runs, 1.0) == (runs[0], False)
