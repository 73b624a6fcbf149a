"""SQN against SGD on the logistic-regression experiment of Byrd, Hansen, Nocedal and Singer
(2016): objective gap L - L* against the number of accessed data points.

The data follow the paper's synthetic set in spirit: binary features of very different
frequencies (rare ones carry large coefficients), so the Hessian is ill-conditioned; l2 = 1/n.
Both methods take the update theta <- theta - (beta / k) H g_S on mini-batches of b = 50 rows
with the same shuffling: SQN with H from L-BFGS (memory M = 10) on curvature pairs made every
L = 20 updates from b_H = 300-row Hessian-vector products, SGD with H = I / Lg (the same
``SQNStepper`` with M = 0). beta is tuned on a grid for each method, as in the paper; accessed
data points count b per update plus b_H per curvature pair. L* comes from NGD (exact Fisher).
"""
import warnings

import numpy as np

from bench.common import format_table
from ngd import fit
from ngd.models import LogisticModel
from ngd.optim.sqn import SQNStepper

BETAS = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
MEMORY = {"sgd": 0, "sqn": 10}
BATCH, HESSIAN_BATCH, INTERVAL = 50, 300, 20
#: problem (n x d) -> checkpoints: accessed data points in multiples of n
PROBLEMS = {"7000x50": (2, 5, 10, 20, 40), "1500x20": (1, 2)}


def rare_feature_problem(n, d, seed=0):
    """Binary X with column frequencies from 0.5 % to 50 % and coefficients growing as the
    frequency falls; y ~ Bernoulli(sigmoid(X beta - 0.5)). Returns (X, y)."""
    rng = np.random.default_rng(seed)
    frequency = np.logspace(-2.3, -0.3, d)
    X = (rng.random((n, d)) < frequency).astype(np.float64)
    beta = rng.standard_normal(d) * np.sqrt(2.0 / (d * frequency))
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(0.5 - X @ beta))).astype(np.float64)
    return X, y


def accessed_curve(model, stepper, passes):
    """[(accessed data points / n, loss)] after every epoch until ``passes`` are read."""
    theta = model.initial_theta()
    current = stepper.evaluate(theta)
    points = [(0.0, current.loss)]
    while stepper.accessed < passes * model.n_samples:
        outcome = stepper.step(theta, current)
        theta, current = outcome.theta, outcome.evaluation
        points.append((stepper.accessed / model.n_samples, current.loss))
    return points


def gap_at(points, best, passes):
    """L - L* of the last epoch that ended within ``passes`` accessed data points (x n)."""
    return [loss for read, loss in points if read <= passes + 1e-12][-1] - best


class SQNvsSGD:
    """Objective gap after 2 ... 40 passes' worth of accessed data points."""
    params = [["7000x50"], list(MEMORY), list(BETAS)]
    param_names = ["problem", "method", "beta"]
    quick_params = [["1500x20"], list(MEMORY), [10.0, 100.0]]
    repeat = 1
    warmup = 0

    def setup(self, problem, method, beta):
        n, d = (int(v) for v in problem.split("x"))
        X, y = rare_feature_problem(n, d)
        model = LogisticModel(X, y, l2=1.0 / n, n_threads=1)
        self.best = fit(X, y, l2=1.0 / n, n_threads=1).loss
        self.passes = PROBLEMS[problem]
        stepper = SQNStepper(model, batch_size=BATCH, hessian_batch_size=HESSIAN_BATCH,
                             update_interval=INTERVAL, memory=MEMORY[method],
                             learning_rate=beta, seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)     # a diverging beta is recorded
            self.points = accessed_curve(model, stepper, max(self.passes))

    def track_gaps(self, problem, method, beta):
        """The gap at each checkpoint of PROBLEMS (a list, read by ``summarize``)."""
        return [gap_at(self.points, self.best, p) for p in self.passes]

    def track_final_gap(self, problem, method, beta):
        return gap_at(self.points, self.best, max(self.passes))


def summarize(records):
    """Per problem: the best beta of each method, then its gap at each checkpoint."""
    mine = [r for r in records if r["benchmark"] == "SQNvsSGD" and not r.get("skipped")]
    tables = []
    for problem in sorted({r["params"]["problem"] for r in mine}):
        runs = {}
        for rec in mine:
            if rec["params"]["problem"] == problem:
                key = (rec["params"]["method"], rec["params"]["beta"])
                runs.setdefault(key, {})[rec["name"]] = rec["value"]
        best = {}
        for method in MEMORY:
            finals = {beta: run["track_final_gap"] for (m, beta), run in runs.items()
                      if m == method and np.isfinite(run["track_final_gap"])}
            if finals:
                beta = min(finals, key=finals.get)
                best[method] = (beta, runs[(method, beta)]["track_gaps"])
        if len(best) < 2:
            continue
        rows = [[f"{passes:g} n", f"{sgd:.3e}", f"{sqn:.3e}", f"{sgd / sqn:.1f}"]
                for passes, sgd, sqn in zip(PROBLEMS[problem], best["sgd"][1], best["sqn"][1])]
        title = (f"SQN vs SGD (Byrd et al. 2016), logistic regression on {problem} rare binary "
                 f"features, l2 = 1/n: L - L* against accessed data points; b = {BATCH}, "
                 f"b_H = {HESSIAN_BATCH}, L = {INTERVAL}, M = 10, step beta/k with beta tuned "
                 f"on {', '.join(f'{b:g}' for b in BETAS)} (SGD beta = {best['sgd'][0]:g}, "
                 f"SQN beta = {best['sqn'][0]:g})")
        tables.append((title, format_table(
            ["accessed", "SGD gap", "SQN gap", "SGD / SQN"], rows)))
    return tables
