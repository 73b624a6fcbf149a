"""NPZ files with arrays X (n, p), y (n,), optional w (n,), offset (n,), trials (n,) and
feature_names (p,). Values larger in magnitude than ``MAX_ABS`` are rejected as in CSV files."""
import zipfile

import numpy as np

from ngd.exceptions import DataError
from ngd.io.csv import MAX_ABS
from ngd.io.dataset import Dataset

OPTIONAL = ("w", "offset", "trials")


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
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read NPZ file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an NPZ archive (a single .npy array?)")
    with archive:
        keys = set(archive.files)
        required = {"X", "y"} if has_target else {"X"}
        if not required <= keys:
            raise DataError(f"{path}: NPZ file must contain arrays "
                            f"{' and '.join(repr(k) for k in sorted(required))} (found: "
                            f"{', '.join(sorted(keys)) or 'none'})")
        try:
            X = archive["X"]
            y = archive["y"] if has_target else None
            extra = {key: archive[key] for key in OPTIONAL if key in keys}
            names = archive["feature_names"] if "feature_names" in keys else None
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise DataError(f"{path}: cannot load arrays ({exc})") from None
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
        if (np.abs(v) > MAX_ABS).any():
            raise DataError(f"{path}: array {key!r} has values larger in magnitude than "
                            f"{MAX_ABS:g}: rescale it")
    if "w" in extra and (extra["w"] < 0).any():
        i = int(np.flatnonzero(extra["w"] < 0)[0])
        raise DataError(f"{path}: array 'w' (sample weights) must be >= 0; index {i} is "
                        f"{extra['w'][i]}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{path}: array 'X' has a non-finite value at row {row}, column {col}")
    big = np.abs(X) > MAX_ABS
    if big.any():
        row, col = np.argwhere(big)[0]
        raise DataError(f"{path}: array 'X' value {X[row, col]:g} at row {row}, column {col} is "
                        f"too large in magnitude (> {MAX_ABS:g}): rescale the column")
    if y is not None and y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{path}: array 'y' has a non-finite value at index "
                        f"{int(np.flatnonzero(~np.isfinite(y))[0])}")
    if names is None:
        names = [f"x{j}" for j in range(X.shape[1])]
    else:
        if names.shape != (X.shape[1],):
            raise DataError(f"{path}: array 'feature_names' must have shape ({X.shape[1]},) "
                            f"to match X, got {names.shape}")
        names = [str(n) for n in names.tolist()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(f"{path}: duplicate feature name(s): {', '.join(duplicates)}")
    as_float = {key: v.astype(np.float64) for key, v in extra.items()}
    return Dataset(X=X, y=y, feature_names=names, target_name="y" if has_target else None,
                   sample_weight=as_float.get("w"), offset=as_float.get("offset"),
                   trials=as_float.get("trials"), source=str(path),
                   weights_name="w" if "w" in extra else None,
                   offset_name="offset" if "offset" in extra else None,
                   trials_name="trials" if "trials" in extra else None)
