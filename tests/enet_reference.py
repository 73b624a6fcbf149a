"""An elastic-net reference independent of ngd, and the data sets the elastic-net tests share.

    F(b0, beta) = (1/sum w) sum_i w_i nll(y_i, eta_i) + alpha sum_j f_j [(1 - r)/2 beta_j^2
                  + r |beta_j|],   eta = X beta + b0

reference(): scipy's L-BFGS-B on the smooth reformulation beta = beta+ - beta- (both >= 0),
then Newton's method on its support with the signs fixed (pure numpy), which turns the
L-BFGS-B point into the exact solution when the support is right; kkt() checks that.
"""
import functools

import numpy as np
import scipy.optimize
from scipy.special import expit

#: nll(y, eta), d nll / d eta, d^2 nll / d eta^2 per row (up to constants in y)
FAMILIES = {
    "logistic": (lambda y, e: np.logaddexp(0.0, e) - y * e, lambda y, e: expit(e) - y,
                 lambda y, e: expit(e) * (1 - expit(e))),
    "gaussian": (lambda y, e: 0.5 * (y - e) ** 2, lambda y, e: e - y,
                 lambda y, e: np.ones_like(e)),
    "poisson": (lambda y, e: np.exp(e) - y * e, lambda y, e: np.exp(e) - y,
                lambda y, e: np.exp(e)),
    "gamma": (lambda y, e: y * np.exp(-e) + e, lambda y, e: 1 - y * np.exp(-e),
              lambda y, e: y * np.exp(-e)),
}


def standardise(X):
    return np.ascontiguousarray((X - X.mean(axis=0)) / X.std(axis=0))


@functools.lru_cache(maxsize=None)
def dataset(name):
    """(X standardised, y) of a data set shipped with scikit-learn or statsmodels."""
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer
        X, y = load_breast_cancer(return_X_y=True)
        return standardise(X), y.astype(np.float64)
    if name == "diabetes":
        from sklearn.datasets import load_diabetes
        X, y = load_diabetes(return_X_y=True)
        return standardise(X), (y - y.mean()) / y.std()
    import statsmodels.api as sm
    if name == "randhie":                       # doctor visits: Poisson counts (3000 rows)
        data = sm.datasets.randhie.load_pandas()
        return standardise(data.exog.values[:3000].astype(np.float64)), \
            data.endog.values[:3000].astype(np.float64)
    if name != "scotland":
        raise KeyError(name)
    data = sm.datasets.scotland.load_pandas()   # percentage voting YES: Gamma
    return standardise(data.exog.values.astype(np.float64)), \
        data.endog.values.astype(np.float64)


def smooth_gradient(X, y, family, b0, beta, alpha, r, factor, w=None):
    """(gradient of the smooth part wrt beta, wrt b0)."""
    w = np.ones(len(y)) if w is None else w
    d1 = w * FAMILIES[family][1](y, X @ beta + b0) / w.sum()
    return X.T @ d1 + alpha * (1 - r) * factor * beta, d1.sum()


def kkt(X, y, family, b0, beta, alpha, r, factor=None, w=None):
    """Inf-norm of the minimum-norm subgradient of F at (b0, beta)."""
    factor = np.ones(X.shape[1]) if factor is None else factor
    g, g0 = smooth_gradient(X, y, family, b0, beta, alpha, r, factor, w)
    lam = alpha * r * factor
    v = np.where(beta != 0, g + lam * np.sign(beta), np.maximum(np.abs(g) - lam, 0.0))
    return max(float(np.max(np.abs(v))), abs(g0))


def objective(X, y, family, b0, beta, alpha, r, factor=None, w=None):
    factor = np.ones(X.shape[1]) if factor is None else factor
    w = np.ones(len(y)) if w is None else w
    nll = FAMILIES[family][0](y, X @ beta + b0)
    return float(w @ nll / w.sum() + alpha * np.sum(factor * ((1 - r) / 2 * beta ** 2
                                                              + r * np.abs(beta))))


def reference(X, y, family, alpha, r, factor=None, w=None):
    """(b0, beta) minimising F (see the module docstring)."""
    n, p = X.shape
    factor = np.ones(p) if factor is None else factor
    w = np.ones(n) if w is None else w
    nll, d1, d2 = FAMILIES[family]
    lam, ridge = alpha * r * factor, alpha * (1 - r) * factor

    def split_objective(z):
        plus, minus, b0 = z[:p], z[p:2 * p], z[-1]
        beta = plus - minus
        eta = X @ beta + b0
        g = X.T @ (w * d1(y, eta)) / w.sum() + ridge * beta
        value = w @ nll(y, eta) / w.sum() + 0.5 * ridge @ beta ** 2 + lam @ (plus + minus)
        return value, np.r_[g + lam, -g + lam, w @ d1(y, eta) / w.sum()]

    start = np.r_[np.zeros(2 * p), 0.0]
    bounds = [(0, None)] * (2 * p) + [(None, None)]
    z = scipy.optimize.minimize(split_objective, start, jac=True, method="L-BFGS-B",
                                bounds=bounds, options=dict(ftol=1e-15, gtol=1e-12,
                                                            maxiter=100000, maxcor=30)).x
    beta, b0 = z[:p] - z[p:2 * p], z[-1]
    support = np.flatnonzero((np.abs(beta) > 1e-7) | (lam == 0))
    sign = np.sign(beta[support])
    A = np.column_stack([X[:, support], np.ones(n)])
    t = np.r_[beta[support], b0]
    lin = np.r_[lam[support] * sign, 0.0]
    rid = np.r_[ridge[support], 0.0]
    for _ in range(50):
        eta = A @ t
        g = A.T @ (w * d1(y, eta)) / w.sum() + lin + rid * t
        H = (A * (w * d2(y, eta))[:, None]).T @ A / w.sum() + np.diag(rid)
        t = t - np.linalg.solve(H, g)
    beta = np.zeros(p)
    beta[support] = t[:-1]
    return t[-1], beta


def alpha_max(X, y, family, factor=None, r=1.0):
    """max_j |g_j| / (r f_j) at the intercept-only fit (no offset: mean = mean of y)."""
    factor = np.ones(X.shape[1]) if factor is None else factor
    link = {"logistic": lambda m: np.log(m / (1 - m)), "gaussian": lambda m: m,
            "poisson": np.log, "gamma": np.log}[family]
    eta = np.full(len(y), link(y.mean()))
    g = X.T @ FAMILIES[family][1](y, eta) / len(y)
    keep = factor > 0
    return float(np.max(np.abs(g[keep]) / (r * factor[keep])))
