"""Lasso logistic regression on a text-like CSR problem: ngd against scikit-learn's L1 solvers.

    F(b, beta) = (1/n) sum_i [log(1 + exp(eta_i)) - y_i eta_i] + alpha ||beta||_1,
    eta = X beta + b (intercept unpenalised),  alpha = ALPHA_FRACTION[problem] * alpha_max,

X from ``bench.bench_sparse.text_problem`` (Zipf-like bag of words, unit row norms), kept CSR
by every solver; alpha_max = max_j |dL/dbeta_j| at the intercept-only fit (ngd.fit_path), the
fraction chosen so that a few hundred coefficients are non-zero. scikit-learn minimises
C sum_i nll_i + ||beta||_1 = (C n) F, so ``LogisticRegression(l1_ratio=1, C=1/(alpha n))``;
liblinear also penalises its intercept (a synthetic column of value INTERCEPT_SCALING, which
makes that penalty alpha |b| / INTERCEPT_SCALING), a perturbation the objective gap shows.
F is recomputed for every solver by one numpy function; gap = F - F* (best of the run).

    python -m bench.bench_sparse_enet [--quick]
"""
import functools
import importlib
import importlib.util
import sys
import warnings

import numpy as np

import ngd
from bench.bench_sparse import text_problem
from bench.common import logistic_objective, records_by_problem, solver_table

TOL = 1e-8                  # ngd: KKT violation (inf-norm of the minimum-norm subgradient)
SKLEARN_TOL = 1e-6          # liblinear: its gradient rule; saga: the coefficient change
MAX_ITER = 1000
INTERCEPT_SCALING = 100.0
ALPHA_FRACTION = {"100000x20000x30": 0.005, "2000x500x10": 0.05}


def _problem_shape(problem):
    n, p, nnz = (int(part) for part in problem.split("x"))
    return n, p, nnz


@functools.lru_cache(maxsize=2)
def lasso_alpha(problem):
    """alpha = ALPHA_FRACTION * alpha_max of the problem (cached)."""
    X, y = text_problem(*_problem_shape(problem))
    return ALPHA_FRACTION[problem] * ngd.fit_path(X, y, l1_ratio=1.0, n_alphas=1).alpha_max


def lasso_objective(X, y, coef, intercept, alpha):
    """F above: the mean logistic NLL plus alpha ||coef||_1."""
    coef = np.asarray(coef, dtype=np.float64).ravel()
    return logistic_objective(X, y, coef, intercept, 0.0) + alpha * float(np.abs(coef).sum())


def _ngd(X, y, alpha):
    res = ngd.fit(X, y, model="logistic", alpha=alpha, l1_ratio=1.0, tol=TOL)
    return dict(coef=res.coef, intercept=res.intercept, n_iter=int(res.n_iter),
                converged=bool(res.converged), note=f"{res.n_gram} Gram builds")


def _sklearn(solver, **options):
    def fit(X, y, alpha):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf = LogisticRegression(l1_ratio=1.0, C=1.0 / (alpha * X.shape[0]), solver=solver,
                                     tol=SKLEARN_TOL, max_iter=MAX_ITER, **options).fit(X, y)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        return dict(coef=clf.coef_.ravel(), intercept=float(clf.intercept_[0]),
                    n_iter=int(np.max(clf.n_iter_)), converged=converged, note="")
    return fit


SOLVERS = {"ngd": _ngd,
           "sklearn-liblinear": _sklearn("liblinear", intercept_scaling=INTERCEPT_SCALING),
           "sklearn-saga": _sklearn("saga")}


class SparseLasso:
    """Fit time, iterations, non-zeros and objective of each solver on the text-like CSR
    lasso problem (problem "n x p x non-zeros per row")."""
    params = [["100000x20000x30"], list(SOLVERS)]
    param_names = ["problem", "solver"]
    quick_params = [["2000x500x10"], list(SOLVERS)]
    repeat = 3
    warmup = 0
    timeout = 1800

    def setup(self, problem, solver):
        if solver.startswith("sklearn"):
            if importlib.util.find_spec("sklearn") is None:
                raise NotImplementedError("scikit-learn is not installed")
            importlib.import_module("sklearn.linear_model")     # not in the timed region
        self.X, self.y = text_problem(*_problem_shape(problem))
        self.alpha = lasso_alpha(problem)
        self._record = None

    def _last(self, solver):
        if self._record is None:
            self._record = SOLVERS[solver](self.X, self.y, self.alpha)
        return self._record

    def time_fit(self, problem, solver):
        self._record = SOLVERS[solver](self.X, self.y, self.alpha)

    def track_n_iter(self, problem, solver):
        return self._last(solver)["n_iter"]

    def track_n_nonzero(self, problem, solver):
        return int(np.count_nonzero(self._last(solver)["coef"]))

    def track_objective(self, problem, solver):
        rec = self._last(solver)
        return lasso_objective(self.X, self.y, rec["coef"], rec["intercept"], self.alpha)

    def track_converged(self, problem, solver):
        return float(self._last(solver)["converged"])


def summarize(records):
    """One table per problem: time, iterations, non-zeros, objective and gap to the best."""
    tables = []
    for problem, solvers in records_by_problem(records, "SparseLasso").items():
        n, p, nnz = _problem_shape(problem)
        alpha = lasso_alpha(problem)
        title = (f"Sparse lasso logistic (text-like CSR): n={n}, p={p}, ~{nnz} non-zeros per "
                 f"row, alpha={alpha:.4g} = {ALPHA_FRACTION[problem]:g} alpha_max "
                 f"(scikit-learn C={1.0 / (alpha * n):.4g}); ngd tol={TOL:g} (KKT), "
                 f"scikit-learn tol={SKLEARN_TOL:g}; gap = F - F* (best of the run)")
        tables.append((title, solver_table(solvers, extra=[("nnz", "track_n_nonzero")])))
    return tables


def run(quick=False, log=None):
    """Run SparseLasso's grid (``quick``: the small problem, one run each), print the tables
    and return the records (what ``python -m bench`` does for a registered suite)."""
    from bench.__main__ import run_class
    records = run_class(SparseLasso, quick, None,
                        log or (lambda msg: print(msg, file=sys.stderr, flush=True)))
    for rec in records:
        rec["suite"] = "sparse_enet"
    for title, text in summarize(records):
        print(f"\n{title}\n{text}")
    return records


if __name__ == "__main__":
    run(quick="--quick" in sys.argv[1:])
