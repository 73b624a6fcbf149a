"""CSR input: the one validation at the boundary (:func:`as_csr`) and thin calls into the
sparse kernels for X already validated (X~ = [X, 1] when ``intercept`` is set)."""
import numpy as np
import scipy.sparse as sp

from ngd._kernels import sparse as _kernels
from ngd.exceptions import DataError

_INDEX_TYPES = (np.int32, np.int64)
MAX_DIM = 2**31 - 1     # rows or columns: the index bound of BLAS and of dense X (as_matrix)


def is_sparse(X):
    """True for any scipy.sparse matrix or array."""
    return sp.issparse(X)


def as_csr(X, name="X", check_finite=True):
    """X as a CSR matrix (csr_matrix or csr_array, as given) with float32/float64 data,
    indices and indptr of one integer type and no repeated column within a row. The structure
    of X, whatever its format, is checked by :func:`check_structure` before anything reads it;
    other formats are then converted once (DataError for a bad structure or non-finite value,
    TypeError for a bad dtype)."""
    check_structure(X, name)
    n, p = X.shape
    if n < 1 or p < 1:
        raise DataError(f"{name} must have at least one row and one column, got {X.shape}")
    if X.format != "csr":
        X = X.tocsr()
    data, indices, indptr = (np.asarray(a) for a in (X.data, X.indices, X.indptr))
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
    # a fresh object: scipy's cached has_canonical_format may predate an edit of the arrays
    X = type(X)((data, indices, indptr), shape=(n, p), copy=False)
    if not X.has_canonical_format:       # repeated columns would break the Gram kernel
        X = X.copy()
        X.sum_duplicates()
    return X


def check_structure(X, name="X"):
    """DataError unless the scipy.sparse matrix or array X (any format) is well formed, so
    that scipy's conversions and ngd's kernels read and write only inside its arrays (see
    :func:`check_arrays`; LIL: one list of columns per row, in range, each as long as its
    list of values; DOK: (row, column) keys in range). Unsorted and repeated indices are legal
    (scipy sums repeats). TypeError for X not sparse or a bad dtype."""
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse matrix, got {type(X).__name__}")
    if X.format in _OBJECT_CHECKS:
        shape = _check_shape(name, X.shape)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be real and numeric, got dtype {X.dtype}")
        _OBJECT_CHECKS[X.format](name, X, shape)
    elif X.format in ARRAYS:
        check_arrays(name, X.format, X.shape, **_arrays_of(X, name))
    else:
        raise TypeError(f"{name} has the unsupported sparse format {X.format!r}")


ARRAYS = {"csr": ("data", "indices", "indptr"), "csc": ("data", "indices", "indptr"),
          "bsr": ("data", "indices", "indptr"), "coo": ("data", "row", "col"),
          "dia": ("data", "offsets")}          # the arrays of each format, as save_npz names them
_DATA_NDIM = {"bsr": 3, "dia": 2}             # (blocks, R, C) and (diagonals, length); else 1


def _arrays_of(X, name):
    if X.format == "coo":
        coords = X.coords if hasattr(X, "coords") else (X.row, X.col)
        if len(coords) != 2:
            raise DataError(f"{name} must have 2 coordinate arrays, got {len(coords)}")
        return {"data": X.data, "row": coords[0], "col": coords[1]}
    return {key: getattr(X, key) for key in ARRAYS[X.format]}


def check_arrays(name, format, shape, **arrays):
    """DataError (TypeError for a dtype) unless the arrays of a sparse matrix of this
    ``format`` (the names in ARRAYS) and shape are consistent: a 2-D shape of integers >= 0,
    real numeric data, 1-D integer index arrays and

    - CSR / CSC / BSR: indptr of (rows, columns, block rows) + 1 entries, from 0 and never
      decreasing, ending at most at len(indices) == len(data); indices[:indptr[-1]] in range
      (BSR: data (blocks, R, C) with R x C tiles of the shape);
    - COO: row and col as long as data, in range; DIA: data (diagonals, length), one offset
      per diagonal.

    O(nnz) and vectorised. Returns the shape as two Python ints."""
    shape = _check_shape(name, shape)
    data = np.asarray(arrays["data"])
    if data.ndim != _DATA_NDIM.get(format, 1):
        raise DataError(f"{name}.data must be {_DATA_NDIM.get(format, 1)}-D for format "
                        f"{format!r}, got shape {data.shape}")
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real and numeric, got dtype {data.dtype}")
    index = {key: _index_array(name, key, arrays[key]) for key in ARRAYS[format][1:]}
    if format in ("csr", "csc"):
        major = 0 if format == "csr" else 1
        labels = ("rows", "features") if format == "csr" else ("columns", "samples")
        _check_compressed(name, data.shape[0], index["indices"], index["indptr"],
                          shape[major], shape[1 - major], labels)
    elif format == "bsr":
        R, C = data.shape[1:]
        if R < 1 or C < 1 or shape[0] % R or shape[1] % C:
            raise DataError(f"{name} has blocks of {R} x {C} that do not tile its shape {shape}")
        _check_compressed(name, data.shape[0], index["indices"], index["indptr"],
                          shape[0] // R, shape[1] // C, ("block_rows", "block_columns"))
    elif format == "coo":
        for key, bound, what in (("row", shape[0], "n_samples"), ("col", shape[1], "n_features")):
            if index[key].shape[0] != data.shape[0]:
                raise DataError(f"{name}.{key} has {index[key].shape[0]} entries but "
                                f"{name}.data {data.shape[0]}")
            _check_in_range(name, key, index[key], bound, what)
    elif index["offsets"].shape[0] != data.shape[0]:
        raise DataError(f"{name}.offsets has {index['offsets'].shape[0]} entries but "
                        f"{name}.data {data.shape[0]} diagonals")
    return shape


def _check_shape(name, shape):
    """shape as (rows, columns) of Python ints >= 0."""
    shape = tuple(np.asarray(shape).tolist()) if np.ndim(shape) == 1 else shape
    if not isinstance(shape, tuple) or len(shape) != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_features), got shape {shape}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise DataError(f"{name} has an invalid shape {shape}: two integers >= 0 expected")
    if max(shape) > MAX_DIM:
        raise DataError(f"{name} claims shape {shape}: more than {MAX_DIM} rows or columns "
                        "(the index bound of the kernels) is refused before any allocation")
    return shape


def _index_array(name, label, a):
    """a as a 1-D integer ndarray (TypeError otherwise)."""
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"{name}.{label} must be a 1-D integer array, got dtype {a.dtype} and "
                        f"shape {a.shape}")
    return a


def _check_in_range(name, label, a, bound, what):
    """Every entry of the index array a in [0, bound)."""
    if a.size and (a.min() < 0 or a.max() >= bound):
        raise DataError(f"{name}.{label} must lie in [0, {bound}) ({what}), got values in "
                        f"[{a.min()}, {a.max()}]")


def _check_compressed(name, n_data, indices, indptr, n_major, n_minor, labels):
    """CSR-like arrays of n_major rows of n_minor columns (``labels`` names them)."""
    if indptr.shape[0] != n_major + 1:
        raise DataError(f"{name}.indptr must have n_{labels[0]} + 1 = {n_major + 1} entries, "
                        f"got {indptr.shape[0]}")
    if indptr[0] != 0 or np.any(indptr[1:] < indptr[:-1]):
        raise DataError(f"{name}.indptr must start at 0 and never decrease")
    nnz = int(indptr[-1])
    if indices.shape[0] != n_data or nnz > n_data:
        raise DataError(f"{name}.indptr ends at {nnz} but {name}.indices has "
                        f"{indices.shape[0]} and {name}.data {n_data} entries")
    _check_in_range(name, "indices", indices[:nnz], n_minor, f"n_{labels[1]}")


def _lil(name, X, shape):
    rows, values = np.asarray(X.rows, dtype=object), np.asarray(X.data, dtype=object)
    if rows.shape != (shape[0],) or values.shape != (shape[0],):
        raise DataError(f"{name}.rows and {name}.data must hold one list per row "
                        f"({shape[0]}), got {rows.shape} and {values.shape}")
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=shape[0])
    if not np.array_equal(lengths, np.fromiter(map(len, values), np.int64, shape[0])):
        raise DataError(f"{name}.rows and {name}.data have lists of different lengths")
    columns = [j for row in rows for j in row]
    if columns:
        _check_in_range(name, "rows", _index_array(name, "rows", columns), shape[1],
                        "n_features")


def _dok(name, X, shape):
    keys = np.asarray(list(X.keys()))
    if keys.size and (keys.ndim != 2 or keys.shape[1] != 2 or keys.dtype.kind not in "iu"):
        raise DataError(f"{name} must have (row, column) integer keys")
    if keys.size:
        _check_in_range(name, "keys (rows)", keys[:, 0], shape[0], "n_samples")
        _check_in_range(name, "keys (columns)", keys[:, 1], shape[1], "n_features")


_OBJECT_CHECKS = {"lil": _lil, "dok": _dok}


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


def cg_solve(X, v, shift, minv, g, threshold, maxiter, intercept=False, n_threads=1):
    """PCG from 0 on (X~^T diag(v) X~ + diag(shift)) x = g with preconditioner diag(minv)
    until ||r|| <= threshold or maxiter iterations, in one kernel call. Returns (x,
    iterations, ||r||, positive): positive is False when d^T A d <= 0 stopped it."""
    x = np.empty(X.shape[1] + bool(intercept))
    positive, iterations, residual = _kernels._csr_cg_solve(
        X.data, X.indices, X.indptr, X.shape[1], bool(intercept), _f64(v), _f64(shift),
        _f64(minv), _f64(g), float(threshold), int(maxiter), x, n_threads)
    return x, iterations, residual, positive


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
