"""Sparse (CSR) logistic regression on a text-like problem: ngd against scikit-learn.

The problem imitates bag-of-words features: each row draws about ``nnz`` column indices from a
Zipf-like law over p columns (frequent "words" first), values log1p(count) scaled to unit row
norm, a sparse true coefficient vector, y ~ Bernoulli(expit(x . beta + intercept)). All solvers
get the same CSR matrix and DESIGN.md's objective with l2 > 0 (scikit-learn's
C = 1/(l2 n)); the objective is recomputed by one numpy function and the gap taken to the best
objective of the run. scikit-learn's newton-cholesky forms a dense p x p Hessian, so it is
skipped where that would exceed DENSE_HESSIAN_MAX bytes.
"""
import functools
import importlib.util
import warnings

import numpy as np
import scipy.sparse as sp

import ngd
from ngd import _sparse
from bench.common import SEED, logistic_objective, records_by_problem, solver_table, thread_counts

TOL = 1e-8                  # max |gradient| for ngd; scikit-learn's tol
MAX_ITER = 1000
L2 = 1e-5
DENSE_HESSIAN_MAX = 4 << 30


@functools.lru_cache(maxsize=2)
def text_problem(n, p, nnz, seed=SEED):
    """(X CSR float64, y) as described in the module docstring (cached; treat as read-only)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(p) + 10.0)
    columns = rng.choice(p, size=n * nnz, p=weights / weights.sum())
    rows = np.repeat(np.arange(n), nnz)
    X = sp.csr_matrix((np.ones(n * nnz), (rows, columns)), shape=(n, p))   # sums repeats
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.csr_matrix(X.multiply(1.0 / norms[:, None]))
    beta = np.where(rng.random(p) < 0.05, 4.0 * rng.standard_normal(p), 0.0)
    eta = X @ beta - 0.5
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return X, y


def _ngd(X, y, l2):
    res = ngd.fit(X, y, model="logistic", method="ngd", l2=l2, tol=TOL, stderr=False)
    return dict(coef=res.coef, intercept=res.intercept, n_iter=int(res.n_iter),
                converged=bool(res.converged), note=f"solver={res.solver}")


def _sklearn(solver):
    def fit(X, y, l2):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf = LogisticRegression(solver=solver, C=1.0 / (l2 * X.shape[0]), tol=TOL,
                                     max_iter=MAX_ITER).fit(X, y)
        n_iter = int(np.max(clf.n_iter_))
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        return dict(coef=clf.coef_.ravel(), intercept=float(clf.intercept_[0]),
                    n_iter=n_iter, converged=converged, note="")
    return fit


SOLVERS = {"ngd": _ngd, "sklearn-lbfgs": _sklearn("lbfgs"),
           "sklearn-newton-cholesky": _sklearn("newton-cholesky")}


def _problem_shape(problem):
    n, p, nnz = (int(part) for part in problem.split("x"))
    return n, p, nnz


class SparseLogistic:
    """Fit time, iterations and objective of each solver on the text-like CSR problem
    (problem "n x p x non-zeros per row")."""
    params = [["200000x50000x50"], list(SOLVERS)]
    param_names = ["problem", "solver"]
    quick_params = [["2000x500x10"], list(SOLVERS)]
    repeat = 1
    warmup = 0
    timeout = 1800

    def setup(self, problem, solver):
        n, p, nnz = _problem_shape(problem)
        if solver.startswith("sklearn") and importlib.util.find_spec("sklearn") is None:
            raise NotImplementedError("scikit-learn is not installed")
        if solver == "sklearn-newton-cholesky" and 8 * (p + 1) ** 2 > DENSE_HESSIAN_MAX:
            raise NotImplementedError(f"forms a dense {p + 1}x{p + 1} Hessian "
                                      f"({8 * (p + 1) ** 2 / 2**30:.0f} GiB)")
        self.X, self.y = text_problem(n, p, nnz)
        self._record = None

    def _last(self, solver):
        if self._record is None:
            self._record = SOLVERS[solver](self.X, self.y, L2)
        return self._record

    def time_fit(self, problem, solver):
        self._record = SOLVERS[solver](self.X, self.y, L2)

    def track_n_iter(self, problem, solver):
        return self._last(solver)["n_iter"]

    def track_objective(self, problem, solver):
        rec = self._last(solver)
        return logistic_objective(self.X, self.y, rec["coef"], rec["intercept"], L2)

    def track_converged(self, problem, solver):
        return float(self._last(solver)["converged"])


class FisherVector:
    """One CSR Fisher-vector product [X, 1]^T (v * ([X, 1] u)) (the CG product of the sparse
    logistic fits) per thread count, against scipy's X u and X^T r on the same matrix; the
    shapes of bench_peers' sparse-logistic-wide and -tall (n x p x non-zeros per row)."""
    params = [["10000x50000x40", "200000x20000x50"], thread_counts()]
    param_names = ["problem", "n_threads"]
    quick_params = [["2000x5000x10"], thread_counts()]
    repeat = 20

    def setup(self, problem, n_threads):
        n, p, nnz = _problem_shape(problem)
        X, _ = text_problem(n, p, nnz)
        self.X = _sparse.as_csr(X)
        rng = np.random.default_rng(SEED)
        self.v, self.u = rng.random(n), rng.standard_normal(p + 1)

    def time_ngd(self, problem, n_threads):
        _sparse.fisher_vector(self.X, self.v, self.u, True, n_threads)

    def time_scipy_matvec_and_rmatvec(self, problem, n_threads):
        self.X.T @ (self.v * (self.X @ self.u[:-1]))


def summarize(records):
    """One table per problem: time, iterations, objective and gap to the run's best."""
    groups = records_by_problem(records, "SparseLogistic")
    tables = []
    for problem, solvers in groups.items():
        n, p, nnz = _problem_shape(problem)
        title = (f"Sparse logistic (text-like CSR): n={n}, p={p}, ~{nnz} non-zeros per row, "
                 f"l2={L2:g} (scikit-learn C={1.0 / (L2 * n):g}), tol={TOL:g}; "
                 "gap = L - L* (best of the run)")
        tables.append((title, solver_table(solvers)))
    return tables
