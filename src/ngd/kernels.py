"""Validated Python API of ngd's Cython kernels (the C API is ``ngd/kernels.pxd``).

Every function accepts X in float32 or float64, C or F order, accumulates in float64 and
returns float64. Row-block kernels run OpenMP threads with BLAS kept single-threaded inside.
"""
import numpy as np

from ngd._kernels import fisher as _fisher
from ngd._kernels import fused as _fused
from ngd._kernels import linalg as _linalg
from ngd._threads import effective_n_threads, fit_threads
from ngd._validation import as_matrix, as_square, as_vector

FISHER_KINDS = _fused.FISHER_KINDS
MAX_ESCALATIONS = 100


def weighted_gram(X, v, *, intercept=False, n_threads=None):
    """X^T diag(v) X as a (p, p) float64 matrix; with ``intercept=True`` the (p+1, p+1) Gram
    of [X, 1]: [[X^T V X, X^T v], [v^T X, sum v]]."""
    X = as_matrix(X)
    v = as_vector(v, X.shape[0], "v")
    n_threads = effective_n_threads(n_threads)
    p = X.shape[1]
    out = np.empty((p + intercept, p + intercept))
    gram = out if not intercept else np.empty((p, p))
    xv = np.empty(p) if intercept else None
    with fit_threads(n_threads):
        _fisher._weighted_gram(X, v, gram, xv, n_threads)
    if intercept:
        out[:p, :p] = gram
        out[:p, p] = out[p, :p] = xv
        out[p, p] = v.sum()
    return out


def empirical_fisher(G, *, n_threads=None):
    """(1/n) G^T G = (1/n) sum_i g_i g_i^T for per-sample gradients G of shape (n, p)."""
    G = as_matrix(G, "G")
    return weighted_gram(G, np.full(G.shape[0], 1.0 / G.shape[0]), n_threads=n_threads)


def logistic_pass(X, coef, intercept, y, sample_weight=None, offset=None, *, fisher="exact",
                  n_threads=None):
    """One pass over X for the logistic loss at eta = X coef + intercept + offset.

    Returns (loss_sum, grad, weights): loss_sum = sum_i w_i nll_i, grad = [X^T r, sum r] with
    r_i = w_i (p_i - y_i), and per-row Fisher weights w_i p_i (1 - p_i) (exact) or
    w_i (p_i - y_i)^2 (empirical), or None (fisher="none"). Sums are not normalised.
    """
    X = as_matrix(X)
    n, p = X.shape
    coef = as_vector(coef, p, "coef")
    y = as_vector(y, n, "y")
    w = None if sample_weight is None else as_vector(sample_weight, n, "sample_weight")
    off = None if offset is None else as_vector(offset, n, "offset")
    if fisher not in FISHER_KINDS:
        raise ValueError(f"fisher must be one of {sorted(FISHER_KINDS)}, got {fisher!r}")
    kind = FISHER_KINDS[fisher]
    n_threads = effective_n_threads(n_threads)
    grad = np.empty(p + 1)
    weights = np.empty(n) if fisher != "none" else None
    with fit_threads(n_threads):
        loss = _fused._logistic_pass(X, coef, float(intercept), y, w, off, kind, grad, weights,
                                     n_threads)
    return loss, grad, weights


def damped_cholesky(F, damping=0.0):
    """Factor F + lambda I (lambda >= damping, raised until positive definite).

    Returns (factor, damping_used, escalations); use :func:`cholesky_solve` with the factor.
    Raises numpy.linalg.LinAlgError if no lambda within 100 doublings works.
    """
    F = as_square(F)
    damping = float(damping)
    if not np.isfinite(damping) or damping < 0:
        raise ValueError(f"damping must be a finite number >= 0, got {damping}")
    factor = np.empty_like(F)
    escalations, used = _linalg._damped_cholesky(F, damping, factor, MAX_ESCALATIONS)
    if escalations < 0:
        raise np.linalg.LinAlgError(
            f"F + lambda I is not positive definite even with lambda = {used:.3g}")
    return factor, used, escalations


def cholesky_solve(factor, b):
    """Solve (U^T U) x = b for the factor returned by :func:`damped_cholesky`."""
    x = np.array(b, dtype=np.float64, copy=True).ravel()
    if x.shape[0] != factor.shape[0]:
        raise ValueError(f"b must have length {factor.shape[0]}, got {x.shape[0]}")
    _linalg._cholesky_solve(factor, x)
    return x


def damped_cholesky_solve(F, g, damping=0.0):
    """Solve (F + lambda I) d = g with the smallest lambda >= damping in the doubling sequence
    for which the Cholesky factorisation succeeds. Returns (d, damping_used)."""
    F = as_square(F)
    g = as_vector(g, F.shape[0], "g")
    factor, used, _ = damped_cholesky(F, damping)
    return cholesky_solve(factor, g), used
