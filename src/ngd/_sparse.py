"""CSR input: the one validation at the boundary (:func:`as_csr`) and thin calls into the
sparse kernels for X already validated (X~ = [X, 1] when ``intercept`` is set)."""
import numpy as np
import scipy.sparse as sp

from ngd._kernels import sparse as _kernels
from ngd.exceptions import DataError

_INDEX_TYPES = (np.int32, np.int64)


def is_sparse(X):
    """True for any scipy.sparse matrix or array."""
    return sp.issparse(X)


def as_csr(X, name="X", check_finite=True):
    """X as a CSR matrix (csr_matrix or csr_array, as given) with float32/float64 data,
    indices and indptr of one integer type and no repeated column within a row. Other sparse
    formats are converted once; the structure is checked so that no kernel reads out of
    bounds (DataError for a bad structure or non-finite value, TypeError for a bad dtype)."""
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real and numeric, got dtype {X.dtype}")
    if X.format != "csr":
        X = X.tocsr()
    n, p = X.shape
    if n < 1 or p < 1:
        raise DataError(f"{name} must have at least one row and one column, got {X.shape}")
    data, indices, indptr = (np.asarray(a) for a in (X.data, X.indices, X.indptr))
    _check_structure(name, data, indices, indptr, n, p)
    nnz = int(indptr[-1])
    data, indices = data[:nnz], indices[:nnz]
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    if indices.dtype != indptr.dtype or indptr.dtype not in _INDEX_TYPES:
        indices, indptr = indices.astype(np.int64), indptr.astype(np.int64)
    if check_finite and not np.isfinite(data).all():
        k = int(np.flatnonzero(~np.isfinite(data))[0])
        row = int(np.searchsorted(indptr, k, side="right") - 1)
        raise DataError(f"{name} has a non-finite value ({data[k]}) at row {row}, column "
                        f"{int(indices[k])}")
    if data is not X.data or indices is not X.indices or indptr is not X.indptr:
        X = type(X)((data, indices, indptr), shape=(n, p), copy=False)
    if not X.has_canonical_format:       # repeated columns would break the Gram kernel
        X = X.copy()
        X.sum_duplicates()
    return X


def _check_structure(name, data, indices, indptr, n, p):
    """DataError unless indptr runs from 0 to nnz without decreasing and every index of the
    first nnz lies in [0, p)."""
    for label, a in (("indices", indices), ("indptr", indptr)):
        if a.ndim != 1 or a.dtype.kind not in "iu":
            raise TypeError(f"{name}.{label} must be a 1-D integer array, got dtype "
                            f"{a.dtype} and shape {a.shape}")
    if data.ndim != 1:
        raise DataError(f"{name}.data must be 1-D, got shape {data.shape}")
    if indptr.shape[0] != n + 1:
        raise DataError(f"{name}.indptr must have n_rows + 1 = {n + 1} entries, got "
                        f"{indptr.shape[0]}")
    if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
        raise DataError(f"{name}.indptr must start at 0 and never decrease")
    nnz = int(indptr[-1])
    if indices.shape[0] < nnz or data.shape[0] < nnz:
        raise DataError(f"{name}.indptr ends at {nnz} but {name}.indices has "
                        f"{indices.shape[0]} and {name}.data {data.shape[0]} entries")
    if nnz and (indices[:nnz].min() < 0 or indices[:nnz].max() >= p):
        raise DataError(f"{name}.indices must lie in [0, {p}) (n_features), got values in "
                        f"[{indices[:nnz].min()}, {indices[:nnz].max()}]")


def _f64(a):
    return np.ascontiguousarray(a, dtype=np.float64)


def matvec(X, coef, shift=0.0, n_threads=1):
    """X coef + shift, float64 (n,)."""
    out = np.empty(X.shape[0])
    _kernels._csr_matvec(X.data, X.indices, X.indptr, _f64(coef), float(shift), out,
                         n_threads)
    return out


def matmat(X, B, shift=None, n_threads=1):
    """X B + shift for B (p, K) and shift (K,) or None, float64 (n, K)."""
    B = _f64(B)
    out = np.empty((X.shape[0], B.shape[1]))
    _kernels._csr_matmat(X.data, X.indices, X.indptr, B,
                         np.empty(0) if shift is None else _f64(shift), out, n_threads)
    return out


def _accumulate(mode, X, v, u, intercept, n_threads):
    """The ``mode`` accumulation with row weights v of shape (n,) -> (pw,) or (n, K) ->
    (pw, K)."""
    v = _f64(v)
    K = 1 if v.ndim == 1 else v.shape[1]
    out = np.empty((X.shape[1] + bool(intercept),) + v.shape[1:])
    _kernels._csr_accumulate(_kernels.ACCUMULATIONS[mode], X.data, X.indices, X.indptr,
                             X.shape[1], bool(intercept), K, v.ravel(),
                             np.empty(0) if u is None else _f64(u), out.ravel(), n_threads)
    return out


def rmatvec(X, r, intercept=False, n_threads=1):
    """X~^T r: [X^T r, sum r] with intercept, else X^T r; r of shape (n,) or (n, K) (then
    (pw, K): X~^T R)."""
    return _accumulate("rmatvec", X, r, None, intercept, n_threads)


def fisher_vector(X, v, u, intercept=False, n_threads=1):
    """X~^T (v * (X~ u))."""
    return _accumulate("fisher_vector", X, v, u, intercept, n_threads)


def fisher_diagonal(X, v, intercept=False, n_threads=1):
    """sum_i v_i x~_ij^2 for each column j of X~; v of shape (n, K) gives (pw, K),
    sum_i v_ik x~_ij^2."""
    return _accumulate("diagonal", X, v, None, intercept, n_threads)


def weighted_gram(X, v, intercept=False, n_threads=1):
    """X~^T diag(v) X~ as a dense float64 matrix."""
    width = X.shape[1] + bool(intercept)
    out = np.empty((width, width))
    _kernels._csr_weighted_gram(X.data, X.indices, X.indptr, X.shape[1], bool(intercept),
                                _f64(v), out, n_threads)
    return out


def multi_output_gram(X, V, intercept=False, n_threads=1):
    """sum_i V_i (x) x~_i x~_i^T, dense float64 (K pw, K pw), class-major (k * pw + j), from
    V (n, K(K+1)/2): each row the packed upper triangle (k <= l, row by row) of V_i."""
    V = _f64(V)
    K = int(round((np.sqrt(8 * V.shape[1] + 1) - 1) / 2))
    if K * (K + 1) // 2 != V.shape[1] or K < 1:
        raise ValueError(f"V must have K(K+1)/2 columns (packed K x K), got {V.shape[1]}")
    width = K * (X.shape[1] + bool(intercept))
    out = np.empty((width, width))
    _kernels._csr_multi_output_gram(X.data, X.indices, X.indptr, X.shape[1], bool(intercept),
                                    K, V, out, n_threads)
    return out


def row_norms_squared(X):
    """sum_j x_ij^2 per row, float64."""
    sq = X.copy()
    sq.data = np.square(X.data, dtype=np.float64)
    return np.asarray(sq.sum(axis=1)).ravel()


def column_std(X):
    """Standard deviation of each column (zeros included), float64."""
    n = X.shape[0]
    mean = rmatvec(X, np.full(n, 1.0 / n))
    sq = X.copy()
    sq.data = np.square(X.data, dtype=np.float64)
    second = rmatvec(sq, np.full(n, 1.0 / n))
    return np.sqrt(np.maximum(second - mean ** 2, 0.0))


def kernel_matrix(X):
    """X X^T as a dense float64 (n x n) matrix."""
    X64 = X if X.dtype == np.float64 else X.astype(np.float64)
    return np.asarray((X64 @ X64.T).toarray())
