"""A CSV converted once to binary files that later runs memory-map (for data larger than RAM).

``read_csv_cached(path, ...)`` takes the options of :func:`ngd.io.read_csv` plus ``dtype``
and returns a :class:`Dataset` whose X is a read-only memory map of ``X.npy`` in the cache
folder. The conversion streams the CSV in chunks of ``CHUNK_ROWS`` lines (the cell parsing and
checks of ``ngd.io.csv``), appending each chunk's rows to ``X.npy``: it never holds the whole
of X. The per-row arrays (y, weights, offset, trials) are kept in memory and saved as ``.npy``.

Where: the folder ``NAME.ngdcache`` next to the CSV ``NAME`` (e.g. ``data.csv.ngdcache/``);
when that cannot be created or written, ``$XDG_CACHE_HOME/ngd`` (default ``~/.cache/ngd``),
in a folder named after the CSV and a hash of its absolute path. A valid cache is read from
either place even when the folder is read-only.

Validity: ``manifest.json`` records the CSV's size and mtime_ns, a hash of its header line and
the reading options (target, features, roles, delimiter, dropna, dtype), each file's size and
SHA-256 (X.npy: of its header and of its data; the others whole), and a SHA-256 of itself. It
is written last, after every array, and removed first when a rebuild starts, so an
interrupted build is never used. A cache is reused only when the manifest is intact, the
CSV's size, mtime_ns and header and the options match, every file is a regular file (not a
symlink) of its recorded size and hash (X is hashed in blocks, one read of the file), and the
loaded arrays have exactly the recorded shape and dtype, native byte order, C order; any
other cache (damaged, edited, truncated, missing files) is silently rebuilt from the CSV,
never used. The CSV's content below the header is not hashed: a CSV edited in place that
keeps its size and mtime_ns (e.g. ``touch -d`` after an edit) is not noticed; delete the
folder then. Categorical columns are not
supported (their one-hot width is known only at the end of the file).
"""
import hashlib
import itertools
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np

from ngd.exceptions import DataError
from ngd.io.atomic import _umask, write_files_atomic
from ngd.io.csv import (CHUNK_ROWS, _check_names, _convert, _loadtxt_chunk, _read_header,
                        _Roles, _split_rows)
from ngd.io.dataset import Dataset

FORMAT = "ngd.csvcache/1"
MANIFEST = "manifest.json"
EXTRAS = ("weights", "offset", "trials")
_BLOCK = 16 << 20                      # bytes read at a time when hashing X


def cache_folders(path):
    """The folders tried for the cache of ``path``, in order: next to it, then the user's."""
    path = Path(path)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ngd"
    tag = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    return [path.with_name(path.name + ".ngdcache"), base / f"{path.name}-{tag}.ngdcache"]


def read_csv_cached(path, target=None, *, dtype="float64", delimiter=None, features=None,
                    weights=None, offset=None, trials=None, categorical=None, dropna=False):
    """The Dataset of ``path`` from its cache, converting the CSV first when the cache is
    missing, stale or damaged (see the module docstring). ``dtype``: float64 or float32."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if categorical:
        raise DataError(f"{path}: the CSV cache does not support categorical columns; read "
                        "the file without the cache")
    options = dict(target=target, delimiter=delimiter, features=features, weights=weights,
                   offset=offset, trials=trials, dropna=bool(dropna), dtype=dtype.name)
    stamp = _stamp(path, options)
    folders = cache_folders(path)
    for folder in folders:
        manifest = _valid_manifest(folder, stamp)
        if manifest is not None:
            try:
                return _load(path, folder, manifest)
            except Exception:               # damaged after all (any parse error): rebuilt
                pass
    failures = []
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            manifest = _build(path, folder, stamp, options)
        except OSError as exc:              # not writable (permissions, read-only disk, full)
            failures.append(f"{folder} ({exc.strerror or exc})")
            continue
        return _load(path, folder, manifest)
    raise DataError(f"{path}: cannot write the CSV cache in {' nor in '.join(failures)}")


def _stamp(path, options):
    """What the cache must match: the CSV's size, mtime_ns, header line and the options."""
    try:
        info = os.stat(path)
        with open(path, "rb") as handle:
            header = handle.readline()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    key = hashlib.sha256(header + json.dumps(options, sort_keys=True).encode()).hexdigest()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "key": key}


def _digest(path, start=0, stop=None):
    """SHA-256 of the bytes [start, stop) of a file (stop None: to the end), read in
    blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(start)
        left = float("inf") if stop is None else stop - start
        while left > 0 and (block := handle.read(int(min(_BLOCK, left)))):
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def _data_offset(path):
    """Byte offset of the data in a .npy file (after its header)."""
    with open(path, "rb") as handle:
        if np.lib.format.read_magic(handle) != (1, 0):
            raise ValueError(f"{path}: not a version 1.0 .npy file")
        np.lib.format.read_array_header_1_0(handle)
        return handle.tell()


def _valid_manifest(folder, stamp):
    """The manifest of the cache in ``folder`` when it is intact (its own hash), matches
    ``stamp`` and every file is a regular file (no symlink) of its recorded size and hash,
    header included; None otherwise."""
    try:
        if not stat.S_ISREG(os.lstat(folder / MANIFEST).st_mode):
            return None
        manifest = json.loads((folder / MANIFEST).read_text())
        if manifest.get("format") != FORMAT or manifest.get("csv") != stamp or \
                manifest.get("sha256") != _manifest_digest(manifest):
            return None
        files = manifest["files"]
        if "X.npy" not in files or "y.npy" not in files:
            return None
        for name, record in files.items():
            file = folder / name
            if not stat.S_ISREG(os.lstat(file).st_mode) or file.stat().st_size != record["bytes"]:
                return None
            if name == "X.npy":
                start = _data_offset(file)
                if _digest(file, 0, start) != record["header_sha256"]:
                    return None
            else:
                start = 0
            if _digest(file, start) != record["sha256"]:
                return None
    except Exception:           # numpy's header parser raises SyntaxError, TokenError, ...
        return None
    return manifest


def _manifest_digest(manifest):
    """SHA-256 of the manifest's canonical JSON without its own ``sha256`` field."""
    body = {key: value for key, value in manifest.items() if key != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _build(path, folder, stamp, options):
    """Convert the CSV into ``folder``; returns the manifest (written last)."""
    _remove(folder / MANIFEST)
    for old in folder.glob("*.npy"):
        _remove(old)
    header, delimiter = _read_header(str(path), options["delimiter"])
    names = _check_names(str(path), header)
    roles = _Roles(str(path), names, options["target"], options["features"],
                   options["weights"], options["offset"], options["trials"], None, True, ())
    writer = _NpyWriter(folder, len(roles.numeric), options["dtype"])
    try:
        columns = _stream(str(path), delimiter, names, roles, options["dropna"], writer)
        if columns is None:                # text labels after numeric ones: read carefully
            writer.restart()
            roles.force_careful = True
            columns = _stream(str(path), delimiter, names, roles, options["dropna"], writer)
        digest = writer.finish(folder / "X.npy")
    finally:
        writer.discard()
    if _stamp(path, options) != stamp:
        raise DataError(f"{path}: the file changed while it was converted; run again")
    x_file = folder / "X.npy"
    files = {"X.npy": {"bytes": x_file.stat().st_size, "sha256": digest,
                       "header_sha256": _digest(x_file, 0, _data_offset(x_file))}}
    outputs = []
    for key in ("y",) + EXTRAS:
        if columns.get(key) is not None:
            content = _npy_bytes(columns[key])
            files[f"{key}.npy"] = {"bytes": len(content),
                                   "sha256": hashlib.sha256(content).hexdigest()}
            outputs.append((folder / f"{key}.npy", content))
    manifest = {"format": FORMAT, "csv": stamp, "files": files,
                "shape": [writer.n, len(roles.numeric)], "dtype": options["dtype"],
                "y_text": columns["y"].dtype.kind == "U",
                "dataset": {"feature_names": [names[j] for j in roles.features],
                            "target_name": names[roles.target],
                            "weights_name": _name(names, roles, "weights"),
                            "offset_name": _name(names, roles, "offset"),
                            "trials_name": _name(names, roles, "trials"),
                            "n_dropped": columns["n_dropped"],
                            "dropped_lines": columns["dropped_lines"]}}
    manifest["sha256"] = _manifest_digest(manifest)
    outputs.append((folder / MANIFEST, json.dumps(manifest, indent=1)))
    write_files_atomic(outputs)
    return manifest


def _remove(path):
    """Remove a cache entry: a file or symlink, or a directory found in a file's place."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _name(names, roles, what):
    return names[roles.extra[what]] if what in roles.extra else None


def _npy_bytes(array):
    with tempfile.SpooledTemporaryFile() as buffer:
        np.save(buffer, array, allow_pickle=False)
        buffer.seek(0)
        return buffer.read()


def _stream(path, delimiter, names, roles, dropna, writer):
    """One pass over the CSV: each chunk's feature rows appended to ``writer``; returns the
    per-row columns (y, weights, offset, trials) and the dropped-row counts, or None when the
    target turned out to hold text after chunks parsed as numbers (read again carefully)."""
    parts = {key: [] for key in ("y", "y_text") + EXTRAS}
    n_dropped, dropped_lines = 0, []
    for chunk, dropped in _chunks(path, delimiter, names, roles, dropna):
        n_dropped += dropped.size
        dropped_lines.extend(dropped[:10 - len(dropped_lines)].tolist())
        if chunk is None or not chunk.lines.size:
            continue
        rows = chunk.numeric
        writer.add(rows if chunk.numeric_columns is None else rows[:, chunk.numeric_columns])
        parts["y"].append(chunk.target)
        parts["y_text"].append(chunk.target_text)
        for what in roles.extra:
            parts[what].append(chunk.extra[what])
    if writer.n == 0:
        if n_dropped:
            raise DataError(f"{path}: every data row has a missing cell ({n_dropped} rows "
                            "dropped)")
        raise DataError(f"{path}: no data rows after the header")
    if all(part is not None for part in parts["y"]):
        y = np.concatenate(parts["y"])
    elif any(part is None for part in parts["y_text"]):
        return None
    else:
        y = np.concatenate(parts["y_text"])
    columns = {what: np.concatenate(parts[what]) for what in roles.extra}
    columns.update(y=y, n_dropped=n_dropped, dropped_lines=dropped_lines)
    return columns


def _chunks(path, delimiter, names, roles, dropna):
    """(chunk, dropped line numbers) for each CHUNK_ROWS lines of the CSV, parsed as
    :func:`ngd.io.read_csv` does (numpy.loadtxt when clean, else the careful checks)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            handle.readline()
            first_line = 2
            while raw := list(itertools.islice(handle, CHUNK_ROWS)):
                width = len(names)
                chunk = None if roles.force_careful else \
                    _loadtxt_chunk(raw, first_line, delimiter, width, roles)
                dropped = np.empty(0, dtype=np.int64)
                if chunk is None:
                    rows, lines = _split_rows(path, raw, first_line, delimiter, width)
                    if rows:
                        chunk, dropped = _convert(path, names, roles, rows, lines, dropna)
                yield chunk, dropped
                first_line += len(raw)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None


class _NpyWriter:
    """A C-ordered (n, width) .npy file written row block by row block into a temporary file
    in the cache folder; the header is rewritten with the final n (numpy pads the header so
    that its length does not depend on n) and the file renamed into place."""

    def __init__(self, folder, width, dtype):
        self.dtype = np.dtype(dtype)
        self.width = width
        handle, self.tmp = tempfile.mkstemp(prefix=".ngd-", suffix=".tmp", dir=folder)
        self.file = os.fdopen(handle, "wb")
        self.restart()

    def _header(self):
        np.lib.format.write_array_header_1_0(self.file, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
            "shape": (self.n, self.width)})

    def restart(self):
        """Empty the file (a second pass over the CSV)."""
        self.n = 0
        self.digest = hashlib.sha256()
        self.file.seek(0)
        self.file.truncate()
        self._header()

    def add(self, rows):
        """Append the rows of a 2-D block."""
        data = np.ascontiguousarray(rows, dtype=self.dtype).tobytes()
        self.digest.update(data)
        self.file.write(data)
        self.n += rows.shape[0]

    def finish(self, target):
        """Write the final header, rename the file to ``target``; the data's SHA-256."""
        self.file.seek(0)
        self._header()
        self.file.close()
        os.chmod(self.tmp, 0o666 & ~_umask())
        os.replace(self.tmp, target)
        return self.digest.hexdigest()

    def discard(self):
        """Close and remove the temporary file if it is still there."""
        self.file.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


def _load(path, folder, manifest):
    """The Dataset of a valid cache: X and the per-row arrays memory-mapped (text labels
    loaded). Each array's dtype (byte order included), memory order and shape must be what
    the build wrote, else ValueError (the caller rebuilds)."""
    n, width = manifest["shape"]
    X = _open(folder / "X.npy", np.dtype(manifest["dtype"]), (n, width))
    arrays = {key: _open(folder / f"{key}.npy", None, (n,))
              for key in ("y",) + EXTRAS if f"{key}.npy" in manifest["files"]}
    for key in EXTRAS:
        if key in arrays and arrays[key].dtype != np.dtype("=f8"):
            raise ValueError(f"{key}.npy: dtype {arrays[key].dtype.str}")
    y = arrays["y"]
    if manifest["y_text"] is not (y.dtype.kind == "U") or \
            (y.dtype.kind != "U" and y.dtype != np.dtype("=f8")):
        raise ValueError(f"y.npy: dtype {y.dtype.str}")
    y = y.astype(object) if manifest["y_text"] else y
    dataset = manifest["dataset"]
    if len(dataset["feature_names"]) != width:
        raise ValueError("feature_names do not match the width of X")
    return Dataset(X=X, y=y, sample_weight=arrays.get("weights"), offset=arrays.get("offset"),
                   trials=arrays.get("trials"), source=str(path), **dataset)


def _open(file, dtype, shape):
    """The C-ordered .npy ``file`` memory-mapped, checked to have ``shape`` and (unless
    None) exactly ``dtype``, native byte order."""
    array = np.load(file, mmap_mode="r", allow_pickle=False)
    if array.shape != shape or not array.flags.c_contiguous or not array.dtype.isnative or \
            (dtype is not None and array.dtype != dtype):
        raise ValueError(f"{file}: {array.dtype.str} {array.shape} does not match the manifest")
    return array
