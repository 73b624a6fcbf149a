"""Native categorical blocks: ngd on a Design against glum on tabmat's categorical matrices and
against ngd's one-hot CSR path, each solver run to the same relative objective gap.

Problems (seeded, generated inside each measuring process): Poisson (log link) and Gamma (log
link), n = 1 000 000 rows, 50 dense N(0, 1) columns and two categoricals of 1 000 and 20 000
levels (uniform; the first level of each is the reference, drop_first coding, so the design
has 50 + 999 + 19 999 coefficients and an intercept), l2 = 0. ``--quick``: n = 20 000, 10
dense columns, 50 and 400 levels.

Same objective for every solver (DESIGN.md): L = (1/n) sum_i d(y_i, mu_i)/2, the half unit
deviance, recomputed by one numpy function (:func:`objective`) from each solver's
coefficients. glum's objective is (1/(2 n)) sum dev + (alpha/2)||coef||^2: alpha = 0, the
same. glum gets a tabmat SplitMatrix [DenseMatrix(X), CategoricalMatrix(a, drop_first=True),
CategoricalMatrix(b, drop_first=True)] built from the level values 0..L-1 (dropping level 0,
the design's reference: the same columns in the same order); its default solver (irls-ls at
alpha = 0) forms the dense Hessian of all 21 049 parameters each iteration.

Solvers, each in a child process of its own (timings of one fit call after an untimed
warm-up fit on a corner of the data; conversions are made before the timer):

    ngd          ngd.fit(Design, ...) with its defaults (solver "schur", stderr=False: glum
                 computes no standard errors either)
    ngd-onehot   ngd.fit(one-hot CSR X, ...) (the sparse path: CG on a 21 049-parameter
                 curvature)
    ngd-dense-onehot  ngd.fit(dense one-hot X, ...) up to 2 GiB of X; above, reported as
                 infeasible with its size (n x 21 048 float64 = 157 GiB at full size)
    glum         GeneralizedLinearRegressor(family, link="log", alpha=0) on the SplitMatrix
                 (its default solver, irls-ls: a dense 21 049 x 21 049 Hessian, 3.3 GiB, per
                 iteration: skipped above 5 000 parameters as in bench_peers; run at full
                 size it was killed by the OOM killer at 23 GiB RSS)
    glum-lbfgs   the same with solver="lbfgs" (no Hessian)

Stopping point: relative gap (L - L*) / max(1, |L*|) <= 1e-8, L* the best objective of the
run (an untimed ngd fit at the tightest tolerance included); each solver climbs its tolerance
ladder 1e-4 ... 1e-12 (ngd ``tol``, glum ``gradient_tol``) as in bench_peers, within a time
budget per run (600 s; 60 s with --quick).

    python -m bench --only categorical [--quick] [--json PATH]
    python -m bench.bench_categorical [--quick] [--problem poisson|gamma] [--solver NAME]
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from bench.bench_peers import (HESSIAN_MAX_DIM, LADDER, QUICK_THREADS, TARGET, rel_gap,
                               select, time_limit)
from bench.common import format_table, format_time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SIZES = {False: dict(n=1_000_000, p=50, levels=(1000, 20_000)),
         True: dict(n=20_000, p=10, levels=(50, 400))}
PROBLEMS = ("poisson", "gamma")
SOLVERS = ("ngd", "ngd-onehot", "ngd-dense-onehot", "glum", "glum-lbfgs")
DENSE_ONEHOT_MAX_BYTES = 2 << 30     # the dense one-hot X runs up to this size
RUN_BUDGET_S = {False: 600.0, True: 60.0}
GAMMA_SHAPE = 2.0
WARMUP_ROWS = 2000


# ------------------------------------------------------------------------------ problem --

class Problem:
    """Dense part X (n, p), level values (0..L-1) of each categorical, y, the model name."""

    def __init__(self, model, quick, seed=0):
        size = SIZES[quick]
        rng = np.random.default_rng(seed)
        n, p = size["n"], size["p"]
        self.model, self.quick = model, quick
        self.X = rng.standard_normal((n, p))
        self.values = [rng.integers(0, L, n).astype(np.int32) for L in size["levels"]]
        self.levels = size["levels"]
        eta = self.X @ (rng.standard_normal(p) * 0.3 / np.sqrt(p)) + 0.2
        for value, L in zip(self.values, self.levels):
            effect = 0.3 * rng.standard_normal(L)
            eta += effect[value] - effect[0]
        mu = np.exp(eta)
        self.y = rng.poisson(mu).astype(np.float64) if model == "poisson" else \
            rng.gamma(GAMMA_SHAPE, mu / GAMMA_SHAPE)

    @staticmethod
    def size_params(quick):
        """Parameters of the problem at this size (dense, levels - 1 each, intercept)."""
        size = SIZES[quick]
        return size["p"] + sum(L - 1 for L in size["levels"]) + 1

    def rows(self, count):
        """The first ``count`` rows (warm-up data)."""
        corner = Problem.__new__(Problem)
        corner.model, corner.quick, corner.levels = self.model, self.quick, self.levels
        corner.X = np.ascontiguousarray(self.X[:count])
        corner.values = [v[:count] for v in self.values]
        corner.y = self.y[:count]
        return corner

    def design(self):
        from ngd.design import Categorical, Design
        blocks = [Categorical(f"c{k}", value - 1, [str(j) for j in range(L)])
                  for k, (value, L) in enumerate(zip(self.values, self.levels))]
        return Design(self.X, blocks)


def objective(problem, coef, intercept):
    """(1/n) sum_i d(y_i, mu_i)/2 at eta = X coef_dense + sum_k gamma_k[level] + intercept
    (level 0 of each categorical is the reference)."""
    coef = np.asarray(coef, dtype=np.float64)
    p = problem.X.shape[1]
    eta = problem.X @ coef[:p] + float(intercept)
    start = p
    for value, L in zip(problem.values, problem.levels):
        gamma = np.concatenate([[0.0], coef[start:start + L - 1]])
        eta += gamma[value]
        start += L - 1
    y, mu = problem.y, np.exp(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        if problem.model == "poisson":
            half = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
        else:
            half = -np.log(y / mu) + (y - mu) / mu
    return float(np.mean(half))


# ------------------------------------------------------------------------------ solvers --

def _ngd_on(problem, X):
    """ngd.fit on ``X`` (the Design or one of its one-hot forms) at a given tol."""
    import ngd

    def fit(tol):
        res = ngd.fit(X, problem.y, model=problem.model, link="log", tol=tol, stderr=False)
        return res.coef, res.intercept, res.n_iter, bool(res.converged)
    return fit


def ngd_design(problem):
    return _ngd_on(problem, problem.design())


def ngd_onehot(problem):
    return _ngd_on(problem, problem.design().to_csr())


def ngd_dense_onehot(problem):
    return _ngd_on(problem, problem.design().toarray())


def glum_split(problem, solver="auto"):
    import pandas as pd
    import tabmat
    from glum import GeneralizedLinearRegressor
    X = tabmat.SplitMatrix([tabmat.DenseMatrix(problem.X)] + [
        tabmat.CategoricalMatrix(pd.Categorical(value, categories=np.arange(L)),
                                 drop_first=True)
        for value, L in zip(problem.values, problem.levels)])
    estimator = GeneralizedLinearRegressor(family=problem.model, link="log", alpha=0.0,
                                           l1_ratio=0.0, max_iter=1000, solver=solver)

    def fit(tol):
        estimator.set_params(gradient_tol=tol)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator.fit(X, problem.y)
        converged = not any("converge" in str(w.message).lower() for w in caught)
        return estimator.coef_, float(estimator.intercept_), int(estimator.n_iter_), converged
    return fit


FACTORIES = {"ngd": ngd_design, "ngd-onehot": ngd_onehot, "ngd-dense-onehot": ngd_dense_onehot,
             "glum": glum_split,
             "glum-lbfgs": lambda problem: glum_split(problem, "lbfgs")}


# ------------------------------------------------------------------------------- ladder --

def timed_run(fit, tol, problem, budget):
    start = time.perf_counter()
    try:
        with time_limit(budget):
            coef, intercept, n_iter, converged = fit(tol)
    except Exception as exc:            # a failing solver is reported, not fatal
        return dict(tol=tol, time=time.perf_counter() - start, n_iter=None, converged=False,
                    objective=math.nan, error=f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - start
    return dict(tol=tol, time=elapsed, n_iter=n_iter, converged=converged,
                objective=objective(problem, coef, intercept))


def ladder(name, problem, reference, budget, log):
    """Runs of ``name`` up the tolerance ladder until the gap to min(reference, its own best)
    is <= TARGET, a run fails or stops short of its tolerance."""
    fit = FACTORIES[name](problem)
    try:                                 # untimed warm-up on a corner of the data
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            FACTORIES[name](problem.rows(WARMUP_ROWS))(LADDER[0])
    except Exception:
        pass
    runs = []
    for tol in LADDER:
        run = timed_run(fit, tol, problem, budget)
        runs.append(run)
        best = min([reference] + [r["objective"] for r in runs if math.isfinite(r["objective"])])
        log(f"    {problem.model} {name} tol={tol:g}: {format_time(run['time'])}, gap "
            f"{rel_gap(run['objective'], best):.1e}" + (f", {run['error']}"
                                                         if "error" in run else ""))
        if "error" in run or not run["converged"] or rel_gap(run["objective"], best) <= TARGET:
            break
    return runs


# ---------------------------------------------------------------------------- processes --

def child_main(args):
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    problem = Problem(args.problem, args.quick)
    if args.child == "reference":
        coef, intercept, _, _ = ngd_design(problem)(LADDER[-1])
        out = dict(reference=objective(problem, coef, intercept))
    else:
        out = dict(runs=ladder(args.child, problem, args.reference, RUN_BUDGET_S[args.quick],
                               log))
    with open(args.json_out, "w") as fh:
        json.dump(out, fh)


def _spawn(task, problem, quick, reference=None):
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "out.json"
        cmd = [sys.executable, "-m", "bench.bench_categorical", "--child", task, "--problem",
               problem, "--json-out", str(out)]
        if reference is not None:
            cmd += ["--reference", repr(reference)]
        env = dict(os.environ)
        if quick:
            cmd.append("--quick")
            env.update(QUICK_THREADS)
        proc = subprocess.run(cmd, cwd=ROOT, env=env)
        if proc.returncode != 0 or not out.exists():
            return None, f"{task} {problem}: exit code {proc.returncode}"
        return json.loads(out.read_text()), None


def dense_onehot_bytes(quick):
    size = SIZES[quick]
    return 8 * size["n"] * (size["p"] + sum(L - 1 for L in size["levels"]))


def run_suite(quick, log, problems=None, solvers=None):
    """(records, failures): per problem a reference child, then one child per solver."""
    records, failures = [], []
    for model in problems or PROBLEMS:
        ref, error = _spawn("reference", model, quick)
        if error:
            failures.append(error)
            continue
        reference = ref["reference"]
        ladders, not_run = {}, {}
        n_params = Problem.size_params(quick)
        for name in solvers or SOLVERS:
            if name == "ngd-dense-onehot" and dense_onehot_bytes(quick) > DENSE_ONEHOT_MAX_BYTES:
                not_run[name] = (f"infeasible: the dense one-hot X is "
                                 f"{dense_onehot_bytes(quick) / 2**30:.1f} GiB")
                continue
            if name == "glum" and n_params > HESSIAN_MAX_DIM:
                not_run[name] = (f"forms and factors the dense {n_params} x {n_params} "
                                 f"Hessian ({8 * n_params ** 2 / 2**30:.1f} GiB) every "
                                 f"iteration: skipped above {HESSIAN_MAX_DIM} parameters, as "
                                 "in bench_peers (measured: killed by the OOM killer at 23 GiB "
                                 "RSS on the 24 GiB development machine)")
                continue
            got, error = _spawn(name, model, quick, reference)
            if error:
                failures.append(error)
                log(f"  FAILED {error}")
                not_run[name] = "child process failed: " + error + (
                    " (SIGKILL: out of memory?)" if "-9" in error else "")
                continue
            ladders[name] = got["runs"]
        values = [r["objective"] for runs in ladders.values() for r in runs]
        best = min([reference] + [v for v in values if math.isfinite(v)])
        size = SIZES[quick]
        base = dict(benchmark="categorical", kind="solver", problem=model, n=size["n"],
                    p=size["p"], levels=list(size["levels"]),
                    n_params=Problem.size_params(quick),
                    best_objective=best, reference_objective=reference, target=TARGET)
        for name, runs in ladders.items():
            runs = [dict(r, gap=rel_gap(r["objective"], best)) for r in runs]
            run, met = select(runs, best)
            records.append(dict(base, solver=name, tol=run["tol"], time=run["time"],
                                n_iter=run["n_iter"], gap=run["gap"],
                                converged=run["converged"], target_met=met,
                                error=run.get("error"), runs=runs))
        records.extend(dict(base, solver=name, skipped=error) for name, error in not_run.items())
        ngd_time = next((r["time"] for r in records
                         if r["problem"] == model and r["solver"] == "ngd" and "time" in r), None)
        for rec in records:
            if rec["problem"] == model and "time" in rec and ngd_time:
                rec["ratio"] = rec["time"] / ngd_time
    return records, failures


def summarize(records):
    tables = []
    for model in dict.fromkeys(r["problem"] for r in records):
        recs = [r for r in records if r["problem"] == model]
        rows, notes = [], []
        for rec in recs:
            if "skipped" in rec:
                notes.append(f"  {rec['solver']}: {rec['skipped']}")
                continue
            gap = "failed" if rec.get("error") else f"{rec['gap']:.1e}"
            rows.append([rec["solver"], f"{rec['tol']:.0e}", format_time(rec["time"]),
                         "-" if rec["n_iter"] is None else rec["n_iter"],
                         gap + ("" if rec["target_met"] else " *"),
                         f"{rec['ratio']:.2f}" if rec.get("ratio") else "-"])
            if rec.get("error"):
                notes.append(f"  {rec['solver']}: failed ({rec['error']})")
        first = recs[0]
        if any(not r.get("target_met", True) for r in recs):
            notes.append(f"  * relative gap target {TARGET:g} not met (tightest finished rung)")
        title = (f"Categorical: {model} (log link), n={first['n']}, {first['p']} dense + "
                 f"categoricals of {' and '.join(map(str, first['levels']))} levels "
                 f"({first['n_params']} parameters), l2=0; L* = "
                 f"{first['best_objective']:.12g}; time to relative gap <= {TARGET:g}")
        text = format_table(["solver", "tol", "time", "iter", "rel gap", "t/t_ngd"], rows)
        tables.append((title, text + ("\n" + "\n".join(notes) if notes else "")))
    return tables


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_categorical",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--problem", action="append", choices=PROBLEMS)
    parser.add_argument("--solver", action="append", choices=SOLVERS)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--json", metavar="PATH", help="write the records here")
    parser.add_argument("--child", choices=("reference",) + SOLVERS, help=argparse.SUPPRESS)
    parser.add_argument("--reference", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--json-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.problem = args.problem[0]
        child_main(args)
        return 0

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    records, failures = run_suite(args.quick, log, args.problem, args.solver)
    for title, text in summarize(records):
        print(f"\n{title}\n{text}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(quick=args.quick, failed=failures, records=records), fh, indent=2)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
