"""ngd against glum, scikit-learn and statsmodels on every GLM family (issue 15, part 3).

Problems (seeded, generated in the measuring process; X: AR(1)-correlated standard normals,
rho 0.7, filled block by block; true eta = X beta + b with beta ~ N(0, (c / sqrt d)^2)):

    gaussian-identity      y = eta + N(0, 1)
    poisson-log            y ~ Poisson(mu)
    gamma-log              y ~ Gamma(shape 2, mean mu)
    gamma-inverse          y ~ Gamma(shape 2, mean mu), mu = 1 / eta, eta = 2 + X beta > 0
    inverse-gaussian-log   y ~ IG(mu, lambda 2)
    tweedie-1.2/1.5/1.8    compound Poisson-gamma, log link, phi 1
    binomial-logit/probit/cloglog   y ~ Bernoulli(h(eta))
    negbin-log             y ~ NB2(mu, alpha 0.5), alpha fixed (not estimated)

Same objective for every solver (README "The objective", dispersion 1):
L = (1/n) sum d(y_i, mu_i)/2 + (l2/2) ||coef||^2 with l2 = 0 (every problem has an MLE), so
scikit-learn's alpha, glum's alpha and LogisticRegression's C translate as in
bench.bench_peers (alpha = l2, C = inf), and statsmodels' unpenalised IRLS takes part.
The objective is recomputed here in numpy (``objective``), never taken from a solver.

Each solver climbs its own tolerance ladder (bench.bench_peers.LADDER: ngd and scikit-learn
``tol``, glum ``gradient_tol``, statsmodels ``tol``) to the first rung whose relative gap
(L - L*) / max(1, |L*|) <= 1e-8, L* the best objective of the run (an untimed ngd fit at
tol 1e-12 included); a rung that stops short of its tolerance, fails or exceeds the budget
ends the climb. Times are one fit after an untimed warm-up on a corner of the data.
Printed per problem: ngd time and iterations, the fastest peer that met the target and its
time, and their ratio (peer / ngd); --verbose prints every rung.

    python -m bench.bench_glm_families [--n 400000] [--d 60] [--seed 0] [--problem NAME ...]
                                       [--peers glum-irls-cd,...] [--budget 120] [--json PATH]
"""
import argparse
import json
import math
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, xlogy

from bench.bench_peers import (LADDER, PEER_MAX_ITER, Fit, Skip, TARGET, Timeout, glum_penalty,
                               meets, rel_gap, select, sklearn_glm_alpha,
                               sklearn_logistic_penalty, time_limit)

RHO = 0.7
BLOCK_ENTRIES = 1 << 20
NB_ALPHA = 0.5
WARMUP_ROWS = 2000


@dataclass(frozen=True)
class Family:
    """One benchmark problem: the family and link names of each library (None: unsupported)."""
    name: str
    family: str                 # ngd's family name
    link: str                   # ngd's link name
    power: float = None         # tweedie power
    scale: float = 0.5          # c of beta ~ N(0, (c / sqrt d)^2)
    intercept: float = 0.3


PROBLEMS = {f.name: f for f in (
    Family("gaussian-identity", "gaussian", "identity", scale=1.0, intercept=1.0),
    Family("poisson-log", "poisson", "log"),
    Family("gamma-log", "gamma", "log", intercept=1.0),
    Family("gamma-inverse", "gamma", "inverse", scale=0.1, intercept=2.0),
    Family("inverse-gaussian-log", "inverse_gaussian", "log", scale=0.3),
    Family("tweedie-1.2", "tweedie", "log", power=1.2),
    Family("tweedie-1.5", "tweedie", "log", power=1.5),
    Family("tweedie-1.8", "tweedie", "log", power=1.8),
    Family("binomial-logit", "binomial", "logit", scale=1.5),
    Family("binomial-probit", "binomial", "probit", scale=1.0),
    Family("binomial-cloglog", "binomial", "cloglog", scale=1.0, intercept=-0.5),
    Family("negbin-log", "negative_binomial", "log", intercept=0.5),
)}


# ------------------------------------------------------------------------------ generation --

def _features(rng, m, d):
    """(m, d) standard normals with corr(x_j, x_k) = RHO^|j-k|."""
    Z = rng.standard_normal((m, d))
    scale = math.sqrt(1.0 - RHO * RHO)
    for j in range(1, d):
        Z[:, j] *= scale
        Z[:, j] += RHO * Z[:, j - 1]
    return Z


def _mean(spec, eta):
    """The inverse link of ``spec`` at eta."""
    link = spec.link
    if link == "identity":
        return eta
    if link == "log":
        return np.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return 0.5 * (1.0 + np.tanh(0.5 * eta))
    if link == "probit":
        return ndtr(eta)
    return -np.expm1(-np.exp(eta))          # cloglog


def _tweedie_sample(rng, mu, p, phi=1.0):
    """Compound Poisson-gamma: N ~ Poisson(mu^(2-p) / (phi (2-p))), y = Gamma(N a, g) with
    a = (2-p)/(p-1), g = phi (p-1) mu^(p-1) (y = 0 when N = 0)."""
    counts = rng.poisson(mu ** (2 - p) / (phi * (2 - p)))
    shape = counts * ((2 - p) / (p - 1))
    y = np.zeros_like(mu)
    hit = counts > 0
    y[hit] = rng.gamma(shape[hit], phi * (p - 1) * mu[hit] ** (p - 1))
    return y


def _response(spec, rng, mu):
    """y drawn from the family of ``spec`` with mean mu."""
    fam = spec.family
    if fam == "gaussian":
        return mu + rng.standard_normal(mu.shape[0])
    if fam == "poisson":
        return rng.poisson(mu).astype(np.float64)
    if fam == "gamma":
        return rng.gamma(2.0, mu / 2.0)
    if fam == "inverse_gaussian":
        return rng.wald(mu, 2.0)
    if fam == "tweedie":
        return _tweedie_sample(rng, mu, spec.power)
    if fam == "binomial":
        return (rng.uniform(size=mu.shape[0]) < mu).astype(np.float64)
    return rng.poisson(rng.gamma(1.0 / NB_ALPHA, NB_ALPHA * mu)).astype(np.float64)


def make_data(spec, n, d, seed):
    """(X float64 C-ordered (n, d), y): the same (spec, n, d, seed) gives the same data."""
    rng = np.random.default_rng(seed)
    beta = rng.standard_normal(d) * (spec.scale / math.sqrt(d))
    X = np.empty((n, d))
    parts = []
    rows = max(1, BLOCK_ENTRIES // d)
    for start in range(0, n, rows):
        block = _features(rng, min(rows, n - start), d)
        X[start:start + block.shape[0]] = block
        parts.append(_response(spec, rng, _mean(spec, block @ beta + spec.intercept)))
    return X, np.concatenate(parts)


# ------------------------------------------------------------------------------- objective --

def half_deviance(spec, y, eta):
    """d(y, mu)/2 per row, in numpy (mu = h(eta); dispersion 1)."""
    mu = _mean(spec, eta)
    fam = spec.family
    with np.errstate(all="ignore"):
        log_mu = eta if spec.link == "log" else np.log(mu)
        if fam == "gaussian":
            return 0.5 * (y - mu) ** 2
        if fam == "poisson":
            return xlogy(y, y) - y * log_mu - y + mu
        if fam == "gamma":
            return log_mu - np.log(y) + y / mu - 1.0
        if fam == "inverse_gaussian":
            return (y - mu) ** 2 / (2.0 * y * mu * mu)
        if fam == "tweedie":
            p = spec.power
            return (np.power(y, 2 - p) / ((1 - p) * (2 - p))
                    - y * np.exp((1 - p) * log_mu) / (1 - p) + np.exp((2 - p) * log_mu) / (2 - p))
        if fam == "binomial":
            return -(xlogy(y, mu) + xlogy(1.0 - y, 1.0 - mu))
        a = NB_ALPHA
        return xlogy(y, y) - y * log_mu - (y + 1.0 / a) * np.log1p(a * (y - mu) / (1.0 + a * mu))


def objective(spec, X, y, coef, intercept):
    """(1/n) sum d(y_i, mu_i)/2 (l2 = 0); +inf outside the domain."""
    eta = X @ np.asarray(coef, dtype=np.float64).ravel() + float(np.ravel(intercept)[0])
    if spec.link == "inverse" and np.any(eta <= 0):
        return math.inf
    value = float(np.mean(half_deviance(spec, y, eta)))
    return value if math.isfinite(value) else math.inf


# -------------------------------------------------------------------------------- adapters --

def _quiet_fit(call):
    """(result, no ConvergenceWarning raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, not any(w.category.__name__ == "ConvergenceWarning" for w in caught)


def ngd_adapter(spec, X, y):
    import ngd
    options = dict(model=spec.family, link=spec.link, power=spec.power,
                   nb_alpha=NB_ALPHA if spec.family == "negative_binomial" else None,
                   stderr=False)

    def fit(tol):
        res, _ = _quiet_fit(lambda: ngd.fit(X, y, tol=tol, **options))
        return Fit(res.coef, res.intercept, int(res.n_iter), bool(res.converged))
    return fit


def _sklearn_estimator(spec, solver):
    from sklearn import linear_model
    fam, link = spec.family, spec.link
    alpha = sklearn_glm_alpha(0.0)
    if fam == "binomial":
        if link != "logit":
            raise Skip("LogisticRegression is logit only")
        return linear_model.LogisticRegression(solver=solver,
                                               **sklearn_logistic_penalty(0.0, 1.0))
    if fam == "poisson":
        return linear_model.PoissonRegressor(solver=solver, alpha=alpha)
    if fam == "gamma" and link == "log":
        return linear_model.GammaRegressor(solver=solver, alpha=alpha)
    powers = {"gaussian": 0.0, "inverse_gaussian": 3.0, "tweedie": spec.power}
    if fam not in powers or link not in ("identity", "log"):
        raise Skip(f"no {fam} family with the {link} link")
    return linear_model.TweedieRegressor(power=powers[fam], link=link, solver=solver,
                                         alpha=alpha)


def sklearn_adapter(solver):
    def factory(spec, X, y):
        estimator = _sklearn_estimator(spec, solver)

        def fit(tol):
            estimator.set_params(tol=tol, max_iter=PEER_MAX_ITER)
            _, ok = _quiet_fit(lambda: estimator.fit(X, y))
            return Fit(np.ravel(estimator.coef_), np.ravel(estimator.intercept_)[0],
                       int(np.max(estimator.n_iter_)), ok)
        return fit
    return factory


def _glum_family(spec):
    from glum import NegativeBinomialDistribution, TweedieDistribution
    fam = spec.family
    if fam == "tweedie":
        return TweedieDistribution(spec.power)
    if fam == "negative_binomial":
        return NegativeBinomialDistribution(theta=NB_ALPHA)
    return {"gaussian": "normal", "inverse_gaussian": "inverse.gaussian"}.get(fam, fam)


def glum_adapter(solver):
    def factory(spec, X, y):
        if spec.link == "probit":
            raise Skip("glum has no probit link")
        from glum import GeneralizedLinearRegressor
        estimator = GeneralizedLinearRegressor(
            family=_glum_family(spec), link=spec.link, solver=solver, max_iter=PEER_MAX_ITER,
            **glum_penalty(0.0))

        def fit(tol):
            estimator.set_params(gradient_tol=tol)
            _, ok = _quiet_fit(lambda: estimator.fit(X, y))
            return Fit(estimator.coef_, float(estimator.intercept_), int(estimator.n_iter_), ok)
        return fit
    return factory


def _statsmodels_family(spec):
    import statsmodels.api as sm
    links = sm.families.links
    link = {"identity": links.Identity, "log": links.Log, "inverse": links.InversePower,
            "logit": links.Logit, "probit": links.Probit, "cloglog": links.CLogLog}[spec.link]()
    fam = spec.family
    if fam == "tweedie":
        return sm.families.Tweedie(link=link, var_power=spec.power)
    if fam == "negative_binomial":
        return sm.families.NegativeBinomial(link=link, alpha=NB_ALPHA)
    return {"gaussian": sm.families.Gaussian, "poisson": sm.families.Poisson,
            "gamma": sm.families.Gamma, "inverse_gaussian": sm.families.InverseGaussian,
            "binomial": sm.families.Binomial}[fam](link=link)


def statsmodels_adapter(spec, X, y):
    import statsmodels.api as sm
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # DomainWarning: gamma with the inverse link
        model = sm.GLM(y, np.column_stack([np.ones(X.shape[0]), X]),
                       family=_statsmodels_family(spec))

    def fit(tol):
        res, _ = _quiet_fit(lambda: model.fit(method="IRLS", tol=tol, maxiter=PEER_MAX_ITER))
        params = np.asarray(res.params)
        return Fit(params[1:], params[0], int(res.fit_history["iteration"]),
                   bool(res.converged))
    return fit


PEERS = {
    "glum-irls-cd": glum_adapter("irls-cd"),
    "glum-irls-ls": glum_adapter("irls-ls"),
    "glum-lbfgs": glum_adapter("lbfgs"),
    "sklearn-lbfgs": sklearn_adapter("lbfgs"),
    "sklearn-newton-cholesky": sklearn_adapter("newton-cholesky"),
    "statsmodels": statsmodels_adapter,
}


# ---------------------------------------------------------------------------------- ladder --

def timed_run(fit, tol, spec, X, y, budget):
    """One timed fit at ``tol``: time, iterations, converged flag, recomputed objective."""
    start = time.perf_counter()
    try:
        with time_limit(budget):
            result = fit(tol)
    except (Exception, Timeout) as exc:     # a failing peer is reported, not fatal
        return dict(tol=tol, time=time.perf_counter() - start, n_iter=None, converged=False,
                    objective=math.nan, error=f"{type(exc).__name__}: {exc}")
    return dict(tol=tol, time=time.perf_counter() - start, n_iter=result.n_iter,
                converged=result.converged,
                objective=objective(spec, X, y, result.coef, result.intercept))


def climb(fit, spec, X, y, runs, best, budget):
    """Append rungs until one meets the target against best(), the ladder ends, or a run
    fails or stops short of its tolerance."""
    while len(runs) < len(LADDER) and not any(meets(r, best()) for r in runs):
        if runs and ("error" in runs[-1] or not runs[-1]["converged"]):
            return
        runs.append(timed_run(fit, LADDER[len(runs)], spec, X, y, budget))


def compare(spec, X, y, peers, budget, log):
    """{solver: runs} for ngd and ``peers`` on one problem, and L*."""
    factories = dict(ngd=ngd_adapter, **{name: PEERS[name] for name in peers})
    reference = ngd_adapter(spec, X, y)(LADDER[-1])
    floor = objective(spec, X, y, reference.coef, reference.intercept)
    fits, ladders, skipped = {}, {}, {}
    for name, factory in factories.items():
        try:
            fits[name] = factory(spec, X, y)
            factory(spec, X[:WARMUP_ROWS], y[:WARMUP_ROWS])(LADDER[0])     # warm-up
        except Skip as exc:
            skipped[name] = str(exc)
            fits.pop(name, None)
            continue
        except Exception:               # warm-up only: the timed runs report failures
            pass
        ladders[name] = []

    def best():
        values = [r["objective"] for runs in ladders.values() for r in runs] + [floor]
        return min(v for v in values if math.isfinite(v))

    grew = True
    while grew:
        sizes = {name: len(runs) for name, runs in ladders.items()}
        for name, fit in fits.items():
            climb(fit, spec, X, y, ladders[name], best, budget)
            for run in ladders[name][sizes[name]:]:
                log(f"    {spec.name} {name} tol={run['tol']:g}: {run['time']:.2f} s, "
                    f"{run['n_iter']} it, gap {rel_gap(run['objective'], best()):.1e}"
                    + (f", {run['error']}" if "error" in run else ""))
        grew = any(len(ladders[name]) > size for name, size in sizes.items())
    return ladders, skipped, best()


def summary(spec, ladders, skipped, best):
    """One record: ngd's selected run, the fastest peer meeting the target, the ratio."""
    chosen = {name: select([dict(r, gap=rel_gap(r["objective"], best)) for r in runs], best)
              for name, runs in ladders.items()}
    ngd_run, ngd_met = chosen.pop("ngd")
    met = {name: run for name, (run, ok) in chosen.items() if ok}
    record = dict(problem=spec.name, best_objective=best, ngd_time=ngd_run["time"],
                  ngd_iter=ngd_run["n_iter"], ngd_tol=ngd_run["tol"], ngd_met=ngd_met,
                  skipped=skipped,
                  peers={name: dict(time=run["time"], n_iter=run["n_iter"], tol=run["tol"],
                                    gap=run["gap"], met=ok)
                         for name, (run, ok) in chosen.items()})
    if met:
        fastest = min(met, key=lambda name: met[name]["time"])
        record.update(fastest_peer=fastest, peer_time=met[fastest]["time"],
                      ratio=met[fastest]["time"] / ngd_run["time"])
    return record


def _line(rec):
    peer = (f"{rec['fastest_peer']:<24} {rec['peer_time']:8.2f} s  {rec['ratio']:6.2f}x"
            if "fastest_peer" in rec else "no peer met the target")
    mark = "" if rec["ngd_met"] else " (ngd missed the target)"
    return (f"{rec['problem']:<22} ngd {rec['ngd_time']:7.2f} s {rec['ngd_iter']:4} it  "
            f"{peer}{mark}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench_glm_families",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--d", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problem", action="append", choices=sorted(PROBLEMS))
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma-separated peers (default: all)")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per run")
    parser.add_argument("--json", metavar="PATH")
    parser.add_argument("--verbose", action="store_true", help="print every rung")
    args = parser.parse_args(argv)
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peers {unknown}; choose from {sorted(PEERS)}")
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.verbose else \
        (lambda msg: None)
    records = []
    print(f"n={args.n} d={args.d} seed={args.seed}; time to relative gap <= {TARGET:g}; "
          "ratio = fastest peer / ngd", flush=True)
    for name in args.problem or list(PROBLEMS):
        spec = PROBLEMS[name]
        X, y = make_data(spec, args.n, args.d, args.seed)
        ladders, skipped, best = compare(spec, X, y, peers, args.budget, log)
        records.append(dict(summary(spec, ladders, skipped, best), runs=ladders))
        print(_line(records[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(dict(n=args.n, d=args.d, seed=args.seed, records=records), fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
