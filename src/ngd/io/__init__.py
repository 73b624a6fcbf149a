"""Readers that turn data files into checked arrays (no model logic).

``read_data(path, target=None, **options)`` dispatches on the suffix: ``.csv``/``.tsv``/
``.txt`` (header row; see :func:`read_csv` for the options), ``.npz`` (arrays X, y, optional w,
offset, trials, feature_names; or a scipy.sparse.save_npz matrix with companion arrays
NAME.y.npy, NAME.w.npy, NAME.offset.npy, NAME.trials.npy), ``.npy`` (X memory-mapped, same
companions), ``.svm``/``.svmlight``/``.libsvm`` (sparse CSR X), or with pyarrow ``.parquet``/
``.pq`` (a file; a directory is a Parquet dataset) and ``.feather``/``.arrow``/``.ipc`` (Arrow
IPC; see :mod:`ngd.io.arrow`, which takes the CSV column options but the delimiter). Problems
raise :class:`ngd.DataError` with one line naming the file, and the line and column where known.
"""
from pathlib import Path

from ngd.exceptions import DataError
from ngd.io.arrow import (read_arrow_header, read_arrow_table, read_feather,
                          read_parquet)
from ngd.io.atomic import write_files_atomic
from ngd.io.csv import MAX_ABS, MISSING, read_csv, read_header
from ngd.io.dataset import Dataset
from ngd.io.npz import read_npy, read_npz
from ngd.io.svmlight import read_svmlight

READERS = {".csv": read_csv, ".tsv": read_csv, ".txt": read_csv, ".npz": read_npz,
           ".npy": read_npy,
           ".svm": read_svmlight, ".svmlight": read_svmlight, ".libsvm": read_svmlight,
           ".parquet": read_parquet, ".pq": read_parquet, ".feather": read_feather,
           ".arrow": read_feather, ".ipc": read_feather}
CSV_OPTIONS = ("delimiter", "features", "weights", "offset", "trials", "categorical", "dropna",
               "ignore", "cluster")


def read_data(path, target=None, *, has_target=True, **options):
    """Read a CSV, NPZ, svmlight, Parquet or Arrow IPC file (or a Parquet directory) into a
    :class:`Dataset`.

    ``options``: delimiter, features, weights, offset, trials, categorical, dropna, ignore,
    cluster (see :func:`read_csv`) for CSV files; all but the delimiter for Parquet and Arrow
    IPC files. Passing one of them, other than as None/False/empty, for another kind of file
    is a :class:`DataError`.
    """
    path = Path(path)
    reader = read_parquet if path.is_dir() else READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; "
                        f"use one of {', '.join(sorted(READERS))}")
    unknown = sorted(set(options) - set(CSV_OPTIONS))
    if unknown:
        raise TypeError(f"read_data() got unexpected option(s): {', '.join(unknown)}")
    if reader in (read_parquet, read_feather):
        if options.pop("delimiter", None) is not None:
            raise DataError(f"{path}: the delimiter applies to CSV files only")
        return reader(path, target=target, has_target=has_target, **options)
    if reader is not read_csv:
        given = [key for key, value in options.items() if value not in (None, False, (), [])]
        if given:
            raise DataError(f"{path}: option(s) {', '.join(given)} apply to CSV files only")
        return reader(path, target=target, has_target=has_target)
    return read_csv(path, target=target, has_target=has_target, **options)


__all__ = ["write_files_atomic", "Dataset", "read_data", "read_csv", "read_header", "read_npy", "read_npz", "read_svmlight",
           "read_parquet", "read_feather", "read_arrow_header", "read_arrow_table",
           "MAX_ABS", "MISSING", "READERS"]
