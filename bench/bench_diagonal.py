"""Adam / RMSprop (diagonal *empirical* Fisher, EMA, power 1/2) against NGD with the exact
Fisher's diagonal (``fisher="diagonal"``) and full NGD, on two logistic regressions that are
the same model in different units: independent standard-normal columns ("well-scaled"), and
the same columns multiplied by scales 10^-2 ... 10^2 with the coefficients divided by them
("badly-scaled"; identical fitted probabilities and L*).

Cost is counted in passes over the data: one per Adam epoch (mini-batches of 256 rows, alpha
tuned on a grid), one per function evaluation plus one per Fisher (diagonal or Gram) for the
full-batch methods. The diagonal-Fisher step is invariant to rescaling a column, Adam's is not.
"""
import functools
import warnings

import numpy as np

from bench.common import format_table, format_time
from ngd import fit

#: problem -> (n, d, column scales from 10^-s to 10^s); the quick variant is small
PROBLEMS = {"well-scaled": (50_000, 20, 0.0), "badly-scaled": (50_000, 20, 2.0),
            "well-scaled-quick": (2_000, 5, 0.0), "badly-scaled-quick": (2_000, 5, 2.0)}
METHODS = {"adam 1e-3": ("adam", 1e-3), "adam 1e-2": ("adam", 1e-2), "adam 1e-1": ("adam", 1e-1),
           "rmsprop 1e-3": ("rmsprop", 1e-3), "rmsprop 1e-2": ("rmsprop", 1e-2),
           "rmsprop 1e-1": ("rmsprop", 1e-1), "diagonal ngd": ("ngd", "diagonal"),
           "ngd": ("ngd", "exact")}
BUDGETS = (1, 3, 10, 30)            # passes over the data
QUICK_BUDGETS = (1, 3)


@functools.lru_cache(maxsize=4)
def scaled_problem(name):
    """(X, y, L*) of a problem of PROBLEMS (cached; L* from full NGD)."""
    n, d, spread = PROBLEMS[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    beta = rng.standard_normal(d) * 3.0 / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ beta + 0.3)))).astype(np.float64)
    X *= np.logspace(-spread, spread, d)
    best = fit(X, y, tol=1e-10, n_threads=1).loss
    return X, y, best


def passes_and_losses(result):
    """(cumulative passes over the data, loss) after each iteration of a fit."""
    history = result.history
    if result.method in ("adam", "rmsprop"):
        passes = np.arange(len(history), dtype=float)
    else:       # an evaluation per line-search trial, plus the Fisher of each iteration
        passes = 1.0 + np.concatenate([[0.0], np.cumsum(1.0 + history["n_linesearch"][1:])])
    return passes, history["loss"]


class DiagonalVsAdam:
    """L - L* within budgets of passes, and the time to 30 passes (or convergence)."""
    params = [["well-scaled", "badly-scaled"], list(METHODS)]
    param_names = ["problem", "method"]
    quick_params = [["well-scaled-quick", "badly-scaled-quick"], list(METHODS)]
    repeat = 1
    warmup = 0

    def setup(self, problem, method):
        self.X, self.y, self.best = scaled_problem(problem)
        self.budgets = QUICK_BUDGETS if problem.endswith("quick") else BUDGETS
        self._result = None

    def time_fit(self, problem, method):
        name, option = METHODS[method]
        options = (dict(learning_rate=option, batch_size=256) if name != "ngd"
                   else dict(fisher=option, tol=1e-10))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")             # max_iter warnings: budgets are fixed
            self._result = fit(self.X, self.y, method=name, max_iter=max(self.budgets),
                               n_threads=1, **options)

    def track_gaps(self, problem, method):
        """L - L* of the last iterate within each budget (a list, read by ``summarize``)."""
        if self._result is None:
            self.time_fit(problem, method)
        passes, losses = passes_and_losses(self._result)
        return [float(losses[passes <= budget][-1] - self.best) for budget in self.budgets]


def summarize(records):
    """One table per problem: each method's gaps at the budgets and its time."""
    mine = [r for r in records if r["benchmark"] == "DiagonalVsAdam" and not r.get("skipped")]
    tables = []
    for problem in dict.fromkeys(r["params"]["problem"] for r in mine):
        budgets = QUICK_BUDGETS if problem.endswith("quick") else BUDGETS
        runs = {}
        for rec in mine:
            if rec["params"]["problem"] == problem:
                runs.setdefault(rec["params"]["method"], {})[rec["name"]] = rec["value"]
        rows = [[method] + [f"{gap:.2e}" for gap in run["track_gaps"]]
                + [format_time(run.get("time_fit"))]
                for method, run in runs.items() if "track_gaps" in run]
        n, d, spread = PROBLEMS[problem]
        title = (f"Adam / RMSprop (alpha after the name) vs diagonal-Fisher NGD, logistic "
                 f"regression {problem}: n = {n}, d = {d}, column scales 10^-{spread:g} .. "
                 f"10^{spread:g}; L - L* within a budget of passes over the data")
        tables.append((title, format_table(
            ["method"] + [f"{b} passes" for b in budgets] + ["time"], rows)))
    return tables
