"""Solvers on one logistic objective: ngd's methods against scikit-learn and statsmodels.

Every adapter maps DESIGN.md's objective

    L = (1/n) sum_i nll_i + (l2/2) ||coef||^2        (intercept unpenalised)

onto the peer's parametrisation: scikit-learn's ``LogisticRegression(C=1/(l2 n))`` (no
penalty when l2 = 0), statsmodels' ``Logit`` (unpenalised, so l2 = 0 only). Each adapter
returns the same record (coef, intercept, iterations, converged); the final objective is
recomputed by one numpy function for all (``bench.common.logistic_objective``) and the gap is
taken to the best objective of the run. Peers are optional: a missing one is skipped with a note.
"""
import importlib.util
import inspect
import warnings

import numpy as np

import ngd
from bench.common import (logistic_objective, logistic_problem, parse_shape,
                          records_by_problem, solver_table)

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
