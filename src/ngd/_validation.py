"""Argument checks at the public boundary: shapes, dtypes, layout, finiteness."""
import math
import numbers

import numpy as np

from ngd._kernels import fused as _fused
from ngd._threads import effective_n_threads
from ngd.exceptions import DataError

_BLAS_INT_MAX = 2**31 - 1
MAX_ABS = 1e150        # larger values: their squares overflow the Fisher information


def as_matrix(X, name="X", check_finite=True, max_abs=None):
    """X as a 2-D float32/float64 array with unit stride along one axis (C or F order).
    With check_finite, a non-finite value is an error, and so is one above ``max_abs`` in
    magnitude when given (the fit's data: MAX_ABS).

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
        _check_finite_rows(X, name, max_abs)
    return X


def _check_finite_rows(X, name, max_abs=None, block_bytes=16 << 20):
    """Raise DataError at the first non-finite (row, column) of X, or value above ``max_abs``
    in magnitude. One parallel kernel pass answers whether there is one; only then are row
    blocks of about ``block_bytes`` searched for it, so that no temporary the size of X (which
    may be memory-mapped) is made."""
    limit = X.dtype.type(min(max_abs or np.inf, float(np.finfo(X.dtype).max)))
    flat = X.ravel(order="C" if X.flags.c_contiguous else "F")     # a view: X is contiguous
    if _fused._all_within(flat, float(limit), effective_n_threads(None)):
        return
    step = max(1, block_bytes // (X.shape[1] * X.itemsize))
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        if not (-limit <= block.min() and block.max() <= limit):     # also False for NaN
            bad = ~np.isfinite(block)                   # boolean temporaries only
            bad |= np.greater(block, limit, out=np.empty(block.shape, dtype=bool))
            bad |= np.less(block, -limit, out=np.empty(block.shape, dtype=bool))
            row, col = np.argwhere(bad)[0]
            value = block[row, col]
            problem = "a non-finite value" if not np.isfinite(value) else \
                f"a value too large in magnitude (> {max_abs:g}; its square would overflow " \
                "the Fisher information)"
            raise DataError(f"{name} has {problem} ({value}) at row {start + row}, column {col}")


def check_real(value, name, minimum=None, maximum=None, positive=False):
    """float(value) for a real option ``name``: TypeError unless it is a number (not a bool),
    ValueError unless it is finite, >= minimum (> 0 with positive) and <= maximum when given
    (l2, damping, alpha: at most MAX_ABS, the data's bound, since they add to the curvature's
    diagonal, whose entries are squared in the solvers: above ~1e154 they overflow)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if maximum is not None and math.isfinite(number) and number > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}, got {value!r}")
    if not math.isfinite(number) or (minimum is not None and number < minimum) \
            or (positive and number <= 0):
        raise ValueError(f"{name} must be a finite number{_bounds(minimum, maximum, positive)}"
                         f", got {value!r}")
    return number


def _bounds(minimum, maximum, positive):
    """' > 0', ' in [a, b]', ' >= a' or '': the range of check_real in words."""
    if positive:
        return " > 0"
    if minimum is not None and maximum is not None:
        return f" in [{minimum:g}, {maximum:g}]"
    return "" if minimum is None else f" >= {minimum:g}"


def check_finite_scale(value, name, maximum=None):
    """float(value), raising a one-line DataError (a ValueError) naming ``name`` when it is
    not finite or exceeds ``maximum`` (a derived scale: a sum, a penalty, a tolerance)."""
    value = float(value)
    if not math.isfinite(value):
        raise DataError(f"{name} is not finite ({value})")
    if maximum is not None and abs(value) > maximum:
        raise DataError(f"{name} is too large in magnitude ({value:g} > {maximum:g})")
    return value


def check_weight_sum(w, name="sample_weight"):
    """sum(w) for non-negative weights w: finite, positive, and large enough that w / sum(w)
    (the normalised weights every model uses) is finite. Raises DataError naming ``name``."""
    with np.errstate(over="ignore"):             # our message, not numpy's warning
        total = float(w.sum())
    if not math.isfinite(total):
        raise DataError(f"{name} sums to {total} (overflow): rescale the weights")
    if total <= 0:
        raise DataError(f"{name} must have a positive sum")
    if not math.isfinite(1.0 / total):
        raise DataError(f"{name} sums to {total:g}, too small to normalise by: rescale "
                        "the weights")
    return total


def as_vector(v, n, name, check_finite=True, max_abs=None):
    """v as a C-contiguous float64 vector of length n; with check_finite, a non-finite entry
    is a DataError, and so is one above ``max_abs`` in magnitude when given."""
    v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {v.dtype}")
    v = np.ascontiguousarray(v, dtype=np.float64)
    if v.ndim != 1 or v.shape[0] != n:
        raise DataError(f"{name} must have shape ({n},), got {v.shape}")
    if check_finite and not np.isfinite(v).all():
        i = int(np.flatnonzero(~np.isfinite(v))[0])
        raise DataError(f"{name} has a non-finite value ({v[i]}) at index {i}")
    if check_finite and max_abs is not None and v.size and np.abs(v).max() > max_abs:
        i = int(np.argmax(np.abs(v)))
        raise DataError(f"{name} has a value too large in magnitude ({v[i]:g} > {max_abs:g}) "
                        f"at index {i}")
    return v


def as_square(F, name="F"):
    """F as a C-contiguous float64 square matrix with finite entries."""
    F = np.ascontiguousarray(np.asarray(F, dtype=np.float64))
    if F.ndim != 2 or F.shape[0] != F.shape[1] or F.shape[0] < 1:
        raise DataError(f"{name} must be a non-empty square matrix, got shape {F.shape}")
    if not np.isfinite(F).all():
        raise DataError(f"{name} has non-finite entries")
    return F


def check_seed(seed, name="seed"):
    """``seed`` for numpy.random.default_rng: None, an integer >= 0, or numpy's Generator,
    BitGenerator or SeedSequence; TypeError / ValueError naming ``name`` otherwise."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.BitGenerator,
                                         np.random.SeedSequence)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 0 or None, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {seed!r}")
    return int(seed)
