"""CSV with a header row: numeric feature columns, a target column (the last, or named).

The target may hold any two labels (numbers or strings); features must be numeric and finite.
Fast path: numpy.loadtxt on the whole file; on failure a row-by-row scan names the first bad
cell by line number and column name.
"""
import csv as _csv
import warnings

import numpy as np

from ngd.exceptions import DataError
from ngd.io.dataset import Dataset

DELIMITERS = ",;\t|"


def read_csv(path, target=None, delimiter=None):
    """Read ``path`` into a Dataset; the target is column ``target`` or the last column."""
    header, delimiter = _read_header(path, delimiter)
    names = [name.strip() for name in header]
    if len(names) < 2:
        raise DataError(f"{path}: need a target and at least one feature column, found "
                        f"{len(names)} column(s) in the header")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s) in the header: {', '.join(duplicates)}")
    if target is None:
        t = len(names) - 1
    elif target in names:
        t = names.index(target)
    else:
        raise DataError(f"{path}: no column named {target!r}; columns are: {', '.join(names)}")
    features = [j for j in range(len(names)) if j != t]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)      # "empty input file"
            table = np.loadtxt(path, delimiter=delimiter, skiprows=1, dtype=np.float64,
                               ndmin=2, encoding="utf-8", comments=None)
        if table.size == 0:
            raise DataError(f"{path}: no data rows after the header")
        if table.shape[1] != len(names):
            raise ValueError("header and rows differ in width")
        y = table[:, t]
        X = np.ascontiguousarray(table[:, features])
    except ValueError:
        X, y = _scan(path, delimiter, names, t, features)
    if X.shape[0] == 0:
        raise DataError(f"{path}: no data rows after the header")
    _check_finite(path, X, y, names, features, t)
    return Dataset(X=X, y=y, feature_names=[names[j] for j in features], target_name=names[t],
                   source=str(path))


def _read_header(path, delimiter):
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            first = handle.readline()
            sample = first + handle.read(65536)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror})") from None
    if not first.strip():
        raise DataError(f"{path}: file is empty" if not sample.strip()
                        else f"{path}: the first line (header) is empty")
    if delimiter is None:
        try:
            delimiter = _csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except _csv.Error:
            delimiter = ","
    return next(_csv.reader([first], delimiter=delimiter)), delimiter


def _scan(path, delimiter, names, t, features):
    """Slow path: parse row by row, name the first bad cell; string targets are allowed."""
    rows, labels = [], []
    numeric_target = True
    with open(path, newline="", encoding="utf-8") as handle:
        reader = _csv.reader(handle, delimiter=delimiter)
        next(reader)
        for cells in reader:
            line = reader.line_num
            if not cells or all(not cell.strip() for cell in cells):
                continue
            if len(cells) != len(names):
                raise DataError(f"{path}: line {line}: expected {len(names)} fields, "
                                f"found {len(cells)}")
            row = []
            for j in features:
                row.append(_parse(path, line, names[j], cells[j]))
            rows.append(row)
            label = cells[t].strip()
            if not label:
                raise DataError(f"{path}: line {line}, column {names[t]!r}: missing value")
            labels.append(label)
            if numeric_target:
                try:
                    float(label)
                except ValueError:
                    numeric_target = False
    X = np.array(rows, dtype=np.float64).reshape(len(rows), len(features))
    y = np.array(labels, dtype=np.float64 if numeric_target else object)
    return X, y


def _parse(path, line, name, cell):
    text = cell.strip()
    if not text:
        raise DataError(f"{path}: line {line}, column {name!r}: missing value")
    try:
        return float(text)
    except ValueError:
        raise DataError(f"{path}: line {line}, column {name!r}: non-numeric value {text!r}"
                        ) from None


def _check_finite(path, X, y, names, features, t):
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{path}: line {row + 2}, column {names[features[col]]!r}: "
                        f"non-finite value {X[row, col]}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        row = int(np.flatnonzero(~np.isfinite(y))[0])
        raise DataError(f"{path}: line {row + 2}, column {names[t]!r}: non-finite value "
                        f"{y[row]}")
