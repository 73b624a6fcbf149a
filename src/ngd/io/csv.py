"""CSV with a header row -> :class:`Dataset`.

Column roles, all by header name: the target (``target=``, default the last column), the
features (``features=``, default every other column), per-row ``weights=``, ``offset=`` and
``trials=`` columns (removed from the features), ``cluster=`` columns of cluster labels (read
as text; removed from the default features, ``Dataset.cluster``), and ``categorical=`` columns
of strings, held as integer codes (X is then an :class:`ngd.design.Design`: the numeric
columns, then each categorical's one-hot columns, never formed) with the first level (in
sorted order; numeric order when every level is a number) the reference and the columns
named ``column=level``. Any other non-numeric cell in a
used column is an error naming the line and the column.

Missing cells: empty, or one of ``NA N/A NaN null None ? #N/A`` (any case). By default the
first one is an error naming its line and column; ``dropna=True`` drops the rows that have a
missing cell in a used column and reports how many (``Dataset.n_dropped``). Infinite values and
numbers larger in magnitude than ``MAX_ABS`` (their squares would overflow the Fisher
information) are errors. The target may hold labels of any kind (numbers or strings).

Speed: one pass over the file in chunks of ``CHUNK_ROWS`` lines. A clean all-numeric chunk
is parsed by ``numpy.loadtxt`` (the common case for big files); any other chunk by the csv
module, converting whole columns with numpy and looking at single cells only to name a bad
one. Lines are counted from 1 (the header is line 1); blank lines are skipped. Quoted fields
may not contain line breaks.
"""
import csv as _csv
import itertools
import os
import warnings
from collections import Counter

import numpy as np

from ngd.messages import name_list
from ngd._validation import MAX_ABS
from ngd.design import Categorical, Design
from ngd.exceptions import DataError
from ngd.io.dataset import Dataset

DELIMITERS = ",;\t|"
MISSING = ("", "na", "n/a", "nan", "-nan", "null", "none", "?", "#n/a")
CHUNK_ROWS = 1 << 16
_MISSING = np.array(MISSING)


def read_csv(path, target=None, *, delimiter=None, features=None, weights=None, offset=None,
             trials=None, categorical=None, dropna=False, has_target=True, ignore=(),
             cluster=None):
    """Read ``path`` into a :class:`Dataset`.

    target: name of the target column (default: the last column); ``has_target=False`` reads
    no target (``Dataset.y`` is None), for prediction. features: names of the feature columns
    (default: all columns that have no other role and are not in ``ignore``). categorical:
    names of string columns to one-hot encode, or a dict {column: levels} to encode with fixed
    levels (a level not in the list is an error). weights / offset / trials: column names.
    cluster: a column name or a list of names (two-way clustering) of cluster labels, read as
    stripped text into ``Dataset.cluster``; not features unless listed in features= or
    categorical=.
    """
    path_text = str(path)
    header, delimiter = _read_header(path_text, delimiter)
    names = _check_names(path_text, header)
    roles = _Roles(path_text, names, target, features, weights, offset, trials, categorical,
                   has_target, ignore, cluster)
    return _assemble(path_text, roles, _scan(path_text, delimiter, names, roles, dropna))


def read_header(path, delimiter=None):
    """(column names, delimiter) of a CSV file: the checked header row, delimiter sniffed
    unless given."""
    header, delimiter = _read_header(str(path), delimiter)
    return _check_names(str(path), header), delimiter


class _Roles:
    """Which column index plays which part."""

    def __init__(self, path, names, target, features, weights, offset, trials, categorical,
                 has_target, ignore, cluster=None):
        index = {name: j for j, name in enumerate(names)}

        def column(name, what):
            if not isinstance(name, str):
                raise TypeError(f"{what} must be a column name, got {name!r}")
            if name not in index:
                raise DataError(f"{path}: no column named {name!r} ({what}); columns are: "
                                f"{name_list(names)}")
            return index[name]

        self.names = names
        self.force_careful = False
        self.target = None
        if has_target:
            if target is None:
                self.target = len(names) - 1
            else:
                self.target = column(target, "target")
        self.extra = {}
        for what, name in (("weights", weights), ("offset", offset), ("trials", trials)):
            if name is not None:
                self.extra[what] = column(name, what)
        taken = {}
        for what, j in [("target", self.target)] + list(self.extra.items()):
            if j is None:
                continue
            if j in taken:
                raise DataError(f"{path}: column {names[j]!r} cannot be both the {taken[j]} "
                                f"and the {what}")
            taken[j] = what
        self.cluster = []
        for name in [cluster] if isinstance(cluster, str) else list(cluster or ()):
            j = column(name, "cluster")
            if j in taken:
                raise DataError(f"{path}: column {name!r} is the {taken[j]}; it cannot also be "
                                "a cluster column")
            if j in self.cluster:
                raise DataError(f"{path}: cluster column {name!r} is listed twice")
            self.cluster.append(j)
        cluster_set = set(self.cluster)
        self.fixed_levels = isinstance(categorical, dict)
        cat_names = list(categorical or ())
        self.levels = {}
        if self.fixed_levels:
            self.levels = {name: [str(v) for v in levels]
                           for name, levels in categorical.items()}
        self.categorical = []
        for name in cat_names:
            j = column(name, "categorical")
            if j in taken:
                raise DataError(f"{path}: column {name!r} is the {taken[j]}; it cannot also be "
                                "categorical")
            self.categorical.append(j)
        self.categorical = list(dict.fromkeys(self.categorical))
        categorical_set = set(self.categorical)
        ignored = {index[name] for name in ignore if name in index}
        if features is None:
            feats = [j for j in range(len(names)) if j not in taken and
                     (j not in ignored and j not in cluster_set or j in categorical_set)]
        else:
            feats, seen = [], set()
            for name in features:
                j = column(name, "features")
                if j in taken:
                    raise DataError(f"{path}: column {name!r} is the {taken[j]}; it cannot also "
                                    "be a feature")
                if j in seen:
                    raise DataError(f"{path}: feature {name!r} is listed twice")
                feats.append(j)
                seen.add(j)
            feats += [j for j in self.categorical if j not in seen]
        if not feats:
            raise DataError(f"{path}: need at least one feature column; the header has "
                            f"{len(names)} column(s) ({name_list(names)})")
        self.features = feats
        self.numeric = [j for j in feats if j not in categorical_set]
        self.text = self.categorical + [j for j in self.cluster if j not in categorical_set]

    @property
    def used(self):
        """Every column index that is read, in a fixed order: features, extras, cluster
        columns, target."""
        cols = list(self.features) + list(self.extra.values())
        cols += [j for j in self.cluster if j not in cols]
        return cols + ([self.target] if self.target is not None else [])


def _read_header(path, delimiter):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            first = handle.readline()
            sample = first + handle.read(65536)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if "\x00" in sample:
        raise DataError(f"{path}: binary file (contains NUL bytes), not CSV text")
    if not first.strip():
        raise DataError(f"{path}: file is empty" if not sample.strip()
                        else f"{path}: the first line (header) is empty")
    if delimiter is None:
        try:
            delimiter = _csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except Exception:           # csv.Error, and odd samples the sniffer chokes on
            delimiter = ","
    elif not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        raise DataError(f"delimiter must be one character other than a quote or a newline, "
                        f"got {delimiter!r}")
    try:
        header = next(_csv.reader([first.rstrip("\r\n")], delimiter=delimiter))
    except _csv.Error as exc:
        raise DataError(f"{path}: line 1 (header): {exc}") from None
    return header, delimiter


def _check_names(path, header):
    names = [name.strip() for name in header]
    empty = [str(j + 1) for j, name in enumerate(names) if not name]
    if empty:
        raise DataError(f"{path}: line 1 (header): column(s) {name_list(empty)} have no "
                        "name")
    duplicates = sorted(name for name, k in Counter(names).items() if k > 1)
    if duplicates:
        raise DataError(f"{path}: duplicate column name(s) in the header: "
                        f"{name_list(duplicates)}")
    return names


def _scan(path, delimiter, names, roles, dropna):
    """One pass in chunks of CHUNK_ROWS lines: numpy.loadtxt on a clean chunk, the csv
    module and column-wise checks on the others (which name the first bad cell)."""
    width = len(names)
    chunks = []
    n_dropped, dropped_lines = 0, []
    fast = not roles.force_careful
    first_line = 2
    numeric = None
    try:
        size = os.path.getsize(path)
        with open(path, newline="", encoding="utf-8-sig") as handle:
            handle.readline()
            while True:
                raw = list(itertools.islice(handle, CHUNK_ROWS))
                if not raw:
                    break
                if numeric is None:             # capacity from the first chunk's line length
                    per_line = max(1.0, sum(map(len, raw)) / len(raw))
                    numeric = _Rows(len(roles.numeric), int(1.05 * size / per_line) + 16)
                chunk = _loadtxt_chunk(raw, first_line, delimiter, width, roles) \
                    if fast else None
                if chunk is None:
                    rows, lines = _split_rows(path, raw, first_line, delimiter, width)
                    if rows:
                        chunk, dropped = _convert(path, names, roles, rows, lines, dropna)
                        n_dropped += dropped.size
                        dropped_lines.extend(dropped[:10 - len(dropped_lines)].tolist())
                if chunk is not None and chunk.lines.size:
                    numeric.add(chunk.numeric, chunk.numeric_columns)
                    chunk.numeric = chunk.lines = None          # keep only the small parts
                    chunks.append(chunk)
                first_line += len(raw)
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if numeric is None or numeric.n == 0:
        if n_dropped:
            raise DataError(f"{path}: every data row has a missing cell ({n_dropped} rows "
                            "dropped)")
        raise DataError(f"{path}: no data rows after the header")
    cat = lambda parts: np.concatenate(parts) if parts else np.empty(0)  # noqa: E731
    out = {"numeric": numeric.result(),
           "extra": {what: cat([c.extra[what] for c in chunks]) for what in roles.extra},
           "strings": {j: cat([c.strings[j] for c in chunks]) for j in roles.text},
           "n_dropped": n_dropped, "dropped_lines": dropped_lines, "target": None}
    if roles.target is not None:
        if all(c.target is not None for c in chunks):
            out["target"] = np.concatenate([c.target for c in chunks])
        elif any(c.target_text is None for c in chunks):
            # labels turned out not to be numbers after a clean numeric chunk: read again
            # carefully so every label keeps its text
            return _scan_careful(path, delimiter, names, roles, dropna)
        else:
            out["target"] = np.concatenate([c.target_text for c in chunks]).astype(object)
    return out


def _scan_careful(path, delimiter, names, roles, dropna):
    saved = roles.force_careful
    roles.force_careful = True
    try:
        return _scan(path, delimiter, names, roles, dropna)
    finally:
        roles.force_careful = saved


def _loadtxt_chunk(raw, first_line, delimiter, width, roles):
    """A chunk parsed by numpy.loadtxt when it is clean (every line a full row; used numeric
    cells finite, bounded and weights >= 0; no missing cell); None otherwise (the careful
    pass then names the problem or drops rows)."""
    strings = list(roles.text) + ([roles.target] if roles.target is not None else [])
    table = None
    if not roles.text:
        table = _loadtxt(raw, delimiter, np.float64, None)
        if table is not None and table.shape != (len(raw), width):
            return None                       # blank lines were skipped, or ragged rows
    if table is None:
        # numbers and strings separately; usecols skips the width check, so count fields
        # (only when no field is quoted)
        if any('"' in line for line in raw) or \
                not all(line.count(delimiter) == width - 1 for line in raw):
            return None
        floats = sorted(set(roles.numeric) | set(roles.extra.values()))
        table = np.full((len(raw), width), np.nan)
        if floats:
            part = _loadtxt(raw, delimiter, np.float64, floats)
            if part is None or part.shape != (len(raw), len(floats)):
                return None
            table[:, floats] = part
        text = _loadtxt(raw, delimiter, str, strings)
        if text is None or text.shape != (len(raw), len(strings)):
            return None
        text = {j: np.strings.strip(text[:, k]) for k, j in enumerate(strings)}
        if any(np.isin(np.strings.lower(t), _MISSING).any() for t in text.values()):
            return None
    else:
        text = {}
    numbers = roles.numeric + list(roles.extra.values())
    if numbers:
        lows, highs = table[:, numbers].min(axis=0), table[:, numbers].max(axis=0)
        if not (np.isfinite(lows).all() and np.isfinite(highs).all()):
            return None
        if max(np.abs(lows).max(), np.abs(highs).max()) > MAX_ABS:
            return None
    if "weights" in roles.extra and table[:, roles.extra["weights"]].min() < 0:
        return None
    chunk = _Chunk()
    chunk.lines = np.arange(first_line, first_line + len(raw), dtype=np.int64)
    chunk.numeric, chunk.numeric_columns = table, roles.numeric
    chunk.extra = {what: table[:, j].copy() for what, j in roles.extra.items()}
    chunk.strings = {j: text[j] for j in roles.text}
    for j in roles.categorical:
        if roles.fixed_levels and not np.isin(text[j], roles.levels[roles.names[j]]).all():
            return None
    chunk.target = chunk.target_text = None
    if roles.target is not None:
        if roles.target in text:
            chunk.target_text = text[roles.target]
            try:
                chunk.target = chunk.target_text.astype(np.float64)
            except ValueError:
                chunk.target = None
            if chunk.target is not None and not np.isfinite(chunk.target).all():
                return None
        else:
            chunk.target = table[:, roles.target].copy()
            if not np.isfinite(chunk.target).all():
                return None
    return chunk


def _loadtxt(raw, delimiter, dtype, usecols):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return np.loadtxt(raw, delimiter=delimiter, dtype=dtype, ndmin=2, comments=None,
                              quotechar='"', usecols=usecols)
    except (ValueError, UnicodeError):
        return None


def _split_rows(path, raw, first_line, delimiter, width):
    """Rows (lists of cells) and their line numbers; blank lines skipped, widths checked."""
    reader = _csv.reader(raw, delimiter=delimiter)
    rows, lines = [], []
    try:
        for cells in reader:
            if len(cells) != width:
                if not cells or all(not c.strip() for c in cells):
                    continue
                raise DataError(f"{path}: line {first_line - 1 + reader.line_num}: expected "
                                f"{width} fields, found {len(cells)}")
            rows.append(cells)
            lines.append(first_line - 1 + reader.line_num)
    except _csv.Error as exc:
        raise DataError(f"{path}: line {first_line - 1 + reader.line_num}: {exc}") from None
    return rows, lines


class _Chunk:
    __slots__ = ("lines", "numeric", "numeric_columns", "extra", "target", "target_text",
                 "strings")


class _Rows:
    """The (n, p) float64 numeric table, filled chunk by chunk into a buffer preallocated
    from an estimate of the row count (no per-chunk copies, no final concatenation)."""

    def __init__(self, width, capacity):
        self.data = np.empty((max(capacity, 1), width))
        self.n = 0

    def add(self, block, columns=None):
        """Append ``block`` (or its ``columns``) as new rows."""
        k = block.shape[0]
        if self.n + k > self.data.shape[0]:
            grown = np.empty((max(self.n + k, int(1.5 * self.data.shape[0])),
                              self.data.shape[1]))
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        target = self.data[self.n:self.n + k]
        if columns is None:
            target[...] = block
        elif columns == list(range(columns[0], columns[0] + len(columns))) if columns else 0:
            target[...] = block[:, columns[0]:columns[0] + len(columns)]
        elif columns:
            np.take(block, columns, axis=1, out=target)
        self.n += k

    def result(self):
        """The filled rows (a copy when the estimate overshot by more than 10 %)."""
        rows = self.data[:self.n]
        return rows.copy() if self.n < 0.9 * self.data.shape[0] else rows


def _convert(path, names, roles, rows, lines, dropna):
    """Turn one chunk of rows (lists of strings) into arrays; returns (chunk, dropped lines)."""
    table = np.array(rows, dtype=str)
    lines = np.asarray(lines, dtype=np.int64)
    stripped = {j: np.strings.strip(table[:, j]) for j in roles.used}
    missing = {j: np.isin(np.strings.lower(stripped[j]), _MISSING) for j in roles.used}
    any_missing = np.zeros(len(rows), dtype=bool)
    for j in roles.used:
        any_missing |= missing[j]
    if any_missing.any():
        if not dropna:
            i = int(np.flatnonzero(any_missing)[0])
            j = next(j for j in roles.used if missing[j][i])
            cell = stripped[j][i]
            shown = f" {cell!s}" if cell else ""
            raise DataError(f"{path}: line {lines[i]}, column {names[j]!r}: missing value"
                            f"{shown} (--dropna drops rows with missing cells)")
        keep = ~any_missing
        dropped = lines[any_missing]
        lines = lines[keep]
        stripped = {j: s[keep] for j, s in stripped.items()}
    else:
        dropped = lines[:0]
    chunk = _Chunk()
    chunk.lines = lines
    chunk.numeric_columns = None
    chunk.numeric = np.empty((lines.size, len(roles.numeric)))
    for k, j in enumerate(roles.numeric):
        chunk.numeric[:, k] = _numbers(path, names[j], stripped[j], lines,
                                       hint=f" (--categorical {names[j]} one-hot encodes it)")
    chunk.extra = {}
    for what, j in roles.extra.items():
        values = _numbers(path, names[j], stripped[j], lines)
        if what == "weights" and (values < 0).any():
            i = int(np.flatnonzero(values < 0)[0])
            raise DataError(f"{path}: line {lines[i]}, column {names[j]!r}: negative weight "
                            f"{stripped[j][i]!s}")
        chunk.extra[what] = values
    chunk.strings = {j: stripped[j] for j in roles.text}
    for j in roles.categorical:
        if roles.fixed_levels:
            levels = np.array(roles.levels[names[j]], dtype=str)
            unseen = ~np.isin(stripped[j], levels)
            if unseen.any():
                i = int(np.flatnonzero(unseen)[0])
                raise DataError(f"{path}: line {lines[i]}, column {names[j]!r}: level "
                                f"{stripped[j][i]!s} was not seen when the model was fitted "
                                f"(levels: {', '.join(roles.levels[names[j]])})")
    chunk.target = chunk.target_text = None
    if roles.target is not None:
        text = stripped[roles.target]
        chunk.target_text = text
        try:
            values = text.astype(np.float64)
        except ValueError:
            values = None
        if values is not None and not np.isfinite(values).all():
            i = int(np.flatnonzero(~np.isfinite(values))[0])
            raise DataError(f"{path}: line {lines[i]}, column {names[roles.target]!r}: "
                            f"non-finite value {text[i]!s}")
        chunk.target = values
    return chunk, dropped


def _numbers(path, name, text, lines, hint=""):
    """Column of stripped strings -> float64; names the first bad cell."""
    try:
        values = text.astype(np.float64)
    except ValueError:
        values = None
    if values is None:
        for i, cell in enumerate(text.tolist()):
            try:
                float(cell)
            except ValueError:
                raise DataError(f"{path}: line {lines[i]}, column {name!r}: non-numeric value "
                                f"{cell!r}{hint}") from None
        raise DataError(f"{path}: column {name!r}: non-numeric values")   # pragma: no cover
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{path}: line {lines[i]}, column {name!r}: non-finite value "
                        f"{text[i]!s}")
    big = np.abs(values) > MAX_ABS
    if big.any():
        i = int(np.flatnonzero(big)[0])
        raise DataError(f"{path}: line {lines[i]}, column {name!r}: value {text[i]!s} is too "
                        f"large in magnitude (> {MAX_ABS:g}; its square would overflow the "
                        "Fisher information): rescale the column")
    return values


def _level_order(levels):
    """Sorted levels: numerically when all parse as numbers, else as strings."""
    try:
        keys = [float(v) for v in levels]
    except ValueError:
        return sorted(levels)
    if not all(np.isfinite(keys)):
        return sorted(levels)
    return [v for _, v in sorted(zip(keys, levels))]


def _assemble(path, roles, result):
    names = roles.names
    categories = {}
    if not roles.categorical:
        X = np.ascontiguousarray(result["numeric"])
        feature_names = [names[j] for j in roles.features]
    else:
        dense_names, blocks = [], []
        for j in roles.features:
            if j in roles.categorical:
                text = result["strings"][j]
                present, inverse = np.unique(text, return_inverse=True)
                levels = (roles.levels[names[j]] if roles.fixed_levels
                          else _level_order(present.tolist()))
                categories[names[j]] = list(levels)
                codes = {level: c for c, level in enumerate(levels)}
                code = np.array([codes[v] for v in present.tolist()], dtype=np.int32)[inverse]
                if len(levels) > 1:             # a single level has no column
                    blocks.append(Categorical(names[j], code - 1, levels, drop_first=True))
            else:
                dense_names.append(names[j])
        X = Design(np.ascontiguousarray(result["numeric"]), blocks, dense_names)
        feature_names = X.feature_names
        if X.shape[1] == 0:
            raise DataError(f"{path}: no feature columns left after encoding (each categorical "
                            "column has a single level)")
    extra = result["extra"]

    def source(what):
        return names[roles.extra[what]] if what in roles.extra else None

    return Dataset(X=X, y=result["target"], feature_names=feature_names,
                   target_name=names[roles.target] if roles.target is not None else None,
                   sample_weight=extra.get("weights"), source=path, offset=extra.get("offset"),
                   trials=extra.get("trials"), columns=[names[j] for j in roles.features],
                   categories=categories, weights_name=source("weights"),
                   offset_name=source("offset"), trials_name=source("trials"),
                   cluster=tuple(result["strings"][j] for j in roles.cluster) or None,
                   cluster_names=[names[j] for j in roles.cluster],
                   n_dropped=result["n_dropped"], dropped_lines=result["dropped_lines"])
