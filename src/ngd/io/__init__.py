"""Readers that turn data files into checked arrays (no model logic).

``read_data(path, target=None)`` dispatches on the suffix: ``.csv``/``.txt``/``.tsv`` (header
row) or ``.npz`` (arrays X, y, optional w). Problems raise :class:`ngd.DataError` with one
line naming the file, and the line and column where known.
"""
from pathlib import Path

from ngd.exceptions import DataError
from ngd.io.csv import read_csv
from ngd.io.dataset import Dataset
from ngd.io.npz import read_npz

READERS = {".csv": read_csv, ".tsv": read_csv, ".txt": read_csv, ".npz": read_npz}


def read_data(path, target=None):
    """Read a CSV or NPZ file into a :class:`Dataset`."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; "
                        f"use one of {', '.join(sorted(READERS))}")
    return reader(path, target=target)


__all__ = ["Dataset", "read_data", "read_csv", "read_npz"]
