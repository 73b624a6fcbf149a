"""Certificates that a maximum-likelihood estimate does not exist (separation).

For a binary model with an increasing link, a direction d with
    (2 y_i - 1) x~_i . d >= 0 for every row (x~ = [x, 1]) and > 0 for some row
makes every term of the likelihood non-decreasing along theta + t d, strictly for some: the
loss has no minimiser ((quasi-)complete separation, Albert & Anderson 1984). For softmax the
same holds for the class margins (D x~_i)_{y_i} - (D x~_i)_k >= 0. The optimiser proposes d as
its recent movement theta_t - theta_{t-k}, which aligns with the separating direction when the
coefficients diverge; these functions check it.
"""
import numpy as np

from ngd import _sparse
from ngd.models._linear import matvec

# a margin counts as zero below this fraction of |x~_i| |d|
_SLACK = 1e-7
WITNESS_ROWS = 64              # rows whose slack the witness pre-check computes
WITNESS_SAMPLE_ROWS = 8192     # evenly spaced rows the witness looks among first


def _row_norms(X, fit_intercept):
    if _sparse.is_sparse(X):
        norms = np.sqrt(_sparse.row_norms_squared(X))
    else:
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
    return np.sqrt(norms ** 2 + 1.0) if fit_intercept else norms


def binary_margins(X, y, delta, fit_intercept, weights):
    """(consistent, strict rows) of the binary condition along delta: consistent when no row
    of positive weight has a margin of the wrong sign (rows with 0 < y < 1: a non-zero
    margin); strict: the rows whose margin has the right sign beyond the slack. y in [0, 1]."""
    coef = np.asarray(delta[:X.shape[1]], dtype=np.float64)
    shift = float(delta[-1]) if fit_intercept else 0.0
    scale = float(np.max(np.abs(delta)))
    if scale == 0 or not np.isfinite(scale):
        return False, np.empty(0, dtype=np.intp)
    margin = (matvec(X, coef) + shift)
    return margin_condition(y, margin, _SLACK * scale * _row_norms(X, fit_intercept), weights)


def margin_witness(X, y, delta, fit_intercept, weights):
    """True when a row of positive weight shows that delta does not separate, so that
    :func:`binary_certificate` returns None: its margin m_i = x~_i . d has the wrong sign (or
    is non-zero where 0 < y_i < 1) beyond twice the certificate's slack _SLACK max|d| |x~_i|.
    It looks first among WITNESS_SAMPLE_ROWS evenly spaced rows (a moving but unseparated fit
    has such rows nearly everywhere), then among all rows; the row norms only of the
    WITNESS_ROWS rows whose margins are the most wrong. Dense X only (False for CSR)."""
    scale = float(np.max(np.abs(delta)))
    if _sparse.is_sparse(X) or scale == 0 or not np.isfinite(scale):
        return False
    step = X.shape[0] // WITNESS_SAMPLE_ROWS
    if step > 1 and _witness_among(X, y, delta, fit_intercept, weights, scale,
                                   slice(None, None, step)):
        return True
    return _witness_among(X, y, delta, fit_intercept, weights, scale, slice(None))


def _witness_among(X, y, delta, fit_intercept, weights, scale, rows):
    """:func:`margin_witness` restricted to ``rows`` (a slice)."""
    X, y, weights = X[rows], y[rows], weights[rows]
    margin = matvec(X, np.asarray(delta[:X.shape[1]], dtype=np.float64))
    if fit_intercept:
        margin += float(delta[-1])
    sign = np.where(y >= 1, 1.0, np.where(y <= 0, -1.0, 0.0))
    wrong = np.where(sign == 0, -np.abs(margin), sign * margin)   # < 0: the wrong side
    wrong[~(weights > 0)] = np.inf
    k = min(WITNESS_ROWS, wrong.size)
    worst = np.argpartition(wrong, k - 1)[:k]
    worst = worst[wrong[worst] < 0]
    if worst.size == 0:
        return False
    Xw = np.asarray(X[worst], dtype=np.float64)
    norms = np.sqrt(np.sum(Xw * Xw, axis=1) + (1.0 if fit_intercept else 0.0))
    return bool(np.any(wrong[worst] < -2.0 * _SLACK * scale * norms))


def margin_condition(y, margin, slack, weights):
    """:func:`binary_margins` from the margins x~_i . d and their slacks."""
    active = weights > 0
    sign = np.where(y >= 1, 1.0, np.where(y <= 0, -1.0, 0.0))
    signed = sign * margin
    zero_required = active & (sign == 0)
    consistent = not (np.any(signed[active] < -slack[active]) or
                      np.any(np.abs(margin[zero_required]) > slack[zero_required]))
    return consistent, np.flatnonzero(active & (signed > slack))


def binary_certificate(X, y, delta, fit_intercept, weights):
    """Rows strictly separated along delta, or None when delta does not separate the data
    (:func:`binary_margins` consistent with at least one strict row)."""
    consistent, strict = binary_margins(X, y, delta, fit_intercept, weights)
    return strict if consistent and strict.size else None


def design_certificate(margin, row_norms, y, delta, weights):
    """:func:`binary_certificate` from precomputed margins x~_i . d and row norms |x~_i|
    (designs whose X is not a matrix)."""
    scale = float(np.max(np.abs(delta)))
    if scale == 0 or not np.isfinite(scale):
        return None
    consistent, strict = margin_condition(y, margin, _SLACK * scale * row_norms, weights)
    return strict if consistent and strict.size else None


def multiclass_certificate(eta_change, codes, weights, slack):
    """Rows with a strictly growing margin, or None: eta_change (n, K) is X~ D^T."""
    own = eta_change[np.arange(len(codes)), codes][:, None]
    margins = own - eta_change
    active = weights > 0
    if np.any(margins[active] < -slack[active, None]):
        return None
    strict = active & (np.max(margins, axis=1) > slack)
    return np.flatnonzero(strict) if strict.any() else None


def involved_columns(X, delta_coef, fraction=0.05):
    """Columns whose standardised movement |d_j| sd(x_j) is at least ``fraction`` of the
    largest (for naming the features behind a separation)."""
    sd = _sparse.column_std(X) if _sparse.is_sparse(X) else np.std(X, axis=0, dtype=np.float64)
    return columns_by_movement(sd, delta_coef, fraction)


def columns_by_movement(sd, delta_coef, fraction=0.05):
    """:func:`involved_columns` from the column standard deviations ``sd``."""
    size = np.abs(delta_coef) * np.where(sd > 0, sd, 1.0)
    if size.ndim == 2:
        size = size.max(axis=0)
    top = size.max()
    return [] if top == 0 else [int(j) for j in np.flatnonzero(size >= fraction * top)]
