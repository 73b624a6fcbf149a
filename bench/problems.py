"""Deterministic problems of the peer benchmark (issue 5's table) and one objective per model.

Each generator fills X row block by row block (blocks of about 1 M entries, drawn in float64 and
stored in the requested dtype), so building a problem never holds more than X, y and one block:
the float32 copy of a problem is the float64 one rounded, and the resident memory before a fit
is X plus a little. Features are AR(1)-correlated standard normals (corr(x_j, x_k) = rho^|j-k|).

The objective is DESIGN.md's, computed here in plain numpy for every solver alike:

    L = (1/n) sum_i nll_i + (l2/2) ||coef||^2      (intercepts unpenalised)

with nll the logistic / softmax negative log-likelihood, or half the unit deviance for the
Poisson and Gamma GLMs (dispersion fixed at 1).
"""
from dataclasses import dataclass

import numpy as np

SEED = 0
RHO = 0.7                 # AR(1) correlation between neighbouring features
BLOCK_ENTRIES = 1 << 20   # entries of X drawn per row block (8 MB in float64)


@dataclass(frozen=True)
class Spec:
    """Shape, model and penalty of one benchmark problem (full and quick sizes)."""
    name: str
    model: str                 # "logistic", "softmax", "poisson" or "gamma"
    shape: tuple
    quick_shape: tuple
    l2: float
    notes: str
    n_classes: int = 0         # softmax only


@dataclass
class Problem:
    """Arrays of one problem plus what a solver needs to fit DESIGN.md's objective."""
    spec: Spec
    X: np.ndarray
    y: np.ndarray
    offset: np.ndarray = None

    @property
    def model(self):
        return self.spec.model

    @property
    def l2(self):
        return self.spec.l2

    @property
    def link(self):
        return "log" if self.model in ("poisson", "gamma") else None


SPECS = {spec.name: spec for spec in (
    Spec("logistic-dense", "logistic", (1_000_000, 100), (2000, 10), 0.0,
         "correlated features (AR(1), rho = 0.7); l2 = 0: n >> d, the MLE exists"),
    Spec("logistic-wide", "logistic", (2000, 20_000), (100, 400), 1e-3,
         "n < d: Woodbury / CG regime; l2 = 1e-3 (scikit-learn C = 1/(l2 n) = 0.5) because "
         "the unpenalised problem has no optimum"),
    Spec("softmax", "softmax", (100_000, 50), (2000, 5), 0.0,
         "K = 10; l2 = 0: the objective has a unique minimum value though the coefficients "
         "have a gauge (ngd pins a reference class, as statsmodels' MNLogit)", n_classes=10),
    Spec("poisson-log", "poisson", (1_000_000, 50), (2000, 5), 0.0,
         "offset = log(exposure), exposure ~ U(0.5, 2); l2 = 0"),
    Spec("gamma-log", "gamma", (500_000, 50), (2000, 5), 0.0,
         "non-canonical log link: Fisher scoring (ngd) vs Newton; shape 2; l2 = 0"),
    Spec("logistic-badly-scaled", "logistic", (200_000, 50), (2000, 10), 0.0,
         "column scales 10^-3 ... 10^3 (log-spaced, shuffled); l2 = 0 so the optimum is "
         "exactly the rescaled one of the unit-scale problem"),
)}


# ----------------------------------------------------------------------------- generation --

def _blocks(n, d):
    """Row slices of about BLOCK_ENTRIES entries each, covering 0..n."""
    rows = max(1, BLOCK_ENTRIES // max(d, 1))
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]


def _ar1(rng, m, d, rho=RHO):
    """(m, d) standard normals with corr(x_j, x_k) = rho^|j-k| along each row."""
    Z = rng.standard_normal((m, d))
    scale = np.sqrt(1.0 - rho * rho)
    for j in range(1, d):
        Z[:, j] *= scale
        Z[:, j] += rho * Z[:, j - 1]
    return Z


def _fill(rng, n, d, dtype, draw_y, column_scale=None):
    """X (n, d) of dtype and y, block by block: X block from _ar1 (times column_scale), then
    y block = draw_y(rng, unit-scale float64 block, rows)."""
    X = np.empty((n, d), dtype=dtype)
    parts = []
    for rows in _blocks(n, d):
        Z = _ar1(rng, rows.stop - rows.start, d)
        parts.append(draw_y(rng, Z, rows))
        if column_scale is not None:
            Z *= column_scale
        X[rows] = Z
    return X, np.concatenate(parts)


def _sigmoid(eta):
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def _logistic(spec, n, d, dtype, rng):
    beta = rng.standard_normal(d) * (2.0 / np.sqrt(d))
    scale = None
    if spec.name == "logistic-badly-scaled":
        scale = 10.0 ** np.linspace(-3.0, 3.0, d)[rng.permutation(d)]

    def draw(rng, Z, rows):
        return (rng.uniform(size=Z.shape[0]) < _sigmoid(Z @ beta + 0.3)).astype(np.float64)

    X, y = _fill(rng, n, d, dtype, draw, scale)
    return Problem(spec, X, y)


def _softmax(spec, n, d, dtype, rng):
    K = spec.n_classes
    W = rng.standard_normal((d, K)) * (1.0 / np.sqrt(d))
    b = rng.standard_normal(K) * 0.5

    def draw(rng, Z, rows):            # Gumbel-max sampling of the class
        return np.argmax(Z @ W + b + rng.gumbel(size=(Z.shape[0], K)), axis=1).astype(np.intp)

    X, y = _fill(rng, n, d, dtype, draw)
    return Problem(spec, X, y)


def _poisson(spec, n, d, dtype, rng):
    beta = rng.standard_normal(d) * (0.5 / np.sqrt(d))
    offset = np.log(rng.uniform(0.5, 2.0, size=n))

    def draw(rng, Z, rows):
        return rng.poisson(np.exp(Z @ beta + 0.2 + offset[rows])).astype(np.float64)

    X, y = _fill(rng, n, d, dtype, draw)
    return Problem(spec, X, y, offset=offset)


def _gamma(spec, n, d, dtype, rng, shape=2.0):
    beta = rng.standard_normal(d) * (0.5 / np.sqrt(d))

    def draw(rng, Z, rows):
        return rng.gamma(shape, np.exp(Z @ beta + 1.0) / shape)

    X, y = _fill(rng, n, d, dtype, draw)
    return Problem(spec, X, y)


_MAKERS = {"logistic": _logistic, "softmax": _softmax, "poisson": _poisson, "gamma": _gamma}


def make_problem(name, quick=False, dtype=np.float64, seed=SEED):
    """The problem ``name`` of SPECS at its full (or quick) size, X in ``dtype``; the same
    seed gives the same data (float32 X is the float64 X rounded)."""
    spec = SPECS[name]
    n, d = spec.quick_shape if quick else spec.shape
    return _MAKERS[spec.model](spec, n, d, np.dtype(dtype), np.random.default_rng(seed))


# ------------------------------------------------------------------------------ objective --

def _penalty(coef, l2):
    coef = np.asarray(coef, dtype=np.float64)
    return 0.5 * l2 * float(np.sum(coef * coef))


def logistic_objective(X, y, coef, intercept, l2):
    """(1/n) sum [log(1 + e^eta) - y eta] + (l2/2) ||coef||^2, eta = X coef + intercept."""
    eta = X @ np.asarray(coef, dtype=np.float64).ravel() + float(intercept)
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta)) + _penalty(coef, l2)


def softmax_objective(X, y, coef, intercept, l2):
    """(1/n) sum [logsumexp(eta_i) - eta_{i, y_i}] + (l2/2) ||W||^2, eta = X W^T + b,
    coef W of shape (K, d), intercept b of shape (K,); invariant to the gauge."""
    eta = X @ np.asarray(coef, dtype=np.float64).T + np.asarray(intercept, dtype=np.float64)
    top = eta.max(axis=1)
    lse = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
    nll = lse - eta[np.arange(eta.shape[0]), y]
    return float(np.mean(nll)) + _penalty(coef, l2)


def poisson_objective(X, y, coef, intercept, l2, offset=None):
    """(1/n) sum [y log(y / mu) - y + mu] + (l2/2) ||coef||^2 (half the Poisson unit
    deviance), mu = exp(X coef + intercept + offset)."""
    eta = X @ np.asarray(coef, dtype=np.float64).ravel() + float(intercept)
    if offset is not None:
        eta += offset
    mu = np.exp(eta)
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    return float(np.mean(ylogy - y * eta - y + mu)) + _penalty(coef, l2)


def gamma_objective(X, y, coef, intercept, l2):
    """(1/n) sum [y / mu - log(y / mu) - 1] + (l2/2) ||coef||^2 (half the Gamma unit
    deviance), mu = exp(X coef + intercept)."""
    eta = X @ np.asarray(coef, dtype=np.float64).ravel() + float(intercept)
    ratio = y * np.exp(-eta)
    return float(np.mean(ratio - np.log(ratio) - 1.0)) + _penalty(coef, l2)


def objective(problem, coef, intercept):
    """DESIGN.md's objective of ``problem`` at (coef, intercept), whoever computed them."""
    X, y, l2 = problem.X, problem.y, problem.l2
    if problem.model == "logistic":
        return logistic_objective(X, y, coef, intercept, l2)
    if problem.model == "softmax":
        return softmax_objective(X, y, coef, intercept, l2)
    if problem.model == "poisson":
        return poisson_objective(X, y, coef, intercept, l2, problem.offset)
    return gamma_objective(X, y, coef, intercept, l2)
