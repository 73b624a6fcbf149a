"""NPZ files with arrays X (n, p), y (n,), optional w (n,), offset (n,), trials (n,) and
feature_names (p,). Values larger in magnitude than ``MAX_ABS`` are rejected as in CSV files."""
import zipfile
import zlib

from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse

from ngd import _sparse
from ngd.messages import default_names, name_list
from ngd.exceptions import DataError
from ngd.io.csv import MAX_ABS
from ngd.io.svmlight import MAX_FEATURES
from ngd.io.dataset import Dataset

OPTIONAL = ("w", "offset", "trials")
UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, MemoryError)
"""What reading a damaged or hostile NPZ archive (or one of its arrays) raises: a corrupt
deflate stream, a bad CRC, a truncated member, a malformed .npy header, an object array
(pickles are never loaded), or a header claiming more memory than there is."""


def read_npz(path, target=None, *, has_target=True):
    """Read ``path`` into a Dataset. ``target`` must be None or 'y' (the array name);
    ``has_target=False`` does not require (nor read) ``y``."""
    if target not in (None, "y"):
        raise DataError(f"{path}: NPZ files hold the target in array 'y'; --target {target!r} "
                        "does not apply")
    try:
        archive = np.load(path, allow_pickle=False)
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file") from None
    except UNREADABLE as exc:
        raise DataError(f"{path}: cannot read NPZ file ({_reason(exc)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an NPZ archive (a single .npy array?)")
    with archive:
        keys = set(archive.files)
        if "format" in keys and "shape" in keys and "X" not in keys:     # scipy.sparse.save_npz
            X, y, extra = _read_sparse(path, archive, keys, has_target)
            sparse = True
        else:
            sparse = False
            required = {"X", "y"} if has_target else {"X"}
            if not required <= keys:
                raise DataError(f"{path}: NPZ file must contain arrays "
                                f"{' and '.join(repr(k) for k in sorted(required))} (found: "
                                f"{', '.join(sorted(keys)) or 'none'})")
            X = load_member(archive, "X", path)
            y = load_member(archive, "y", path) if has_target else None
            extra = {key: load_member(archive, key, path) for key in OPTIONAL if key in keys}
            names = load_member(archive, "feature_names", path) \
                if "feature_names" in keys else None
    if sparse:
        return _dataset(path, X, y, extra, None)
    return _dataset(path, X, y, extra, names)


def _reason(exc):
    """The exception's message on one line, at most 200 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def load_member(archive, key, path=None):
    """archive[key] (an open NpzFile), or DataError naming the array (and ``path`` when
    given) for any of the UNREADABLE failures."""
    try:
        return archive[key]
    except UNREADABLE as exc:
        where = f"{path}: " if path is not None else ""
        if isinstance(exc, MemoryError):
            raise DataError(f"{where}array {key!r} does not fit in memory (or its header "
                            "is damaged)") from None
        raise DataError(f"{where}cannot load arrays ({key!r}: {_reason(exc)})") from None


def _read_sparse(path, archive, keys, has_target=True):
    """(X, y, extra): the matrix of a scipy.sparse.save_npz archive (CSR, CSC, BSR, COO or
    DIA) as CSR and its companion arrays (:func:`_companions`). The arrays are checked by
    ngd._sparse.check_arrays before scipy builds or converts anything (a column index out of
    range would otherwise be written out of bounds; at most MAX_DIM rows), the width is at
    most MAX_FEATURES, indptr ends exactly at the number of stored values, and the companions
    have one entry per claimed row, all before the conversion allocates per row."""
    format = _sparse_format(path, load_member(archive, "format", path))
    missing = [key for key in _sparse.ARRAYS[format] if key not in keys]
    if format == "coo" and missing and "coords" in keys:
        missing = []
    if missing:
        raise DataError(f"{path}: sparse matrix of format {format!r} lacks array(s) "
                        f"{', '.join(map(repr, missing))}")
    shape = load_member(archive, "shape", path)
    arrays = _sparse_arrays(path, archive, format, keys)
    try:
        shape = _sparse.check_arrays(f"{path}: X", format, shape, **arrays)
    except TypeError as exc:
        raise DataError(str(exc)) from None
    if shape[1] > MAX_FEATURES:
        raise DataError(f"{path}: sparse matrix 'X' has {shape[1]} columns, more than "
                        f"{MAX_FEATURES} (each costs memory in every fit): select features")
    if format in ("csr", "csc", "bsr") and int(arrays["indptr"][-1]) != len(arrays["data"]):
        raise DataError(f"{path}: sparse matrix 'X' is damaged: indptr ends at "
                        f"{int(arrays['indptr'][-1])} but it stores {len(arrays['data'])} "
                        "values")
    array = bool(load_member(archive, "_is_array", path)) if "_is_array" in keys else False
    cls = getattr(scipy.sparse, f"{format}_{'array' if array else 'matrix'}")
    parts = (arrays["data"], (arrays["row"], arrays["col"])) if format == "coo" else \
        (arrays["data"], arrays["offsets"]) if format == "dia" else \
        (arrays["data"], arrays["indices"], arrays["indptr"])
    y, extra = _companions(path, shape[0], has_target)
    for key, v in (({"y": y} if y is not None else {}) | extra).items():
        if v.shape[:1] != (shape[0],):
            raise DataError(f"{path}: array {key!r} has shape {v.shape} but sparse matrix 'X' "
                            f"claims {shape[0]} rows")
    try:
        return cls(parts, shape=shape).tocsr(), y, extra
    except MemoryError:
        raise DataError(f"{path}: sparse matrix 'X' of shape {shape} does not fit in memory "
                        "(or its shape is damaged)") from None


def _sparse_format(path, stored):
    """The format name saved by scipy (bytes or str, 0-d), one of ngd._sparse.ARRAYS."""
    value = stored.item() if stored.size == 1 and stored.dtype.kind in "SU" else None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if value not in _sparse.ARRAYS:
        raise DataError(f"{path}: array 'format' must name a sparse format "
                        f"({', '.join(_sparse.ARRAYS)}), got {str(stored)[:40]!r}")
    return value


def _sparse_arrays(path, archive, format, keys):
    """The arrays of ``format`` (COO: row and col, or the (2, nnz) coords of newer scipy)."""
    if format == "coo" and "row" not in keys:
        coords = load_member(archive, "coords", path)
        if coords.ndim != 2 or coords.shape[0] != 2:
            raise DataError(f"{path}: sparse matrix 'X' must have coords of shape (2, nnz), "
                            f"got {coords.shape}")
        return {"data": load_member(archive, "data", path), "row": coords[0], "col": coords[1]}
    return {key: load_member(archive, key, path) for key in _sparse.ARRAYS[format]}


def read_npy(path, target=None, *, has_target=True):
    """X from a .npy file, memory-mapped (read-only, no copy for float32/float64 data), with
    the target and optional arrays in companion files next to it (see ``_companions``)."""
    if target not in (None, "y"):
        raise DataError(f"{path}: the target of a .npy file is the companion array "
                        f"{_companion(path, 'y').name}; --target {target!r} does not apply")
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read .npy file ({exc})") from None
    y, extra = _companions(path, X.shape[0] if X.ndim else 0, has_target)
    return _dataset(path, X, y, extra, None)


def _companion(path, key):
    path = Path(path)
    return path.with_name(f"{path.stem}.{key}.npy")


def _companions(path, n, has_target):
    """(y, {w, offset, trials}) from NAME.y.npy, NAME.w.npy, NAME.offset.npy and
    NAME.trials.npy next to NAME.npz / NAME.npy (y required when has_target), memory-mapped
    read-only as X is."""
    arrays = {}
    for key in ("y",) + OPTIONAL:
        companion = _companion(path, key)
        if not companion.exists():
            continue
        try:
            arrays[key] = np.load(companion, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{companion}: cannot read .npy file ({exc})") from None
    if has_target and "y" not in arrays:
        raise DataError(f"{path}: the target must be in the companion file "
                        f"{_companion(path, 'y').name}, which does not exist")
    y = arrays.pop("y", None) if has_target else None
    return y, arrays


def _above_max(a):
    """|a| > MAX_ABS elementwise (float32 arrays: MAX_ABS casts to inf, which no value
    exceeds, rightly; the cast's overflow warning is not shown)."""
    with np.errstate(over="ignore"):
        return np.abs(a) > MAX_ABS


def _check_dense(path, X, block_rows=16384):
    """Finite values of magnitude <= MAX_ABS, checked one row block at a time (no temporary
    the size of X, which may be memory-mapped)."""
    for start in range(0, X.shape[0], block_rows):
        block = X[start:start + block_rows]
        bad = ~np.isfinite(block)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(f"{path}: array 'X' has a non-finite value at row {start + row}, "
                            f"column {col}")
        big = _above_max(block)
        if big.any():
            row, col = np.argwhere(big)[0]
            raise DataError(f"{path}: array 'X' value {block[row, col]:g} at row {start + row}, "
                            f"column {col} is too large in magnitude (> {MAX_ABS:g}): rescale "
                            "the column")


def _dataset(path, X, y, extra, names):
    """Check X (dense, memory-mapped or sparse), y and the optional arrays; a Dataset."""
    sparse = scipy.sparse.issparse(X)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: array 'X' must be 2-D and non-empty, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: array 'X' must be numeric, got dtype {X.dtype}")
    if y is not None and (y.ndim != 1 or y.shape[0] != X.shape[0]):
        raise DataError(f"{path}: array 'y' must have shape ({X.shape[0]},) to match X, got "
                        f"{y.shape}")
    if y is not None and y.dtype.kind not in "biufUSb":
        raise DataError(f"{path}: array 'y' must hold numbers or strings, got dtype {y.dtype}")
    for key, v in extra.items():
        if v.ndim != 1 or v.shape[0] != X.shape[0] or v.dtype.kind not in "biuf":
            raise DataError(f"{path}: array {key!r} must be numeric with shape ({X.shape[0]},), "
                            f"got {v.shape} {v.dtype}")
        if not np.isfinite(v).all():
            raise DataError(f"{path}: array {key!r} has a non-finite value at index "
                            f"{int(np.flatnonzero(~np.isfinite(v))[0])}")
        if _above_max(v).any():
            raise DataError(f"{path}: array {key!r} has values larger in magnitude than "
                            f"{MAX_ABS:g}: rescale it")
    if "w" in extra and (extra["w"] < 0).any():
        i = int(np.flatnonzero(extra["w"] < 0)[0])
        raise DataError(f"{path}: array 'w' (sample weights) must be >= 0; index {i} is "
                        f"{extra['w'][i]}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if sparse:
        if not np.isfinite(X.data).all():
            raise DataError(f"{path}: sparse matrix 'X' has non-finite stored values")
        if _above_max(X.data).any():
            raise DataError(f"{path}: sparse matrix 'X' has values larger in magnitude than "
                            f"{MAX_ABS:g}: rescale it")
    else:
        _check_dense(path, X)
    if y is not None and y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{path}: array 'y' has a non-finite value at index "
                        f"{int(np.flatnonzero(~np.isfinite(y))[0])}")
    if names is None:
        names = default_names(X.shape[1])
    else:
        if names.shape != (X.shape[1],):
            raise DataError(f"{path}: array 'feature_names' must have shape ({X.shape[1]},) "
                            f"to match X, got {names.shape}")
        names = [str(n) for n in names.tolist()]
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        if duplicates:
            raise DataError(f"{path}: duplicate feature name(s): {name_list(duplicates)}")
    as_float = {key: v.astype(np.float64) for key, v in extra.items()}
    return Dataset(X=X, y=y, feature_names=names, target_name="y" if y is not None else None,
                   sample_weight=as_float.get("w"), offset=as_float.get("offset"),
                   trials=as_float.get("trials"), source=str(path),
                   weights_name="w" if "w" in extra else None,
                   offset_name="offset" if "offset" in extra else None,
                   trials_name="trials" if "trials" in extra else None)
