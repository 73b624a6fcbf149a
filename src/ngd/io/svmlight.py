"""svmlight / libsvm text files -> a :class:`Dataset` whose X is a scipy.sparse CSR matrix.

One sample per line: ``<label> <index>:<value> <index>:<value> ... [# comment]``; ``qid:<n>``
pairs are ignored; blank and comment-only lines are skipped. Indices are one-based unless a 0
appears in the file (``zero_based="auto"``, as scikit-learn's ``load_svmlight_file``); features
are named ``f<index>`` with the index as written in the file. Values must be finite and at
most ``MAX_ABS`` in magnitude; an index may appear only once per line.

Width: an index (or ``n_features``) above ``MAX_FEATURES`` (2**26, about 67 million) is
refused at the line that holds it, before anything of that width is allocated: each feature
costs a name (~60 bytes) and the solvers' per-feature vectors (coefficients, gradient,
scales: ~40 bytes), about 6.7 GB at the limit, and scipy's int32 column indices stop at
2**31 anyway. Wide sparse problems below it (e.g. 10**6 hashed features) are read.

ngd's solvers take dense arrays today; the command line densifies small svmlight files (see
README) and refuses large ones.
"""
import numpy as np
import scipy.sparse

from ngd.exceptions import DataError
from ngd.io.csv import MAX_ABS
from ngd.io.dataset import Dataset

MAX_FEATURES = 1 << 26


def read_svmlight(path, target=None, *, n_features=None, zero_based="auto", has_target=True):
    """Read ``path`` into a Dataset with a CSR ``X`` (float64) and float labels ``y``.

    n_features: number of columns (default: the largest index in the file); zero_based:
    True, False or "auto". ``has_target`` is accepted for symmetry with the other readers:
    svmlight lines always start with a label, which is returned either way.
    """
    if target not in (None, "y"):
        raise DataError(f"{path}: svmlight files hold the target as the first field of each "
                        f"line; --target {target!r} does not apply")
    if zero_based not in (True, False, "auto"):
        raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}")
    if n_features is not None and not 0 < int(n_features) <= MAX_FEATURES:
        raise ValueError(f"n_features must be between 1 and {MAX_FEATURES}, got {n_features}")
    labels, indptr, indices, values = [], [0], [], []
    try:
        with open(path, encoding="utf-8") as handle:
            for line_no, raw in enumerate(handle, 1):
                text = raw.split("#", 1)[0].strip()
                if not text:
                    continue
                fields = text.split()
                labels.append(_number(path, line_no, "label", fields[0]))
                row = {}
                for token in fields[1:]:
                    key, sep, val = token.partition(":")
                    if not sep or not key or not val:
                        raise DataError(f"{path}: line {line_no}: expected index:value, found "
                                        f"{token!r}")
                    if key == "qid":
                        continue
                    try:
                        index = int(key)
                    except ValueError:
                        raise DataError(f"{path}: line {line_no}: feature index {key!r} is not "
                                        "an integer") from None
                    if index < 0:
                        raise DataError(f"{path}: line {line_no}: negative feature index "
                                        f"{index}")
                    if index >= MAX_FEATURES:
                        raise DataError(f"{path}: line {line_no}: feature index {index} is "
                                        f"beyond the largest width read ({MAX_FEATURES} "
                                        "features)")
                    if index in row:
                        raise DataError(f"{path}: line {line_no}: feature index {index} appears "
                                        "twice")
                    row[index] = _number(path, line_no, f"feature {index}", val)
                for index in sorted(row):
                    indices.append(index)
                    values.append(row[index])
                indptr.append(len(indices))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if not labels:
        raise DataError(f"{path}: no data lines")
    indices = np.asarray(indices, dtype=np.int64)
    smallest = int(indices.min()) if indices.size else 1
    base = 0 if zero_based is True or (zero_based == "auto" and smallest == 0) else 1
    if base == 1 and smallest == 0:
        raise DataError(f"{path}: feature index 0 in a one-based file")
    columns = indices - base
    width = int(columns.max()) + 1 if columns.size else 0
    if n_features is not None:
        if columns.size and width > n_features:
            raise DataError(f"{path}: feature index {int(indices.max())} is beyond "
                            f"n_features={n_features}")
        width = int(n_features)
    if width == 0:
        raise DataError(f"{path}: no features (every line holds only a label)")
    X = scipy.sparse.csr_matrix((np.asarray(values, dtype=np.float64), columns,
                                 np.asarray(indptr, dtype=np.int64)),
                                shape=(len(labels), width))
    names = [f"f{j + base}" for j in range(width)]
    return Dataset(X=X, y=np.asarray(labels, dtype=np.float64), feature_names=names,
                   target_name="y", source=str(path))


def _number(path, line_no, what, text):
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}: line {line_no}: {what}: non-numeric value {text!r}") from None
    if not np.isfinite(value):
        raise DataError(f"{path}: line {line_no}: {what}: non-finite value {text!r}")
    if abs(value) > MAX_ABS:
        raise DataError(f"{path}: line {line_no}: {what}: value {text!r} is too large in "
                        f"magnitude (> {MAX_ABS:g})")
    return value
