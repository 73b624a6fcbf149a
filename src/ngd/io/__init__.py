"""Readers that turn data files into checked arrays (no model logic).

``read_data(path, target=None, **options)`` dispatches on the suffix: ``.csv``/``.tsv``/
``.txt`` (header row; see :func:`read_csv` for the options), ``.npz`` (arrays X, y, optional w,
offset, trials, feature_names; or a scipy.sparse.save_npz matrix with companion arrays
NAME.y.npy, NAME.w.npy, NAME.offset.npy, NAME.trials.npy), ``.npy`` (X memory-mapped, same
companions) or ``.svm``/``.svmlight``/``.libsvm`` (sparse CSR X). Problems
raise :class:`ngd.DataError` with one line naming the file, and the line and column where known.
"""
from pathlib import Path

from ngd.exceptions import DataError
from ngd.io.atomic import write_files_atomic
from ngd.io.csv import MAX_ABS, MISSING, read_csv, read_header
from ngd.io.dataset import Dataset
from ngd.io.npz import read_npy, read_npz
from ngd.io.svmlight import read_svmlight

READERS = {".csv": read_csv, ".tsv": read_csv, ".txt": read_csv, ".npz": read_npz,
           ".npy": read_npy,
           ".svm": read_svmlight, ".svmlight": read_svmlight, ".libsvm": read_svmlight}
CSV_OPTIONS = ("delimiter", "features", "weights", "offset", "trials", "categorical", "dropna",
               "ignore", "cluster")


def read_data(path, target=None, *, has_target=True, **options):
    """Read a CSV, NPZ or svmlight file into a :class:`Dataset`.

    ``options`` (CSV only): delimiter, features, weights, offset, trials, categorical, dropna,
    ignore, cluster (see :func:`read_csv`). Passing one of them, other than as
    None/False/empty, for another kind of file is a :class:`DataError`.
    """
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; "
                        f"use one of {', '.join(sorted(READERS))}")
    unknown = sorted(set(options) - set(CSV_OPTIONS))
    if unknown:
        raise TypeError(f"read_data() got unexpected option(s): {', '.join(unknown)}")
    if reader is not read_csv:
        given = [key for key, value in options.items() if value not in (None, False, (), [])]
        if given:
            raise DataError(f"{path}: option(s) {', '.join(given)} apply to CSV files only")
        return reader(path, target=target, has_target=has_target)
    return read_csv(path, target=target, has_target=has_target, **options)


__all__ = ["write_files_atomic", "Dataset", "read_data", "read_csv", "read_header", "read_npy", "read_npz", "read_svmlight",
           "MAX_ABS", "MISSING", "READERS"]
