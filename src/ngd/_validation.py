"""Argument checks at the public boundary: shapes, dtypes, layout, finiteness."""
import numpy as np

from ngd.exceptions import DataError

_BLAS_INT_MAX = 2**31 - 1


def as_matrix(X, name="X", check_finite=True):
    """X as a 2-D float32/float64 array with unit stride along one axis (C or F order).

    float32 is kept (float64 accumulation happens in the kernels); other numeric types become
    float64. Raises TypeError for non-numeric data, DataError for bad shape or values.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise TypeError(f"{name} must be a dense array; sparse input is not supported yet")
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise DataError(f"{name} must have at least one row and one column, got {X.shape}")
    if max(X.shape) > _BLAS_INT_MAX:
        raise DataError(f"{name} has a dimension larger than BLAS can index ({X.shape})")
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    if check_finite:
        _check_finite_rows(X, name)
    return X


def _check_finite_rows(X, name, block_bytes=16 << 20):
    """Raise DataError at the first non-finite (row, column) of X, scanning row blocks of
    about ``block_bytes`` so that no temporary the size of X (which may be memory-mapped) is
    made."""
    step = max(1, block_bytes // (X.shape[1] * X.itemsize))
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        if not np.isfinite(block).all():
            row, col = np.argwhere(~np.isfinite(block))[0]
            raise DataError(f"{name} has a non-finite value ({block[row, col]}) at row "
                            f"{start + row}, column {col}")


def as_vector(v, n, name, check_finite=True):
    """v as a C-contiguous float64 vector of length n."""
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.ndim != 1 or v.shape[0] != n:
        raise DataError(f"{name} must have shape ({n},), got {v.shape}")
    if check_finite and not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise DataError(f"{name} has a non-finite value ({v[i]}) at index {i}")
    return v


def as_square(F, name="F"):
    """F as a C-contiguous float64 square matrix with finite entries."""
    F = np.ascontiguousarray(np.asarray(F, dtype=np.float64))
    if F.ndim != 2 or F.shape[0] != F.shape[1] or F.shape[0] < 1:
        raise DataError(f"{name} must be a non-empty square matrix, got shape {F.shape}")
    if not np.isfinite(F).all():
        raise DataError(f"{name} has non-finite entries")
    return F
