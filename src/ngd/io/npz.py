"""NPZ files with arrays X (n, p), y (n,), optional w (n,) and feature_names (p,)."""
import zipfile

import numpy as np

from ngd.exceptions import DataError
from ngd.io.dataset import Dataset


def read_npz(path, target=None):
    """Read ``path`` into a Dataset. ``target`` must be None or 'y' (the array name)."""
    if target not in (None, "y"):
        raise DataError(f"{path}: NPZ files hold the target in array 'y'; --target {target!r} "
                        "does not apply")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: cannot read NPZ file ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: not an NPZ archive (a single .npy array?)")
    with archive:
        keys = set(archive.files)
        if not {"X", "y"} <= keys:
            raise DataError(f"{path}: NPZ file must contain arrays 'X' and 'y' (found: "
                            f"{', '.join(sorted(keys)) or 'none'})")
        try:
            X, y = archive["X"], archive["y"]
            w = archive["w"] if "w" in keys else None
            names = archive["feature_names"] if "feature_names" in keys else None
        except ValueError as exc:  # object arrays need pickle
            raise DataError(f"{path}: cannot load arrays ({exc})") from None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DataError(f"{path}: array 'X' must be 2-D and non-empty, got shape {X.shape}")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{path}: array 'X' must be numeric, got dtype {X.dtype}")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise DataError(f"{path}: array 'y' must have shape ({X.shape[0]},) to match X, got "
                        f"{y.shape}")
    if w is not None and (w.ndim != 1 or w.shape[0] != X.shape[0] or w.dtype.kind not in "biuf"):
        raise DataError(f"{path}: array 'w' must be numeric with shape ({X.shape[0]},), got "
                        f"{w.shape} {w.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"{path}: array 'X' has a non-finite value at row {row}, column {col}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise DataError(f"{path}: array 'y' has a non-finite value at index "
                        f"{int(np.flatnonzero(~np.isfinite(y))[0])}")
    if w is not None and not np.isfinite(w).all():
        raise DataError(f"{path}: array 'w' has non-finite values")
    if names is None or names.shape != (X.shape[1],):
        names = [f"x{j}" for j in range(X.shape[1])]
    return Dataset(X=X, y=y, feature_names=[str(n) for n in names], target_name="y",
                   sample_weight=None if w is None else w.astype(np.float64), source=str(path))
