"""Solvers on one logistic objective: ngd's methods against scikit-learn and statsmodels.

Every adapter maps DESIGN.md's objective

    L = (1/n) sum_i nll_i + (l2/2) ||coef||^2        (intercept unpenalised)

onto the peer's parametrisation: scikit-learn's ``LogisticRegression(C=1/(l2 n))`` (no
penalty when l2 = 0), statsmodels' ``Logit`` (unpenalised, so l2 = 0 only). Each adapter
returns the same record (coef, intercept, iterations, converged); the final objective is
recomputed by one numpy function for all (``bench.common.logistic_objective``) and the gap is
taken to the best objective of the run. Peers are optional: a missing one is skipped with a note.
"""
import argparse
import importlib.util
import inspect
import itertools
import time
import warnings

import numpy as np

import ngd
from bench.common import (SEED, format_table, logistic_objective, logistic_problem,
                          parse_shape, records_by_problem, solver_table)

TOL = 1e-8          # max |gradient| for ngd and scikit-learn's solvers alike
MAX_ITER = 1000     # peers' cap (ngd keeps its own defaults: 100 for ngd/newton, 30 epochs sgd)


# -------------------------------------------------------------------------------- adapters --

def _ngd(method):
    def fit(X, y, l2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # sgd's ConvergenceWarning is in the record
            res = ngd.fit(X, y, model="logistic", method=method, l2=l2, tol=TOL)
        return dict(coef=res.coef, intercept=res.intercept, n_iter=int(res.n_iter),
                    converged=bool(res.converged), note=res.message)
    return fit


def _sklearn(solver):
    def fit(X, y, l2):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        kwargs = dict(solver=solver, tol=TOL, max_iter=MAX_ITER)
        if l2 > 0:
            kwargs["C"] = 1.0 / (l2 * X.shape[0])
        elif inspect.signature(LogisticRegression).parameters["penalty"].default == "l2":
            kwargs["penalty"] = None            # scikit-learn < 1.8
        else:
            kwargs["C"] = np.inf                # scikit-learn >= 1.8 deprecates penalty=
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf = LogisticRegression(**kwargs).fit(X, y)
        n_iter = int(np.max(clf.n_iter_))
        converged = n_iter < MAX_ITER and not any(
            issubclass(w.category, ConvergenceWarning) for w in caught)
        return dict(coef=clf.coef_.ravel(), intercept=float(clf.intercept_[0]),
                    n_iter=n_iter, converged=converged, note="")
    return fit


def _statsmodels(X, y, l2):
    import statsmodels.api as sm
    Xc = np.column_stack([np.ones(X.shape[0]), X])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.Logit(y, Xc).fit(method="newton", tol=TOL, maxiter=100, disp=0)
    info = res.mle_retvals
    return dict(coef=np.asarray(res.params[1:]), intercept=float(res.params[0]),
                n_iter=int(info.get("iterations", -1)), converged=bool(info.get("converged")),
                note="")


#: solver name -> (adapter, module it needs or None, whether it supports l2 > 0)
SOLVERS = {
    "ngd": (_ngd("ngd"), None, True),
    "ngd-newton": (_ngd("newton"), None, True),
    "ngd-sgd": (_ngd("sgd"), None, True),
    "sklearn-lbfgs": (_sklearn("lbfgs"), "sklearn", True),
    "sklearn-newton-cholesky": (_sklearn("newton-cholesky"), "sklearn", True),
    "statsmodels-newton": (_statsmodels, "statsmodels", False),
}

PEER_IMPORTS = {"sklearn": "sklearn.linear_model", "statsmodels": "statsmodels.api"}


def available(solver, l2):
    """None when ``solver`` can run at this l2, else the reason it cannot."""
    _, module, penalised = SOLVERS[solver]
    if module is not None and importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if l2 > 0 and not penalised:
        return "fits the unpenalised objective only (l2 = 0)"
    return None


# ---------------------------------------------------------------------------- benchmark --

class LogisticSolvers:
    """Fit time, iterations and final objective of each solver (one fit per parameter set)."""
    params = [["200000x100"], list(SOLVERS), [0.0, 1e-4]]
    param_names = ["problem", "solver", "l2"]
    quick_params = [["1500x8"], list(SOLVERS), [0.0, 1e-3]]
    repeat = 1          # a fit is long enough to time once; no warm-up
    warmup = 0
    timeout = 600

    def setup(self, problem, solver, l2):
        reason = available(solver, l2)
        if reason:
            raise NotImplementedError(reason)     # asv's way of skipping a parameter set
        module = SOLVERS[solver][1]
        if module is not None:                    # import outside the timed region
            importlib.import_module(PEER_IMPORTS[module])
        n, d = parse_shape(problem)
        self.X, self.y = logistic_problem(n, d)
        self._record = None

    def _fit(self, solver, l2):
        self._record = SOLVERS[solver][0](self.X, self.y, l2)
        return self._record

    def _last(self, solver, l2):
        return self._record if self._record is not None else self._fit(solver, l2)

    def time_fit(self, problem, solver, l2):
        self._fit(solver, l2)

    def track_n_iter(self, problem, solver, l2):
        return self._last(solver, l2)["n_iter"]

    def track_objective(self, problem, solver, l2):
        rec = self._last(solver, l2)
        return logistic_objective(self.X, self.y, rec["coef"], rec["intercept"], l2)

    def track_converged(self, problem, solver, l2):
        return float(self._last(solver, l2)["converged"])


# ------------------------------------------------------------------------------- summary --

def summarize(records):
    """One table per (problem, l2): time, iterations, objective, gap to the run's best."""
    groups = records_by_problem(records, "LogisticSolvers",
                                key=lambda params: (params["problem"], params["l2"]))
    tables = []
    for (problem, l2), solvers in groups.items():
        n, d = parse_shape(problem)
        C = "inf" if l2 == 0 else f"{1.0 / (l2 * n):g}"
        title = (f"Logistic solvers: n={n}, d={d} (AR(1) features, rho=0.7), l2={l2:g} "
                 f"(scikit-learn C={C}), tol={TOL:g}; objective recomputed by numpy, "
                 f"gap = L - L* (best of the run)")
        tables.append((title, solver_table(solvers)))
    return tables


# ------------------------------------------------------------ solver="auto" against forced --
#
#     python -m bench.bench_solvers [--full]
#
# For each shape, model and l2, after an untimed one-iteration warm-up: ngd.fit with
# solver="auto" and with each of cholesky, woodbury and cg forced (same objective, tol,
# default subsample, n_threads=1 unless --threads), the seconds of each, and
# auto's time over the best forced time; a ratio above AUTO_RATIO_LIMIT is flagged (when auto
# is also NOISE_SECONDS slower: shorter differences are timer noise on a shared machine). A forced
# solver whose estimated cost (ngd.fisher.cost) exceeds SKIP_FACTOR times the cheapest
# estimate, or whose memory exceeds the budget, is not run (shown as "skip").

AUTO_RATIO_LIMIT = 1.5
NOISE_SECONDS = 0.05  # a slower auto is flagged only when also this much slower (timer noise)
SKIP_FACTOR = 20.0
REFIT_BELOW = 1.0    # seconds: faster fits are timed three times (best of three)
FORCED = ("cholesky", "woodbury", "cg")
CHOICE_GRID = [      # (n, p, nnz a row or None for dense AR(1) X)
    (20_000, 50, None), (3_000, 600, None), (1_000, 2_000, None), (400, 3_000, None),
    (2_000, 10_000, 30), (20_000, 2_000, 30)]
CHOICE_GRID_FULL = [
    (100_000, 50, None), (20_000, 1_500, None), (5_000, 4_000, None), (2_000, 6_000, None),
    (10_000, 50_000, 40), (5_000, 20_000, 100), (100_000, 10_000, 20), (50_000, 5_000, 60)]


def choice_problem(n, p, nnz, model, seed=SEED):
    """(X, y): AR(1) dense X (nnz None) or bench_sparse's text-like CSR X, y logistic or
    Poisson with a linear predictor of standard deviation about 1."""
    from bench.bench_sparse import text_problem
    if nnz is None:
        X, y = logistic_problem(n, p, seed)
    else:
        X, y = text_problem(n, p, nnz, seed)
    if model == "logistic":
        return X, y
    rng = np.random.default_rng(seed + 1)
    eta = X @ (rng.standard_normal(p) / np.sqrt(min(p, 4 * (nnz or p))))
    return X, rng.poisson(np.exp(0.5 * eta / max(float(np.std(eta)), 1e-12))).astype(float)


def _timed_fit(X, y, model, l2, solver, n_threads):
    """(seconds, result) of a fit: the best of three when the first took under REFIT_BELOW s."""
    times = []
    while not times or (len(times) < 3 and times[0] < REFIT_BELOW):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ngd.fit(X, y, model=model, l2=l2, solver=solver, tol=TOL, stderr=False,
                          n_threads=n_threads)
        times.append(time.perf_counter() - start)
    return min(times), res


def estimates(X, y, model, l2):
    """auto's (pick, per-iteration estimates) for this fit (ngd.fisher.auto_solver on the
    model, with the default subsample's rows)."""
    from ngd.fisher import auto_solver, auto_subsample_size
    from ngd.models import GLM, LogisticModel
    built = LogisticModel(X, y, l2=l2) if model == "logistic" else \
        GLM(X, y, family=model, link="log", l2=l2)
    rows = auto_subsample_size(built) or built.n_samples
    return auto_solver(built, "exact", rows)


def _skipped(costs, name):
    """Why a forced solver is not run, from auto's estimates, or None."""
    from ngd.fisher.cost import memory_budget
    if costs is None or name not in costs:
        return None if costs is None else "n/a"
    best = min(c["seconds"] for c in costs.values())
    if costs[name]["bytes"] > memory_budget():
        return "memory"
    return "skip" if costs[name]["seconds"] > SKIP_FACTOR * max(best, 1e-3) else None


def choice_rows(grid, models=("logistic", "poisson"), l2s=(1e-5, 1e-2), n_threads=1,
                log=print):
    """One row per (shape, model, l2): auto's pick, each solver's seconds, auto / best."""
    rows = []
    for (n, p, nnz), model, l2 in itertools.product(grid, models, l2s):
        X, y = choice_problem(n, p, nnz, model)
        _, costs = estimates(X, y, model, l2)
        ngd.fit(X, y, model=model, l2=l2, max_iter=1, stderr=False,     # untimed warm-up
                n_threads=n_threads)
        auto_time, auto = _timed_fit(X, y, model, l2, "auto", n_threads)
        times = {}
        for name in FORCED:
            reason = _skipped(costs, name)
            times[name] = reason if reason else _timed_fit(X, y, model, l2, name, n_threads)[0]
        ran = [t for t in times.values() if not isinstance(t, str)]
        ratio = auto_time / min(ran)       # auto's pick is never skipped: ran is not empty
        shape = f"{n}x{p}" + (f" csr {nnz}/row" if nnz else " dense")
        rows.append([shape, model, f"{l2:g}", auto.solver, f"{auto_time:.2f}",
                     *(t if isinstance(t, str) else f"{t:.2f}" for t in times.values()),
                     f"{ratio:.2f}", "SLOW" if ratio > AUTO_RATIO_LIMIT
                     and auto_time - min(ran) > NOISE_SECONDS else ""])
        log("  " + "  ".join(rows[-1]))
    return rows


def main(argv=None):
    """Print the auto-against-forced table (default grid, or --full)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the larger shapes of issue 15")
    parser.add_argument("--models", default="logistic,poisson")
    parser.add_argument("--l2", default="1e-5,1e-2")
    parser.add_argument("--shape", help="one shape instead of the grid: NxP (dense AR(1)) or "
                                        "NxP:Z (text-like CSR, Z entries a row)")
    parser.add_argument("--threads", type=int, default=1,
                        help="n_threads of every fit (default 1: timings on a shared machine)")
    args = parser.parse_args(argv)
    grid = CHOICE_GRID_FULL if args.full else CHOICE_GRID
    if args.shape:
        size, _, nnz = args.shape.partition(":")
        grid = [(*parse_shape(size), int(nnz) if nnz else None)]
    rows = choice_rows(grid, models=tuple(args.models.split(",")),
                       l2s=tuple(float(v) for v in args.l2.split(",")), n_threads=args.threads,
                       log=print)
    print()
    print(format_table(["shape", "model", "l2", "auto", "auto s", *FORCED, "auto/best", ""],
                       rows, right=range(2, 9)))


if __name__ == "__main__":
    main()
