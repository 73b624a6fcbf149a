"""X times a vector and X^T times a vector with float64 accumulation for float32 X (CSR X
through the sparse kernels)."""
import numpy as np

from ngd import _sparse

_BLOCK_ROWS = 8192


def matvec(X, coef, n_threads=1):
    """X @ coef in float64 for coef of shape (p,) or (p, K) (float32 X is converted one row
    block at a time)."""
    if _sparse.is_sparse(X) and coef.ndim == 1:
        return _sparse.matvec(X, coef, n_threads=n_threads)
    if X.dtype == np.float64:
        return X @ coef
    out = np.empty((X.shape[0],) + coef.shape[1:])
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        block = X[start:start + _BLOCK_ROWS].astype(np.float64)
        out[start:start + _BLOCK_ROWS] = block @ coef
    return out


def rmatvec(X, r, n_threads=1):
    """X^T @ r in float64 for r of shape (n,) or (n, K) (float32 X is converted one row block
    at a time)."""
    if _sparse.is_sparse(X) and r.ndim == 1:
        return _sparse.rmatvec(X, r, n_threads=n_threads)
    if X.dtype == np.float64:
        return X.T @ r
    out = np.zeros((X.shape[1],) + r.shape[1:])
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        block = X[start:start + _BLOCK_ROWS].astype(np.float64)
        out += block.T @ r[start:start + _BLOCK_ROWS]
    return out
