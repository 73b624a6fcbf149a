"""ngd's Dask backend against dask-ml's LogisticRegression (dask-glm solvers) on the same
dask.distributed LocalCluster (two worker processes, one thread each, loopback only).

Both fit the unpenalised logistic MLE (dask-glm's "newton" ignores any penalty, and its
"lbfgs" penalises the intercept too, so the common objective is l2 = 0; lbfgs gets C = 1e12)
on the same persisted row-chunked dask array. ngd: one pass over the chunks per evaluation
(loss, gradient and Fisher Gram together; the Gram on a seeded row subsample by default, on
all rows in the "Fisher on all rows" row), the p x p solve on the client, no statistics
passes. The objective is recomputed by one numpy function; gap = L - L* (best of the run).
Skipped when dask.distributed or dask-ml is not installed.
"""
import atexit
import functools
import importlib.util
import warnings

import numpy as np

from bench.common import SEED, logistic_objective, records_by_problem, solver_table

TOL = 1e-8
MAX_ITER = 100


@functools.lru_cache(maxsize=1)
def _client():
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None)
    client = Client(cluster)
    atexit.register(cluster.close)
    atexit.register(client.close)
    return client


@functools.lru_cache(maxsize=2)
def _problem(n, p, chunks):
    """(numpy X, y, persisted dask X, dask y) of a logistic problem (cached)."""
    import dask.array as da
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, p))
    beta = rng.standard_normal(p) / np.sqrt(p)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ beta - 0.3)))).astype(np.float64)
    client = _client()
    rows = -(-n // chunks)
    Xd, yd = client.persist([da.from_array(X, chunks=(rows, p)), da.from_array(y, rows)])
    return X, y, Xd, yd


def _ngd(Xd, yd, method, subsample="auto"):
    from ngd import dask_backend
    res = dask_backend.fit(Xd, yd, method=method, tol=TOL, max_iter=MAX_ITER,
                           client=_client(), statistics=False, subsample=subsample)
    return dict(coef=res.coef, intercept=res.intercept, n_iter=int(res.n_iter),
                converged=bool(res.converged), passes=int(res.n_passes))


def _dask_ml(solver):
    def fit(Xd, yd, method=None):
        from dask_ml.linear_model import LogisticRegression
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = LogisticRegression(solver=solver, C=1e12, tol=TOL, max_iter=MAX_ITER)
            clf.fit(Xd, yd)
        return dict(coef=np.asarray(clf.coef_), intercept=float(clf.intercept_),
                    n_iter=-1, converged=True, passes=-1)
    return fit


SOLVERS = {"ngd-dask (ngd)": lambda X, y: _ngd(X, y, "ngd"),
           "ngd-dask (ngd, Fisher on all rows)": lambda X, y: _ngd(X, y, "ngd", None),
           "ngd-dask (newton)": lambda X, y: _ngd(X, y, "newton"),
           "dask-ml newton": _dask_ml("newton"), "dask-ml lbfgs": _dask_ml("lbfgs")}


class DaskLogistic:
    """Fit time, objective and passes of each solver on a dense logistic problem held in a
    persisted dask array ("n x p x chunks")."""
    params = [["200000x20x8", "2000000x50x16"], list(SOLVERS)]
    param_names = ["problem", "solver"]
    quick_params = [["4000x5x4"], list(SOLVERS)]
    repeat = 3
    warmup = 1
    timeout = 900

    def setup(self, problem, solver):
        if importlib.util.find_spec("distributed") is None:
            raise NotImplementedError("dask.distributed is not installed")
        if solver.startswith("dask-ml") and importlib.util.find_spec("dask_ml") is None:
            raise NotImplementedError("dask-ml is not installed")
        n, p, chunks = (int(part) for part in problem.split("x"))
        self.X, self.y, self.Xd, self.yd = _problem(n, p, chunks)
        self._record = None

    def _last(self, solver):
        if self._record is None:
            self._record = SOLVERS[solver](self.Xd, self.yd)
        return self._record

    def time_fit(self, problem, solver):
        self._record = SOLVERS[solver](self.Xd, self.yd)

    def track_objective(self, problem, solver):
        rec = self._last(solver)
        return logistic_objective(self.X, self.y, rec["coef"], rec["intercept"], 0.0)

    def track_n_iter(self, problem, solver):
        return self._last(solver)["n_iter"]

    def track_passes(self, problem, solver):
        return self._last(solver)["passes"]


def summarize(records):
    """One table per problem: time, objective, gap, ngd's iterations and passes."""
    groups = records_by_problem(records, "DaskLogistic")
    tables = []
    for problem, solvers in groups.items():
        n, p, chunks = (int(part) for part in problem.split("x"))
        title = (f"Dask logistic (LocalCluster, 2 worker processes x 1 thread): n={n}, p={p}, "
                 f"{chunks} row chunks, l2=0, tol={TOL:g}; gap = L - L* (best of the run)")
        tables.append((title, solver_table(solvers, extra=[("passes", "track_passes")],
                                           converged=False)))
    return tables
