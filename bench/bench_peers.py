"""ngd against scikit-learn, glum and statsmodels on issues 5 and 15's problems, each solver run
to the same stopping point.

Problems (``bench.problems.SPECS``; ``--list`` prints them; data seeded by ``--seed``,
generated inside the measuring process):

    logistic-dense         1 000 000 x   100  AR(1) features (rho 0.7), l2 = 0
    logistic-wide              2 000 x 20 000  l2 = 1e-3 (n < d: no unpenalised optimum)
    softmax                  100 000 x    50  K = 10, l2 = 0 (unique minimum value; ngd pins
                                              a reference class, like statsmodels' MNLogit)
    softmax-large          1 000 000 x    20  K = 5, l2 = 0
    poisson-log            1 000 000 x    50  offset = log(exposure), l2 = 0
    gamma-log                500 000 x    50  log link (non-canonical), l2 = 0: ngd's Fisher
                                              scoring ("ngd") and Newton ("ngd-newton")
    logistic-badly-scaled    200 000 x    50  column scales 1e-3 ... 1e3, l2 = 0
    glm-*                    400 000 x    60  every GLM family, l2 = 0: gaussian identity,
                                              poisson, gamma, inverse gaussian and tweedie
                                              1.2 / 1.5 / 1.8 (log link), gamma with the
                                              inverse link, binomial logit / probit / cloglog
                                              (0/1 y), negative binomial (alpha = 0.5 fixed)
    sparse-{logistic,poisson}-wide   10 000 x 50 000 CSR, 40 draws a row, l2 = 1e-5 (n < p)
    sparse-{logistic,poisson}-tall  200 000 x 20 000 CSR, 50 draws a row, l2 = 1e-6 (n > p)

l2 is 0 wherever the unpenalised optimum exists, so that the problems are those a user would
fit and statsmodels can take part; only the wide and sparse problems carry a penalty.

Same objective for every solver (DESIGN.md): L = (1/n) sum nll_i + (l2/2) ||coef||^2, nll the
negative log-likelihood or half the unit deviance. Translations (each tested against ngd's fit
in tests/test_bench_peers.py):
- scikit-learn ``LogisticRegression(C=1/(l2 n))`` (no penalty when l2 = 0) for logistic,
  softmax and binomial-logit; liblinear (sparse logistic problems) penalises its intercept,
  a weight on a constant column of value ``intercept_scaling``: with 1e3 that penalty is
  (l2/2) (b/1e3)^2, which bounds the objective gap it causes (< 1e-12 here);
  ``PoissonRegressor`` / ``GammaRegressor`` / ``TweedieRegressor(power, link)`` with
  alpha = l2 (power 0 identity for gaussian, 3 for the inverse gaussian); PoissonRegressor
  has no offset, so it fits y/e with sample_weight e (e = exp(offset), the same coefficients)
  and alpha = l2 n / sum(e); no probit, cloglog or negative binomial model.
- glum ``alpha=l2, l1_ratio=0`` with family normal / binomial / poisson / gamma /
  inverse.gaussian, ``TweedieDistribution(power)``, ``NegativeBinomialDistribution(theta=
  alpha)`` (Var = mu + theta mu^2, ngd's nb_alpha); links identity, log, logit, cloglog (glum
  has no probit or inverse link and no multinomial model); sparse X passed as CSR.
- statsmodels GLM (IRLS; Binomial with Logit / Probit / CLogLog, Tweedie(var_power), and
  NegativeBinomial(alpha)) and MNLogit (Newton) fit the unpenalised objective on dense X only
  (their ridge path, ``fit_regularized(L1_wt=0)``, is a plain BFGS call with no tolerance and
  no iteration count), and are skipped above n d = 2e7 entries (IRLS solves a weighted
  least-squares problem on a copy of X every iteration: minutes and several copies of X).

Stopping point: the relative gap (L - L*) / max(1, |L*|) <= 1e-8, L* the best objective any
run reached in this process (an untimed ngd fit at the tightest tolerance included). Each
solver climbs a ladder of its own tolerance knob (ngd and scikit-learn ``tol``, glum
``gradient_tol``, statsmodels ``tol``) through 1e-4, 1e-6, ..., 1e-12, stopping at the first
rung that meets the target; when L* later drops, solvers climb on. A rung where the solver
stops short of its own tolerance (iteration cap of 1000, failed line search) ends the climb:
a tighter tolerance would stop at the same point; so does a run past the time budget of one
run (120 s; 30 s with --quick), which is stopped and reported as failed, and a solver whose
runs on one problem add up to more than 300 s (60 s with --quick) climbs no further. The
reported row is the loosest rung meeting the target, else (marked) the tightest rung that
finished. Objectives are recomputed by one numpy function per model
(``bench.problems.objective``), never taken from a solver.
Times are one run of the library's fit call (the best of 3 where a run takes under 1 s:
sub-second timings swing by 2x on a shared machine) after an untimed warm-up fit on a corner
of the data; every solver gets the same C-ordered float64 X (or CSR) and all cores; conversions a
peer needs (a column of ones for statsmodels, y/e for PoissonRegressor) are made before the
timer starts. ngd runs with its defaults but ``stderr=False``: no peer's fit call computes
standard errors (statsmodels computes them lazily, after it), so ngd's timed fit does not
either. Peers that form and factor the dense p x p Hessian every iteration
(scikit-learn's newton-cholesky, glum's irls-ls and irls-cd) are skipped above p = 5000
parameters (3 GiB per Hessian at p = 20 000; one factorisation alone is minutes on 2 cores).

Summary: per problem, ngd's time, the fastest peer that reached the gap, and the ratio
(peer time / ngd time: > 1 means ngd is faster); a last row gives the thread scaling.

Also measured, each in a child process of its own: peak RSS (VmHWM reset before the fit
through /proc/self/clear_refs where Linux allows it, else ru_maxrss) of the ngd fit for
float64 and float32 X on the dense problems, of every solver that ran (at its reported rung)
on the sparse ones; and, for logistic-dense, the thread scaling of the whole ngd fit for
1, 2, 4, ... usable cores.

    python -m bench --only peers [--quick] [--seed N] [--json PATH] [--markdown PATH]
    python -m bench.bench_peers [--quick] [--list] [--problem NAME ...] [--seed N]
                                [--json PATH] [--markdown PATH]
"""
import argparse
import collections
import contextlib
import importlib.util
import json
import math
import os
import pathlib
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse

from bench.common import (cpu_count, format_markdown, format_table, format_time,
                          thread_counts)
from bench.problems import SEED, SPECS, Problem, make_problem, objective

LADDER = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
TARGET = 1e-8                     # relative objective gap every solver must reach
PEER_MAX_ITER = 1000              # iteration cap of the peers (ngd keeps its defaults)
STATSMODELS_MAX_ENTRIES = 2e7     # n d above which statsmodels is skipped
HESSIAN_MAX_DIM = 5000            # parameters above which peers forming the Hessian are skipped
#: peers that form and factor the dense (p, p) Hessian every iteration
HESSIAN_PEERS = ("sklearn-newton-cholesky", "glum-irls-ls", "glum-irls-cd")
LIBLINEAR_INTERCEPT_SCALING = 1e3  # liblinear's penalised intercept column (see docstring)
WARMUP_SHAPE = (500, 20)          # corner of X for the untimed warm-up fit (dense)
SPARSE_WARMUP_SHAPE = (500, 2000)  # and for sparse X
RUN_BUDGET_S = {False: 120.0, True: 30.0}      # time budget of one run (full, quick)
SOLVER_BUDGET_S = {False: 300.0, True: 60.0}   # of all runs of one solver on one problem
SHORT_RUN_S = 1.0                 # a run shorter than this is repeated ...
SHORT_REPEATS = 3                 # ... to this many runs in all, and the fastest is kept
THREADS_PROBLEM = "logistic-dense"
ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Quick children run single-threaded (except the explicit thread-scaling fits): on a busy
#: machine, spinning OpenMP/BLAS threads of tiny fits can cost seconds, and quick numbers
#: are not measurements anyway.
QUICK_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "NGD_NUM_THREADS": "1"}
#: (model, link) pairs whose link is canonical: Newton is Fisher scoring there
CANONICAL = {("gaussian", "identity"), ("binomial", "logit"), ("poisson", "log")}


class Skip(Exception):
    """A solver that cannot fit this problem; the message says why."""


@dataclass
class Fit:
    """What an adapter returns: the estimate and the solver's own account of the fit."""
    coef: np.ndarray
    intercept: object
    n_iter: int
    converged: bool


# ---------------------------------------------------------------------------- translations --

def sklearn_logistic_penalty(l2, weight_sum):
    """LogisticRegression keywords for (l2/2)||coef||^2 on the (1/sum w)-scaled objective:
    C = 1/(l2 sum w); no penalty when l2 = 0."""
    if l2 > 0:
        return {"C": 1.0 / (l2 * weight_sum)}
    from sklearn.linear_model import LogisticRegression
    penalty = getattr(LogisticRegression(), "penalty", None)
    return {"penalty": None} if penalty == "l2" else {"C": np.inf}   # < 1.8 vs >= 1.8


def sklearn_glm_alpha(l2):
    """PoissonRegressor / GammaRegressor / TweedieRegressor alpha: their objective is
    (1/(2 sum w)) sum w dev + (alpha/2)||coef||^2, i.e. DESIGN.md's with alpha = l2."""
    return l2


def sklearn_tweedie_form(problem):
    """(power, link) of scikit-learn's TweedieRegressor for a GLM family with that variance
    power: gaussian 0, inverse gaussian 3, tweedie its own power."""
    power = {"gaussian": 0.0, "inverse_gaussian": 3.0}.get(problem.model, problem.spec.power)
    return power, problem.link


def exposure_form(y, offset, l2):
    """(target, sample_weight, alpha) for a Poisson fit without offset support. With
    e = exp(offset) and mu0 = exp(eta), the weighted nll of y/e is e (mu0 - (y/e) eta) =
    e mu0 - y eta, ours (mu - y (eta + offset)) up to a constant: same coefficients. The
    weighted objective is (n / sum e) times ours up to a constant, so alpha = l2 n / sum e."""
    e = np.exp(offset)
    return y / e, e, l2 * y.shape[0] / e.sum()


def glum_penalty(l2):
    """glum keywords: its objective is (1/(2 sum w)) sum w dev + (alpha/2)||coef||^2 when
    l1_ratio = 0, i.e. DESIGN.md's with alpha = l2."""
    return {"alpha": l2, "l1_ratio": 0.0}


def glum_family(problem):
    """(family, link) of glum's GeneralizedLinearRegressor for ``problem``: NB2's
    Var = mu + theta mu^2 makes theta ngd's nb_alpha; raises Skip where glum has none."""
    model = "binomial" if problem.model == "logistic" else problem.model
    link = "logit" if problem.model == "logistic" else problem.link
    if model == "softmax":
        raise Skip("glum has no multinomial model")
    if link in ("probit", "inverse"):
        raise Skip(f"glum has no {link} link")
    if model == "tweedie":
        from glum import TweedieDistribution
        return TweedieDistribution(power=problem.spec.power), link
    if model == "negative_binomial":
        from glum import NegativeBinomialDistribution
        return NegativeBinomialDistribution(theta=problem.spec.nb_alpha), link
    return {"gaussian": "normal", "inverse_gaussian": "inverse.gaussian"}.get(model, model), link


def statsmodels_reason(problem):
    """Why statsmodels cannot run ``problem`` (None when it can)."""
    n, d = problem.X.shape
    if problem.l2 > 0:
        return ("fits the unpenalised objective only (its ridge path takes no tolerance and "
                "reports no iterations)")
    if problem.sparse:
        return "takes dense X only"
    if n * d > STATSMODELS_MAX_ENTRIES:
        return f"n d = {n * d:.1e} > {STATSMODELS_MAX_ENTRIES:.0e} (IRLS copies X every iteration)"
    return None


def is_canonical(problem):
    """Whether ``problem``'s link is canonical (logistic and softmax always are)."""
    return problem.model in ("logistic", "softmax") or (problem.model, problem.link) in CANONICAL


def is_binary_logistic(problem):
    """Logistic regression with 0/1 y: model logistic, or binomial with the logit link."""
    return problem.model == "logistic" or (problem.model, problem.link) == ("binomial", "logit")


# -------------------------------------------------------------------------------- adapters --

def _no_convergence_warning(caught):
    """True if none of the warnings ``caught`` is a ConvergenceWarning (any library's)."""
    return not any(w.category.__name__ == "ConvergenceWarning" for w in caught)


def ngd_solver(method):
    """Adapter factory for ``ngd.fit(method=method)`` with its default options but
    ``stderr=False``: no peer's timed fit computes standard errors (statsmodels computes
    them lazily, after the fit), so ngd's timed fit does not either."""
    def factory(problem):
        if method == "newton" and is_canonical(problem):
            raise Skip("canonical link: Newton is Fisher scoring, the ngd row")
        import ngd
        options = problem.fit_options()

        def fit(tol):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = ngd.fit(problem.X, problem.y, method=method, tol=tol, stderr=False,
                              **options)
            return Fit(res.coef, res.intercept, int(res.n_iter), bool(res.converged))
        return fit
    return factory


def sklearn_estimator(problem, solver):
    """(estimator, y, sample_weight) of scikit-learn for ``problem`` (see the module
    docstring); raises Skip where scikit-learn has no such model or solver."""
    from sklearn import linear_model
    y, n = problem.y, problem.X.shape[0]
    if problem.model == "softmax" or is_binary_logistic(problem):
        if solver != "liblinear":
            return linear_model.LogisticRegression(
                solver=solver, **sklearn_logistic_penalty(problem.l2, n)), y, None
        return liblinear_estimator(problem), y, None
    if solver == "liblinear":
        raise Skip("liblinear fits logistic regression only")
    if problem.model in ("binomial", "negative_binomial"):
        what = "negative binomial model" if problem.model == "negative_binomial" else \
            f"binomial {problem.link} link"
        raise Skip(f"scikit-learn has no {what}")
    alpha = sklearn_glm_alpha(problem.l2)
    if problem.model == "poisson":
        weight = None
        if problem.offset is not None:
            y, weight, alpha = exposure_form(problem.y, problem.offset, problem.l2)
        return linear_model.PoissonRegressor(solver=solver, alpha=alpha), y, weight
    if problem.offset is not None:
        raise Skip("scikit-learn's GLMs take no offset")
    if problem.model == "gamma":
        if problem.link != "log":
            raise Skip("scikit-learn's GammaRegressor has the log link only")
        return linear_model.GammaRegressor(solver=solver, alpha=alpha), y, None
    power, link = sklearn_tweedie_form(problem)
    return linear_model.TweedieRegressor(solver=solver, power=power, link=link,
                                         alpha=alpha), y, None


def liblinear_estimator(problem):
    """liblinear's LogisticRegression (binary, l2 > 0, sparse X) by its primal trust-region
    Newton method, with the intercept on a column of value LIBLINEAR_INTERCEPT_SCALING so
    that its penalty is negligible (the dual coordinate descent hits the iteration cap
    against that column even when n < p)."""
    from sklearn import linear_model
    n = problem.X.shape[0]
    if problem.model == "softmax":
        raise Skip("liblinear fits binary logistic regression only")
    if not problem.sparse:
        raise Skip("timed on the sparse problems only (issue 15's wide-sparse peers)")
    if problem.l2 == 0:
        raise Skip("liblinear always penalises")
    return linear_model.LogisticRegression(
        solver="liblinear", dual=False, intercept_scaling=LIBLINEAR_INTERCEPT_SCALING,
        **sklearn_logistic_penalty(problem.l2, n))


def sklearn_solver(solver):
    """Adapter factory for scikit-learn's LogisticRegression and GLM regressors with
    ``solver``."""
    def factory(problem):
        estimator, y, sample_weight = sklearn_estimator(problem, solver)
        X = problem.X

        def fit(tol):
            estimator.set_params(tol=tol, max_iter=PEER_MAX_ITER)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                estimator.fit(X, y, sample_weight=sample_weight)
            coef, intercept = estimator.coef_, estimator.intercept_
            if problem.model != "softmax" and np.ndim(coef) == 2:
                coef, intercept = coef.ravel(), float(np.ravel(intercept)[0])
            return Fit(coef, intercept, int(np.max(estimator.n_iter_)),
                       _no_convergence_warning(caught))
        return fit
    return factory


def glum_solver(solver):
    """Adapter factory for glum's GeneralizedLinearRegressor with ``solver``."""
    def factory(problem):
        family, link = glum_family(problem)
        from glum import GeneralizedLinearRegressor
        estimator = GeneralizedLinearRegressor(family=family, link=link, solver=solver,
                                               max_iter=PEER_MAX_ITER, **glum_penalty(problem.l2))

        def fit(tol):
            estimator.set_params(gradient_tol=tol)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                estimator.fit(problem.X, problem.y, offset=problem.offset)
            return Fit(estimator.coef_, float(estimator.intercept_), int(estimator.n_iter_),
                       _no_convergence_warning(caught))
        return fit
    return factory


def statsmodels_family(problem):
    """statsmodels GLM family object of ``problem`` (GLM models)."""
    import statsmodels.api as sm
    families, links = sm.families, sm.families.links
    link = {"identity": links.Identity, "log": links.Log, "inverse": links.InversePower,
            "logit": links.Logit, "probit": links.Probit,
            "cloglog": links.CLogLog}[problem.link or "logit"]()
    model = "binomial" if problem.model == "logistic" else problem.model
    if model == "tweedie":
        return families.Tweedie(var_power=problem.spec.power, link=link)
    if model == "negative_binomial":
        return families.NegativeBinomial(alpha=problem.spec.nb_alpha, link=link)
    return {"gaussian": families.Gaussian, "binomial": families.Binomial,
            "poisson": families.Poisson, "gamma": families.Gamma,
            "inverse_gaussian": families.InverseGaussian}[model](link=link)


def statsmodels_solver(problem):
    """Adapter for statsmodels: GLM by IRLS, MNLogit by Newton (unpenalised, dense only)."""
    reason = statsmodels_reason(problem)
    if reason:
        raise Skip(reason)
    import statsmodels.api as sm
    Xc = np.column_stack([np.ones(problem.X.shape[0]), problem.X])
    if problem.model == "softmax":
        return _mnlogit(sm.MNLogit(problem.y, Xc))
    model = sm.GLM(problem.y, Xc, family=statsmodels_family(problem), offset=problem.offset)

    def fit(tol):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(method="IRLS", tol=tol, maxiter=PEER_MAX_ITER)
        params = np.asarray(res.params)
        return Fit(params[1:], float(params[0]), int(res.fit_history["iteration"]),
                   bool(res.converged))
    return fit


def _mnlogit(model):
    """fit(tol) for a statsmodels MNLogit (reference class 0, params (d + 1, K - 1))."""
    def fit(tol):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = model.fit(method="newton", tol=tol, maxiter=PEER_MAX_ITER, disp=0)
        params = np.asarray(res.params)
        coef = np.vstack([np.zeros(params.shape[0] - 1), params[1:].T])
        intercept = np.concatenate([[0.0], params[0]])
        info = res.mle_retvals
        return Fit(coef, intercept, int(info["iterations"]), bool(info["converged"]))
    return fit


#: solver name -> (module it needs, or None; adapter factory: problem -> fit(tol) -> Fit)
SOLVERS = {
    "ngd": (None, ngd_solver("ngd")),
    "ngd-newton": (None, ngd_solver("newton")),
    "sklearn-lbfgs": ("sklearn", sklearn_solver("lbfgs")),
    "sklearn-newton-cholesky": ("sklearn", sklearn_solver("newton-cholesky")),
    "sklearn-liblinear": ("sklearn", sklearn_solver("liblinear")),
    "glum-irls-ls": ("glum", glum_solver("irls-ls")),
    "glum-irls-cd": ("glum", glum_solver("irls-cd")),
    "glum-lbfgs": ("glum", glum_solver("lbfgs")),
    "statsmodels": ("statsmodels", statsmodels_solver),
}


def is_peer(name):
    """Solvers other than ngd's own."""
    return not name.startswith("ngd")


def n_params(problem):
    """Parameters of the fit: (d + 1), times K for softmax."""
    return (problem.X.shape[1] + 1) * max(problem.spec.n_classes, 1)


def make_fit(name, problem):
    """fit(tol) of solver ``name`` on ``problem``; raises Skip when it cannot run."""
    module, factory = SOLVERS[name]
    if module is not None and importlib.util.find_spec(module) is None:
        raise Skip(f"{module} is not installed")
    p = n_params(problem)
    if name in HESSIAN_PEERS and p > HESSIAN_MAX_DIM:
        raise Skip(f"forms and factors the {p} x {p} Hessian ({8 * p * p / 2**30:.1f} GiB, "
                   f"p^3/3 flops) every iteration: skipped above p = {HESSIAN_MAX_DIM}")
    return factory(problem)


# ---------------------------------------------------------------------------------- ladder --

def rel_gap(value, best):
    """(L - L*) / max(1, |L*|)."""
    return (value - best) / max(1.0, abs(best))


def meets(run, best):
    """Whether ``run`` reached the target gap against L* = best."""
    return math.isfinite(run["objective"]) and rel_gap(run["objective"], best) <= TARGET


class Timeout(Exception):
    """A fit ran past its time budget."""


@contextlib.contextmanager
def time_limit(seconds):
    """Raise Timeout in the main thread once ``seconds`` have passed; Python sees the signal
    between the library's steps (after a running BLAS call returns). No-op without SIGALRM
    or without a finite limit (None, inf)."""
    if not hasattr(signal, "SIGALRM") or seconds is None or not math.isfinite(seconds):
        yield
        return

    def expire(signum, frame):
        raise Timeout(f"stopped at the {seconds:g} s budget of one run")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def timed_run(fit, tol, problem, budget):
    """One timed fit at ``tol`` within ``budget`` seconds (the best of SHORT_REPEATS when it
    takes under SHORT_RUN_S): time, iterations, the solver's converged flag and the
    objective recomputed by bench.problems.objective (an exception, the budget's included,
    becomes ``error``)."""
    start = time.perf_counter()
    try:
        with time_limit(budget):
            result = fit(tol)
    except Exception as exc:            # a failing peer is reported, not fatal
        return dict(tol=tol, time=time.perf_counter() - start, n_iter=None, converged=False,
                    objective=math.nan, error=f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    for _ in range(SHORT_REPEATS - 1 if elapsed < SHORT_RUN_S else 0):
        again = time.perf_counter()
        fit(tol)
        elapsed = min(elapsed, time.perf_counter() - again)
    return dict(tol=tol, time=elapsed, n_iter=result.n_iter, converged=result.converged,
                objective=objective(problem, result.coef, result.intercept))


def climb(fit, problem, runs, best, budget, total_budget=math.inf):
    """Append runs at the rungs after those in ``runs`` until one meets the target against
    best() (re-read after every run), the ladder ends, or a run fails (its time budget
    included) or stops short of its tolerance (iteration cap, failed line search: a tighter
    tolerance stops at the same point). Each run gets at most ``budget`` seconds and what is
    left of ``total_budget`` for all runs in ``runs``; none starts once that is spent."""
    while len(runs) < len(LADDER) and not any(meets(r, best()) for r in runs):
        if runs and ("error" in runs[-1] or not runs[-1]["converged"]):
            return
        left = total_budget - sum(r["time"] for r in runs)
        if left <= 0:
            return
        limit = left if budget is None else min(budget, left)
        runs.append(timed_run(fit, LADDER[len(runs)], problem, limit))


def select(runs, best):
    """(run, met): the loosest run meeting the target, else the tightest run that finished
    (else the failed one)."""
    for run in runs:
        if meets(run, best):
            return run, True
    finished = [run for run in runs if "error" not in run]
    return (finished or runs)[-1], False


def corner(problem):
    """The first rows and columns of ``problem`` (warm-up data)."""
    rows, cols = SPARSE_WARMUP_SHAPE if problem.sparse else WARMUP_SHAPE
    offset = None if problem.offset is None else problem.offset[:rows]
    X = problem.X[:rows, :cols]
    return Problem(problem.spec, X if problem.sparse else np.ascontiguousarray(X),
                   problem.y[:rows], offset)


def warm_up(name, problem):
    """Untimed fit of ``name`` on a corner of the data: loads what the library imports lazily."""
    try:
        make_fit(name, corner(problem))(LADDER[0])
    except Exception:                   # best effort: the timed runs report real failures
        pass


def reference_objective(problem):
    """Objective of an untimed ngd fit at the tightest rung (a floor for L* from the start,
    so that no solver's loose rung is mistaken for the optimum)."""
    result = make_fit("ngd", problem)(LADDER[-1])
    return objective(problem, result.coef, result.intercept)


def compare(problem, names, log, budget, total_budget=math.inf):
    """Records of every solver in ``names`` on ``problem``, each run limited to ``budget``
    seconds and all runs of one solver to ``total_budget`` (see the module docstring)."""
    reference = reference_objective(problem)
    fits, skipped, ladders = {}, {}, {}
    for name in names:
        try:
            fits[name] = make_fit(name, problem)
        except Skip as exc:
            skipped[name] = str(exc)
            continue
        warm_up(name, problem)
        ladders[name] = []

    def best():
        values = [r["objective"] for runs in ladders.values() for r in runs]
        return min(v for v in values + [reference] if math.isfinite(v))

    grew = True
    while grew:                          # climb on while L* keeps dropping
        sizes = {name: len(runs) for name, runs in ladders.items()}
        for name, fit in fits.items():
            climb(fit, problem, ladders[name], best, budget, total_budget)
            for run in ladders[name][sizes[name]:]:
                log(f"    {problem.spec.name} {name} tol={run['tol']:g}: "
                    f"{format_time(run['time'])}, gap {rel_gap(run['objective'], best()):.1e}"
                    + (f", {run['error']}" if "error" in run else ""))
        grew = any(len(ladders[name]) > size for name, size in sizes.items())
    return _solver_records(problem, names, ladders, skipped, best(), reference)


def problem_info(problem):
    """Fields describing ``problem`` in every record of it."""
    n, d = problem.X.shape
    return dict(problem=problem.spec.name, model=problem.model, link=problem.link, n=n, d=d,
                nnz=int(problem.X.nnz) if problem.sparse else None, l2=problem.l2,
                notes=problem.spec.notes)


def _solver_records(problem, names, ladders, skipped, best, reference):
    """One record per solver: the selected run, its gap, ratio to ngd and all rungs."""
    base = dict(benchmark="peers", kind="solver", **problem_info(problem), best_objective=best,
                reference_objective=reference, target=TARGET)
    records = []
    for name in names:
        if name in skipped:
            records.append(dict(base, solver=name, skipped=skipped[name]))
            continue
        runs = [dict(r, gap=rel_gap(r["objective"], best)) for r in ladders[name]]
        run, met = select(runs, best)
        records.append(dict(base, solver=name, tol=run["tol"], time=run["time"],
                            n_iter=run["n_iter"], gap=run["gap"], converged=run["converged"],
                            target_met=met, error=run.get("error"), runs=runs))
    ngd_time = next((r["time"] for r in records if r["solver"] == "ngd" and "time" in r), None)
    for rec in records:
        if "time" in rec and ngd_time:
            rec["ratio"] = rec["time"] / ngd_time
    return records


# ------------------------------------------------------------------------ threads, memory --

def thread_scaling(problem, repeat):
    """Time of the whole ngd fit (default options) per thread count: 1, 2, 4, ... cores,
    best of ``repeat``; speedup against 1 thread and the largest coefficient difference."""
    import ngd
    results = []
    for k in thread_counts():
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            res = ngd.fit(problem.X, problem.y, n_threads=k, **problem.fit_options())
            times.append(time.perf_counter() - start)
        results.append((k, min(times), np.ravel(res.coef)))
    _, t1, coef1 = results[0]
    scale = max(float(np.max(np.abs(coef1))), 1e-300)
    return [dict(benchmark="peers-threads", kind="thread_scaling", problem=problem.spec.name,
                 n=problem.X.shape[0], d=problem.X.shape[1], n_threads=k, time=t,
                 speedup=t1 / t, cores=cpu_count(),
                 max_rel_diff=float(np.max(np.abs(coef - coef1))) / scale)
            for k, t, coef in results]


def _status_bytes(field):
    """A memory field of /proc/self/status (VmRSS, VmHWM) in bytes; None where unreadable."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss():
    """Reset this process's resident high-water mark (VmHWM; Linux >= 4.0 through
    /proc/self/clear_refs); True if it was reset."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return _status_bytes("VmHWM") is not None


def peak_rss():
    """Resident high-water mark of this process in bytes: VmHWM where Linux has it, else
    ru_maxrss (Linux reports KiB, macOS bytes)."""
    hwm = _status_bytes("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def x_nbytes(X):
    """Bytes of X's arrays (data, indices and indptr for CSR)."""
    if scipy.sparse.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


def memory(name, quick, dtype, seed=SEED, solver=None, tol=None):
    """Peak RSS around one fit of problem ``name`` with X in ``dtype``: ngd with its default
    options (``solver`` None), else ``solver``'s adapter at ``tol``; meant to run alone in
    its process. The high-water mark is reset after the data are built where Linux allows
    (``hwm_reset``); elsewhere ru_maxrss also counts building them."""
    problem = make_problem(name, quick, dtype, seed)
    if solver is None:
        import ngd
        options = problem.fit_options()

        def fit():
            ngd.fit(problem.X, problem.y, **options)
    else:
        adapter = make_fit(solver, problem)

        def fit():
            adapter(tol)
    reset = reset_peak_rss()
    before = _status_bytes("VmRSS") if reset else peak_rss()
    fit()
    peak = peak_rss()
    size = x_nbytes(problem.X)
    return dict(benchmark="peers-memory", kind="peak_rss", problem=name, dtype=str(dtype),
                solver=solver or "ngd", tol=tol, hwm_reset=reset, x_nbytes=size,
                rss_before=before, rss_peak=peak, before_over_x=before / size,
                peak_over_x=peak / size, growth=peak - before,
                growth_over_x=(peak - before) / size)


# -------------------------------------------------------------------------------- processes --

def child_main(args):
    """Body of a child process: one task on the named problems; records to --json-out."""
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    records = []
    for name in args.problem:
        if args.child == "memory":
            records.append(memory(name, args.quick, np.dtype(args.dtype), args.seed,
                                  args.solver, args.tol))
            continue
        problem = make_problem(name, args.quick, seed=args.seed)
        records.extend(compare(problem, list(SOLVERS), log, RUN_BUDGET_S[args.quick],
                               SOLVER_BUDGET_S[args.quick]))
        if name == THREADS_PROBLEM:
            records.extend(thread_scaling(problem, repeat=1 if args.quick else 2))
    for rec in records:
        rec["seed"] = args.seed
    with open(args.json_out, "w") as fh:
        json.dump(records, fh)


@dataclass
class Job:
    """One child process: ``task`` ("compare" or "memory") on ``problems``; memory jobs with
    a ``solver`` fit it at ``tol`` (else ngd's default fit in ``dtype``)."""
    task: str
    problems: list
    dtype: str = "float64"
    solver: str = None
    tol: float = None

    def label(self):
        what = f"{self.solver} tol={self.tol:g}" if self.solver else self.dtype
        return f"{self.task} {' '.join(self.problems)} ({what})"

    def arguments(self):
        args = ["--child", self.task, "--dtype", self.dtype]
        if self.solver:
            args += ["--solver", self.solver, "--tol", repr(self.tol)]
        return args + [arg for p in self.problems for arg in ("--problem", p)]


def _spawn(job, quick, seed, log):
    """Run a child process for ``job``, passing its stderr lines to ``log`` as they come;
    (records, error message or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "records.json"
        cmd = [sys.executable, "-m", "bench.bench_peers", *job.arguments(), "--seed",
               str(seed), "--json-out", str(out)]
        env = dict(os.environ)
        if quick:
            cmd.append("--quick")
            env.update(QUICK_THREADS)
        tail = collections.deque(maxlen=30)
        with subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True) as proc:
            for line in proc.stderr:
                tail.append(line.rstrip("\n"))
                log(tail[-1])
        if proc.returncode != 0 or not out.exists():
            return [], f"{job.label()}: exit code {proc.returncode}\n" + "\n".join(tail)
        log(f"  done {job.label()}")
        return json.loads(out.read_text()), None


def solver_memory_jobs(records):
    """Memory jobs for every solver that ran on a sparse problem, at its reported rung."""
    return [Job("memory", [r["problem"]], solver=r["solver"], tol=r["tol"])
            for r in records if r.get("kind") == "solver" and r.get("nnz") is not None
            and "time" in r and not r.get("error")]


def run_suite(quick, log, problems=None, seed=SEED):
    """(records, failures): one child process per problem for the solver comparison (all
    problems in one child with ``quick``: its numbers are not measurements); then one per
    (dense problem, dtype) for ngd's peak RSS (the first dense problem only with ``quick``)
    and one per (sparse problem, solver) for every solver's."""
    problems = list(problems or SPECS)
    groups = [problems] if quick else [[p] for p in problems]
    dense = [p for p in problems if not SPECS[p].sparse]
    jobs = [Job("compare", group) for group in groups]
    for name in (dense[:1] if quick else dense):
        jobs += [Job("memory", [name], "float64"), Job("memory", [name], "float32")]
    records, failures = [], []

    def run(job):
        start = time.perf_counter()
        got, error = _spawn(job, quick, seed, log)
        records.extend(got)
        records.append(dict(benchmark="peers-wall", kind="wall_time", task=job.task,
                            job=job.label(), problems=job.problems,
                            seconds=time.perf_counter() - start))
        if error:
            failures.append(error)
            log(f"  FAILED {error}")

    for job in jobs:
        run(job)
    for job in solver_memory_jobs(records):
        run(job)
    return records, failures


# ---------------------------------------------------------------------------------- tables --

def _shape(rec):
    """"n x d" (with the non-zeros a row for sparse X)."""
    text = f"{rec['n']:,} x {rec['d']:,}"
    return text + (f" CSR, {rec['nnz'] / rec['n']:.0f} nnz/row" if rec.get("nnz") else "")


def _solver_table(records):
    """Title and text of one problem's comparison."""
    first = records[0]
    rows, notes = [], []
    for rec in records:
        if "skipped" in rec:
            notes.append(f"  {rec['solver']}: skipped ({rec['skipped']})")
            continue
        mark = "" if rec["target_met"] else " *"
        gap = "failed" if rec.get("error") else f"{rec['gap']:.1e}"
        rows.append([rec["solver"], f"{rec['tol']:.0e}", format_time(rec["time"]),
                     "-" if rec["n_iter"] is None else rec["n_iter"], gap + mark,
                     f"{rec['ratio']:.2f}" if rec.get("ratio") else "-",
                     "yes" if rec["converged"] else "no"])
        if rec.get("error"):
            notes.append(f"  {rec['solver']}: failed ({rec['error']})")
    if any(not r.get("target_met", True) for r in records):
        notes.append(f"  * relative gap target {TARGET:g} not met: the tightest finished rung "
                     "is shown")
    link = f", {first['link']} link" if first.get("link") else ""
    title = (f"Peers: {first['problem']} ({first['model']}{link}, {_shape(first)}, "
             f"l2={first['l2']:g}; {first['notes']}); L* = {first['best_objective']:.12g}, "
             f"time to relative gap <= {TARGET:g}")
    text = format_table(["solver", "tol", "time", "iter", "rel gap", "t/t_ngd", "converged"],
                        rows)
    return title, text + ("\n" + "\n".join(notes) if notes else "")


def fastest_peer(records):
    """The record of the fastest peer that reached the target on one problem (None if no
    peer did)."""
    done = [r for r in records if is_peer(r["solver"]) and "time" in r and r["target_met"]
            and not r.get("error")]
    return min(done, key=lambda r: r["time"], default=None)


def _mib(value):
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def summary_rows(records):
    """One row per problem: shape, ngd's time (* when it missed the target), the fastest
    peer at the target, its time, ratio peer / ngd (> 1: ngd faster) and, where measured per
    solver (sparse problems), the peak RSS growth of ngd's fit and of the peer's; then a
    thread-scaling row."""
    by_problem, growth = {}, {}
    for rec in records:
        if rec.get("kind") == "solver":
            by_problem.setdefault(rec["problem"], []).append(rec)
        elif rec.get("kind") == "peak_rss" and rec.get("tol") is not None:
            growth[(rec["problem"], rec["solver"])] = rec["growth"]
    rows = []
    for name, recs in by_problem.items():
        ngd = next((r for r in recs if r["solver"] == "ngd" and "time" in r), None)
        peer = fastest_peer(recs)
        ngd_time = "-" if ngd is None else format_time(ngd["time"]) + (
            "" if ngd["target_met"] else " *")
        ratio = f"{peer['time'] / ngd['time']:.2f}" if ngd and peer else "-"
        memory = "-"
        if (name, "ngd") in growth:
            memory = _mib(growth[(name, "ngd")]) + " / " + _mib(
                growth.get((name, peer["solver"])) if peer else None)
        rows.append([name, _shape(recs[0]), ngd_time, peer["solver"] if peer else "none",
                     format_time(peer["time"]) if peer else "-", ratio, memory])
    threads = [r for r in records if r.get("kind") == "thread_scaling"]
    if threads:
        times = ", ".join(f"{r['n_threads']}: {format_time(r['time'])}" for r in threads)
        last = threads[-1]
        rows.append([f"threads: {last['problem']}", f"{last['n']:,} x {last['d']:,}", times,
                     "-", "-", f"x{last['speedup']:.2f} on {last['n_threads']}", "-"])
    return rows


SUMMARY_HEADERS = ["problem", "n x d", "ngd", "fastest peer at gap 1e-8", "peer time",
                   "ratio", "peak RSS ngd / peer"]


def _summary_table(records):
    title = (f"Peers summary: time to relative gap <= {TARGET:g}; ratio = fastest peer / ngd "
             "(> 1: ngd faster; * ngd missed the target); peak RSS = growth during the fit "
             "(sparse problems); last row: ngd's whole fit per thread count (ratio column: "
             "speedup)")
    return title, format_table(SUMMARY_HEADERS, summary_rows(records))


def _memory_rows(records):
    return [[r["problem"], r.get("solver", "ngd"), r["dtype"],
             "-" if r.get("tol") is None else f"{r['tol']:.0e}", _mib(r["x_nbytes"]),
             _mib(r["rss_before"]), _mib(r["rss_peak"]), _mib(r["growth"]),
             f"{r['growth_over_x']:.2f}"] for r in records]


MEMORY_HEADERS = ["problem", "solver", "dtype", "tol", "X", "RSS before", "peak RSS", "growth",
                  "growth/X"]


def _memory_table(records):
    title = ("Peak RSS of one fit (own process; high-water mark reset after building the data "
             "where Linux allows; growth = peak - before; X = its arrays' bytes; ngd's default "
             "fit on dense problems, every solver at its reported rung on sparse ones)")
    return title, format_table(MEMORY_HEADERS, _memory_rows(records))


def _threads_table(records):
    rows = [[r["n_threads"], format_time(r["time"]), f"{r['speedup']:.2f}",
             f"{r['max_rel_diff']:.1e}"] for r in records]
    title = (f"Thread scaling of the whole ngd fit on {records[0]['problem']} "
             f"({records[0]['cores']} usable cores)")
    return title, format_table(["threads", "time", "speedup", "max rel diff coef"], rows)


def summarize(records):
    """Tables: the summary, one per problem, then peak RSS and thread scaling."""
    by_problem = {}
    for rec in records:
        if rec.get("kind") == "solver":
            by_problem.setdefault(rec["problem"], []).append(rec)
    tables = [_summary_table(records)] if by_problem else []
    tables += [_solver_table(recs) for recs in by_problem.values()]
    mem = [r for r in records if r.get("kind") == "peak_rss"]
    threads = [r for r in records if r.get("kind") == "thread_scaling"]
    if mem:
        tables.append(_memory_table(mem))
    if threads:
        tables.append(_threads_table(threads))
    wall = [r for r in records if r.get("kind") == "wall_time"]
    if wall:
        tables.append(_wall_table(wall))
    return tables


def _wall_table(records):
    """Wall time of every child process (problem generation, warm-ups, all rungs)."""
    rows = [[r["job"], format_time(r["seconds"])] for r in records]
    rows.append(["total", format_time(sum(r["seconds"] for r in records))])
    return ("Wall time per child process (data, warm-ups, reference fit and every rung)",
            format_table(["job", "wall time"], rows))


def markdown(records):
    """The summary (and the per-solver peak RSS of the sparse problems) as markdown tables,
    with a caption naming the machine: text for README."""
    from bench.common import machine_info
    info = machine_info()
    seeds = sorted({r["seed"] for r in records if "seed" in r})
    caption = (f"Time to a relative objective gap <= {TARGET:g} against the best objective of "
               f"the run (`python -m bench --only peers`, seed {', '.join(map(str, seeds))}; "
               f"{info['cpu']}, {info['usable_cores']} usable cores). Ratio = fastest peer's "
               "time / ngd's (> 1: ngd is faster); * = missed the target.")
    parts = [caption, "", format_markdown(SUMMARY_HEADERS, summary_rows(records))]
    sparse = [r for r in records if r.get("kind") == "peak_rss" and r.get("tol") is not None]
    if sparse:
        parts += ["", "Peak RSS growth during one fit (sparse problems, each solver in its own "
                  "process at its reported tolerance):", "",
                  format_markdown(MEMORY_HEADERS, _memory_rows(sparse))]
    return "\n".join(parts) + "\n"


def list_problems():
    """One line per problem: name, model, full shape and notes."""
    lines = []
    for spec in SPECS.values():
        n, d = spec.shape
        link = f" ({spec.link})" if spec.link else ""
        sparse = f" CSR {spec.nnz[0]} draws/row" if spec.sparse else ""
        lines.append(f"{spec.name:24s} {spec.model}{link}, {n} x {d}{sparse}, l2 = {spec.l2:g}: "
                     f"{spec.notes}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_peers",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--problem", action="extend", nargs="+", choices=sorted(SPECS),
                        metavar="NAME", help="run only these problems (repeatable; --list)")
    parser.add_argument("--list", action="store_true", help="print the problems and exit")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--seed", type=int, default=SEED, help="seed of the data (default 0)")
    parser.add_argument("--json", metavar="PATH", help="write the records here")
    parser.add_argument("--markdown", metavar="PATH", help="write the summary as markdown here")
    parser.add_argument("--child", choices=("compare", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float64", help=argparse.SUPPRESS)
    parser.add_argument("--solver", choices=sorted(SOLVERS), help=argparse.SUPPRESS)
    parser.add_argument("--tol", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        print(list_problems())
        return 0
    if args.child:
        child_main(args)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    start = time.perf_counter()
    records, failures = run_suite(args.quick, log, args.problem, args.seed)
    for title, text in summarize(records):
        print(f"\n{title}\n{text}")
    print(f"\nwall time of the suite: {format_time(time.perf_counter() - start)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(quick=args.quick, seed=args.seed, failed=failures, records=records),
                      fh, indent=2)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(markdown(records))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
