"""X times a vector and X^T times a vector with float64 accumulation for float32 X (CSR X
through the sparse kernels), and diag(r) X as a dense float64 array."""
import numpy as np

from ngd import _sparse

_BLOCK_ENTRIES = 1 << 20     # float32 X is converted to float64 ~8 MB at a time


def _block_rows(X):
    """Rows per converted block: about _BLOCK_ENTRIES entries, at least one row."""
    return max(1, _BLOCK_ENTRIES // max(1, X.shape[1]))


def matvec(X, coef, n_threads=1):
    """X @ coef in float64 for coef of shape (p,) or (p, K) (float32 X is converted one row
    block at a time)."""
    if _sparse.is_sparse(X) and coef.ndim == 1:
        return _sparse.matvec(X, coef, n_threads=n_threads)
    if X.dtype == np.float64:
        return X @ coef
    out = np.empty((X.shape[0],) + coef.shape[1:])
    rows = _block_rows(X)
    for start in range(0, X.shape[0], rows):
        out[start:start + rows] = X[start:start + rows].astype(np.float64) @ coef
    return out


def rmatvec(X, r, n_threads=1):
    """X^T @ r in float64 for r of shape (n,) or (n, K) (float32 X is converted one row block
    at a time)."""
    if _sparse.is_sparse(X) and r.ndim == 1:
        return _sparse.rmatvec(X, r, n_threads=n_threads)
    if X.dtype == np.float64:
        return X.T @ r
    out = np.zeros((X.shape[1],) + r.shape[1:])
    rows = _block_rows(X)
    for start in range(0, X.shape[0], rows):
        out += X[start:start + rows].astype(np.float64).T @ r[start:start + rows]
    return out


def scaled_rows(X, r):
    """diag(r) X as a dense float64 (n, p) array; a sparse X is scaled before densifying."""
    if _sparse.is_sparse(X):
        return X.astype(np.float64, copy=False).multiply(r[:, None]).toarray()
    return np.asarray(X, dtype=np.float64) * r[:, None]
