"""ngd against scikit-learn, glum and statsmodels on issue 5's problems, each solver run to the
same stopping point.

Problems (``bench.problems.SPECS``; data seeded, generated inside the measuring process):

    logistic-dense         1 000 000 x   100  AR(1) features (rho 0.7), l2 = 0
    logistic-wide              2 000 x 20 000  l2 = 1e-3 (n < d: no unpenalised optimum)
    softmax                  100 000 x    50  K = 10, l2 = 0 (unique minimum value; ngd pins
                                              a reference class, like statsmodels' MNLogit)
    poisson-log            1 000 000 x    50  offset = log(exposure), l2 = 0
    gamma-log                500 000 x    50  log link (non-canonical), l2 = 0: ngd's Fisher
                                              scoring ("ngd") and Newton ("ngd-newton")
    logistic-badly-scaled    200 000 x    50  column scales 1e-3 ... 1e3, l2 = 0

l2 is 0 wherever the unpenalised optimum exists, so that the problems are those a user would
fit and statsmodels can take part; only the wide problem needs a penalty.

Same objective for every solver (DESIGN.md): L = (1/n) sum nll_i + (l2/2) ||coef||^2, nll the
negative log-likelihood or half the unit deviance. Translations (tested in
tests/test_bench_peers.py): scikit-learn ``LogisticRegression(C=1/(l2 n))`` (C = inf when
l2 = 0), ``PoissonRegressor`` / ``GammaRegressor(alpha=l2)``; PoissonRegressor has no offset, so
it fits y/e with sample_weight e (e = exp(offset), the same coefficients) and
alpha = l2 n / sum(e); glum ``alpha=l2, l1_ratio=0`` (glum has no multinomial model);
statsmodels GLM (IRLS) and MNLogit (Newton) fit the unpenalised objective only (their ridge
path, ``fit_regularized(L1_wt=0)``, is a plain BFGS call with no tolerance and no iteration
count), and are skipped above n d = 2e7 entries (IRLS solves a weighted least-squares problem
on a copy of X every iteration: minutes and several copies of X at that size).

Stopping point: the relative gap (L - L*) / max(1, |L*|) <= 1e-8, L* the best objective any
run reached in this process (an untimed ngd fit at the tightest tolerance included). Each
solver climbs a ladder of its own tolerance knob (ngd and scikit-learn ``tol``, glum
``gradient_tol``, statsmodels ``tol``) through 1e-4, 1e-6, ..., 1e-12, stopping at the first
rung that meets the target; when L* later drops, solvers climb on. A rung where the solver
stops short of its own tolerance (iteration cap of 1000, failed line search) ends the climb:
a tighter tolerance would stop at the same point; so does a run past the time budget of one
run (300 s; 30 s with --quick), which is stopped and reported as failed. The reported row is
the loosest rung meeting the target, else (marked) the tightest rung that finished.
Objectives are recomputed by one numpy function per model (``bench.problems.objective``),
never taken from a solver.
Times are one run of the library's fit call after an untimed warm-up fit on a corner of the
data; every solver gets the same C-ordered float64 X and all cores; conversions a peer needs
(a column of ones for statsmodels, y/e for PoissonRegressor) are made before the timer starts.
Peers that form and factor the dense p x p Hessian every iteration (scikit-learn's
newton-cholesky, glum's irls-ls and irls-cd) are skipped above p = 5000 parameters (the wide
problem: 3 GiB per Hessian, one factorisation alone is minutes on 2 cores, and several copies
of it exhausted the memory of the development machine).

Also measured, each in a child process of its own: peak RSS of the ngd fit (ru_maxrss before
and after the fit, against X.nbytes) for float64 and float32 X; and, for logistic-dense, the
thread scaling of the whole ngd fit for 1, 2, 4, ... usable cores.

    python -m bench --only peers [--quick] [--json PATH]
    python -m bench.bench_peers [--quick] [--problem NAME ...] [--json PATH]
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

from bench.common import cpu_count, format_table, format_time, thread_counts
from bench.problems import SPECS, Problem, make_problem, objective

LADDER = (1e-4, 1e-6, 1e-8, 1e-10, 1e-12)
TARGET = 1e-8                     # relative objective gap every solver must reach
PEER_MAX_ITER = 1000              # iteration cap of the peers (ngd keeps its defaults)
STATSMODELS_MAX_ENTRIES = 2e7     # n d above which statsmodels is skipped
HESSIAN_MAX_DIM = 5000            # parameters above which peers forming the Hessian are skipped
#: peers that form and factor the dense (p, p) Hessian every iteration
HESSIAN_PEERS = ("sklearn-newton-cholesky", "glum", "glum-irls-cd")
WARMUP_SHAPE = (500, 20)          # corner of X for the untimed warm-up fit
RUN_BUDGET_S = {False: 300.0, True: 30.0}   # time budget of one run (full, quick)
THREADS_PROBLEM = "logistic-dense"
ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Quick children run single-threaded (except the explicit thread-scaling fits): on a busy
#: machine, spinning OpenMP/BLAS threads of tiny fits can cost seconds, and quick numbers
#: are not measurements anyway.
QUICK_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "NGD_NUM_THREADS": "1"}


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
    """PoissonRegressor / GammaRegressor alpha: their objective is (1/(2 sum w)) sum w dev +
    (alpha/2)||coef||^2, i.e. DESIGN.md's with alpha = l2."""
    return l2


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


def statsmodels_reason(problem):
    """Why statsmodels cannot run ``problem`` (None when it can)."""
    n, d = problem.X.shape
    if problem.l2 > 0:
        return ("fits the unpenalised objective only (its ridge path takes no tolerance and "
                "reports no iterations)")
    if n * d > STATSMODELS_MAX_ENTRIES:
        return f"n d = {n * d:.1e} > {STATSMODELS_MAX_ENTRIES:.0e} (IRLS copies X every iteration)"
    return None


# -------------------------------------------------------------------------------- adapters --

def _no_convergence_warning(caught):
    """True if none of the warnings ``caught`` is a ConvergenceWarning (any library's)."""
    return not any(w.category.__name__ == "ConvergenceWarning" for w in caught)


def ngd_solver(method):
    """Adapter factory for ``ngd.fit(method=method)`` with its default options."""
    def factory(problem):
        if method == "newton" and problem.model != "gamma":
            raise Skip("canonical link: Newton is Fisher scoring, the ngd row")
        import ngd
        options = dict(model=problem.model, method=method, l2=problem.l2, link=problem.link,
                       offset=problem.offset)

        def fit(tol):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = ngd.fit(problem.X, problem.y, tol=tol, **options)
            return Fit(res.coef, res.intercept, int(res.n_iter), bool(res.converged))
        return fit
    return factory


def sklearn_solver(solver):
    """Adapter factory for scikit-learn's LogisticRegression / PoissonRegressor /
    GammaRegressor with ``solver``."""
    def factory(problem):
        from sklearn import linear_model
        X, y, sample_weight = problem.X, problem.y, None
        if problem.model in ("logistic", "softmax"):
            estimator = linear_model.LogisticRegression(
                solver=solver, **sklearn_logistic_penalty(problem.l2, X.shape[0]))
        elif problem.model == "poisson":
            y, sample_weight, alpha = exposure_form(problem.y, problem.offset, problem.l2)
            estimator = linear_model.PoissonRegressor(solver=solver, alpha=alpha)
        else:
            estimator = linear_model.GammaRegressor(solver=solver,
                                                    alpha=sklearn_glm_alpha(problem.l2))

        def fit(tol):
            estimator.set_params(tol=tol, max_iter=PEER_MAX_ITER)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                estimator.fit(X, y, sample_weight=sample_weight)
            coef, intercept = estimator.coef_, estimator.intercept_
            if problem.model == "logistic":
                coef, intercept = coef.ravel(), float(intercept[0])
            return Fit(coef, intercept, int(np.max(estimator.n_iter_)),
                       _no_convergence_warning(caught))
        return fit
    return factory


def glum_solver(solver):
    """Adapter factory for glum's GeneralizedLinearRegressor with ``solver``."""
    def factory(problem):
        if problem.model == "softmax":
            raise Skip("glum has no multinomial model")
        from glum import GeneralizedLinearRegressor
        family = "binomial" if problem.model == "logistic" else problem.model
        estimator = GeneralizedLinearRegressor(
            family=family, link="logit" if family == "binomial" else "log", solver=solver,
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


def statsmodels_solver(problem):
    """Adapter for statsmodels: GLM by IRLS, MNLogit by Newton (unpenalised only)."""
    reason = statsmodels_reason(problem)
    if reason:
        raise Skip(reason)
    import statsmodels.api as sm
    Xc = np.column_stack([np.ones(problem.X.shape[0]), problem.X])
    if problem.model == "softmax":
        return _mnlogit(sm.MNLogit(problem.y, Xc))
    family = {"logistic": lambda: sm.families.Binomial(),
              "poisson": lambda: sm.families.Poisson(),
              "gamma": lambda: sm.families.Gamma(sm.families.links.Log())}[problem.model]()
    model = sm.GLM(problem.y, Xc, family=family, offset=problem.offset)

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
    "glum": ("glum", glum_solver("auto")),
    "glum-irls-cd": ("glum", glum_solver("irls-cd")),
    "glum-lbfgs": ("glum", glum_solver("lbfgs")),
    "statsmodels": ("statsmodels", statsmodels_solver),
}


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
    between the library's steps (after a running BLAS call returns). No-op without SIGALRM."""
    if not hasattr(signal, "SIGALRM"):
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
    """One timed fit at ``tol`` within ``budget`` seconds: time, iterations, the solver's
    converged flag and the objective recomputed by bench.problems.objective (an exception,
    the budget's included, becomes ``error``)."""
    start = time.perf_counter()
    try:
        with time_limit(budget):
            result = fit(tol)
    except Exception as exc:            # a failing peer is reported, not fatal
        return dict(tol=tol, time=time.perf_counter() - start, n_iter=None, converged=False,
                    objective=math.nan, error=f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return dict(tol=tol, time=elapsed, n_iter=result.n_iter, converged=result.converged,
                objective=objective(problem, result.coef, result.intercept))


def climb(fit, problem, runs, best, budget):
    """Append runs at the rungs after those in ``runs`` until one meets the target against
    best() (re-read after every run), the ladder ends, or a run fails (its time budget
    included) or stops short of its tolerance (iteration cap, failed line search: a tighter
    tolerance stops at the same point)."""
    while len(runs) < len(LADDER) and not any(meets(r, best()) for r in runs):
        if runs and ("error" in runs[-1] or not runs[-1]["converged"]):
            return
        runs.append(timed_run(fit, LADDER[len(runs)], problem, budget))


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
    rows, cols = WARMUP_SHAPE
    offset = None if problem.offset is None else problem.offset[:rows]
    return Problem(problem.spec, np.ascontiguousarray(problem.X[:rows, :cols]),
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


def compare(problem, names, log, budget):
    """Records of every solver in ``names`` on ``problem``, each run limited to ``budget``
    seconds (see the module docstring)."""
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
            climb(fit, problem, ladders[name], best, budget)
            for run in ladders[name][sizes[name]:]:
                log(f"    {problem.spec.name} {name} tol={run['tol']:g}: "
                    f"{format_time(run['time'])}, gap {rel_gap(run['objective'], best()):.1e}"
                    + (f", {run['error']}" if "error" in run else ""))
        grew = any(len(ladders[name]) > size for name, size in sizes.items())
    return _solver_records(problem, names, ladders, skipped, best(), reference)


def _solver_records(problem, names, ladders, skipped, best, reference):
    """One record per solver: the selected run, its gap, ratio to ngd and all rungs."""
    n, d = problem.X.shape
    base = dict(benchmark="peers", kind="solver", problem=problem.spec.name, model=problem.model,
                n=n, d=d, l2=problem.l2, notes=problem.spec.notes, best_objective=best,
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
            res = ngd.fit(problem.X, problem.y, model=problem.model, l2=problem.l2,
                          link=problem.link, offset=problem.offset, n_threads=k)
            times.append(time.perf_counter() - start)
        results.append((k, min(times), np.ravel(res.coef)))
    _, t1, coef1 = results[0]
    scale = max(float(np.max(np.abs(coef1))), 1e-300)
    return [dict(benchmark="peers-threads", kind="thread_scaling", problem=problem.spec.name,
                 n_threads=k, time=t, speedup=t1 / t, cores=cpu_count(),
                 max_rel_diff=float(np.max(np.abs(coef - coef1))) / scale)
            for k, t, coef in results]


def peak_rss():
    """ru_maxrss of this process in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def memory(name, quick, dtype):
    """Peak RSS around one ngd fit (default options) of problem ``name`` with X in ``dtype``;
    meant to run alone in its process (ru_maxrss is a high-water mark)."""
    import ngd
    problem = make_problem(name, quick, dtype)
    before = peak_rss()
    ngd.fit(problem.X, problem.y, model=problem.model, l2=problem.l2, link=problem.link,
            offset=problem.offset)
    peak = peak_rss()
    size = problem.X.nbytes
    return dict(benchmark="peers-memory", kind="peak_rss", problem=name, dtype=str(dtype),
                x_nbytes=size, rss_before=before, rss_peak=peak, before_over_x=before / size,
                peak_over_x=peak / size, growth_over_x=(peak - before) / size)


# -------------------------------------------------------------------------------- processes --

def child_main(args):
    """Body of a child process: one task on the named problems; records to --json-out."""
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    records = []
    for name in args.problem:
        if args.child == "memory":
            records.append(memory(name, args.quick, np.dtype(args.dtype)))
            continue
        problem = make_problem(name, args.quick)
        records.extend(compare(problem, list(SOLVERS), log, RUN_BUDGET_S[args.quick]))
        if name == THREADS_PROBLEM:
            records.extend(thread_scaling(problem, repeat=1 if args.quick else 2))
    with open(args.json_out, "w") as fh:
        json.dump(records, fh)


def _spawn(task, problems, quick, log, dtype="float64"):
    """Run a child process for ``task``, passing its stderr lines to ``log`` as they come;
    (records, error message or None)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "records.json"
        cmd = [sys.executable, "-m", "bench.bench_peers", "--child", task, "--dtype", dtype,
               "--json-out", str(out)] + [arg for p in problems for arg in ("--problem", p)]
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
            return [], (f"{task} {' '.join(problems)} ({dtype}): exit code {proc.returncode}\n"
                        + "\n".join(tail))
        log(f"  done {task} {' '.join(problems)} ({dtype})")
        return json.loads(out.read_text()), None


def run_suite(quick, log, problems=None):
    """(records, failures): one child process per problem for the solver comparison (all
    problems in one child with ``quick``: its numbers are not measurements) and one per
    (problem, dtype) for peak RSS (logistic-dense only with ``quick``)."""
    problems = list(problems or SPECS)
    groups = [problems] if quick else [[p] for p in problems]
    jobs = [("compare", group, "float64") for group in groups]
    for name in (problems[:1] if quick else problems):
        jobs += [("memory", [name], "float64"), ("memory", [name], "float32")]
    records, failures = [], []
    for task, group, dtype in jobs:
        got, error = _spawn(task, group, quick, log, dtype)
        records.extend(got)
        if error:
            failures.append(error)
            log(f"  FAILED {error}")
    return records, failures


# ---------------------------------------------------------------------------------- tables --

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
    title = (f"Peers: {first['problem']} (n={first['n']}, d={first['d']}, l2={first['l2']:g}; "
             f"{first['notes']}); L* = {first['best_objective']:.12g}, "
             f"time to relative gap <= {TARGET:g}")
    text = format_table(["solver", "tol", "time", "iter", "rel gap", "t/t_ngd", "converged"],
                        rows)
    return title, text + ("\n" + "\n".join(notes) if notes else "")


def _memory_table(records):
    rows = [[r["problem"], r["dtype"], f"{r['x_nbytes'] / 2**20:.1f} MiB",
             f"{r['rss_before'] / 2**20:.1f} MiB", f"{r['rss_peak'] / 2**20:.1f} MiB",
             f"{r['before_over_x']:.2f}", f"{r['peak_over_x']:.2f}", f"{r['growth_over_x']:.2f}"]
            for r in records]
    title = ("Peak RSS of the ngd fit (own process, ru_maxrss before/after the fit; ratios to "
             "X.nbytes; growth = (peak - before) / X)")
    return title, format_table(["problem", "dtype", "X", "RSS before", "peak RSS", "before/X",
                                "peak/X", "growth/X"], rows)


def _threads_table(records):
    rows = [[r["n_threads"], format_time(r["time"]), f"{r['speedup']:.2f}",
             f"{r['max_rel_diff']:.1e}"] for r in records]
    title = (f"Thread scaling of the whole ngd fit on {records[0]['problem']} "
             f"({records[0]['cores']} usable cores)")
    return title, format_table(["threads", "time", "speedup", "max rel diff coef"], rows)


def summarize(records):
    """Tables: one per problem, then peak RSS and thread scaling."""
    tables = []
    by_problem = {}
    for rec in records:
        if rec.get("kind") == "solver":
            by_problem.setdefault(rec["problem"], []).append(rec)
    tables += [_solver_table(recs) for recs in by_problem.values()]
    mem = [r for r in records if r.get("kind") == "peak_rss"]
    threads = [r for r in records if r.get("kind") == "thread_scaling"]
    if mem:
        tables.append(_memory_table(mem))
    if threads:
        tables.append(_threads_table(threads))
    return tables


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_peers",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--problem", action="append", choices=sorted(SPECS),
                        help="run only this problem (repeatable)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write the records here")
    parser.add_argument("--child", choices=("compare", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float64", help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    records, failures = run_suite(args.quick, log, args.problem)
    for title, text in summarize(records):
        print(f"\n{title}\n{text}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(quick=args.quick, failed=failures, records=records), fh, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
