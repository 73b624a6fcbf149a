"""ngd's curvature choices on one logistic objective (l2 = 0): the exact Fisher on all rows,
the subsampled exact Fisher (``subsample="auto"``, the default) and Boehning's fixed bound
X~^T X~ / 4 (``fisher="bohning"``: one factorisation, more iterations). Shows where each wins:
the subsample when n >> p, the bound once a Gram costs more than the extra passes (large p).

    python -m bench --only curvature
"""
import warnings

import ngd
from bench.common import (logistic_objective, logistic_problem, parse_shape,
                          records_by_problem, solver_table)

TOL = 1e-8
VARIANTS = {"exact-full": dict(subsample=None), "exact-subsampled": dict(),
            "bohning": dict(fisher="bohning", max_iter=1000)}


class CurvatureChoice:
    """Fit time, iterations and objective of each curvature variant (one fit each)."""
    params = [["1000000x100", "100000x500", "50000x1000"], list(VARIANTS)]
    param_names = ["problem", "solver"]
    quick_params = [["3000x20"], list(VARIANTS)]
    repeat = 1
    warmup = 0
    timeout = 900

    def setup(self, problem, solver):
        self.X, self.y = logistic_problem(*parse_shape(problem))
        ngd.fit(self.X[:500], self.y[:500], **VARIANTS[solver])     # warm-up, untimed
        self._result = None

    def _fit(self, solver):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._result = ngd.fit(self.X, self.y, tol=TOL, stderr=False, **VARIANTS[solver])
        return self._result

    def _last(self, solver):
        return self._result if self._result is not None else self._fit(solver)

    def time_fit(self, problem, solver):
        self._fit(solver)

    def track_n_iter(self, problem, solver):
        return self._last(solver).n_iter

    def track_objective(self, problem, solver):
        res = self._last(solver)
        return logistic_objective(self.X, self.y, res.coef, res.intercept, 0.0)

    def track_converged(self, problem, solver):
        return float(self._last(solver).converged)


def summarize(records):
    """One table per problem: time, iterations, objective, gap to the run's best."""
    tables = []
    for problem, variants in records_by_problem(records, "CurvatureChoice").items():
        n, d = parse_shape(problem)
        title = (f"Curvature of ngd on logistic n={n}, d={d} (AR(1) features), l2=0, "
                 f"tol={TOL:g}, no standard errors; gap = L - L* (best of the run)")
        tables.append((title, solver_table(variants)))
    return tables
