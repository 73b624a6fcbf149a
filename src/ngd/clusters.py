"""Cluster labels for clustered standard errors: validation and group codes.

``cluster=`` of :func:`ngd.fit` is one label array (one-way clustering) or two (two-way):
a 1-D array of labels of any kind, an (n, 2) array, or a list/tuple of one or two 1-D
arrays.
Labels are compared by value (numbers, strings); missing labels (None, NaN) are an error.
"""
import numpy as np

from ngd.exceptions import DataError


def cluster_codes(cluster, n, name="cluster"):
    """A tuple of one or two int64 code arrays (codes 0..G-1 per dimension) for ``cluster``
    on n rows; raises TypeError / DataError naming ``name``."""
    columns = _columns(cluster, n, name)
    codes = []
    for k, column in enumerate(columns):
        label = name if len(columns) == 1 else f"{name} (dimension {k})"
        code = _codes(column, label)
        if code.max(initial=-1) < 1:
            raise DataError(f"{label} has a single group; clustered standard errors need at "
                            "least 2 clusters")
        codes.append(code)
    return tuple(codes)


def intersection_codes(first, second):
    """Codes of the clusters formed by the pairs (first_i, second_i)."""
    pairs = first * (int(second.max()) + 1) + second
    return np.unique(pairs, return_inverse=True)[1].astype(np.int64)


def group_sums(values, codes):
    """(G, k) sums of the rows of ``values`` (n, k) by code (G = codes.max() + 1)."""
    n_groups = int(codes.max()) + 1
    out = np.zeros((n_groups, values.shape[1]))
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    out[sorted_codes[starts]] = np.add.reduceat(values[order], starts, axis=0)
    return out


def _columns(cluster, n, name):
    """The one or two label columns of ``cluster``, each a 1-D array of length n."""
    if cluster is None:
        raise TypeError(f"{name} must be an array of cluster labels, got None")
    if isinstance(cluster, (list, tuple)) and len(cluster) in (1, 2) \
            and all(np.ndim(part) == 1 for part in cluster):
        columns = [np.asarray(part) for part in cluster]
    else:
        array = np.asarray(cluster)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim == 1:
            columns = [array]
        elif array.ndim == 2 and array.shape[1] == 2:
            columns = [array[:, 0], array[:, 1]]
        else:
            raise DataError(f"{name} must be one label array of shape ({n},) or two (an "
                            f"({n}, 2) array or a pair of arrays), got shape {array.shape}")
    for column in columns:
        if column.shape != (n,):
            raise DataError(f"{name} must have {n} labels (one per row of X), got shape "
                            f"{column.shape}")
    return columns


def _codes(column, label):
    """Codes 0..G-1 of the distinct labels of ``column``; missing labels are an error."""
    kind = column.dtype.kind
    if kind == "f":
        missing = ~np.isfinite(column)
    elif kind == "O":
        missing = np.array([value is None or (isinstance(value, float) and value != value)
                            or _is_pandas_missing(value) for value in column.tolist()])
    elif kind in "Mm":
        missing = np.isnat(column)
    elif kind in "biuUS":
        missing = np.zeros(column.shape, dtype=bool)
    else:
        raise TypeError(f"{label} must hold labels (numbers or strings), got dtype "
                        f"{column.dtype}")
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(f"{label} has a missing label at row {i}")
    try:
        return np.unique(column, return_inverse=True)[1].astype(np.int64).reshape(-1)
    except TypeError:
        raise TypeError(f"{label} mixes labels that cannot be compared (e.g. numbers and "
                        "strings)") from None


def _is_pandas_missing(value):
    """True for pandas' NA / NaT scalars (pandas stays optional: checked by type name)."""
    return type(value).__name__ in ("NAType", "NaTType")
