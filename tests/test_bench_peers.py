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
    res = ngd.fit(problem.X, problem.y, tol=TIGHT, **problem.fit_options())
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


# ---------------------------------------------------------------------------- translations --

PEERS = [name for name in bench_peers.SOLVERS if name != "ngd"]


def translation_cases():
    """(solver, problem, l2) for every solver, problem and penalty (unpenalised only where
    the optimum exists)."""
    return [(solver, name, l2) for solver in PEERS for name in sorted(SPECS)
            for l2 in PENALTIES if not (SPECS[name].l2 > 0 and l2 == 0)]


def peer_fit_or_skip(solver, problem):
    try:
        fit = bench_peers.make_fit(solver, problem)
    except bench_peers.Skip as exc:
        pytest.skip(str(exc))
    return fit(TIGHT)


#: first-order peers stop within about 1e-5 of the optimum at tol 1e-10 on the ill-conditioned
#: quick problems; a wrong translation (a factor n or 2 in a penalty, a wrong link or power)
#: moves coefficients by far more
FIRST_ORDER = {"sklearn-lbfgs": 2e-5, "glum-lbfgs": 2e-5, "sklearn-liblinear": 2e-5}
#: solver, problem: (reason) pairs where the peer does not converge at all
STALLS = {("sklearn-lbfgs", "logistic-badly-scaled"): "lbfgs stalls on column scales 1e+-3",
          ("glum-lbfgs", "logistic-badly-scaled"): "lbfgs stalls on column scales 1e+-3"}


@pytest.mark.parametrize("solver,name,l2", translation_cases())
def test_every_peer_lands_on_ngds_optimum(solver, name, l2):
    # The translation (C, alpha, exposure weights, offset, family, link, Tweedie power, NB
    # alpha as theta, liblinear's intercept column) is right iff the peer's optimum is ngd's.
    module = bench_peers.SOLVERS[solver][0]
    if module is not None and importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    if (solver, name) in STALLS:
        pytest.skip(STALLS[(solver, name)])
    problem = quick_problem(name, l2)
    peer = peer_fit_or_skip(solver, problem)
    ref = fitted("ngd", problem)
    atol = FIRST_ORDER.get(solver, 1e-6)
    if problem.model == "softmax":
        if l2 > 0:                      # both symmetric: W pinned by the penalty
            np.testing.assert_allclose(peer.coef, ref.coef, rtol=0, atol=atol)
        peer, ref = gauge_free(peer), gauge_free(ref)
    assert_same_coefficients(peer, ref, atol)
    assert objective(problem, peer.coef, peer.intercept) == pytest.approx(
        objective(problem, ref.coef, ref.intercept), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("name", ["glm-tweedie", "glm-negative-binomial", "glm-gamma",
                                  "glm-inverse-gaussian", "glm-binomial-cloglog"])
def test_glum_and_statsmodels_cover_the_families(name):
    # the families a translation exists for must not be skipped silently
    problem = quick_problem(name, 0.0)
    for solver in ("glum-irls-ls", "glum-lbfgs", "statsmodels"):
        bench_peers.make_fit(solver, problem)


def test_peers_without_the_model_say_why():
    with pytest.raises(bench_peers.Skip, match="probit"):
        bench_peers.make_fit("glum-irls-ls", quick_problem("glm-binomial-probit"))
    with pytest.raises(bench_peers.Skip, match="negative binomial"):
        bench_peers.make_fit("sklearn-lbfgs", quick_problem("glm-negative-binomial"))
    with pytest.raises(bench_peers.Skip, match="logistic"):
        bench_peers.make_fit("sklearn-liblinear", quick_problem("sparse-poisson-tall"))
    with pytest.raises(bench_peers.Skip, match="dense"):
        bench_peers.make_fit("statsmodels", quick_problem("sparse-poisson-tall", 0.0))
    with pytest.raises(bench_peers.Skip, match="multinomial"):
        bench_peers.make_fit("glum-irls-ls", quick_problem("softmax"))


def test_tweedie_form_of_scikit_learn():
    assert bench_peers.sklearn_tweedie_form(quick_problem("glm-gaussian")) == (0.0, "identity")
    assert bench_peers.sklearn_tweedie_form(quick_problem("glm-inverse-gaussian")) == (3.0, "log")
    assert bench_peers.sklearn_tweedie_form(quick_problem("glm-tweedie")) == (1.5, "log")


def test_liblinear_intercept_penalty_is_negligible():
    # liblinear penalises b / intercept_scaling: the objective gap this causes is at most
    # (l2/2) (b / scaling)^2 at the true optimum; the intercept itself must be unmoved.
    problem = quick_problem("sparse-logistic-tall", 1e-2)
    peer, ref = fitted("sklearn-liblinear", problem), fitted("ngd", problem)
    assert abs(peer.intercept - ref.intercept) < 1e-6


def test_sklearn_logistic_penalty_is_one_over_l2_sum_w():
    assert bench_peers.sklearn_logistic_penalty(1e-3, 2000.0) == {"C": 0.5}
    assert bench_peers.sklearn_glm_alpha(1e-3) == 1e-3


def test_exposure_form():
    y, offset = np.array([0.0, 2.0, 5.0]), np.log([0.5, 1.0, 2.0])
    target, weight, alpha = bench_peers.exposure_form(y, offset, l2=0.1)
    np.testing.assert_allclose(target, [0.0, 2.0, 2.5])
    np.testing.assert_allclose(weight, [0.5, 1.0, 2.0])
    assert alpha == pytest.approx(0.1 * 3 / 3.5)


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
