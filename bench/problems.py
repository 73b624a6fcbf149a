"""Deterministic problems of the peer benchmark (issues 5 and 15) and one objective per model.

Dense generators fill X row block by row block (blocks of about 1 M entries, drawn in float64
and stored in the requested dtype), so building a problem never holds more than X, y and one
block: the float32 copy of a problem is the float64 one rounded, and the resident memory before
a fit is X plus a little. Dense features are AR(1)-correlated standard normals
(corr(x_j, x_k) = rho^|j-k|). Sparse problems are CSR with a fixed number of draws a row
(duplicates merged), standard normal values, and column popularity ~ (rank + 10)^-0.7, so that
a few columns are dense-ish and most are rare, as in text or one-hot data.

The objective is DESIGN.md's, computed here in plain numpy (scipy.special for the stable
logs) for every solver alike:

    L = (1/n) sum_i nll_i + (l2/2) ||coef||^2      (intercepts unpenalised)

with nll the logistic / softmax negative log-likelihood, or half the unit deviance of the GLM
family (dispersion fixed at 1; negative binomial at its fixed alpha).
"""
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from scipy import special

SEED = 0
RHO = 0.7                 # AR(1) correlation between neighbouring features
BLOCK_ENTRIES = 1 << 20   # entries of X drawn per row block (8 MB in float64)
POPULARITY_EXPONENT = 0.7  # sparse column popularity ~ (rank + 10)^-0.7


@dataclass(frozen=True)
class Spec:
    """Shape, model and penalty of one benchmark problem (full and quick sizes).

    model: "logistic", "softmax" or an ngd GLM family; link, power (tweedie) and nb_alpha
    (negative_binomial) as ngd.fit takes them; truth: (scale, intercept) of the generating
    coefficients, eta = X beta + intercept with beta ~ N(0, scale^2 / d) (so Var eta ~ scale^2);
    nnz: draws a row (full, quick) of a sparse CSR X, () for dense X."""
    name: str
    model: str
    shape: tuple
    quick_shape: tuple
    l2: float
    notes: str
    n_classes: int = 0         # softmax only
    link: str = None
    power: float = None
    nb_alpha: float = None
    truth: tuple = (0.5, 0.2)
    nnz: tuple = field(default=())

    @property
    def sparse(self):
        return bool(self.nnz)


@dataclass
class Problem:
    """Arrays of one problem plus what a solver needs to fit DESIGN.md's objective."""
    spec: Spec
    X: object                  # C-ordered ndarray, or CSR for sparse specs
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
        return self.spec.link

    @property
    def sparse(self):
        return scipy.sparse.issparse(self.X)

    def fit_options(self):
        """Keywords of ngd.fit for this problem's objective (besides X, y, tol)."""
        return dict(model=self.model, l2=self.l2, link=self.link, offset=self.offset,
                    power=self.spec.power, nb_alpha=self.spec.nb_alpha)


def _glm(name, model, link, notes, truth, power=None, nb_alpha=None):
    """A GLM family problem of issue 15: 4e5 x 60 dense AR(1) X, l2 = 0."""
    return Spec(name, model, (400_000, 60), (2000, 5), 0.0, notes, link=link, power=power,
                nb_alpha=nb_alpha, truth=truth)


SPECS = {spec.name: spec for spec in (
    Spec("logistic-dense", "logistic", (1_000_000, 100), (2000, 10), 0.0,
         "correlated features (AR(1), rho = 0.7); l2 = 0: n >> d, the MLE exists"),
    Spec("logistic-wide", "logistic", (2000, 20_000), (100, 400), 1e-3,
         "n < d: Woodbury / CG regime; l2 = 1e-3 (scikit-learn C = 1/(l2 n) = 0.5) because "
         "the unpenalised problem has no optimum"),
    Spec("softmax", "softmax", (100_000, 50), (2000, 5), 0.0,
         "K = 10; l2 = 0: the objective has a unique minimum value though the coefficients "
         "have a gauge (ngd pins a reference class, as statsmodels' MNLogit)", n_classes=10),
    Spec("softmax-large", "softmax", (1_000_000, 20), (3000, 4), 0.0,
         "K = 5; l2 = 0 (issue 15's second softmax shape)", n_classes=5),
    Spec("poisson-log", "poisson", (1_000_000, 50), (2000, 5), 0.0,
         "offset = log(exposure), exposure ~ U(0.5, 2); l2 = 0", link="log"),
    Spec("gamma-log", "gamma", (500_000, 50), (2000, 5), 0.0,
         "non-canonical log link: Fisher scoring (ngd) vs Newton; shape 2; l2 = 0", link="log"),
    Spec("logistic-badly-scaled", "logistic", (200_000, 50), (2000, 10), 0.0,
         "column scales 10^-3 ... 10^3 (log-spaced, shuffled); l2 = 0 so the optimum is "
         "exactly the rescaled one of the unit-scale problem"),
    _glm("glm-gaussian", "gaussian", "identity", "identity link, unit noise", (1.0, 0.5)),
    _glm("glm-poisson", "poisson", "log", "log link (canonical)", (0.5, 0.2)),
    _glm("glm-gamma", "gamma", "log", "log link, shape 2", (0.5, 1.0)),
    _glm("glm-gamma-inverse", "gamma", "inverse",
         "inverse link (canonical), shape 2; eta = 2 + X beta stays > 0", (0.1, 2.0)),
    _glm("glm-inverse-gaussian", "inverse_gaussian", "log",
         "log link, y ~ IG(mu, shape 4)", (0.3, 0.0)),
    _glm("glm-tweedie", "tweedie", "log",
         "power 1.5, log link, y compound Poisson-gamma (phi = 1; about 13 % zeros)",
         (0.5, 0.0), power=1.5),
    _glm("glm-tweedie-1.2", "tweedie", "log", "power 1.2, log link (many zeros)", (0.5, 0.0),
         power=1.2),
    _glm("glm-tweedie-1.8", "tweedie", "log", "power 1.8, log link (near gamma)", (0.5, 0.0),
         power=1.8),
    _glm("glm-binomial-logit", "binomial", "logit", "0/1 y", (1.5, 0.3)),
    _glm("glm-binomial-probit", "binomial", "probit", "0/1 y", (1.0, 0.2)),
    _glm("glm-binomial-cloglog", "binomial", "cloglog", "0/1 y", (1.0, -0.5)),
    _glm("glm-negative-binomial", "negative_binomial", "log",
         "NB2, Var = mu + alpha mu^2 with alpha = 0.5 fixed", (0.5, 0.5), nb_alpha=0.5),
    Spec("sparse-logistic-wide", "logistic", (10_000, 50_000), (300, 1000), 1e-5,
         "CSR, 40 draws a row, n < p; l2 = 1e-5", truth=(2.0, -0.5), nnz=(40, 10)),
    Spec("sparse-logistic-tall", "logistic", (200_000, 20_000), (3000, 400), 1e-6,
         "CSR, 50 draws a row, n > p; l2 = 1e-6", truth=(2.0, -0.5), nnz=(50, 10)),
    Spec("sparse-poisson-wide", "poisson", (10_000, 50_000), (300, 1000), 1e-5,
         "CSR, 40 draws a row, n < p; log link, l2 = 1e-5", link="log", truth=(0.5, 0.0),
         nnz=(40, 10)),
    Spec("sparse-poisson-tall", "poisson", (200_000, 20_000), (3000, 400), 1e-6,
         "CSR, 50 draws a row, n > p; log link, l2 = 1e-6", link="log", truth=(0.5, 0.0),
         nnz=(50, 10)),
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


def _inverse_link(link, eta):
    """mu = g^-1(eta) for the links of SPECS."""
    if link == "identity":
        return eta
    if link == "log":
        return np.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return _sigmoid(eta)
    if link == "probit":
        return special.ndtr(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    raise ValueError(f"unknown link {link!r}")


def _compound_poisson_gamma(rng, mu, power):
    """Tweedie(mu, phi = 1) for 1 < power < 2: N ~ Poisson(mu^(2-p)/(2-p)) gamma jumps of
    shape (2-p)/(p-1) and scale (p-1) mu^(p-1) (their sum has mean mu, variance mu^p)."""
    counts = rng.poisson(mu ** (2 - power) / (2 - power))
    y = np.zeros(mu.shape)
    jumps = counts > 0
    shape = counts[jumps] * (2 - power) / (power - 1)
    y[jumps] = rng.gamma(shape, (power - 1) * mu[jumps] ** (power - 1))
    return y


def _sample(spec, rng, mu):
    """A response of ``spec``'s family with mean mu."""
    model = spec.model
    if model in ("binomial", "logistic"):
        return (rng.uniform(size=mu.shape) < mu).astype(np.float64)
    if model == "gaussian":
        return mu + rng.standard_normal(mu.shape)
    if model == "poisson":
        return rng.poisson(mu).astype(np.float64)
    if model == "gamma":
        return rng.gamma(2.0, mu / 2.0)
    if model == "inverse_gaussian":
        return rng.wald(mu, 4.0)
    if model == "tweedie":
        return _compound_poisson_gamma(rng, mu, spec.power)
    if model == "negative_binomial":
        r = 1.0 / spec.nb_alpha
        return rng.negative_binomial(r, r / (r + mu)).astype(np.float64)
    raise ValueError(f"no sampler for model {model!r}")


def _family(spec, n, d, dtype, rng):
    """A GLM problem: dense AR(1) X, y from the family with mean g^-1(X beta + intercept)."""
    scale, intercept = spec.truth
    beta = rng.standard_normal(d) * (scale / np.sqrt(d))
    link = spec.link or "logit"

    def draw(rng, Z, rows):
        return _sample(spec, rng, _inverse_link(link, Z @ beta + intercept))

    X, y = _fill(rng, n, d, dtype, draw)
    return Problem(spec, X, y)


def _sparse_block(rng, m, k, dtype, cdf, permutation):
    """(indptr counts, sorted column indices, values) of m CSR rows with k draws each from
    the popularity ``cdf`` (duplicates within a row dropped)."""
    cols = permutation[np.searchsorted(cdf, rng.uniform(size=(m, k)), side="right")]
    cols.sort(axis=1)
    keep = np.ones((m, k), dtype=bool)
    keep[:, 1:] = cols[:, 1:] != cols[:, :-1]
    values = rng.standard_normal((m, k))
    return keep.sum(axis=1), cols[keep].astype(np.int32), values[keep].astype(dtype)


def _sparse(spec, n, d, dtype, rng, quick):
    """CSR X (n, d) with spec.nnz draws a row (see the module docstring) and y from the model
    with eta = X beta + intercept, beta ~ N(0, scale^2 / k) so that Var eta ~ scale^2."""
    k = spec.nnz[1 if quick else 0]
    scale, intercept = spec.truth
    weights = (np.arange(d) + 10.0) ** -POPULARITY_EXPONENT
    cdf = np.cumsum(weights) / weights.sum()
    cdf[-1] = 1.0
    permutation = rng.permutation(d)
    beta = rng.standard_normal(d) * (scale / np.sqrt(k))
    counts, indices, data, parts = [], [], [], []
    link = spec.link or "logit"
    for rows in _blocks(n, k):
        m = rows.stop - rows.start
        c, i, v = _sparse_block(rng, m, k, dtype, cdf, permutation)
        block = scipy.sparse.csr_matrix((v, i, np.concatenate([[0], np.cumsum(c)])),
                                        shape=(m, d))
        parts.append(_sample(spec, rng, _inverse_link(link, block @ beta + intercept)))
        counts.append(c)
        indices.append(i)
        data.append(v)
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
    if indptr[-1] < np.iinfo(np.int32).max:
        indptr = indptr.astype(np.int32)
    X = scipy.sparse.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr),
                                shape=(n, d))
    return Problem(spec, X, np.concatenate(parts))


_LEGACY_MAKERS = {"poisson-log": _poisson, "gamma-log": _gamma}
_MODEL_MAKERS = {"logistic": _logistic, "softmax": _softmax}


def make_problem(name, quick=False, dtype=np.float64, seed=SEED):
    """The problem ``name`` of SPECS at its full (or quick) size, X in ``dtype``; the same
    seed gives the same data (float32 X is the float64 X rounded)."""
    spec = SPECS[name]
    n, d = spec.quick_shape if quick else spec.shape
    dtype, rng = np.dtype(dtype), np.random.default_rng(seed)
    if spec.sparse:
        return _sparse(spec, n, d, dtype, rng, quick)
    maker = _LEGACY_MAKERS.get(name) or _MODEL_MAKERS.get(spec.model, _family)
    return maker(spec, n, d, dtype, rng)


# ------------------------------------------------------------------------------ objective --

def _penalty(coef, l2):
    coef = np.asarray(coef, dtype=np.float64)
    return 0.5 * l2 * float(np.sum(coef * coef))


def _linear_predictor(X, coef, intercept, offset=None):
    """eta = X coef + intercept (+ offset), float64, for dense or sparse X."""
    eta = np.asarray(X @ np.asarray(coef, dtype=np.float64).ravel(), dtype=np.float64)
    eta = eta + float(np.ravel(intercept)[0])
    return eta if offset is None else eta + offset


def logistic_objective(X, y, coef, intercept, l2):
    """(1/n) sum [log(1 + e^eta) - y eta] + (l2/2) ||coef||^2, eta = X coef + intercept."""
    eta = _linear_predictor(X, coef, intercept)
    return float(np.mean(np.logaddexp(0.0, eta) - y * eta)) + _penalty(coef, l2)


def softmax_objective(X, y, coef, intercept, l2):
    """(1/n) sum [logsumexp(eta_i) - eta_{i, y_i}] + (l2/2) ||W||^2, eta = X W^T + b,
    coef W of shape (K, d), intercept b of shape (K,); invariant to the gauge."""
    eta = X @ np.asarray(coef, dtype=np.float64).T + np.asarray(intercept, dtype=np.float64)
    top = eta.max(axis=1)
    lse = top + np.log(np.exp(eta - top[:, None]).sum(axis=1))
    nll = lse - eta[np.arange(eta.shape[0]), y]
    return float(np.mean(nll)) + _penalty(coef, l2)


def _log_mean(link, eta):
    """(log mu, log(1 - mu)) of the binomial links, stable in the tails."""
    if link == "logit":
        return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    if link == "probit":
        return special.log_ndtr(eta), special.log_ndtr(-eta)
    if link == "cloglog":
        e = np.exp(np.minimum(eta, 700.0))
        return np.log(-np.expm1(-e)), -e
    raise ValueError(f"no binomial link {link!r}")


def half_deviance(spec, y, eta):
    """Half the unit deviance d(y, mu) / 2 of ``spec``'s family, mu = g^-1(eta); zero at
    y = mu. Log-link means enter through eta (no exp/log round trip)."""
    model, link = spec.model, spec.link
    if model == "binomial":
        log_mu, log1m_mu = _log_mean(link, eta)
        return (special.xlogy(y, y) + special.xlogy(1 - y, 1 - y)
                - np.where(y > 0, y * log_mu, 0.0) - np.where(y < 1, (1 - y) * log1m_mu, 0.0))
    mu = _inverse_link(link, eta)
    if model == "gaussian":
        return 0.5 * (y - mu) ** 2
    log_mu = eta if link == "log" else np.log(mu)
    if model == "poisson":
        return special.xlogy(y, y) - y * log_mu - y + mu
    if model == "gamma":
        return y / mu - np.log(y) + log_mu - 1.0
    if model == "inverse_gaussian":
        return (y - mu) ** 2 / (2.0 * y * mu * mu)
    if model == "tweedie":
        p = spec.power
        return (np.power(y, 2 - p) / ((1 - p) * (2 - p)) - y * np.exp((1 - p) * log_mu) / (1 - p)
                + np.exp((2 - p) * log_mu) / (2 - p))
    if model == "negative_binomial":
        a = spec.nb_alpha
        return (special.xlogy(y, y) - y * log_mu
                - (y + 1.0 / a) * np.log1p(a * (y - mu) / (1.0 + a * mu)))
    raise ValueError(f"no deviance for model {model!r}")


def objective(problem, coef, intercept):
    """DESIGN.md's objective of ``problem`` at (coef, intercept), whoever computed them."""
    X, y, l2 = problem.X, problem.y, problem.l2
    if problem.model == "logistic":
        return logistic_objective(X, y, coef, intercept, l2)
    if problem.model == "softmax":
        return softmax_objective(X, y, coef, intercept, l2)
    eta = _linear_predictor(X, coef, intercept, problem.offset)
    if problem.link == "inverse" and np.any(eta <= 0):
        return np.inf                         # a mean outside the family's domain
    return float(np.mean(half_deviance(problem.spec, y, eta))) + _penalty(coef, l2)
