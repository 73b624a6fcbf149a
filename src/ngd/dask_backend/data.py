"""Data for ``ngd fit DATA --backend dask``: .npy files whose chunks the workers read
themselves, CSV through dask.dataframe, other formats sent from the client."""
import os

import numpy as np

from ngd.dask_backend.model import _as_dask_matrix, _dense, _row_chunks
from ngd.exceptions import DataError
from ngd.messages import default_names


def _read_rows(path, start, stop, version=None):
    """Rows [start, stop) of a .npy file, read by the worker that runs the task (``version``,
    the file's modification time, only keys the task)."""
    return np.array(np.load(path, mmap_mode="r", allow_pickle=False)[start:stop])


def _npy_array(path, bounds):
    """A dask array of the .npy file ``path`` in row chunks [bounds[i], bounds[i+1])."""
    import dask
    import dask.array as da
    head = np.load(path, mmap_mode="r", allow_pickle=False)
    if not head.shape or head.shape[0] != bounds[-1]:
        raise DataError(f"{path}: expected {bounds[-1]} rows, got shape {head.shape}")
    shape, dtype = head.shape, head.dtype
    del head
    version = os.path.getmtime(path)
    read = dask.delayed(_read_rows, pure=True)
    return da.concatenate([da.from_delayed(read(path, a, b, version),
                                           shape=(b - a,) + shape[1:], dtype=dtype)
                           for a, b in zip(bounds[:-1], bounds[1:])], axis=0)


def npy_dataset(path, chunk_rows=None):
    """A :class:`ngd.io.Dataset` whose X (NAME.npy) and companions NAME.y.npy, NAME.w.npy,
    NAME.offset.npy, NAME.trials.npy are dask arrays read chunk by chunk BY THE WORKERS
    (the path must be on storage every worker can reach; nothing is read on the client but
    the headers)."""
    from ngd.io import Dataset
    from ngd.io.npz import _companion
    try:
        head = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read .npy file ({exc})") from None
    if head.ndim != 2 or head.shape[0] == 0 or head.shape[1] == 0:
        raise DataError(f"{path}: array 'X' must be 2-D and non-empty, got shape {head.shape}")
    n, p = head.shape
    rows = _row_chunks(n, p, chunk_rows)
    bounds = list(range(0, n, rows)) + [n]
    arrays = {}
    for key in ("y", "w", "offset", "trials"):
        companion = _companion(path, key)
        if companion.exists():
            arrays[key] = _npy_array(str(companion), bounds)
    if "y" not in arrays:
        raise DataError(f"{path}: the target must be in the companion file "
                        f"{_companion(path, 'y').name}, which does not exist")
    return Dataset(X=_npy_array(str(path), bounds), y=arrays["y"],
                   feature_names=default_names(p), target_name="y",
                   source=str(path), sample_weight=arrays.get("w"),
                   offset=arrays.get("offset"), trials=arrays.get("trials"),
                   weights_name="w" if "w" in arrays else None,
                   offset_name="offset" if "offset" in arrays else None,
                   trials_name="trials" if "trials" in arrays else None)


def csv_dataset(path, target=None, delimiter=None, features=None, weights=None, offset=None,
                trials=None, blocksize="64MB"):
    """A :class:`ngd.io.Dataset` of dask arrays from ``dask.dataframe.read_csv`` (the workers
    parse their byte ranges; the client reads the header only). Columns are chosen as by
    ``ngd fit`` (target: the last column by default; features: the other columns)."""
    import dask.dataframe as dd
    from ngd.io import Dataset
    from ngd.io.csv import _Roles, read_header
    names, delimiter = read_header(path, delimiter)
    roles = _Roles(str(path), names, target, features, weights, offset, trials, None,
                   has_target=True, ignore=())
    frame = dd.read_csv(str(path), sep=delimiter, blocksize=blocksize,
                        usecols=[names[j] for j in roles.used])
    feature_names = [names[j] for j in roles.features]
    X = frame[feature_names].to_dask_array(lengths=True)
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: the feature columns must be numeric for --backend dask "
                        "(categorical columns: use the in-memory backend)")

    def column(j):
        return None if j is None else frame[names[j]].to_dask_array(lengths=X.chunks[0])
    return Dataset(X=X, y=column(roles.target), feature_names=feature_names,
                   target_name=names[roles.target], source=str(path),
                   sample_weight=column(roles.extra.get("weights")),
                   offset=column(roles.extra.get("offset")),
                   trials=column(roles.extra.get("trials")),
                   weights_name=weights, offset_name=offset, trials_name=trials)


def file_dataset(path, target=None, delimiter=None, features=None, weights=None, offset=None,
                 trials=None, categorical=None, dropna=False):
    """The dask Dataset of a .npy file (:func:`npy_dataset`) or a CSV file
    (:func:`csv_dataset`) that the workers read themselves, or None where the in-memory
    reader must be used (other formats, categorical columns, --dropna)."""
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix == ".npy" and target in (None, "y") and \
            not any((features, weights, offset, trials, categorical, dropna, delimiter)):
        return npy_dataset(path)
    if suffix in (".csv", ".tsv", ".txt") and not (categorical or dropna):
        return csv_dataset(path, target, delimiter, features, weights, offset, trials)
    return None


def as_dask_dataset(dataset, chunk_rows=None):
    """The dataset with X (and y, w, offset, trials) as row-chunked dask arrays (in-memory
    data read on the client: they are sent to the workers and persisted there)."""
    import dask.array as da
    if isinstance(dataset.X, da.Array):
        return dataset
    X = np.asarray(_dense(dataset.X))     # a Dataset built by hand may hold sparse X
    dataset.X = _as_dask_matrix(X, chunk_rows)
    return dataset
